import { randomBytes } from 'node:crypto';
import type { SmokeStep } from '../../model/smoke.js';
import { memcachedStats, withMemcached, type MemcachedEndpoint } from './client.js';

/** `helm test` for Memcached: set, get, delete and stats on one server. */
export function memcachedSmokeSteps(ep: MemcachedEndpoint): SmokeStep[] {
  const key = `osb-smoke-${randomBytes(4).toString('hex')}`;
  const value = randomBytes(16).toString('hex');
  const on = <T>(fn: Parameters<typeof withMemcached<T>>[1]) => withMemcached([ep], fn);
  return [
    { name: `set ${key} on ${ep.host}:${ep.port}`, run: () => on(async (c) => {
      if (!(await c.set(key, value, { expires: 60 }))) throw new Error('set was refused');
    }) },
    { name: 'get it back', run: () => on(async (c) => {
      const got = (await c.get(key)).value?.toString();
      if (got !== value) throw new Error(`got ${got}, expected ${value}`);
    }) },
    { name: 'delete it', run: () => on(async (c) => {
      await c.delete(key);
      if ((await c.get(key)).value) throw new Error('key still present after delete');
    }) },
    { name: 'stats', run: async () => {
      const s = await memcachedStats(ep);
      if (!s.version || !s.curr_connections) throw new Error('stats answer lacks version/curr_connections');
      return `version ${s.version}, ${s.curr_items} items, ${s.curr_connections} connections`;
    } },
  ];
}
