import { readFileSync } from 'node:fs';
import type { checkServerIdentity } from 'node:tls';
import type amqp from 'amqplib';
import { builtin, net } from '../../util/builtin.js';

const http = builtin<typeof import('node:http')>('node:http');
const https = builtin<typeof import('node:https')>('node:https');
const tls = builtin<typeof import('node:tls')>('node:tls');

export interface RabbitmqEndpoint {
  host: string;
  port: number;
  username: string;
  password: string;
  vhost?: string;
  managementPort?: number;
  /** TLS: AMQPS and management over HTTPS, verified against this CA bundle. */
  caFile?: string;
}

/**
 * TLS options for a client of `host`: the CA, and the server's name or address checked against its
 * certificate. An IP address is never sent as SNI (RFC 6066; Node warns): the identity check uses it directly.
 */
function tlsOptions(host: string, caFile: string) {
  return {
    ca: [readFileSync(caFile)],
    rejectUnauthorized: true,
    ...(net().isIP(host)
      ? {
          servername: 'osb-rabbitmq',
          checkServerIdentity: (_name: string, cert: Parameters<typeof checkServerIdentity>[1]) => tls().checkServerIdentity(host, cert),
        }
      : {}),
  };
}

export async function connectAmqp(ep: RabbitmqEndpoint, timeoutMs = 3000): Promise<amqp.ChannelModel> {
  // Loaded on first use: commands that open no connection (render, endpoints, --help) never pay for it.
  const { default: amqp } = await import('amqplib');
  return amqp.connect(
    {
      protocol: ep.caFile ? 'amqps' : 'amqp',
      hostname: ep.host,
      port: ep.port,
      username: ep.username,
      password: ep.password,
      vhost: ep.vhost ?? '/',
      heartbeat: 30,
    },
    { timeout: timeoutMs, ...(ep.caFile ? tlsOptions(ep.host, ep.caFile) : {}) },
  );
}

export async function withAmqp<T>(ep: RabbitmqEndpoint, fn: (c: amqp.ChannelModel) => Promise<T>, timeoutMs?: number): Promise<T> {
  const conn = await connectAmqp(ep, timeoutMs);
  conn.on('error', () => {});
  try {
    return await fn(conn);
  } finally {
    await conn.close().catch(() => {});
  }
}

/**
 * Calls RabbitMQ's management HTTP API; throws with the status on a non-2xx answer.
 * node:http rather than fetch: fetch loads undici, which costs more than the call on the status path.
 */
export function managementApi<T = unknown>(
  ep: RabbitmqEndpoint,
  method: 'GET' | 'PUT' | 'DELETE' | 'POST',
  path: string,
  body?: unknown,
  timeoutMs = 5000,
): Promise<T> {
  const base = `${ep.caFile ? 'https' : 'http'}://${ep.host.includes(':') ? `[${ep.host}]` : ep.host}:${ep.managementPort}`;
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise<T>((resolve, reject) => {
    const request = ep.caFile ? https().request : http().request;
    const req = request(
      {
        ...(ep.caFile ? { ca: [readFileSync(ep.caFile)] } : {}),
        host: ep.host,
        port: ep.managementPort,
        method,
        path: `/api${path}`,
        timeout: timeoutMs,
        auth: `${ep.username}:${ep.password}`,
        headers: { 'content-type': 'application/json', ...(payload ? { 'content-length': Buffer.byteLength(payload) } : {}) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if ((status < 200 || status >= 300) && !(method === 'DELETE' && status === 404)) {
            reject(new Error(`RabbitMQ management API ${method} ${path}: HTTP ${status} ${text.slice(0, 200)}`));
            return;
          }
          try {
            resolve((text ? JSON.parse(text) : undefined) as T);
          } catch (err) {
            reject(new Error(`RabbitMQ management API ${method} ${path}: bad JSON (${(err as Error).message})`));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on('error', (err) => reject(new Error(`RabbitMQ management API at ${base} unreachable (${err.message})`)));
    req.end(payload);
  });
}

export const vhostPath = (vhost: string) => encodeURIComponent(vhost);
