import type { SmokeStep } from '../../model/smoke.js';
import { memcachedDelete, memcachedGet, memcachedSet, memcachedStats, type MemcachedEndpoint } from './client.js';
import { crypto } from '../../util/builtin.js';

/** `helm test` for Memcached: set, get, delete and stats on one server (over TLS when it is on). */
export function memcachedSmokeSteps(ep: MemcachedEndpoint): SmokeStep[] {
  const key = `osb-smoke-${crypto().randomBytes(4).toString('hex')}`;
  const value = crypto().randomBytes(16).toString('hex');
  return [
    { name: `set ${key} on ${ep.host}:${ep.port}${ep.caFile ? ' (TLS)' : ''}`, run: () => memcachedSet(ep, key, value, 60) },
    {
      name: 'get it back',
      run: async () => {
        const got = await memcachedGet(ep, key);
        if (got !== value) throw new Error(`got ${got}, expected ${value}`);
      },
    },
    {
      name: 'delete it',
      run: async () => {
        await memcachedDelete(ep, key);
        if ((await memcachedGet(ep, key)) !== undefined) throw new Error('key still present after delete');
      },
    },
    {
      name: 'stats',
      run: async () => {
        const s = await memcachedStats(ep);
        if (!s.version || !s.curr_connections) throw new Error('stats answer lacks version/curr_connections');
        return `version ${s.version}, ${s.curr_items} items, ${s.curr_connections} connections`;
      },
    },
  ];
}
