import { memcachedStats, type MemcachedEndpoint } from './client.js';

export interface MemcachedNodeInfo {
  version: string;
  items: number;
  connections: number;
  limitMB: number;
}

export async function inspectMemcached(ep: MemcachedEndpoint): Promise<MemcachedNodeInfo> {
  const s = await memcachedStats(ep);
  return { version: s.version ?? '?', items: Number(s.curr_items ?? 0), connections: Number(s.curr_connections ?? 0), limitMB: Number(s.limit_maxbytes ?? 0) / 1048576 };
}
