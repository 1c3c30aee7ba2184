import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chooseGaleraWriter, WRITER_LABEL, type WriterCandidate } from '../../src/components/mariadb/writer.js';
import { loadConfig } from '../../src/components/index.js';
import { connectKubernetes, type KubeApi } from '../../src/targets/kubernetes/api.js';
import { kubernetesEndpoints, openKubernetes, renderContext } from '../../src/targets/kubernetes/context.js';
import { deployKubernetes, statusKubernetes } from '../../src/targets/kubernetes/ops.js';
import { renderObjects } from '../../src/targets/kubernetes/render.js';
import { FIXED_SECRETS } from './kubernetes-fixtures.js';
import { ApiStandIn } from './kubernetes-standin.js';

const pod = (ordinal: number, v: Partial<WriterCandidate> & { writer?: boolean } = {}): WriterCandidate => {
  const { writer, ...rest } = v;
  return { name: `mariadb-${ordinal}`, ordinal, ready: true, deleting: false, labels: writer ? { [WRITER_LABEL]: 'true' } : {}, ...rest };
};

/** Scenarios with the expected decision (writer, unlabel, label). */
const CASES: [string, WriterCandidate[], { writer?: string; unlabel: string[]; label?: string }][] = [
  ['nobody labelled yet: the lowest Ready ordinal', [pod(0), pod(1), pod(2)], { writer: 'mariadb-0', unlabel: [], label: 'mariadb-0' }],
  ['nobody labelled, pod 0 not Ready: pod 1', [pod(0, { ready: false }), pod(1), pod(2)], { writer: 'mariadb-1', unlabel: [], label: 'mariadb-1' }],
  ['a healthy writer stays, even with a lower ordinal Ready (stickiness)', [pod(0), pod(1), pod(2, { writer: true })], { writer: 'mariadb-2', unlabel: [] }],
  [
    'the writer is not Ready: label moves to the lowest Ready',
    [pod(0, { writer: true, ready: false }), pod(1), pod(2)],
    { writer: 'mariadb-1', unlabel: ['mariadb-0'], label: 'mariadb-1' },
  ],
  [
    'the writer is being deleted (drain, rollout): label moves',
    [pod(0), pod(1, { writer: true, deleting: true }), pod(2)],
    { writer: 'mariadb-0', unlabel: ['mariadb-1'], label: 'mariadb-0' },
  ],
  [
    'a Ready pod being deleted is never chosen',
    [pod(0, { deleting: true }), pod(1, { ready: false }), pod(2)],
    { writer: 'mariadb-2', unlabel: [], label: 'mariadb-2' },
  ],
  [
    'no pod Ready: no writer, the label is removed',
    [pod(0, { writer: true, ready: false }), pod(1, { ready: false }), pod(2, { ready: false })],
    { unlabel: ['mariadb-0'] },
  ],
  ['no pods at all: nothing to do', [], { unlabel: [] }],
  [
    'two holders (a second controller, a hand edit): the lowest healthy one stays',
    [pod(0), pod(1, { writer: true }), pod(2, { writer: true })],
    { writer: 'mariadb-1', unlabel: ['mariadb-2'] },
  ],
  [
    'two holders, the first unhealthy: the healthy holder stays',
    [pod(0, { writer: true, ready: false }), pod(1), pod(2, { writer: true })],
    { writer: 'mariadb-2', unlabel: ['mariadb-0'] },
  ],
  ['ordinal order, not name order (mariadb-10 after mariadb-2)', [pod(10), pod(2)], { writer: 'mariadb-2', unlabel: [], label: 'mariadb-2' }],
];

describe('chooseGaleraWriter: which pod holds the writer label', () => {
  for (const [name, pods, want] of CASES) {
    it(name, () => {
      const d = chooseGaleraWriter(pods);
      expect({ writer: d.writer, unlabel: d.unlabel, label: d.label }).toEqual({ writer: want.writer, unlabel: want.unlabel, label: want.label });
      expect(d.reason).toBeTruthy();
      // The order the API lists pods in does not matter.
      expect(chooseGaleraWriter([...pods].reverse())).toEqual(d);
    });
  }

  it('the ConfigMap carries chooseGaleraWriter itself: the shipped module decides identically', async () => {
    const cm = renderObjects(loadConfig({ set: ['mariadb.replicas=3'] }), FIXED_SECRETS(), { components: ['mariadb'] }).find(
      (o) => o.kind === 'ConfigMap' && o.metadata.name === 'mariadb-writer-controller',
    )!;
    const data = cm.data as Record<string, string>;
    const dir = mkdtempSync(join(tmpdir(), 'osb-writer-cm-'));
    try {
      writeFileSync(join(dir, 'writer-decision.mjs'), data['writer-decision.mjs']!);
      writeFileSync(join(dir, 'writer-controller.mjs'), data['writer-controller.mjs']!);
      execFileSync(process.execPath, ['--check', join(dir, 'writer-controller.mjs')]);
      const shipped = (await import(pathToFileURL(join(dir, 'writer-decision.mjs')).href)) as {
        chooseGaleraWriter: typeof chooseGaleraWriter;
        WRITER_LABEL: string;
      };
      expect(shipped.WRITER_LABEL).toBe(WRITER_LABEL);
      for (const [, pods] of CASES) expect(shipped.chooseGaleraWriter(pods)).toEqual(chooseGaleraWriter(pods));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('kubernetes single-writer rendering', () => {
  const objs = (replicas: number) => renderObjects(loadConfig({ set: [`mariadb.replicas=${replicas}`] }), FIXED_SECRETS(), { components: ['mariadb'] });
  const find = (os: ReturnType<typeof objs>, kind: string, name: string) => os.find((o) => o.kind === kind && o.metadata.name === name) as any;

  it('Galera: Service mariadb-writer selects only the labelled server pod; the controller may list pods and get/patch only mariadb-0..2', () => {
    const os = objs(3);
    expect(find(os, 'Service', 'mariadb-writer').spec.selector).toEqual({
      'app.kubernetes.io/name': 'mariadb',
      'app.kubernetes.io/instance': 'osb',
      'app.kubernetes.io/component': 'server',
      [WRITER_LABEL]: 'true',
    });
    expect(find(os, 'Role', 'mariadb-writer-controller').rules).toEqual([
      { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
      { apiGroups: [''], resources: ['pods'], resourceNames: ['mariadb-0', 'mariadb-1', 'mariadb-2'], verbs: ['get', 'patch'] },
    ]);
    expect(find(os, 'RoleBinding', 'mariadb-writer-controller').subjects).toEqual([
      { kind: 'ServiceAccount', name: 'mariadb-writer-controller', namespace: 'openstack' },
    ]);
    const dep = find(os, 'Deployment', 'mariadb-writer-controller');
    expect(dep.spec.replicas).toBe(1);
    expect(dep.spec.strategy).toEqual({ type: 'Recreate' });
    expect(dep.spec.template.spec.serviceAccountName).toBe('mariadb-writer-controller');
    // The server pods keep their own account, which cannot patch pods.
    expect(find(os, 'StatefulSet', 'mariadb').spec.template.spec.serviceAccountName).toBe('mariadb');
    // Ready means Synced in the Primary component: the controller's only health signal.
    const probe = find(os, 'StatefulSet', 'mariadb').spec.template.spec.containers[0].readinessProbe;
    expect(probe.exec.command[2]).toContain('^wsrep_cluster_status[[:space:]]Primary$');
    expect(probe.exec.command[2]).toContain('^wsrep_local_state_comment[[:space:]]Synced$');
    expect([probe.periodSeconds, probe.failureThreshold]).toEqual([5, 2]);
  });

  it('a single MariaDB has no writer Service, controller or RBAC, and clients use Service mariadb', () => {
    const os = objs(1);
    expect(os.filter((o) => /writer/.test(o.metadata.name))).toEqual([]);
    const c = loadConfig({});
    expect(kubernetesEndpoints({ config: c, namespace: 'openstack', clusterDomain: 'cluster.local' }, FIXED_SECRETS()).mariadb!.host).toBe(
      'mariadb.openstack.svc.cluster.local',
    );
  });
});

describe('kubernetes single-writer controller against an in-process API stand-in', () => {
  let standin: ApiStandIn;
  let dir: string;
  let api: KubeApi;
  let child: ChildProcess | undefined;
  let output = '';
  const saved = process.env.KUBECONFIG;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'osb-writer-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    if (saved === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = saved;
  });
  beforeEach(async () => {
    standin = new ApiStandIn();
    await standin.start();
    process.env.KUBECONFIG = standin.writeKubeconfig(dir);
    api = await connectKubernetes('standin');
  });
  afterEach(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    child = undefined;
    await standin.stop();
  });

  const stateDir = () => mkdtempSync(join(dir, 'state-'));
  const HA_DB = ['mariadb.replicas=3', 'kubernetes.waitTimeoutSeconds=5'];

  /** Starts the controller exactly as shipped: the two files of the ConfigMap osb applied to the stand-in. */
  function startController(): void {
    const cm = standin.find('ConfigMap', 'openstack', 'mariadb-writer-controller')!;
    const dep = standin.find('Deployment', 'openstack', 'mariadb-writer-controller')!;
    const scripts = mkdtempSync(join(dir, 'scripts-'));
    for (const [k, v] of Object.entries(cm.data as Record<string, string>)) writeFileSync(join(scripts, k), v);
    const sa = join(scripts, 'sa');
    mkdirSync(sa);
    writeFileSync(join(sa, 'token'), 'test-token');
    // The Deployment's own env, except the poll period (fast for the test) and the paths outside a pod.
    const env: Record<string, string> = {};
    for (const e of dep.spec.template.spec.containers[0].env as { name: string; value?: string }[]) if (e.value) env[e.name] = e.value;
    Object.assign(env, {
      POD_NAMESPACE: 'openstack',
      OSB_POLL_MS: '30',
      OSB_HEARTBEAT: join(scripts, 'heartbeat'),
      OSB_SERVICEACCOUNT_DIR: sa,
      OSB_API_URL: `http://127.0.0.1:${standin.port}`,
    });
    output = '';
    child = spawn(process.execPath, [join(scripts, 'writer-controller.mjs')], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
  }

  const holders = () =>
    standin
      .all('Pod')
      .filter((p) => p.metadata.labels?.[WRITER_LABEL] === 'true')
      .map((p) => p.metadata.name)
      .sort();
  const labelPatches = () => standin.requests.filter((r) => /^PATCH \/api\/v1\/namespaces\/openstack\/pods\//.test(r));
  async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
    const end = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; controller said:\n${output}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  /** Lets the controller run several rounds (its poll is 30 ms). */
  const rounds = async (n = 10) => {
    const before = standin.requests.filter((r) => r.startsWith('GET /api/v1/namespaces/openstack/pods?')).length;
    await until(`${n} controller rounds`, () => standin.requests.filter((r) => r.startsWith('GET /api/v1/namespaces/openstack/pods?')).length >= before + n);
  };

  it('labels the lowest Ready pod, keeps it while healthy, moves the label when the writer becomes unready, and is sticky when it returns', async () => {
    await deployKubernetes(api, openKubernetes({ stateDir: stateDir(), set: HA_DB, resetValues: true }), { components: ['mariadb'], pollMs: 20 });
    expect(standin.find('Service', 'openstack', 'mariadb-writer')).toBeDefined();
    startController();

    await until('a first writer', () => holders().length > 0);
    expect(holders()).toEqual(['mariadb-0']);

    // Staying put: other members flapping do not move the writer, and nothing is patched.
    const patched = labelPatches().length;
    standin.notReady.add('mariadb-2');
    await rounds();
    standin.notReady.delete('mariadb-2');
    await rounds();
    expect(holders()).toEqual(['mariadb-0']);
    expect(labelPatches()).toHaveLength(patched);

    // The writer loses readiness (e.g. kill -9 of mariadbd, or it left the Primary component).
    const mark = standin.requests.length;
    standin.notReady.add('mariadb-0');
    await until('the label to move to mariadb-1', () => holders().join() === 'mariadb-1');
    const moves = standin.requests.slice(mark).filter((r) => r.startsWith('PATCH'));
    // The old writer is unlabelled before the new one is labelled: never two pods behind the Service.
    expect(moves).toEqual(['PATCH /api/v1/namespaces/openstack/pods/mariadb-0', 'PATCH /api/v1/namespaces/openstack/pods/mariadb-1']);

    // mariadb-0 is back and Ready: the writes stay on mariadb-1 (no flapping back).
    standin.notReady.delete('mariadb-0');
    const after = labelPatches().length;
    await rounds();
    expect(holders()).toEqual(['mariadb-1']);
    expect(labelPatches()).toHaveLength(after);

    // The writer is being deleted (a drain): the label moves ahead of its shutdown, to the lowest Ready.
    standin.deleting.add('mariadb-1');
    await until('the label to move to mariadb-0', () => holders().join() === 'mariadb-0');
    standin.deleting.delete('mariadb-1');

    // No member Ready (the cluster lost quorum): no writer at all, rather than a non-Primary one.
    for (const p of ['mariadb-0', 'mariadb-1', 'mariadb-2']) standin.notReady.add(p);
    await until('no writer', () => holders().length === 0);
    standin.notReady.delete('mariadb-2');
    await until('mariadb-2 as the writer', () => holders().join() === 'mariadb-2');

    expect(output).toContain('writer: mariadb-0 (mariadb-0 becomes the writer (lowest Ready ordinal))');
    expect(output).toContain('removed the writer label from mariadb-0');
    expect(output).toContain('mariadb-0 is not Ready; mariadb-1 becomes the writer (lowest Ready ordinal)');
    expect(output).toContain('mariadb-1 is being deleted; mariadb-0 becomes the writer (lowest Ready ordinal)');
    expect(output).toContain('no pod is Ready: no writer');
  });

  it('osb status names the writer; a missing writer makes the deployment unhealthy', async () => {
    const d = openKubernetes({ stateDir: stateDir(), set: HA_DB, resetValues: true });
    await deployKubernetes(api, d, { components: ['mariadb'], pollMs: 20 });
    let s = await statusKubernetes(api, d, ['mariadb']);
    expect(s.components[0]!.writer).toBeUndefined();
    expect(s.healthy).toBe(false);
    expect(s.components[0]!.summary).toMatch(/^3\/3 Galera members Synced in the Primary component; writer none; mariadb-db-init complete$/);
    startController();
    await until('a first writer', () => holders().length > 0);
    s = await statusKubernetes(api, d, ['mariadb']);
    expect(s.components[0]!.writer).toBe('mariadb-0');
    expect(s.components[0]!.writerController).toBe(true);
    expect(s.healthy).toBe(true);
    expect(s.components[0]!.summary).toBe('3/3 Galera members Synced in the Primary component; writer mariadb-0; mariadb-db-init complete');
  });

  it('osb endpoints --target kubernetes puts the writer Service in [database] connection when replicas > 1', async () => {
    const state = stateDir();
    const { kubernetesTarget } = await import('../../src/targets/kubernetes/index.js');
    const target = kubernetesTarget({ stateDir: state, set: ['mariadb.replicas=3'], resetValues: true, context: 'standin' });
    const { text } = await target.endpoints({ service: 'nova', format: 'oslo', quiet: true });
    expect(text).toMatch(/\[database\]\nconnection = mysql\+pymysql:\/\/nova:[^@]+@mariadb-writer\.openstack\.svc\.cluster\.local:3306\/nova/);
    expect(text).not.toMatch(/@mariadb\.openstack/);
    const d = openKubernetes({ stateDir: state, set: ['mariadb.replicas=3'], resetValues: true });
    expect(kubernetesEndpoints(renderContext(d), d.secrets).mariadb!.host).toBe('mariadb-writer.openstack.svc.cluster.local');
  });
});
