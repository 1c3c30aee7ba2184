import { fail, ok } from '../../model/doctor.js';
import type { ComponentDefinition } from '../../model/component.js';
import type { HostPort } from '../../model/endpoints.js';
import { inspectMemcached } from './inspect.js';
import { memcachedKubernetesObjects } from './kubernetes.js';
import { MEMCACHED_BINARIES, memcachedLocalInstance } from './local.js';
import { memcachedSmokeSteps } from './smoke.js';

const hp = (a: HostPort) => `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;

export const memcached: ComponentDefinition = {
  name: 'memcached',
  packages: () => [{ binaries: [MEMCACHED_BINARIES.server], packages: ['memcached'] }],
  // Measured: idle RSS ~6 MB plus its cache; nothing on disk.
  sizing: (config) => ({ memoryMB: 8 + config.memcached.memoryMB, diskMB: 1 }),
  ports: (config) => Array.from({ length: config.memcached.replicas }, (_, i) => ({ port: config.memcached.port + i, key: 'memcached.port' })),
  endpoints(config, _secrets, at) {
    const nodes = Array.from({ length: config.memcached.replicas }, (_, i) => at.node('memcached', i, config.memcached.port));
    return { memcached: { servers: nodes.map(hp), nodes } };
  },
  describeEndpoints: (eps) => eps.memcached && `memcached: ${eps.memcached.servers.join(',')}`,
  local: {
    instance: (config, node, dir) => memcachedLocalInstance(config, node, dir),
    async inspect(_config, _secrets, inst) {
      const info = await inspectMemcached({ host: inst.host, port: inst.port });
      return { version: info.version, details: info };
    },
    fdCheck(config, lim) {
      // memcached raises its soft limit to max connections itself, and exits when the hard limit is lower.
      const name = 'fd limit memcached';
      const want = config.memcached.maxConnections + 16;
      if (lim.hard < want) return fail(name, `hard open files limit ${lim.hard} is below memcached.maxConnections ${config.memcached.maxConnections}: memcached will not start`, `raise the hard limit to ${want}, or lower memcached.maxConnections`);
      return ok(name, `hard open files limit ${lim.hard} ≥ ${want} for ${config.memcached.maxConnections} connections`);
    },
    smoke: (_config, _secrets, inst) => memcachedSmokeSteps({ host: inst.host, port: inst.port }),
  },
  kubernetes: {
    objects: (ctx) => memcachedKubernetesObjects(ctx),
    readyMeaning: () => 'servers answering',
  },
};
