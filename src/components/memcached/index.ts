import { fail, ok } from '../../model/doctor.js';
import type { ComponentDefinition } from '../../model/component.js';
import type { HostPort } from '../../model/endpoints.js';
import { inspectMemcached } from './inspect.js';
import { memcachedKubernetesObjects } from './kubernetes.js';
import { MEMCACHED_BINARIES, memcachedLocalInstance, reloadMemcachedTls } from './local.js';
import type { Config } from '../../config/schema.js';
import { nodeTlsFiles } from '../../config/tls.js';
import { tlsCaFile } from '../../model/endpoints.js';
import type { LocalInstance } from '../../model/local.js';
import type { MemcachedEndpoint } from './client.js';
import { memcachedSmokeSteps } from './smoke.js';
import { memcachedAlertRules } from './alerts.js';
import { memcachedExporterInstance } from './local-exporter.js';
import { memcachedScrapeTargets } from './metrics.js';

const hp = (a: HostPort) => `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;

const endpointOf = (config: Config, inst: LocalInstance): MemcachedEndpoint => ({
  host: inst.host,
  port: inst.port,
  ...(config.tls.enabled ? { caFile: nodeTlsFiles(inst.dir).ca } : {}),
});

export const memcached: ComponentDefinition = {
  name: 'memcached',
  packages: () => [{ binaries: [MEMCACHED_BINARIES.server], packages: ['memcached'] }],
  // Measured: idle RSS ~6 MB plus its cache; nothing on disk.
  sizing: (config) => ({ memoryMB: 8 + config.memcached.memoryMB, diskMB: 1 }),
  ports: (config) =>
    Array.from({ length: config.memcached.replicas }, (_, i) => [
      { port: config.memcached.port + i, key: 'memcached.port' },
      ...(config.metrics.enabled ? [{ port: config.memcached.exporterPort + i, key: 'memcached.exporterPort' }] : []),
    ]).flat(),
  metrics: { targets: memcachedScrapeTargets, alerts: memcachedAlertRules },
  endpoints(config, _secrets, at) {
    const nodes = Array.from({ length: config.memcached.replicas }, (_, i) => at.node('memcached', i, config.memcached.port));
    return { memcached: { servers: nodes.map(hp), nodes, ...tlsCaFile(config, at) } };
  },
  describeEndpoints: (eps) => eps.memcached && `memcached: ${eps.memcached.servers.join(',')}`,
  local: {
    instance: (config, node, dir) => memcachedLocalInstance(config, node, dir),
    // One exporter per node (`osb exporter memcached`).
    extras: (config, stateDir, _secrets, all) =>
      config.metrics.enabled || all ? Array.from({ length: config.memcached.replicas }, (_, i) => memcachedExporterInstance(config, stateDir, i)) : [],
    async inspect(config, _secrets, inst) {
      const info = await inspectMemcached(endpointOf(config, inst));
      return {
        version: info.version,
        details: info,
        numbers: { connectionsUsed: info.connections, connectionsMax: info.maxConnections, hitRatio: info.hitRatio, evictions: info.evictions },
      };
    },
    fdCheck(config, lim) {
      // memcached raises its soft limit to max connections itself, and exits when the hard limit is lower.
      const name = 'fd limit memcached';
      const want = config.memcached.maxConnections + 16;
      if (lim.hard < want)
        return fail(
          name,
          `hard open files limit ${lim.hard} is below memcached.maxConnections ${config.memcached.maxConnections}: memcached will not start`,
          `raise the hard limit to ${want}, or lower memcached.maxConnections`,
        );
      return ok(name, `hard open files limit ${lim.hard} ≥ ${want} for ${config.memcached.maxConnections} connections`);
    },
    reloadTls: (config, _secrets, inst) => reloadMemcachedTls(endpointOf(config, inst)),
    smoke: (config, _secrets, inst) => memcachedSmokeSteps(endpointOf(config, inst)),
  },
  kubernetes: {
    objects: (ctx) => memcachedKubernetesObjects(ctx),
    readyMeaning: () => 'servers answering',
  },
};
