/**
 * Prometheus Operator objects (monitoring.coreos.com/v1): rendered only with
 * `metrics.prometheusOperator=true`, since rendering cannot see whether the cluster has the CRDs.
 */
import type { ComponentName } from '../config/schema.js';
import type { RuleGroup } from '../model/metrics.js';
import { type K8sObject, meta, type RenderContext, selector } from './objects.js';

export const MONITORING_API = 'monitoring.coreos.com/v1';

/** One metrics endpoint of a component's server pods: the container port's name, path, and the job the alert rules select on. */
export interface PodMetricsEndpoint {
  /** Name of the container port (e.g. `metrics`). */
  port: string;
  path: string;
  job: string;
  params?: Record<string, string[]>;
}

/**
 * The labels `osb metrics --format prometheus` puts on every local target, set here by relabeling, so
 * that the same rules work on both targets: `job` (the rules select on it), `component`, `node` (the
 * pod name, e.g. mariadb-1) and `ordinal` (its number).
 */
export function osbRelabelings(component: ComponentName, job: string): Record<string, unknown>[] {
  return [
    { targetLabel: 'job', replacement: job, action: 'replace' },
    { targetLabel: 'component', replacement: component, action: 'replace' },
    { sourceLabels: ['__meta_kubernetes_pod_name'], targetLabel: 'node', action: 'replace' },
    { sourceLabels: ['__meta_kubernetes_pod_name'], regex: '.*-([0-9]+)', targetLabel: 'ordinal', replacement: '$1', action: 'replace' },
  ];
}

/** A PodMonitor selecting the component's server pods (every pod scraped directly, like the local targets). */
export function podMonitor(ctx: RenderContext, c: ComponentName, endpoints: PodMetricsEndpoint[]): K8sObject {
  return {
    apiVersion: MONITORING_API,
    kind: 'PodMonitor',
    metadata: meta(ctx, c, c, 'metrics'),
    spec: {
      selector: { matchLabels: selector(c) },
      podMetricsEndpoints: endpoints.map((e) => ({
        port: e.port,
        path: e.path,
        ...(e.params ? { params: e.params } : {}),
        relabelings: osbRelabelings(c, e.job),
      })),
    },
  };
}

/** A PrometheusRule carrying the component's rule groups: exactly what `osb metrics --rules --target kubernetes` prints. */
export function prometheusRule(ctx: RenderContext, c: ComponentName, groups: RuleGroup[]): K8sObject {
  return { apiVersion: MONITORING_API, kind: 'PrometheusRule', metadata: meta(ctx, c, c, 'metrics'), spec: { groups } };
}

/** The PodMonitor and PrometheusRule of a component, when metrics are on and the operator's CRDs are wanted. */
export function monitoringObjects(ctx: RenderContext, c: ComponentName, endpoints: PodMetricsEndpoint[], groups: RuleGroup[]): K8sObject[] {
  const m = ctx.config.metrics;
  if (!m.enabled || !m.prometheusOperator) return [];
  return [podMonitor(ctx, c, endpoints), ...(groups.some((g) => g.rules.length) ? [prometheusRule(ctx, c, groups)] : [])];
}
