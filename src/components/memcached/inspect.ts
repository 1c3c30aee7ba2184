import { memcachedStats, type MemcachedEndpoint } from './client.js';

export interface MemcachedNodeInfo {
  version: string;
  items: number;
  connections: number;
  limitMB: number;
  maxConnections: number;
  /** get hits / (hits + misses) since the server started; null before the first get. */
  hitRatio: number | null;
  evictions: number;
}

export async function inspectMemcached(ep: MemcachedEndpoint): Promise<MemcachedNodeInfo> {
  const s = await memcachedStats(ep);
  const hits = Number(s.get_hits ?? 0);
  const gets = hits + Number(s.get_misses ?? 0);
  return {
    version: s.version ?? '?',
    items: Number(s.curr_items ?? 0),
    connections: Number(s.curr_connections ?? 0),
    maxConnections: Number(s.max_connections ?? 0),
    limitMB: Number(s.limit_maxbytes ?? 0) / 1048576,
    hitRatio: gets > 0 ? hits / gets : null,
    evictions: Number(s.evictions ?? 0),
  };
}
