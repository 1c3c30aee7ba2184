import type { ComponentDefinition } from '../../model/component.js';
import type { HostPort } from '../../model/endpoints.js';
import { inspectMemcached } from './inspect.js';
import { memcachedKubernetesObjects } from './kubernetes.js';
import { MEMCACHED_BINARIES, memcachedLocalInstance } from './local.js';
import { memcachedSmokeSteps } from './smoke.js';
import { memcachedAlertRules } from './alerts.js';
import { memcachedExporterInstance } from './local-exporter.js';
import { memcachedScrapeTargets } from './metrics.js';

const hp = (a: HostPort) => `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;

export const memcached: ComponentDefinition = {
  name: 'memcached',
  packages: () => [{ binaries: [MEMCACHED_BINARIES.server], packages: ['memcached'] }],
  ports: (config) =>
    Array.from({ length: config.memcached.replicas }, (_, i) => [
      { port: config.memcached.port + i, key: 'memcached.port' },
      ...(config.metrics.enabled ? [{ port: config.memcached.exporterPort + i, key: 'memcached.exporterPort' }] : []),
    ]).flat(),
  metrics: { targets: memcachedScrapeTargets, alerts: memcachedAlertRules },
  endpoints(config, _secrets, at) {
    const nodes = Array.from({ length: config.memcached.replicas }, (_, i) => at.node('memcached', i, config.memcached.port));
    return { memcached: { servers: nodes.map(hp), nodes } };
  },
  describeEndpoints: (eps) => eps.memcached && `memcached: ${eps.memcached.servers.join(',')}`,
  local: {
    instance: (config, node, dir) => memcachedLocalInstance(config, node, dir),
    // One exporter per node (`osb exporter memcached`).
    extras: (config, stateDir, _secrets, all) =>
      config.metrics.enabled || all ? Array.from({ length: config.memcached.replicas }, (_, i) => memcachedExporterInstance(config, stateDir, i)) : [],
    async inspect(_config, _secrets, inst) {
      const info = await inspectMemcached({ host: inst.host, port: inst.port });
      return {
        version: info.version,
        details: info,
        numbers: { connectionsUsed: info.connections, connectionsMax: info.maxConnections, hitRatio: info.hitRatio, evictions: info.evictions },
      };
    },
    smoke: (_config, _secrets, inst) => memcachedSmokeSteps({ host: inst.host, port: inst.port }),
  },
  kubernetes: {
    objects: (ctx) => memcachedKubernetesObjects(ctx),
    readyMeaning: () => 'servers answering',
  },
};
