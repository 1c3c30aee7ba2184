import type { Config } from '../../config/schema.js';
import type { ScrapeTarget } from '../../model/metrics.js';

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

export function memcachedScrapeTargets(config: Config, host: string): ScrapeTarget[] {
  if (!config.memcached.enabled) return [];
  return Array.from({ length: config.memcached.replicas }, (_, i) => ({
    job: MEMCACHED_JOB,
    component: 'memcached' as const,
    address: `${host}:${memcachedExporterPort(config, i)}`,
    metricsPath: '/metrics',
    labels: { node: `memcached-${i}`, ordinal: String(i) },
  }));
}
