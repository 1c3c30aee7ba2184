import { memcachedTuningArgs } from './config.js';
import { monitoringObjects } from '../../k8s/monitoring.js';
import { memcachedAlertRules } from './alerts.js';
import { MEMCACHED_JOB } from './metrics.js';
import {
  antiAffinity,
  containerSecurity,
  headlessName,
  imageRef,
  type K8sObject,
  labels,
  meta,
  networkPolicy,
  podDisruptionBudget,
  podFqdn,
  podSecurity,
  type RenderContext,
  resources,
  selector,
  services,
  HOOK_ANNOTATION,
  WAIT_FOR_TCP,
} from '../../k8s/objects.js';

/** uid of the `memcache` user in the official image. */
const MEMCACHED_UID = 11211;

/** Sends one text-protocol command and checks the reply: what readiness and liveness ask. */
export function memcachedProbeScript(port: number): string {
  return `exec 3<>/dev/tcp/127.0.0.1/${port} && printf 'version\\r\\n' >&3 && read -r -t 3 line <&3 && case "$line" in VERSION*) exit 0;; *) exit 1;; esac`;
}

/** The test pod's script: set, get, delete and stats on every node (what `osb test` does locally). */
export function memcachedTestScript(ctx: RenderContext): string {
  const c = ctx.config.memcached;
  const hosts = Array.from({ length: c.replicas }, (_, i) => podFqdn(ctx, 'memcached', i));
  return [
    'set -eu',
    WAIT_FOR_TCP,
    'cmd() { # host command... ; prints the reply up to END/STORED/DELETED/ERROR',
    `  exec 3<>"/dev/tcp/$1/${c.port}"; shift; printf '%b' "$*" >&3`,
    '  while read -r -t 5 line <&3; do line=${line%$\'\\r\'}; echo "$line"; case "$line" in END|STORED|DELETED|NOT_FOUND|ERROR*|*_ERROR*) break;; esac; done',
    '  exec 3>&-',
    '}',
    `for h in ${hosts.join(' ')}; do`,
    `  wait_tcp "$h" ${c.port} 120`,
    '  key="osb-test-$RANDOM$RANDOM"; val="v$RANDOM$RANDOM"',
    '  [ "$(cmd "$h" "set $key 0 60 ${#val}\\r\\n$val\\r\\n")" = STORED ] || { echo "FAIL $h: set refused"; exit 1; }',
    '  cmd "$h" "get $key\\r\\n" | grep -qx "$val" || { echo "FAIL $h: get did not return the value"; exit 1; }',
    '  [ "$(cmd "$h" "delete $key\\r\\n")" = DELETED ] || { echo "FAIL $h: delete"; exit 1; }',
    '  cmd "$h" "stats\\r\\n" | grep -q "^STAT curr_connections " || { echo "FAIL $h: stats"; exit 1; }',
    '  echo "ok $h: set/get/delete/stats"',
    'done',
    '',
  ].join('\n');
}

/**
 * The community memcached exporter beside each memcached (metrics.enabled): the same metric names
 * the local target's `osb exporter memcached` serves, so the same rules apply. It reads `stats` over
 * the pod's loopback and listens on the pod IP at `memcached.exporterPort`. No readiness probe: a
 * sidecar must not take the server out of its Services.
 */
export function memcachedExporterSidecar(ctx: RenderContext): Record<string, unknown> {
  const c = ctx.config.memcached;
  return {
    name: 'memcached-exporter',
    image: c.exporterImage,
    args: [`--memcached.address=127.0.0.1:${c.port}`, `--web.listen-address=:${c.exporterPort}`],
    ports: [{ name: 'metrics', containerPort: c.exporterPort, protocol: 'TCP' }],
    livenessProbe: { httpGet: { path: '/', port: 'metrics' }, periodSeconds: 30, timeoutSeconds: 5, failureThreshold: 3 },
    securityContext: containerSecurity(true),
    resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '200m', memory: '64Mi' } },
  };
}

export function memcachedKubernetesObjects(ctx: RenderContext): K8sObject[] {
  const c = ctx.config.memcached;
  const metrics = ctx.config.metrics.enabled;
  const probe = (period: number, failures: number) => ({
    exec: { command: ['bash', '-c', memcachedProbeScript(c.port)] },
    periodSeconds: period,
    timeoutSeconds: 5,
    failureThreshold: failures,
  });
  const sts: K8sObject = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta(ctx, 'memcached', 'memcached', 'server'),
    spec: {
      serviceName: headlessName('memcached'),
      replicas: c.replicas,
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: selector('memcached') },
      template: {
        metadata: { labels: labels('memcached', 'server') },
        spec: {
          automountServiceAccountToken: false,
          securityContext: podSecurity(MEMCACHED_UID),
          affinity: antiAffinity('memcached'),
          terminationGracePeriodSeconds: 10,
          containers: [
            {
              name: 'memcached',
              image: imageRef(c),
              command: ['memcached'],
              args: ['-p', String(c.port), ...memcachedTuningArgs(c)],
              ports: [{ name: 'memcache', containerPort: c.port, protocol: 'TCP' }],
              readinessProbe: { ...probe(5, 3), initialDelaySeconds: 2 },
              livenessProbe: { ...probe(10, 6), initialDelaySeconds: 10 },
              resources: resources(c.resources),
              securityContext: containerSecurity(true),
            },
            ...(metrics ? [memcachedExporterSidecar(ctx)] : []),
          ],
        },
      },
    },
  };
  const test: K8sObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: meta(ctx, 'memcached-test', 'memcached', 'test', { [HOOK_ANNOTATION]: 'test', 'helm.sh/hook': 'test' }),
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      securityContext: podSecurity(MEMCACHED_UID),
      containers: [
        {
          name: 'test',
          image: imageRef(c),
          command: ['bash', '-c', memcachedTestScript(ctx)],
          securityContext: containerSecurity(true),
          resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '200m', memory: '64Mi' } },
        },
      ],
    },
  };
  return [
    // The metrics port only on the headless Service: every pod is scraped on its own.
    ...services(ctx, 'memcached', [{ name: 'memcache', port: c.port }], metrics ? [{ name: 'metrics', port: c.exporterPort }] : []),
    podDisruptionBudget(ctx, 'memcached'),
    networkPolicy(ctx, 'memcached', [{ port: c.port, from: 'namespace' }, ...(metrics ? [{ port: c.exporterPort, from: 'namespace' as const }] : [])]),
    sts,
    ...monitoringObjects(
      ctx,
      'memcached',
      [{ port: 'metrics', path: '/metrics', job: MEMCACHED_JOB }],
      memcachedAlertRules(ctx.config, { target: 'kubernetes' }),
    ),
    test,
  ];
}
