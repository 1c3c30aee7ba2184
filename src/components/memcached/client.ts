import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import type memjs from 'memjs';
import { builtin, net } from '../../util/builtin.js';

const tls = builtin<typeof import('node:tls')>('node:tls');

export interface MemcachedEndpoint {
  host: string;
  port: number;
  /** TLS (`memcached -Z`): verify the server against this CA bundle. */
  caFile?: string;
}

/** A memjs client (binary protocol, plain TCP only: memjs has no TLS). */
export async function withMemcached<T>(eps: MemcachedEndpoint[], fn: (c: memjs.Client) => Promise<T>, timeoutS = 2): Promise<T> {
  // Loaded on first use: commands that open no connection (render, endpoints, --help) never pay for it.
  const { default: memjs } = await import('memjs');
  const client = memjs.Client.create(eps.map((e) => `${e.host}:${e.port}`).join(','), {
    retries: 0,
    timeout: timeoutS,
    conntimeout: timeoutS,
    logger: { log: () => {} },
  });
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

/**
 * One exchange in memcached's text protocol, over TLS when the endpoint has a CA (the server's
 * certificate and its address are verified), else over TCP. Resolves with the answer once it
 * ends with `END`, `STORED`, `DELETED`, `NOT_FOUND`, `OK` or an error line.
 */
export function memcachedText(ep: MemcachedEndpoint, request: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onConnect = () => s.write(request);
    const s: Socket = ep.caFile
      ? tls().connect({ host: ep.host, port: ep.port, ca: [readFileSync(ep.caFile)], rejectUnauthorized: true }, onConnect)
      : net().connect({ host: ep.host, port: ep.port }, onConnect);
    s.setTimeout(timeoutMs, () => s.destroy(new Error(`memcached ${ep.host}:${ep.port}: no answer within ${timeoutMs} ms`)));
    s.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      if (/(^|\r\n)(END|STORED|NOT_STORED|DELETED|NOT_FOUND|OK|ERROR|(CLIENT|SERVER)_ERROR[^\r]*)\r\n$/.test(out)) {
        s.end();
        if (/(^|\r\n)(ERROR|(CLIENT|SERVER)_ERROR[^\r]*)\r\n$/.test(out))
          reject(new Error(`memcached ${ep.host}:${ep.port}: ${out.trim().split('\r\n').pop()}`));
        else resolve(out);
      }
    });
    s.on('error', reject);
    s.on('close', () => reject(new Error(`memcached ${ep.host}:${ep.port} closed the connection (answer so far: ${JSON.stringify(out.slice(0, 80))})`)));
  });
}

/** The server's version, read from its `stats` answer. */
export async function memcachedVersion(ep: MemcachedEndpoint): Promise<string> {
  const stats = await memcachedStats(ep);
  if (!stats.version) throw new Error(`memcached ${ep.host}:${ep.port} gave no version`);
  return stats.version;
}

export async function memcachedStats(ep: MemcachedEndpoint, timeoutS = 2): Promise<Record<string, string>> {
  const text = await memcachedText(ep, 'stats\r\n', timeoutS * 1000);
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/^STAT (\S+) (.*)\r$/gm)) out[m[1]!] = m[2]!;
  return out;
}

export async function memcachedSet(ep: MemcachedEndpoint, key: string, value: string, ttl: number): Promise<void> {
  const answer = await memcachedText(ep, `set ${key} 0 ${ttl} ${Buffer.byteLength(value)}\r\n${value}\r\n`);
  if (!answer.startsWith('STORED')) throw new Error(`set was refused: ${answer.trim()}`);
}

export async function memcachedGet(ep: MemcachedEndpoint, key: string): Promise<string | undefined> {
  const m = /^VALUE \S+ \d+ \d+\r\n([\s\S]*?)\r\nEND\r\n$/.exec(await memcachedText(ep, `get ${key}\r\n`));
  return m?.[1];
}

export async function memcachedDelete(ep: MemcachedEndpoint, key: string): Promise<void> {
  await memcachedText(ep, `delete ${key}\r\n`);
}
