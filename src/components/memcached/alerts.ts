import type { Config } from '../../config/schema.js';
import { type AlertOptions, type RuleGroup, rule } from '../../model/metrics.js';
import { MEMCACHED_JOB } from './metrics.js';

const j = `job="${MEMCACHED_JOB}"`;
const labels = (severity: 'critical' | 'warning') => ({ severity, component: 'memcached' as const });

/** Alert rules of memcached (osb's exporter, community memcached_exporter metric names). */
export function memcachedAlertRules(config: Config, opts: AlertOptions = {}): RuleGroup[] {
  const c = config.memcached;
  if (!c.enabled) return [];
  const rules = [
    rule(
      {
        alert: 'MemcachedDown',
        expr: `memcached_up{${j}} == 0 or up{${j}} == 0`,
        forSeconds: 60,
        labels: labels('critical'),
        annotations: {
          summary: 'memcached {{ $labels.node }} is down: run `osb deploy memcached` to start it again',
          description:
            'The exporter cannot read `stats` from the server (memcached_up 0) or does not answer itself. ' +
            'OpenStack services fall back to slower paths (Keystone token validation, Nova/Neutron caches) and every cached entry on that node is lost. ' +
            'Read `osb logs memcached --node {{ $labels.ordinal }}`; `osb deploy memcached` starts it again.',
        },
      },
      opts,
    ),
    rule(
      {
        alert: 'MemcachedEvictions',
        expr: `rate(memcached_items_evicted_total{${j}}[5m]) > 0`,
        forSeconds: 600,
        labels: labels('warning'),
        annotations: {
          summary: `memcached {{ $labels.node }} evicts {{ $value | humanize }} items/s: the cache (memcached.memoryMB=${c.memoryMB}) is too small`,
          description:
            'Live items are thrown out to make room, so Keystone tokens and other cached values are fetched again and again. ' +
            `Give it more memory: \`osb deploy --set memcached.memoryMB=${c.memoryMB * 2}\` (restarts memcached; the cache starts empty).`,
        },
      },
      opts,
    ),
    rule(
      {
        alert: 'MemcachedConnectionSaturation',
        expr: `memcached_current_connections{${j}} / memcached_max_connections{${j}} > 0.8`,
        forSeconds: 300,
        labels: labels('warning'),
        annotations: {
          summary: `memcached {{ $labels.node }} uses {{ $value | humanizePercentage }} of its ${c.maxConnections} connections: raise memcached.maxConnections`,
          description:
            'When every connection slot is taken memcached stops accepting (listen_disabled) and clients time out. ' +
            `Raise the limit with \`osb deploy --set memcached.maxConnections=${c.maxConnections * 2}\`, or find the service that leaks connections.`,
        },
      },
      opts,
    ),
  ];
  return [{ name: 'osb-memcached', rules }];
}
