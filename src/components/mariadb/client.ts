import { readFileSync } from 'node:fs';
import type mysql from 'mysql2/promise';

export interface MariadbEndpoint {
  host: string;
  port: number;
  user: string;
  password?: string;
  socketPath?: string;
  database?: string;
  /** TLS: the CA bundle to verify the server with (TCP only; the unix socket needs none). */
  caFile?: string;
}

export async function connectMariadb(ep: MariadbEndpoint, timeoutMs = 3000): Promise<mysql.Connection> {
  // Loaded on first use: commands that open no connection (render, endpoints, --help) never pay for it.
  const { default: mysql } = await import('mysql2/promise');
  return mysql.createConnection({
    ...(ep.socketPath ? { socketPath: ep.socketPath } : { host: ep.host, port: ep.port }),
    ...(ep.caFile && !ep.socketPath ? { ssl: { ca: readFileSync(ep.caFile, 'utf8'), rejectUnauthorized: true, verifyIdentity: true } } : {}),
    user: ep.user,
    password: ep.password,
    database: ep.database,
    connectTimeout: timeoutMs,
    multipleStatements: false,
  });
}

export async function withMariadb<T>(ep: MariadbEndpoint, fn: (c: mysql.Connection) => Promise<T>, timeoutMs?: number): Promise<T> {
  const conn = await connectMariadb(ep, timeoutMs);
  try {
    return await fn(conn);
  } finally {
    await conn.end().catch(() => conn.destroy());
  }
}

/** Quotes an identifier (database or user name) for MariaDB. */
export function ident(name: string): string {
  return '`' + name.replace(/`/g, '``') + '`';
}
