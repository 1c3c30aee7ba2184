import type { Config } from '../../config/schema.js';
import type { Placement } from '../../model/component.js';
import { hostPort, type ScrapeTarget } from '../../model/metrics.js';
import { rabbitmqNodePorts } from './ports.js';

/** Prometheus job names; the alert rules select on them. */
export const RABBITMQ_JOB = 'osb-rabbitmq';
/** Per-queue Raft and queue metrics, from /metrics/detailed (only the families the rules need). */
export const RABBITMQ_DETAILED_JOB = 'osb-rabbitmq-detailed';
export const RABBITMQ_DETAILED_FAMILIES = ['ra_metrics', 'queue_coarse_metrics'];

/** Port of node `ordinal`'s rabbitmq_prometheus listener. */
export function rabbitmqPrometheusPort(config: Config, ordinal: number): number {
  return rabbitmqNodePorts(config, ordinal).prometheus;
}

/** Every metrics endpoint of the RabbitMQ component, wherever the target placed the nodes. */
export function rabbitmqScrapeTargets(config: Config, at: Placement): ScrapeTarget[] {
  if (!config.rabbitmq.enabled) return [];
  const out: ScrapeTarget[] = [];
  for (let i = 0; i < config.rabbitmq.replicas; i++) {
    const labels = { node: `rabbitmq-${i}`, ordinal: String(i) };
    const address = hostPort(at.node('rabbitmq', i, config.rabbitmq.prometheusPort));
    out.push({ job: RABBITMQ_JOB, component: 'rabbitmq', address, metricsPath: '/metrics', labels });
    out.push({
      job: RABBITMQ_DETAILED_JOB,
      component: 'rabbitmq',
      address,
      metricsPath: '/metrics/detailed',
      params: { family: RABBITMQ_DETAILED_FAMILIES },
      labels,
    });
  }
  return out;
}
