import type { Config } from '../../config/schema.js';
import type { Placement } from '../../model/component.js';
import { hostPort, type ScrapeTarget } from '../../model/metrics.js';

/** Prometheus job name; the alert rules select on it. */
export const MEMCACHED_JOB = 'osb-memcached';

/** Port of node `ordinal`'s exporter. */
export function memcachedExporterPort(config: Config, ordinal: number): number {
  return config.memcached.exporterPort + ordinal;
}

/**
 * How node `ordinal`'s exporter runs: `osb exporter memcached` (hidden), one per node so it
 * is supervised, started and stopped with its memcached.
 */
export function memcachedExporterArgs(config: Config, ordinal: number, host: string): string[] {
  return [
    'exporter',
    'memcached',
    '--listen',
    `${config.bindAddress}:${memcachedExporterPort(config, ordinal)}`,
    '--server',
    `${host}:${config.memcached.port + ordinal}`,
  ];
}

/** Every exporter of the memcached component, wherever the target placed the nodes (Kubernetes: each pod's sidecar). */
export function memcachedScrapeTargets(config: Config, at: Placement): ScrapeTarget[] {
  if (!config.memcached.enabled) return [];
  return Array.from({ length: config.memcached.replicas }, (_, i) => ({
    job: MEMCACHED_JOB,
    component: 'memcached' as const,
    address: hostPort(at.node('memcached', i, config.memcached.exporterPort)),
    metricsPath: '/metrics',
    labels: { node: `memcached-${i}`, ordinal: String(i) },
  }));
}
