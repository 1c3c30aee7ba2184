import type { Config } from '../../config/schema.js';
import type { ScrapeTarget } from '../../model/metrics.js';
import { RABBITMQ_PLUGINS } from './config.js';

/** Prometheus job names; the alert rules select on them. */
export const RABBITMQ_JOB = 'osb-rabbitmq';
/** Per-queue Raft and queue metrics, from /metrics/detailed (only the families the rules need). */
export const RABBITMQ_DETAILED_JOB = 'osb-rabbitmq-detailed';
export const RABBITMQ_DETAILED_FAMILIES = ['ra_metrics', 'queue_coarse_metrics'];

export const PROMETHEUS_PLUGIN = 'rabbitmq_prometheus';

/** Port of node `ordinal`'s rabbitmq_prometheus listener. */
export function rabbitmqPrometheusPort(config: Config, ordinal: number): number {
  return config.rabbitmq.prometheusPort + ordinal;
}

/** enabled_plugins with the built-in Prometheus plugin added. */
export function renderEnabledPluginsWithPrometheus(): string {
  return `[${[...RABBITMQ_PLUGINS.filter((p) => p !== PROMETHEUS_PLUGIN), PROMETHEUS_PLUGIN].join(',')}].\n`;
}

/** rabbitmq.conf lines for node `ordinal`: the plugin's listener, bound like the daemons. */
export function renderPrometheusConfLines(config: Config, ordinal: number): string {
  return [`prometheus.tcp.port = ${rabbitmqPrometheusPort(config, ordinal)}`, `prometheus.tcp.ip = ${config.bindAddress}`, ''].join('\n');
}

/** Every metrics endpoint of the RabbitMQ component on the local target. */
export function rabbitmqScrapeTargets(config: Config, host: string): ScrapeTarget[] {
  if (!config.rabbitmq.enabled) return [];
  const out: ScrapeTarget[] = [];
  for (let i = 0; i < config.rabbitmq.replicas; i++) {
    const labels = { node: `rabbitmq-${i}`, ordinal: String(i) };
    const address = `${host}:${rabbitmqPrometheusPort(config, i)}`;
    out.push({ job: RABBITMQ_JOB, component: 'rabbitmq', address, metricsPath: '/metrics', labels });
    out.push({ job: RABBITMQ_DETAILED_JOB, component: 'rabbitmq', address, metricsPath: '/metrics/detailed', params: { family: RABBITMQ_DETAILED_FAMILIES }, labels });
  }
  return out;
}

/** Ports the plugin binds, for the lead's portsInUse. */
export function rabbitmqMetricsPorts(config: Config): { port: number; key: string }[] {
  if (!config.rabbitmq.enabled) return [];
  return Array.from({ length: config.rabbitmq.replicas }, (_, i) => ({ port: rabbitmqPrometheusPort(config, i), key: 'rabbitmq.prometheusPort' }));
}
