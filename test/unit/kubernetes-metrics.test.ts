/**
 * Metrics on Kubernetes: the exporter sidecars, the RabbitMQ plugin's port, Service ports and
 * NetworkPolicy rules for every metrics port, the Prometheus Operator objects (PodMonitor,
 * PrometheusRule) validated against the operator's own schemas, the PrometheusRule's groups checked
 * by Debian's real `promtool`, `osb metrics --target kubernetes`, and a deploy against the
 * in-process Kubernetes API stand-in (the only stand-in these tests use).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PodMonitor, PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { alertRuleGroups } from '../../src/components/alerts.js';
import { loadConfig } from '../../src/components/index.js';
import { mariadbRootPasswordHash } from '../../src/components/mariadb/kubernetes.js';
import { EXPORTER_USER } from '../../src/components/mariadb/metrics.js';
import type { K8sObject } from '../../src/k8s/objects.js';
import type { RuleGroup } from '../../src/model/metrics.js';
import { connectKubernetes } from '../../src/targets/kubernetes/api.js';
import { openKubernetes } from '../../src/targets/kubernetes/context.js';
import { deployKubernetes, destroyKubernetes } from '../../src/targets/kubernetes/ops.js';
import { isTestHook, renderObjects } from '../../src/targets/kubernetes/render.js';
import { OsbError } from '../../src/util/errors.js';
import { osb } from '../helpers/osb.js';
import { FIXED_SECRETS } from './kubernetes-fixtures.js';
import { ApiStandIn } from './kubernetes-standin.js';

const HA = ['rabbitmq.replicas=3', 'mariadb.replicas=3', 'memcached.replicas=3'];
const render = (set: string[] = []) => renderObjects(loadConfig({ set }), FIXED_SECRETS(), {});
const dir = mkdtempSync(join(tmpdir(), 'osb-k8s-metrics-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Any = any;
const sts = (objs: K8sObject[], name: string): Any => objs.find((o) => o.kind === 'StatefulSet' && o.metadata.name === name);
const containers = (objs: K8sObject[]): Any[] =>
  objs.flatMap((o: Any) => {
    const spec = o.kind === 'Pod' ? o.spec : o.spec?.template?.spec;
    return spec ? [...(spec.initContainers ?? []), ...(spec.containers ?? [])] : [];
  });

describe('kubernetes metrics: exporters, ports, policies', () => {
  for (const [name, set] of [
    ['single nodes', []],
    ['3-node clusters', HA],
  ] as const) {
    it(`${name}: every server pod serves metrics on a named port, reachable through the headless Service and admitted by the NetworkPolicy`, () => {
      const objs = render([...set]);
      const want = { rabbitmq: 15692, mariadb: 9104, memcached: 9150 };
      for (const [c, port] of Object.entries(want)) {
        const ports = sts(objs, c)
          .spec.template.spec.containers.flatMap((x: Any) => x.ports ?? [])
          .filter((p: Any) => p.name === 'metrics');
        expect(ports, c).toEqual([{ name: 'metrics', containerPort: port, protocol: 'TCP' }]);
        const svc = (n: string): Any => objs.find((o) => o.kind === 'Service' && o.metadata.name === n);
        expect(svc(`${c}-headless`).spec.ports, c).toContainEqual({ name: 'metrics', port, targetPort: port, protocol: 'TCP' });
        // Not on the load-balanced client Service: a scrape must reach one given pod.
        expect(
          svc(c).spec.ports.map((p: Any) => p.port),
          c,
        ).not.toContain(port);
        const np: Any = objs.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === c);
        const fromNamespace = np.spec.ingress.find((r: Any) => !r.from[0].podSelector.matchLabels);
        expect(fromNamespace.ports, c).toContainEqual({ protocol: 'TCP', port });
      }
    });
  }

  it('the mysqld-exporter sidecar: the local collectors, the unix socket, the password as env from a Secret', () => {
    const objs = render(HA);
    const x = sts(objs, 'mariadb').spec.template.spec.containers.find((c: Any) => c.name === 'mysqld-exporter');
    expect(x.image).toBe('quay.io/prometheus/mysqld-exporter:v0.15.1');
    expect(x.args).toContain('--no-collect.slave_status');
    expect(x.args).toContain('--web.listen-address=:9104');
    expect(x.env).toEqual([{ name: 'MYSQLD_EXPORTER_PASSWORD', valueFrom: { secretKeyRef: { name: 'mariadb-credentials', key: 'exporter-password' } } }]);
    expect(x.volumeMounts).toContainEqual({ name: 'run-mysqld', mountPath: '/run/mysqld', readOnly: true });
    // No readiness probe: the sidecar must never take a Galera member out of the writer Service.
    expect(x.readinessProbe).toBeUndefined();
    const etc: Any = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'mariadb-etc');
    expect(etc.data['exporter.cnf']).toContain(`user = ${EXPORTER_USER}`);
    expect(etc.data['exporter.cnf']).toContain('socket = /run/mysqld/mysqld.sock');
    expect(etc.data['exporter.cnf']).not.toMatch(/^password\s*=/m);
    const secret: Any = objs.find((o) => o.kind === 'Secret' && o.metadata.name === 'mariadb-credentials');
    expect(Buffer.from(secret.data['exporter-password'], 'base64').toString()).toBe(FIXED_SECRETS().mariadbExporterPassword);
    expect(
      render(['mariadb.exporterImage=registry.example/mysqld-exporter:v0.15.1'])
        .flatMap((o) => containers([o]))
        .some((c) => c.image === 'registry.example/mysqld-exporter:v0.15.1'),
    ).toBe(true);
  });

  it("the exporter's least-privilege account is created on first init (initdb) and by the db-init Job, @localhost only", () => {
    const objs = render(HA);
    const scripts: Any = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'mariadb-scripts');
    const init: string = scripts.data['osb-admin.sh'];
    const job: Any = objs.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('mariadb-db-init-'));
    const dbInit: string = job.spec.template.spec.containers[0].command.join(' ');
    for (const [sql, env] of [
      [init, 'MARIADB_EXPORTER_PASSWORD'],
      [dbInit, 'OSB_EXPORTER_PASSWORD'],
    ] as const) {
      expect(sql).toContain(`CREATE USER IF NOT EXISTS '${EXPORTER_USER}'@'localhost' IDENTIFIED BY '\${${env}}' WITH MAX_USER_CONNECTIONS 3;`);
      expect(sql).toContain(`GRANT PROCESS, REPLICATION CLIENT ON *.* TO '${EXPORTER_USER}'@'localhost';`);
      expect(sql).toContain(`GRANT SELECT ON performance_schema.* TO '${EXPORTER_USER}'@'localhost';`);
      expect(sql).not.toMatch(new RegExp(`'${EXPORTER_USER}'@'%'`));
    }
    const server = sts(objs, 'mariadb').spec.template.spec.containers.find((c: Any) => c.name === 'mariadb');
    expect(server.env).toContainEqual({
      name: 'MARIADB_EXPORTER_PASSWORD',
      valueFrom: { secretKeyRef: { name: 'mariadb-credentials', key: 'exporter-password' } },
    });
    expect(job.spec.template.spec.containers[0].env).toContainEqual({
      name: 'OSB_EXPORTER_PASSWORD',
      valueFrom: { secretKeyRef: { name: 'mariadb-credentials', key: 'exporter-password' } },
    });
  });

  it('the memcached exporter sidecar and the RabbitMQ plugin listener', () => {
    const objs = render(HA);
    const x = sts(objs, 'memcached').spec.template.spec.containers.find((c: Any) => c.name === 'memcached-exporter');
    expect(x.image).toBe('quay.io/prometheus/memcached-exporter:v0.14.4');
    expect(x.args).toEqual(['--memcached.address=127.0.0.1:11211', '--web.listen-address=:9150']);
    expect(x.readinessProbe).toBeUndefined();
    const conf: Any = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'rabbitmq-config');
    expect(conf.data['30-kubernetes.conf']).toContain('prometheus.tcp.port = 15692');
    expect(conf.data.enabled_plugins).toContain('rabbitmq_prometheus');
  });

  it('no password, cookie or root hash in any container argv or command (sidecars, init containers, Jobs, test pods)', () => {
    const s = FIXED_SECRETS();
    const secrets = [
      s.mariadbAdminPassword,
      s.rabbitmqAdminPassword,
      s.erlangCookie,
      s.mariadbExporterPassword,
      mariadbRootPasswordHash(s.mariadbAdminPassword),
      ...Object.values(s.services),
    ];
    for (const set of [[], HA, [...HA, 'metrics.prometheusOperator=true']]) {
      const all = containers(render(set));
      expect(all.length).toBeGreaterThan(8);
      for (const c of all) {
        const argv = [...(c.command ?? []), ...(c.args ?? [])].join(' ');
        for (const secret of secrets) expect(argv, `${c.name}`).not.toContain(secret);
      }
    }
  });

  it('metrics.enabled=false: no sidecar, no metrics port, no exporter account or password anywhere', () => {
    const objs = render([...HA, 'metrics.enabled=false', 'metrics.prometheusOperator=true']);
    const text = JSON.stringify(objs);
    expect(containers(objs).map((c) => c.name)).not.toContain('mysqld-exporter');
    expect(containers(objs).map((c) => c.name)).not.toContain('memcached-exporter');
    for (const p of [15692, 9104, 9150]) expect(text).not.toContain(`"port":${p}`);
    expect(text).not.toContain(EXPORTER_USER);
    expect(text).not.toContain('exporter-password');
    expect(objs.filter((o) => o.apiVersion.startsWith('monitoring.coreos.com'))).toEqual([]);
  });
});

describe('kubernetes metrics: Prometheus Operator objects', () => {
  it('none unless metrics.prometheusOperator=true (rendering cannot see the CRDs)', () => {
    expect(render(HA).filter((o) => o.apiVersion.startsWith('monitoring.coreos.com'))).toEqual([]);
  });

  for (const [name, set] of [
    ['single nodes', []],
    ['3-node clusters', HA],
  ] as const) {
    it(`${name}: a PodMonitor per component and a PrometheusRule, valid against the operator's schemas (@kubernetes-models/prometheus-operator)`, () => {
      const objs = render([...set, 'metrics.prometheusOperator=true']);
      const monitors = objs.filter((o) => o.kind === 'PodMonitor');
      const rules = objs.filter((o) => o.kind === 'PrometheusRule');
      expect(monitors.map((o) => o.metadata.name).sort()).toEqual(['mariadb', 'memcached', 'rabbitmq']);
      expect(rules.map((o) => o.metadata.name).sort()).toEqual(['mariadb', 'memcached', 'rabbitmq']);
      for (const o of monitors) expect(() => new PodMonitor(o as never).validate(), o.metadata.name).not.toThrow();
      for (const o of rules) expect(() => new PrometheusRule(o as never).validate(), o.metadata.name).not.toThrow();
      // The validator does reject a broken one, so a pass means something.
      expect(() => new PodMonitor({ ...monitors[0], spec: { podMetricsEndpoints: [{ port: 7 }] } } as never).validate()).toThrow();
      for (const o of monitors as Any[]) {
        const c = o.metadata.name;
        // Selects exactly the server pods (what the StatefulSet's pods carry), scraped by the named container port.
        expect(o.spec.selector.matchLabels).toEqual(sts(objs, c).spec.selector.matchLabels);
        for (const e of o.spec.podMetricsEndpoints) {
          expect(e.port).toBe('metrics');
          const rel = Object.fromEntries(e.relabelings.map((r: Any) => [r.targetLabel, r]));
          expect(Object.keys(rel).sort()).toEqual(['component', 'job', 'node', 'ordinal']);
          expect(rel.node.sourceLabels).toEqual(['__meta_kubernetes_pod_name']);
          expect(rel.component.replacement).toBe(c);
        }
      }
      const rmq: Any = monitors.find((o) => o.metadata.name === 'rabbitmq');
      expect(rmq.spec.podMetricsEndpoints.map((e: Any) => [e.path, e.params ?? null])).toEqual([
        ['/metrics', null],
        ['/metrics/detailed', { family: ['ra_metrics', 'queue_coarse_metrics'] }],
      ]);
    });
  }

  it('the PrometheusRules carry the same groups as `osb metrics --rules --target kubernetes`; every job a rule selects is one a PodMonitor sets', async () => {
    const set = [...HA, 'metrics.prometheusOperator=true'];
    const objs = render(set);
    const groups = objs.filter((o) => o.kind === 'PrometheusRule').flatMap((o: Any) => o.spec.groups as RuleGroup[]);
    const config = loadConfig({ set });
    expect(groups).toEqual(alertRuleGroups(config, { target: 'kubernetes' }));
    const printed = await osb(['metrics', '--rules', '--target', 'kubernetes', ...set.flatMap((s) => ['--set', s])], { stateDir: join(dir, 'rules-state') });
    expect(printed.code, printed.stderr).toBe(0);
    expect(parse(printed.stdout).groups).toEqual(groups);
    // No HAProxy on Kubernetes (a writer label and Service instead): its rule stays on the local target.
    const alerts = groups.flatMap((g) => g.rules.map((r) => r.alert));
    expect(alerts).not.toContain('HaproxyNoHealthyWriter');
    expect(alertRuleGroups(config).flatMap((g) => g.rules.map((r) => r.alert))).toContain('HaproxyNoHealthyWriter');
    const jobs = new Set(
      objs
        .filter((o) => o.kind === 'PodMonitor')
        .flatMap((o: Any) => o.spec.podMetricsEndpoints.map((e: Any) => e.relabelings.find((r: Any) => r.targetLabel === 'job').replacement)),
    );
    for (const g of groups)
      for (const r of g.rules) for (const m of r.expr.matchAll(/job="([^"]+)"/g)) expect(jobs.has(m[1]!), `${r.alert}: ${m[1]}`).toBe(true);
  });

  it("promtool check rules accepts the PrometheusRule's embedded groups (1 and 3 nodes)", () => {
    for (const set of [['metrics.prometheusOperator=true'], [...HA, 'metrics.prometheusOperator=true']]) {
      const groups = render(set)
        .filter((o) => o.kind === 'PrometheusRule')
        .flatMap((o: Any) => o.spec.groups);
      const file = join(dir, `prometheusrule-${set.length}.yml`);
      writeFileSync(file, JSON.stringify({ groups }));
      const out = execFileSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
      expect(out).toMatch(/SUCCESS: \d+ rules found/);
      expect(Number(/SUCCESS: (\d+) rules found/.exec(out)![1])).toBe(groups.flatMap((g: Any) => g.rules).length);
    }
  });
});

describe('osb metrics --target kubernetes', () => {
  it('lists every in-cluster target: pod DNS names and the base ports, no HAProxy', async () => {
    const stateDir = join(dir, 'list-state');
    const r = await osb(['metrics', '--target', 'kubernetes', '--json', '--namespace', 'os', ...HA.flatMap((s) => ['--set', s])], { stateDir });
    expect(r.code, r.stderr).toBe(0);
    const targets = JSON.parse(r.stdout) as { job: string; address: string; labels: { node: string } }[];
    const byJob = (j: string) => targets.filter((t) => t.job === j).map((t) => t.address);
    expect(byJob('osb-mariadb')).toEqual([0, 1, 2].map((i) => `mariadb-${i}.mariadb-headless.os.svc.cluster.local:9104`));
    expect(byJob('osb-memcached')).toEqual([0, 1, 2].map((i) => `memcached-${i}.memcached-headless.os.svc.cluster.local:9150`));
    expect(byJob('osb-rabbitmq')).toEqual([0, 1, 2].map((i) => `rabbitmq-${i}.rabbitmq-headless.os.svc.cluster.local:15692`));
    expect(byJob('osb-rabbitmq-detailed')).toHaveLength(3);
    expect(byJob('osb-haproxy')).toEqual([]);
    const snippet = await osb(['metrics', '--target', 'kubernetes', '--format', 'prometheus'], { stateDir });
    expect(snippet.code, snippet.stderr).toBe(0);
    expect(parse(snippet.stdout).scrape_configs.map((s: Any) => s.job_name)).toEqual(['osb-rabbitmq', 'osb-rabbitmq-detailed', 'osb-mariadb', 'osb-memcached']);
  });
});

describe('kubernetes deploy with metrics against the in-process API stand-in', () => {
  const saved = process.env.KUBECONFIG;
  afterAll(() => {
    if (saved === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = saved;
  });
  const run = async (crds: boolean, set: string[]) => {
    const standin = new ApiStandIn();
    if (crds) standin.installPrometheusOperatorCrds();
    await standin.start();
    try {
      process.env.KUBECONFIG = standin.writeKubeconfig(mkdtempSync(join(dir, 'kc-')));
      const api = await connectKubernetes('standin');
      const d = () =>
        openKubernetes({ stateDir: join(dir, `state-${crds}-${set.length}`), set: ['kubernetes.waitTimeoutSeconds=5', ...HA, ...set], resetValues: true });
      const first = await deployKubernetes(api, d(), { pollMs: 20 });
      const second = await deployKubernetes(api, d(), { pollMs: 20 });
      return { standin, api, d, first, second };
    } catch (err) {
      await standin.stop();
      throw err;
    }
  };

  it('a cluster without the CRDs: the default (no operator objects) converges and a second deploy changes nothing', async () => {
    const { standin, first, second, d } = await run(false, []);
    try {
      const dd = d();
      expect(first.created).toHaveLength(renderObjects(dd.config, dd.secrets, {}).filter((o) => !isTestHook(o)).length);
      expect(second.changed).toBe(false);
      expect(standin.find('StatefulSet', 'openstack', 'mariadb')!.spec.template.spec.containers.map((c: Any) => c.name)).toEqual([
        'mariadb',
        'mysqld-exporter',
      ]);
    } finally {
      await standin.stop();
    }
  });

  it('metrics.prometheusOperator=true on a cluster without the CRDs: deploy stops with one message naming the missing kind and the switch, nothing changed', async () => {
    const standin = new ApiStandIn();
    await standin.start();
    try {
      process.env.KUBECONFIG = standin.writeKubeconfig(mkdtempSync(join(dir, 'kc-')));
      const api = await connectKubernetes('standin');
      const d = openKubernetes({
        stateDir: join(dir, 'state-nocrd'),
        set: ['kubernetes.waitTimeoutSeconds=5', 'metrics.prometheusOperator=true'],
        resetValues: true,
      });
      const err = await deployKubernetes(api, d, { pollMs: 20 }).then(
        () => undefined,
        (e: unknown) => e as OsbError,
      );
      expect(err).toBeInstanceOf(OsbError);
      expect(err!.message).toMatch(/does not serve PodMonitor \(monitoring\.coreos\.com\/v1\)/);
      expect(err!.fix).toMatch(/metrics\.prometheusOperator=false/);
      // Nothing was applied, not even the namespace.
      expect(standin.requests.filter((q) => !q.startsWith('GET'))).toEqual([]);
      expect(standin.objects.size).toBe(0);
    } finally {
      await standin.stop();
    }
  });

  it('with the CRDs and metrics.prometheusOperator=true: PodMonitors and PrometheusRules applied, re-applied unchanged, pruned when switched off, deleted by destroy', async () => {
    const { standin, api, d, first, second } = await run(true, ['metrics.prometheusOperator=true']);
    try {
      expect(first.created.filter((k) => /^(PodMonitor|PrometheusRule)\//.test(k)).sort()).toEqual([
        'PodMonitor/mariadb',
        'PodMonitor/memcached',
        'PodMonitor/rabbitmq',
        'PrometheusRule/mariadb',
        'PrometheusRule/memcached',
        'PrometheusRule/rabbitmq',
      ]);
      expect(second.changed).toBe(false);
      const off = openKubernetes({ stateDir: d().stateDir, set: ['kubernetes.waitTimeoutSeconds=5', ...HA], resetValues: true });
      const pruned = await deployKubernetes(api, off, { pollMs: 20 });
      expect(pruned.pruned.filter((k) => /^(PodMonitor|PrometheusRule)\//.test(k))).toHaveLength(6);
      await deployKubernetes(api, d(), { pollMs: 20 });
      const gone = await destroyKubernetes(api, d());
      expect(gone.deleted.filter((k) => /^(PodMonitor|PrometheusRule)\//.test(k))).toHaveLength(6);
    } finally {
      await standin.stop();
    }
  });
});
