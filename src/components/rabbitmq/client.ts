import amqp from 'amqplib';

export interface RabbitmqEndpoint {
  host: string;
  port: number;
  username: string;
  password: string;
  vhost?: string;
  managementPort?: number;
}

export async function connectAmqp(ep: RabbitmqEndpoint, timeoutMs = 3000): Promise<amqp.ChannelModel> {
  return amqp.connect(
    { protocol: 'amqp', hostname: ep.host, port: ep.port, username: ep.username, password: ep.password, vhost: ep.vhost ?? '/', heartbeat: 30 },
    { timeout: timeoutMs },
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

/** Calls RabbitMQ's management HTTP API; throws with the status on a non-2xx answer. */
export async function managementApi<T = unknown>(
  ep: RabbitmqEndpoint,
  method: 'GET' | 'PUT' | 'DELETE' | 'POST',
  path: string,
  body?: unknown,
  timeoutMs = 5000,
): Promise<T> {
  const url = `http://${ep.host.includes(':') ? `[${ep.host}]` : ep.host}:${ep.managementPort}/api${path}`;
  const res = await fetch(url, {
    method,
    headers: {
      authorization: 'Basic ' + Buffer.from(`${ep.username}:${ep.password}`).toString('base64'),
      'content-type': 'application/json',
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  }).catch((err: Error) => {
    throw new Error(`RabbitMQ management API at ${url.replace(/\/api.*$/, '')} unreachable (${(err.cause as Error | undefined)?.message ?? err.message})`);
  });
  if (!res.ok && !(method === 'DELETE' && res.status === 404)) {
    throw new Error(`RabbitMQ management API ${method} ${path}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
  }
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export const vhostPath = (vhost: string) => encodeURIComponent(vhost);
