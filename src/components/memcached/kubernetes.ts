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
  NODE_IMAGE,
  WAIT_FOR_TCP,
} from '../../k8s/objects.js';
import { podTlsFiles, tlsMount, tlsObjects, tlsVolume } from '../../k8s/tls.js';
import { memcachedTlsArgs } from './local.js';

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
 * With TLS every network listener speaks TLS only (as on the local target); the probes, which have
 * no TLS client in the image, talk to a plain listener bound to the pod's loopback only (port+1,
 * memcached's `notls:` listener), unreachable from other pods.
 */
export const memcachedProbePort = (port: number) => port + 1;

/**
 * The test pod's program with TLS on (Node.js built-ins, the node image): set/get/delete/stats on
 * every node over TLS, each connection verifying the node's certificate against the CA and the pod's
 * DNS name — what a TLS client of the Service sees.
 */
export function memcachedTlsTestScript(ctx: RenderContext): string {
  const c = ctx.config.memcached;
  const hosts = Array.from({ length: c.replicas }, (_, i) => podFqdn(ctx, 'memcached', i));
  return `const tls = require('node:tls');
const fs = require('node:fs');
const ca = fs.readFileSync('${podTlsFiles.ca}');
const hosts = ${JSON.stringify(hosts)};
function cmd(host, text, done) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host, port: ${c.port}, ca, servername: host }, () => s.write(text));
    let buf = '';
    s.setTimeout(10000, () => { s.destroy(); reject(new Error(host + ': timeout')); });
    s.on('data', (d) => { buf += d; if (done.test(buf)) { s.end(); resolve(buf); } });
    s.on('error', reject);
  });
}
(async () => {
  for (const h of hosts) {
    for (let i = 0; ; i++) { try { await cmd(h, 'version\\r\\n', /\\r\\n/); break; } catch (e) { if (i > 60) throw e; await new Promise((r) => setTimeout(r, 2000)); } }
    const key = 'osb-test-' + Math.random().toString(36).slice(2), val = 'v' + Date.now();
    if (!/^STORED/.test(await cmd(h, 'set ' + key + ' 0 60 ' + val.length + '\\r\\n' + val + '\\r\\n', /\\r\\n/))) throw new Error(h + ': set refused');
    if (!(await cmd(h, 'get ' + key + '\\r\\n', /END\\r\\n/)).includes(val)) throw new Error(h + ': get did not return the value');
    if (!/^DELETED/.test(await cmd(h, 'delete ' + key + '\\r\\n', /\\r\\n/))) throw new Error(h + ': delete');
    if (!/STAT curr_connections /.test(await cmd(h, 'stats\\r\\n', /END\\r\\n/))) throw new Error(h + ': stats');
    console.log('ok ' + h + ': set/get/delete/stats over TLS');
  }
})().catch((e) => { console.log('FAIL ' + e.message); process.exit(1); });
`;
}

/**
 * The community memcached exporter beside each memcached (metrics.enabled): the same metric names
 * the local target's `osb exporter memcached` serves, so the same rules apply. It reads `stats` over
 * the pod's loopback and listens on the pod IP at `memcached.exporterPort`. No readiness probe: a
 * sidecar must not take the server out of its Services.
 */
export function memcachedExporterSidecar(ctx: RenderContext): Record<string, unknown> {
  const c = ctx.config.memcached;
  // With TLS the network listener speaks TLS only: read stats from the plain loopback listener the probes use.
  const statsPort = ctx.config.tls.enabled ? memcachedProbePort(c.port) : c.port;
  return {
    name: 'memcached-exporter',
    image: c.exporterImage,
    args: [`--memcached.address=127.0.0.1:${statsPort}`, `--web.listen-address=:${c.exporterPort}`],
    ports: [{ name: 'metrics', containerPort: c.exporterPort, protocol: 'TCP' }],
    livenessProbe: { httpGet: { path: '/', port: 'metrics' }, periodSeconds: 30, timeoutSeconds: 5, failureThreshold: 3 },
    securityContext: containerSecurity(true),
    resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '200m', memory: '64Mi' } },
  };
}

export function memcachedKubernetesObjects(ctx: RenderContext): K8sObject[] {
  const c = ctx.config.memcached;
  const tls = ctx.config.tls.enabled;
  const probePort = tls ? memcachedProbePort(c.port) : c.port;
  const tlsArgs = tls ? ['-l', `notls:127.0.0.1:${probePort},0.0.0.0:${c.port}`, ...memcachedTlsArgs(ctx.config, podTlsFiles)] : [];
  const metrics = ctx.config.metrics.enabled;
  const probe = (period: number, failures: number) => ({
    exec: { command: ['bash', '-c', memcachedProbeScript(probePort)] },
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
              args: ['-p', String(c.port), ...memcachedTuningArgs(c), ...tlsArgs],
              ports: [{ name: 'memcache', containerPort: c.port, protocol: 'TCP' }],
              readinessProbe: { ...probe(5, 3), initialDelaySeconds: 2 },
              livenessProbe: { ...probe(10, 6), initialDelaySeconds: 10 },
              resources: resources(c.resources),
              securityContext: containerSecurity(true),
              ...(tls ? { volumeMounts: [tlsMount] } : {}),
            },
            ...(metrics ? [memcachedExporterSidecar(ctx)] : []),
          ],
          ...(tls ? { volumes: [tlsVolume('memcached')] } : {}),
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
        tls
          ? {
              name: 'test',
              image: NODE_IMAGE,
              command: ['node', '-e', memcachedTlsTestScript(ctx)],
              securityContext: containerSecurity(true),
              volumeMounts: [tlsMount],
              resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '200m', memory: '128Mi' } },
            }
          : {
              name: 'test',
              image: imageRef(c),
              command: ['bash', '-c', memcachedTestScript(ctx)],
              securityContext: containerSecurity(true),
              resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '200m', memory: '64Mi' } },
            },
      ],
      ...(tls ? { volumes: [tlsVolume('memcached')] } : {}),
    },
  };
  return [
    // The Secret with osb's certificate, or (tls.certManager) the Certificate cert-manager writes it from.
    ...tlsObjects(ctx, 'memcached'),
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
