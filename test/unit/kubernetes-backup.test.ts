import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigMap, PersistentVolumeClaim, Secret, ServiceAccount } from 'kubernetes-models/v1';
import { StatefulSet } from 'kubernetes-models/apps/v1';
import { CronJob } from 'kubernetes-models/batch/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { loadConfig } from '../../src/components/index.js';
import { connectKubernetes } from '../../src/targets/kubernetes/api.js';
import { openKubernetes } from '../../src/targets/kubernetes/context.js';
import { deployKubernetes } from '../../src/targets/kubernetes/ops.js';
import { BACKUP_AGENT_PORT, backupToken } from '../../src/components/mariadb/kubernetes-backup.js';
import { WRITER_LABEL, WRITER_LABEL_VALUE } from '../../src/components/mariadb/writer.js';
import type { K8sObject } from '../../src/k8s/objects.js';
import { renderObjects } from '../../src/targets/kubernetes/render.js';
import { OsbError } from '../../src/util/errors.js';
import { FIXED_SECRETS } from './kubernetes-fixtures.js';
import { ApiStandIn } from './kubernetes-standin.js';

const ROOT = join(__dirname, '..', '..');
const onDisk = (name: string) => readFileSync(join(ROOT, 'src', 'components', 'mariadb', 'pod', name), 'utf8');
const SCHEDULE = 'backup.schedule=30 2 * * *';
const render = (set: string[]) => renderObjects(loadConfig({ set }), FIXED_SECRETS(), { components: ['mariadb'] });
const find = (objs: K8sObject[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name) as any;

const MODELS: Record<string, new (o: never) => { validate(): void }> = {
  ConfigMap,
  Secret,
  ServiceAccount,
  PersistentVolumeClaim,
  StatefulSet,
  CronJob,
  NetworkPolicy,
  Role,
  RoleBinding,
};

describe('kubernetes render with backup.schedule: a CronJob of physical backups', () => {
  for (const [name, set] of [
    ['1 node', [SCHEDULE]],
    [
      'Galera, 3 nodes, keep.count, storage class',
      [SCHEDULE, 'mariadb.replicas=3', 'backup.keep.count=7', 'backup.volume.storageClass=slow', 'backup.volume.size=50Gi'],
    ],
  ] as const) {
    it(`${name}: the backup objects validate against the Kubernetes OpenAPI schema (kubernetes-models, batch/v1 CronJob)`, () => {
      const objs = render([...set]);
      const backup = objs.filter((o) => o.metadata.labels?.['app.kubernetes.io/component'] === 'backup' || o.metadata.name === 'mariadb-backup-token');
      expect(backup.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
        'ConfigMap/mariadb-backup-scripts',
        'CronJob/mariadb-backup',
        'NetworkPolicy/mariadb-backup',
        'PersistentVolumeClaim/mariadb-backups',
        'Role/mariadb-backup',
        'RoleBinding/mariadb-backup',
        'Secret/mariadb-backup-token',
        'ServiceAccount/mariadb-backup',
      ]);
      for (const o of [...backup, find(objs, 'StatefulSet', 'mariadb'), find(objs, 'NetworkPolicy', 'mariadb')]) {
        const Model = MODELS[o.kind]!;
        expect(() => new Model(o as never).validate(), `${o.kind}/${o.metadata.name}`).not.toThrow();
      }
    });
  }

  it('the validator catches a CronJob without a schedule (so a pass means something)', () => {
    const cj = structuredClone(find(render([SCHEDULE]), 'CronJob', 'mariadb-backup'));
    delete cj.spec.schedule;
    expect(() => new CronJob(cj).validate()).toThrow();
  });

  it('the CronJob: the schedule, never two at once, picks a pod (init container) then receives onto the PVC; scripts shipped byte for byte', () => {
    const objs = render([SCHEDULE, 'mariadb.replicas=3', 'backup.keep.count=7', 'backup.volume.size=50Gi']);
    const cj = find(objs, 'CronJob', 'mariadb-backup');
    expect(cj.spec.schedule).toBe('30 2 * * *');
    expect(cj.spec.concurrencyPolicy).toBe('Forbid');
    const pod = cj.spec.jobTemplate.spec.template.spec;
    expect(pod.initContainers.map((c: any) => c.name)).toEqual(['pick']);
    expect(pod.containers[0].command).toEqual(['bash', '/osb/backup/backup-job.sh']);
    expect(pod.volumes.find((v: any) => v.name === 'backups').persistentVolumeClaim.claimName).toBe('mariadb-backups');
    const env = Object.fromEntries(pod.containers[0].env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
    expect(env.OSB_KEEP_COUNT).toBe('7');
    expect(env.OSB_GALERA).toBe('1');
    expect(env.OSB_BACKUP_TOKEN).toEqual({ secretKeyRef: { name: 'mariadb-backup-token', key: 'token' } });
    expect(find(objs, 'PersistentVolumeClaim', 'mariadb-backups').spec.resources.requests.storage).toBe('50Gi');
    // The picker may only list pods.
    expect(find(objs, 'Role', 'mariadb-backup').rules).toEqual([{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }]);
    const scripts = find(objs, 'ConfigMap', 'mariadb-backup-scripts').data;
    for (const f of ['backup-agent.sh', 'backup-job.sh', 'backup-pick.mjs', 'k8s-api.mjs']) expect(scripts[f], f).toBe(onDisk(f));
    // The token is not the admin password and is stable across renders.
    const token = Buffer.from(find(objs, 'Secret', 'mariadb-backup-token').data.token, 'base64').toString();
    expect(token).toBe(backupToken(FIXED_SECRETS().mariadbAdminPassword));
    expect(token).not.toContain(FIXED_SECRETS().mariadbAdminPassword);
  });

  it('every MariaDB pod gets the backup-agent sidecar; only the backup Job pods may reach its port; the password is never in argv', () => {
    const objs = render([SCHEDULE, 'mariadb.replicas=3']);
    const sts = find(objs, 'StatefulSet', 'mariadb');
    const agent = sts.spec.template.spec.containers.find((c: any) => c.name === 'backup-agent');
    expect(agent.ports).toEqual([{ name: 'backup', containerPort: BACKUP_AGENT_PORT, protocol: 'TCP' }]);
    expect(agent.volumeMounts.map((m: any) => m.name).sort()).toEqual(['backup-scripts', 'data', 'etc', 'run-mysqld', 'tmp']);
    expect(JSON.stringify(agent.command)).not.toContain(FIXED_SECRETS().mariadbAdminPassword);
    const np = find(objs, 'NetworkPolicy', 'mariadb');
    const rule = np.spec.ingress.find((r: any) => r.ports.some((p: any) => p.port === BACKUP_AGENT_PORT));
    expect(rule.from).toEqual([{ podSelector: { matchLabels: expect.objectContaining({ 'app.kubernetes.io/component': 'backup' }) } }]);
    expect(np.spec.ingress.filter((r: any) => r.ports.some((p: any) => p.port === BACKUP_AGENT_PORT))).toHaveLength(1);
  });

  it('without backup.schedule nothing of this is rendered', () => {
    const objs = render(['mariadb.replicas=3']);
    expect(objs.filter((o) => o.metadata.name.startsWith('mariadb-backup'))).toEqual([]);
    expect(find(objs, 'StatefulSet', 'mariadb').spec.template.spec.containers.map((c: any) => c.name)).not.toContain('backup-agent');
  });

  it('a schedule that is not a cron expression is refused with one clear message', () => {
    let err: unknown;
    try {
      loadConfig({ set: ['backup.schedule=every night'] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OsbError);
    expect((err as OsbError).line).toMatch(/^config key "backup.schedule": a cron expression of 5 fields/);
  });

  it('the programs parse (node --check, bash -n)', () => {
    for (const f of ['backup-agent.sh', 'backup-job.sh']) execFileSync('bash', ['-n', join(ROOT, 'src/components/mariadb/pod', f)]);
    execFileSync(process.execPath, ['--check', join(ROOT, 'src/components/mariadb/pod/backup-pick.mjs')]);
  });
});

describe('backup-pick.mjs against the Kubernetes API stand-in (in-process stand-in, not a cluster)', () => {
  let standin: ApiStandIn;
  let dir: string;
  beforeAll(async () => {
    standin = new ApiStandIn();
    await standin.start();
    dir = mkdtempSync(join(tmpdir(), 'osb-backup-pick-'));
    writeFileSync(join(dir, 'namespace'), 'openstack');
  });
  afterAll(async () => {
    await standin.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function pods(states: { ready: boolean; writer: boolean }[]) {
    const sts = find(render([SCHEDULE, 'mariadb.replicas=3']), 'StatefulSet', 'mariadb');
    // put() keeps an existing object's status (as the API does for a spec write): start each case afresh.
    for (const p of standin.all('Pod')) standin.objects.delete(standin.key('Pod', 'openstack', p.metadata.name));
    states.forEach((s, i) => {
      standin.put({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: `mariadb-${i}`,
          namespace: 'openstack',
          labels: { ...sts.spec.template.metadata.labels, ...(s.writer ? { [WRITER_LABEL]: WRITER_LABEL_VALUE } : {}) },
        },
        status: { phase: 'Running', podIP: `10.0.0.${i + 10}`, conditions: [{ type: 'Ready', status: s.ready ? 'True' : 'False' }] },
      } as any);
    });
  }

  /** Runs the picker as its init container would; async, so the in-process stand-in can answer. */
  async function runPick(replicas: number) {
    const objs = render([SCHEDULE, `mariadb.replicas=${replicas}`]);
    const cj = find(objs, 'CronJob', 'mariadb-backup');
    const init = cj.spec.jobTemplate.spec.template.spec.initContainers[0];
    const scripts = find(objs, 'ConfigMap', 'mariadb-backup-scripts').data;
    for (const f of ['backup-pick.mjs', 'k8s-api.mjs']) writeFileSync(join(dir, f), scripts[f]);
    const target = join(dir, 'target');
    rmSync(target, { force: true });
    const env: Record<string, string> = { PATH: process.env.PATH ?? '' };
    for (const e of init.env as { name: string; value?: string }[]) if (e.value) env[e.name] = e.value;
    Object.assign(env, { OSB_API_URL: `http://127.0.0.1:${standin.port}`, OSB_SERVICEACCOUNT_DIR: dir, OSB_TARGET_FILE: target });
    const child = spawn(process.execPath, [join(dir, 'backup-pick.mjs')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((res) => child.on('close', res));
    let picked: string | undefined;
    try {
      picked = readFileSync(target, 'utf8').trim();
    } catch {
      picked = undefined;
    }
    return { code, out, picked };
  }

  it('Galera: a Ready pod that is not the writer, never the writer; refuses when only the writer is Ready', async () => {
    pods([
      { ready: true, writer: true },
      { ready: true, writer: false },
      { ready: false, writer: false },
    ]);
    expect(await runPick(3)).toMatchObject({ code: 0, picked: 'mariadb-1 10.0.0.11' });
    pods([
      { ready: true, writer: false },
      { ready: true, writer: true },
      { ready: true, writer: false },
    ]);
    expect(await runPick(3)).toMatchObject({ code: 0, picked: 'mariadb-2 10.0.0.12' });
    pods([
      { ready: true, writer: true },
      { ready: false, writer: false },
      { ready: false, writer: false },
    ]);
    const r = await runPick(3);
    expect(r.code).toBe(1);
    expect(r.picked).toBeUndefined();
    expect(r.out).toContain('no Ready MariaDB pod other than the writer');
  });
});

describe('osb deploy --target kubernetes with backup.schedule, against the API stand-in (in-process stand-in, not a cluster)', () => {
  let standin: ApiStandIn;
  let dir: string;
  const saved = process.env.KUBECONFIG;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'osb-k8s-backup-deploy-'));
    standin = new ApiStandIn();
    await standin.start();
    process.env.KUBECONFIG = standin.writeKubeconfig(dir);
  });
  afterAll(async () => {
    await standin.stop();
    rmSync(dir, { recursive: true, force: true });
    if (saved === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = saved;
  });

  it('adds the CronJob and the backups PVC; a repeat is a no-op; removing the schedule prunes the CronJob but keeps the PVC (backups)', async () => {
    const api = await connectKubernetes('standin');
    const stateDir = mkdtempSync(join(dir, 'state-'));
    const deploy = (set: string[]) =>
      deployKubernetes(api, openKubernetes({ stateDir, set: ['kubernetes.waitTimeoutSeconds=2', 'mariadb.replicas=3', ...set], resetValues: true }), {
        pollMs: 20,
        report: () => {},
      });
    const first = await deploy([SCHEDULE]);
    expect(first.created).toEqual(
      expect.arrayContaining(['CronJob/mariadb-backup', 'PersistentVolumeClaim/mariadb-backups', 'ConfigMap/mariadb-backup-scripts']),
    );
    expect(standin.find('CronJob', 'openstack', 'mariadb-backup')!.spec.schedule).toBe('30 2 * * *');
    const again = await deploy([SCHEDULE]);
    expect(again.created).toEqual([]);
    expect(again.configured).toEqual([]);
    expect(again.changed).toBe(false);
    const off = await deploy([]);
    expect(off.pruned).toEqual(expect.arrayContaining(['CronJob/mariadb-backup', 'ConfigMap/mariadb-backup-scripts', 'Secret/mariadb-backup-token']));
    expect(off.pruned).not.toContain('PersistentVolumeClaim/mariadb-backups');
    expect(standin.find('CronJob', 'openstack', 'mariadb-backup')).toBeUndefined();
    expect(standin.find('PersistentVolumeClaim', 'openstack', 'mariadb-backups')).toBeDefined();
  });
});
