import memjs from 'memjs';

export interface MemcachedEndpoint {
  host: string;
  port: number;
}

export async function withMemcached<T>(eps: MemcachedEndpoint[], fn: (c: memjs.Client) => Promise<T>, timeoutS = 2): Promise<T> {
  const client = memjs.Client.create(eps.map((e) => `${e.host}:${e.port}`).join(','), { retries: 0, timeout: timeoutS, conntimeout: timeoutS, logger: { log: () => {} } });
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

/** The server's version, read from its `stats` answer (memjs has no `version` call). */
export async function memcachedVersion(ep: MemcachedEndpoint): Promise<string> {
  const stats = await memcachedStats(ep);
  if (!stats.version) throw new Error(`memcached ${ep.host}:${ep.port} gave no version`);
  return stats.version;
}

export async function memcachedStats(ep: MemcachedEndpoint, timeoutS = 2): Promise<Record<string, string>> {
  return withMemcached([ep], (c) =>
    new Promise((resolve, reject) => {
      c.stats((err, _server, stats) => (err ? reject(err) : resolve(stats ?? {})));
    }),
  timeoutS);
}
