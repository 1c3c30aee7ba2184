// Point-in-time archiving and `osb restore --target kubernetes`: the rendered objects against the
// Kubernetes OpenAPI schema (kubernetes-models), the shipped check program against backup folders, and
// the restore flow against the in-process API stand-in (not a cluster). The programs against real
// MariaDB: test/integration/kubernetes-kubelet-restore.test.ts.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigMap, PersistentVolumeClaim } from 'kubernetes-models/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { CronJob, Job } from 'kubernetes-models/batch/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { loadConfig } from '../../src/components/index.js';
import { binlogLines } from '../../src/components/mariadb/binlog.js';
import { BACKUPS_VOLUME_LABEL } from '../../src/components/mariadb/kubernetes-backup.js';
import { mariadbRestorePlan } from '../../src/components/mariadb/kubernetes-restore.js';
import { shippedModuleSource } from '../../src/components/mariadb/pod-programs.js';
import type { K8sObject } from '../../src/k8s/objects.js';
import { connectKubernetes, type KubeApi } from '../../src/targets/kubernetes/api.js';
import { openKubernetes, renderContext } from '../../src/targets/kubernetes/context.js';
import { renderObjects } from '../../src/targets/kubernetes/render.js';
import { localTimeToUtc, restoreKubernetes } from '../../src/targets/kubernetes/restore.js';
import { resolveChain } from '../../src/targets/local/backup.js';
import { kubernetesTarget } from '../../src/targets/kubernetes/index.js';
import { OsbError } from '../../src/util/errors.js';
import { FIXED_SECRETS } from './kubernetes-fixtures.js';
import { ApiStandIn } from './kubernetes-standin.js';

const ROOT = join(__dirname, '..', '..');
const onDisk = (name: string) => readFileSync(join(ROOT, 'src', 'components', 'mariadb', 'pod', name), 'utf8');
const PITR = ['backup.schedule=30 2 * * *', 'backup.pitr=true'];
const render = (set: string[]) => renderObjects(loadConfig({ set }), FIXED_SECRETS(), { components: ['mariadb'] });
const find = (objs: K8sObject[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name) as any;
const planOf = (set: string[], req: { backup: string; toTime?: string }) => {
  const config = loadConfig({ set });
  return mariadbRestorePlan(renderContext({ config, namespace: 'openstack' }), req);
};
const validate = (o: any) => {
  const Model = ({ ConfigMap, PersistentVolumeClaim, Deployment, StatefulSet, CronJob, Job, NetworkPolicy } as Record<string, any>)[o.kind];
  expect(Model, o.kind).toBeDefined();
  expect(() => new Model(o).validate(), `${o.kind}/${o.metadata.name}`).not.toThrow();
};
function thrown(f: () => unknown): OsbError {
  try {
    f();
  } catch (err) {
    return err as OsbError;
  }
  throw new Error('did not throw');
}

describe('backup.pitr on Kubernetes: binlogs in every pod, the archiver beside the backups', () => {
  for (const replicas of [1, 3]) {
    it(`${replicas} node(s): start.sh writes the local target's binlog settings for the pod's ordinal; the objects validate (kubernetes-models)`, () => {
      const set = [...PITR, `mariadb.replicas=${replicas}`];
      const objs = render(set);
      const start: string = find(objs, 'ConfigMap', 'mariadb-scripts').data['start.sh'];
      const config = loadConfig({ set });
      for (let i = 0; i < replicas; i++) {
        // The pod's node.cnf as bash writes it, for each ordinal.
        const out = spawnSyncBash(`${start.split('cat > /run/osb/node.cnf')[0]}\ncat <<EOF\n${start.split('<<EOF\n')[1]!.split('\nEOF\n')[0]}\nEOF\n`, {
          POD_NAME: `mariadb-${i}`,
          POD_IP: '10.0.0.1',
          MARIADB_ADMIN_PASSWORD: 'x',
        });
        for (const line of binlogLines(config, { component: 'mariadb', ordinal: i, name: `mariadb-${i}`, port: 3306 }, '/var/lib/mysql'))
          expect(out.split('\n'), `mariadb-${i}: ${line}`).toContain(line);
      }
      const archiver = find(objs, 'Deployment', 'mariadb-binlog-archiver');
      for (const o of [
        archiver,
        find(objs, 'NetworkPolicy', 'mariadb-binlog-archiver'),
        find(objs, 'NetworkPolicy', 'mariadb'),
        find(objs, 'StatefulSet', 'mariadb'),
      ])
        validate(o);
      expect(archiver.spec.strategy).toEqual({ type: 'Recreate' });
      const env = Object.fromEntries(archiver.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
      expect(env.OSB_INTERVAL_SECONDS).toBe('60');
      expect(env.OSB_PODS.split(',')).toEqual(
        Array.from({ length: replicas }, (_, i) => `mariadb-${i}=mariadb-${i}.mariadb-headless.openstack.svc.cluster.local`),
      );
      expect(env.OSB_BACKUP_TOKEN).toEqual({ secretKeyRef: { name: 'mariadb-backup-token', key: 'token' } });
      expect(archiver.spec.template.spec.automountServiceAccountToken).toBe(false);
      // The agent archives binlogs only with pitr, and admits the archiver besides the backup Job.
      const agent = find(objs, 'StatefulSet', 'mariadb').spec.template.spec.containers.find((c: any) => c.name === 'backup-agent');
      expect(agent.env.find((e: any) => e.name === 'OSB_PITR').value).toBe('1');
      const rule = find(objs, 'NetworkPolicy', 'mariadb').spec.ingress.find((r: any) => r.ports.some((p: any) => p.port === 4480));
      expect(rule.from.map((f: any) => f.podSelector.matchLabels['app.kubernetes.io/component'])).toEqual(['backup', 'binlog-archiver']);
    });
  }

  it('every pod mounting the ReadWriteOnce backups claim carries one label and requires the node of the others', () => {
    const objs = render([...PITR, 'mariadb.replicas=3']);
    const plan = planOf([...PITR, 'mariadb.replicas=3'], { backup: 'b' });
    const pods = [
      find(objs, 'CronJob', 'mariadb-backup').spec.jobTemplate.spec.template,
      find(objs, 'Deployment', 'mariadb-binlog-archiver').spec.template,
      (plan.checkJob.spec as any).template,
      (plan.restoreJob.spec as any).template,
    ];
    for (const t of pods) {
      expect(t.spec.volumes.find((v: any) => v.persistentVolumeClaim?.claimName === 'mariadb-backups')).toBeDefined();
      expect(t.metadata.labels[BACKUPS_VOLUME_LABEL]).toBe('mariadb-backups');
      expect(t.spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution).toEqual([
        { labelSelector: { matchLabels: { [BACKUPS_VOLUME_LABEL]: 'mariadb-backups' } }, topologyKey: 'kubernetes.io/hostname' },
      ]);
    }
  });

  it('without pitr: no archiver, no binlogs; pitr without a schedule is refused with one message (exit 2)', () => {
    const objs = render(['backup.schedule=@daily', 'mariadb.replicas=3']);
    expect(find(objs, 'Deployment', 'mariadb-binlog-archiver')).toBeUndefined();
    expect(find(objs, 'ConfigMap', 'mariadb-scripts').data['start.sh']).not.toContain('log_bin');
    const err = thrown(() => render(['backup.pitr=true']));
    expect(err).toBeInstanceOf(OsbError);
    expect(err.exitCode).toBe(2);
    expect(err.line).toMatch(/^backup\.pitr on Kubernetes needs backup\.schedule.* — set backup\.schedule too/);
  });

  it('the backups ConfigMap ships the pod programs byte for byte and the compiled chain and binlog modules', () => {
    const data = find(render([...PITR, 'mariadb.replicas=3']), 'ConfigMap', 'mariadb-backup-scripts').data;
    for (const f of ['backup-agent.sh', 'backup-job.sh', 'backup-pick.mjs', 'backup-restore.sh', 'binlog-archiver.mjs', 'restore-check.mjs', 'k8s-api.mjs'])
      expect(data[f], f).toBe(onDisk(f));
    expect(data['backup-chain.mjs']).toBe(shippedModuleSource('../backup-chain'));
    expect(data['binlog-archive.mjs']).toBe(shippedModuleSource('binlog-archive'));
    for (const m of ['backup-chain.mjs', 'binlog-archive.mjs']) expect(data[m]).not.toMatch(/from '\.\.?\/(?!.*\.mjs')/);
  });
});

/** Runs a bash snippet with env; returns stdout. */
function spawnSyncBash(script: string, env: Record<string, string>): string {
  const r = spawnSync('bash', ['-c', script], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout;
}

describe('the restore objects (osb restore --target kubernetes)', () => {
  it('the check Job, the claim of pod 0 and the restore Job validate (kubernetes-models); the claim is the one the StatefulSet adopts', () => {
    const set = [...PITR, 'mariadb.replicas=3', 'mariadb.volume.size=7Gi', 'mariadb.volume.storageClass=fast'];
    const plan = planOf(set, { backup: '20261127T023000000Z-full', toTime: '2026-11-27 10:00:00' });
    for (const o of [plan.checkJob, plan.restoreJob, ...plan.restoreObjects, ...plan.checkObjects]) validate(o);
    const sts = find(render(set), 'StatefulSet', 'mariadb');
    const template = sts.spec.volumeClaimTemplates[0];
    const claim = plan.restoreObjects[0] as any;
    expect(claim.metadata.name).toBe(`${template.metadata.name}-${sts.metadata.name}-0`);
    expect(claim.spec).toEqual(template.spec);
    for (const [k, v] of Object.entries(sts.spec.selector.matchLabels)) expect(claim.metadata.labels[k]).toBe(v);
    expect(plan.claims).toEqual(['data-mariadb-0', 'data-mariadb-1', 'data-mariadb-2']);
    expect(plan.workload).toMatchObject({ kind: 'StatefulSet', name: 'mariadb', pods: ['mariadb-0', 'mariadb-1', 'mariadb-2'] });
    // Never retried on a half-filled claim; the time is UTC in the pods; no password in the spec.
    for (const job of [plan.checkJob, plan.restoreJob] as any[]) {
      expect(job.spec.backoffLimit).toBe(0);
      const containers = [...(job.spec.template.spec.initContainers ?? []), ...job.spec.template.spec.containers];
      for (const c of containers) {
        const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
        expect(env.TZ, c.name).toBe('UTC');
        if (c.name === 'check') expect(env).toMatchObject({ OSB_BACKUP: '20261127T023000000Z-full', OSB_TO_TIME: '2026-11-27 10:00:00' });
      }
      expect(JSON.stringify(job)).not.toContain(FIXED_SECRETS().mariadbAdminPassword);
    }
    const restore = (plan.restoreJob.spec as any).template.spec;
    expect(restore.volumes.find((v: any) => v.name === 'data').persistentVolumeClaim.claimName).toBe('data-mariadb-0');
    expect(restore.volumes.find((v: any) => v.name === 'backups').persistentVolumeClaim).toEqual({ claimName: 'mariadb-backups', readOnly: true });
    expect(restore.containers[0].env.find((e: any) => e.name === 'MARIADB_ADMIN_PASSWORD').valueFrom).toEqual({
      secretKeyRef: { name: 'mariadb-credentials', key: 'admin-password' },
    });
    expect(plan.mark).toMatchObject({ kind: 'ConfigMap', name: 'mariadb-galera-state', clear: { data: { restore: null } } });
    expect(JSON.parse((plan.mark!.set.data as any).restore)).toEqual({ pod: 'mariadb-0', backup: '20261127T023000000Z-full', toTime: '2026-11-27 10:00:00' });
  });

  it('single node: no bootstrap mark; volumes off: refused, naming the key', () => {
    expect(planOf(['backup.schedule=@daily'], { backup: 'b' }).mark).toBeUndefined();
    const err = thrown(() => planOf(['mariadb.volume.enabled=false'], { backup: 'b' }));
    expect(err.line).toMatch(/^mariadb\.volume\.enabled=false: .* — restore into a deployment with volumes/);
  });

  it("--to-time is this host's local time, converted to UTC for the pods", () => {
    const local = new Date(2026, 10, 27, 10, 0, 0);
    expect(localTimeToUtc('2026-11-27 10:00:00')).toBe(local.toISOString().slice(0, 19).replace('T', ' '));
    expect(thrown(() => localTimeToUtc('yesterday')).line).toMatch(/^--to-time "yesterday" is not a time — /);
  });
});

/** A backup folder in the manifest format (format 1), with real SHA-256s. */
function writeBackup(root: string, id: string, opts: { parent?: string; part?: Record<string, unknown>; finishedAt?: string } = {}) {
  const dir = join(root, id);
  const files: Record<string, string> = { 'mariadb/data/ibdata1': `ibdata of ${id}`, 'mariadb/data/nova/t.ibd': `rows of ${id}` };
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), text);
  }
  const list = Object.entries(files).map(([path, text]) => ({ path, size: text.length, sha256: createHash('sha256').update(text).digest('hex') }));
  const manifest = {
    format: 1,
    id,
    kind: opts.parent ? 'incremental' : 'full',
    ...(opts.parent ? { parent: opts.parent } : {}),
    startedAt: '2026-11-27T02:30:00.000Z',
    finishedAt: opts.finishedAt ?? '2026-11-27T02:31:00.000Z',
    osbVersion: 'test',
    userValues: {},
    components: { mariadb: { node: 'mariadb-2', ...opts.part } },
    files: list,
    totalBytes: list.reduce((n, f) => n + f.size, 0),
  };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  return dir;
}

function writeBinlogs(root: string, history: string, node: string, files: { file: string; closedBy: string }[]) {
  const dir = join(root, 'binlogs', history, node);
  mkdirSync(dir, { recursive: true });
  const index = files.map((f) => {
    const text = `events of ${f.file}`;
    writeFileSync(join(dir, f.file), text);
    return { file: f.file, size: text.length, sha256: createHash('sha256').update(text).digest('hex'), closedBy: f.closedBy };
  });
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
  return dir;
}

describe('restore-check.mjs as shipped: the chain logic of the local restore, in the pod', () => {
  let dir: string;
  let scripts: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'osb-restore-check-'));
    scripts = join(dir, 'scripts');
    mkdirSync(scripts);
    for (const [k, v] of Object.entries(find(render([...PITR, 'mariadb.replicas=3']), 'ConfigMap', 'mariadb-backup-scripts').data as Record<string, string>))
      writeFileSync(join(scripts, k), v);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** The check as the restore Job's init container runs it (env from the rendered container, TZ=UTC). */
  async function check(root: string, backup: string, toTime?: string) {
    const plan = join(dir, 'plan');
    rmSync(plan, { force: true });
    const container = (planOf([...PITR, 'mariadb.replicas=3'], { backup, toTime }).restoreJob.spec as any).template.spec.initContainers[0];
    const env: Record<string, string> = { PATH: process.env.PATH ?? '' };
    for (const e of container.env as { name: string; value?: string }[]) if (e.value) env[e.name] = e.value;
    Object.assign(env, { OSB_BACKUP_ROOT: root, OSB_PLAN_FILE: plan });
    const child = spawn(process.execPath, [join(scripts, 'restore-check.mjs')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    let planText: string | undefined;
    try {
      planText = readFileSync(plan, 'utf8');
    } catch {}
    return { code, out, plan: planText };
  }

  it('a whole chain (full + incremental): the plan lists both folders, full first; the local restore reads it alike', async () => {
    const root = join(dir, 'whole');
    const full = writeBackup(root, '20261127T023000000Z-full');
    const incr = writeBackup(root, '20261127T033000000Z-incr', { parent: '20261127T023000000Z-full' });
    const r = await check(root, '20261127T033000000Z-incr');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/backup 20261127T033000000Z-incr is whole: a chain of 2 backup\(s\), 4 files/);
    expect(r.plan).toBe(`backup 20261127T033000000Z-incr\nlink ${full}/mariadb\nlink ${incr}/mariadb\n`);
    const local = await resolveChain(incr, root);
    expect(local.manifests.map((m) => m.dir)).toEqual([full, incr]);
  });

  it('one flipped byte and a missing parent are refused, naming the file or the parent — as the local restore does', async () => {
    const root = join(dir, 'damaged');
    writeBackup(root, '20261127T023000000Z-full');
    const incr = writeBackup(root, '20261127T033000000Z-incr', { parent: '20261127T023000000Z-full' });
    const f = join(root, '20261127T023000000Z-full', 'mariadb/data/nova/t.ibd');
    const bytes = readFileSync(f);
    bytes[0] = bytes[0]! ^ 1;
    writeFileSync(f, bytes);
    const r = await check(root, '20261127T033000000Z-incr');
    expect(r.code).toBe(2);
    expect(r.plan).toBeUndefined();
    expect(r.out).toContain(
      'osb restore: REFUSED: backup 20261127T023000000Z-full is damaged: mariadb/data/nova/t.ibd does not match its SHA-256 in the manifest',
    );
    await expect(resolveChain(incr, root)).rejects.toThrow('backup 20261127T023000000Z-full is damaged: mariadb/data/nova/t.ibd does not match its SHA-256');

    const orphan = join(dir, 'orphan');
    writeBackup(orphan, '20261127T033000000Z-incr', { parent: '20261127T023000000Z-full' });
    const r2 = await check(orphan, '20261127T033000000Z-incr');
    expect(r2.code).toBe(2);
    expect(r2.out).toContain('REFUSED: backup 20261127T033000000Z-incr cannot be restored: its parent 20261127T023000000Z-full is missing');
    const r3 = await check(orphan, 'no-such-backup');
    expect(r3.out).toMatch(/REFUSED: no backup no-such-backup on the backups volume — the newest there: 20261127T033000000Z-incr/);
  });

  it('--to-time: the archived binlogs of the backed-up pod from its position, up to a time they reach; later or broken: refused', async () => {
    const root = join(dir, 'pitr');
    const part = { binlog: { file: 'mariadb-bin.000002', position: 345 }, binlogHistory: 'H1' };
    const b = writeBackup(root, '20261127T023000000Z-full', { part, finishedAt: '2026-11-27T02:31:00.000Z' });
    const logs = writeBinlogs(root, 'H1', 'mariadb-2', [
      { file: 'mariadb-bin.000001', closedBy: '2026-11-27T02:00:00.000Z' },
      { file: 'mariadb-bin.000002', closedBy: '2026-11-27T02:40:00.000Z' },
      { file: 'mariadb-bin.000003', closedBy: '2026-11-27T02:50:00.000Z' },
    ]);
    const ok = await check(root, '20261127T023000000Z-full', '2026-11-27 02:45:00');
    expect(ok.code, ok.out).toBe(0);
    expect(ok.plan).toBe(
      [
        'backup 20261127T023000000Z-full',
        `link ${b}/mariadb`,
        'start-position 345',
        'stop-datetime 2026-11-27 02:45:00',
        `binlog ${logs}/mariadb-bin.000002`,
        `binlog ${logs}/mariadb-bin.000003`,
        '',
      ].join('\n'),
    );
    expect(ok.out).toContain('2 archived binlog file(s) of mariadb-2 roll it forward to 2026-11-27 02:45:00 UTC');
    const late = await check(root, '20261127T023000000Z-full', '2026-11-27 03:00:00');
    expect(late.code).toBe(2);
    expect(late.out).toMatch(
      /REFUSED: the archived binlogs only reach 2026-11-27T02:50:00.000Z \(--to-time 2026-11-27 03:00:00 is later\) — the binlog archiver/,
    );
    const early = await check(root, '20261127T023000000Z-full', '2026-11-27 02:00:00');
    expect(early.out).toMatch(/REFUSED: --to-time 2026-11-27 02:00:00 is before the backup finished/);
    writeFileSync(join(logs, 'mariadb-bin.000003'), 'tampered');
    const bad = await check(root, '20261127T023000000Z-full', '2026-11-27 02:45:00');
    expect(bad.out).toMatch(/REFUSED: archived binlog .*mariadb-bin\.000003 is damaged \(SHA-256 differs from its index\)/);
  });
});

describe('osb restore --target kubernetes against the API stand-in (in-process stand-in, not a cluster)', () => {
  let standin: ApiStandIn;
  let dir: string;
  let api: KubeApi;
  const saved = process.env.KUBECONFIG;
  const SET = ['kubernetes.waitTimeoutSeconds=5', 'mariadb.replicas=3', 'backup.schedule=@daily', 'rabbitmq.enabled=false', 'memcached.enabled=false'];
  const WHOLE = 'osb restore: backup 20261127T023000000Z-full is whole: a chain of 1 backup(s), 40 files (1000 bytes) match their SHA-256\n';
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'osb-k8s-restore-'));
    standin = new ApiStandIn();
    await standin.start();
    process.env.KUBECONFIG = standin.writeKubeconfig(dir);
    api = await connectKubernetes('standin');
  });
  afterAll(async () => {
    await standin.stop();
    rmSync(dir, { recursive: true, force: true });
    if (saved === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = saved;
  });

  /** A namespace as `osb deploy` leaves it, or holding only the backups volume. */
  function reset(opts: { deployed: boolean }) {
    for (const k of [...standin.objects.keys()]) standin.objects.delete(k);
    standin.requests.length = 0;
    standin.jobs = {};
    standin.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'openstack' } });
    const objs = renderObjects(loadConfig({ set: SET }), FIXED_SECRETS(), { namespace: 'openstack' });
    for (const o of objs.filter((x) => (opts.deployed ? !x.metadata.annotations?.['osb.openstack.org/hook'] : x.kind === 'PersistentVolumeClaim')))
      standin.put(structuredClone(o) as any);
    if (opts.deployed)
      for (let i = 0; i < 3; i++)
        standin.put({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: `data-mariadb-${i}`, namespace: 'openstack' }, spec: {} } as any);
  }
  const deployment = () => openKubernetes({ stateDir: join(dir, 'state'), set: SET, resetValues: true });
  const run = (opts: { backup?: string; toTime?: string; replace?: boolean }) =>
    restoreKubernetes(api, deployment(), { backup: opts.backup ?? '20261127T023000000Z-full', toTime: opts.toTime, replace: opts.replace, pollMs: 20 });
  const writes = () => standin.requests.filter((r) => !r.startsWith('GET'));
  const at = (what: RegExp) => standin.requests.findIndex((r) => what.test(r));

  it('refuses while the StatefulSet runs or its claims hold data, unless --replace; nothing is written', async () => {
    reset({ deployed: true });
    const err = await run({}).catch((e) => e);
    expect(err).toBeInstanceOf(OsbError);
    expect(err.exitCode).toBe(2);
    expect(err.line).toMatch(
      /^StatefulSet\/mariadb, Pod\/mariadb-0, .*PersistentVolumeClaim\/data-mariadb-2 exist\(s\) in namespace openstack: .* — pass --replace .*; nothing was changed$/,
    );
    expect(writes()).toEqual([]);
  });

  it('a damaged backup is refused by the check Job with its message, before anything holding data changes (even with --replace)', async () => {
    reset({ deployed: true });
    standin.jobs['mariadb-restore-check-'] = {
      fail: true,
      logs: { check: 'osb restore: REFUSED: backup X is damaged: mariadb/data/ibdata1 does not match its SHA-256 in the manifest — pick another backup\n' },
    };
    const err = await run({ replace: true }).catch((e) => e);
    expect(err.line).toBe(
      'restore refused: backup X is damaged: mariadb/data/ibdata1 does not match its SHA-256 in the manifest — pick another backup; nothing was changed',
    );
    expect(err.exitCode).toBe(2);
    // Only the check's programs were applied and the check Job created; the StatefulSet and every claim are there.
    expect(writes().map((w) => w.replace(/\?.*$/, ''))).toEqual([
      'PATCH /api/v1/namespaces/openstack/configmaps/mariadb-backup-scripts',
      // (a finished check Job of the same name would be replaced; there is none)
      expect.stringMatching(/^DELETE \/apis\/batch\/v1\/namespaces\/openstack\/jobs\/mariadb-restore-check-[0-9a-f]{8}$/),
      'POST /apis/batch/v1/namespaces/openstack/jobs',
    ]);
    expect(standin.find('StatefulSet', 'openstack', 'mariadb')).toBeDefined();
    for (let i = 0; i < 3; i++) expect(standin.find('PersistentVolumeClaim', 'openstack', `data-mariadb-${i}`)).toBeDefined();
  });

  it('no backups volume: refused before any request that writes', async () => {
    reset({ deployed: false });
    standin.objects.delete(standin.key('PersistentVolumeClaim', 'openstack', 'mariadb-backups'));
    const err = await run({}).catch((e) => e);
    expect(err.line).toMatch(/^the backups volume \(PersistentVolumeClaim\/mariadb-backups\) does not exist in namespace openstack — /);
    expect(writes()).toEqual([]);
  });

  it('into a fresh namespace: check, claim of pod 0, restore Job, bootstrap mark, the StatefulSet, mark removed — in that order', async () => {
    reset({ deployed: false });
    standin.jobs['mariadb-restore-check-'] = { logs: { check: WHOLE } };
    standin.jobs['mariadb-restore-'] = {
      logs: { check: WHOLE, restore: 'osb restore: the data volume holds 20261127T023000000Z-full; pod 0 may bootstrap from it\n' },
    };
    const lines: string[] = [];
    const r = await restoreKubernetes(api, deployment(), {
      backup: '20261127T023000000Z-full',
      toTime: '2026-11-27 10:00:00',
      pollMs: 20,
      report: (l) => lines.push(l),
    });
    expect(r).toMatchObject({ backup: '20261127T023000000Z-full', component: 'mariadb', replaced: [], toTimeUtc: localTimeToUtc('2026-11-27 10:00:00') });
    expect(r.checked).toContain('is whole');
    const checkJob = at(/^POST .*\/jobs(\?|$)/);
    const claim = at(/^POST .*\/persistentvolumeclaims(\?|$)/);
    const markSet = standin.requests.findIndex((q, i) => i > claim && /^PATCH .*\/configmaps\/mariadb-galera-state/.test(q));
    const sts = at(/^PATCH .*\/statefulsets\/mariadb\?/);
    expect(checkJob).toBeGreaterThanOrEqual(0);
    expect(claim).toBeGreaterThan(checkJob);
    expect(markSet).toBeGreaterThan(claim);
    expect(sts).toBeGreaterThan(markSet);
    expect(standin.find('PersistentVolumeClaim', 'openstack', 'data-mariadb-0')).toBeDefined();
    expect(standin.find('StatefulSet', 'openstack', 'mariadb')).toBeDefined();
    // The mark was set (the deploy's apply kept it, as server-side apply keeps another manager's key) and is gone now.
    expect(standin.find('ConfigMap', 'openstack', 'mariadb-galera-state')!.data?.restore).toBeUndefined();
    // The restore Jobs were pruned by the deploy that followed (they are done).
    expect(standin.all('Job').filter((j) => j.metadata.name.startsWith('mariadb-restore'))).toEqual([]);
    expect(lines.join('\n')).toMatch(/checking backup 20261127T023000000Z-full and the binlogs up to .* UTC inside the cluster/);
  });

  it('--replace: the StatefulSet and its claims go only after the check passed; the data goes into a fresh claim of pod 0', async () => {
    reset({ deployed: true });
    standin.jobs['mariadb-restore-check-'] = { logs: { check: WHOLE } };
    standin.jobs['mariadb-restore-'] = { logs: { check: WHOLE, restore: 'osb restore: done\n' } };
    const r = await run({ replace: true });
    expect(r.replaced).toEqual([
      'StatefulSet/mariadb',
      'Pod/mariadb-0',
      'Pod/mariadb-1',
      'Pod/mariadb-2',
      'PersistentVolumeClaim/data-mariadb-0',
      'PersistentVolumeClaim/data-mariadb-1',
      'PersistentVolumeClaim/data-mariadb-2',
    ]);
    const checkJob = at(/^POST .*\/jobs(\?|$)/);
    expect(at(/^DELETE .*\/statefulsets\/mariadb(\?|$)/)).toBeGreaterThan(checkJob);
    expect(at(/^DELETE .*\/persistentvolumeclaims\/data-mariadb-1(\?|$)/)).toBeGreaterThan(checkJob);
    // data-mariadb-1 and -2 are gone (their pods join by SST); data-mariadb-0 was created afresh.
    expect(standin.find('PersistentVolumeClaim', 'openstack', 'data-mariadb-1')).toBeUndefined();
    expect(standin.find('PersistentVolumeClaim', 'openstack', 'data-mariadb-0')!.metadata.labels['app.kubernetes.io/component']).toBe('server');
  });

  it('a StatefulSet scaled to 0 with no pods and no claims runs nothing: no --replace needed, the deploy scales it up', async () => {
    reset({ deployed: false });
    const sts = structuredClone(find(renderObjects(loadConfig({ set: SET }), FIXED_SECRETS(), { namespace: 'openstack' }), 'StatefulSet', 'mariadb'));
    sts.spec.replicas = 0;
    standin.put(sts);
    standin.jobs['mariadb-restore-check-'] = { logs: { check: WHOLE } };
    standin.jobs['mariadb-restore-'] = { logs: { check: WHOLE, restore: 'osb restore: done\n' } };
    const r = await run({});
    expect(r.replaced).toEqual([]);
    expect(standin.find('StatefulSet', 'openstack', 'mariadb')!.spec.replicas).toBe(3);
  });

  it('a restore Job that fails leaves the StatefulSet stopped and says so', async () => {
    reset({ deployed: false });
    standin.jobs['mariadb-restore-check-'] = { logs: { check: WHOLE } };
    standin.jobs['mariadb-restore-'] = {
      fail: true,
      logs: { check: WHOLE, restore: 'osb restore: FAILED: the restored server does not accept the admin password of Secret mariadb-credentials\n' },
    };
    const err = await run({}).catch((e) => e);
    expect(err.line).toMatch(
      /^restore of 20261127T023000000Z-full failed while restoring the data: .*does not accept the admin password.*StatefulSet\/mariadb is STOPPED .* — .*--replace/,
    );
    expect(standin.find('StatefulSet', 'openstack', 'mariadb')).toBeUndefined();
    expect(standin.find('ConfigMap', 'openstack', 'mariadb-galera-state')?.data?.restore).toBeUndefined();
  });

  it('--service (logical backups) is refused on the Kubernetes target, before any request', async () => {
    standin.requests.length = 0;
    const t = kubernetesTarget({ stateDir: join(dir, 'state') });
    const err = await t.restore({ backup: 'x', services: ['nova'], progress: undefined as never, log: () => {} }).catch((e) => e);
    expect(err.line).toMatch(/^--service is for logical backups, which the Kubernetes target does not take — /);
    expect(standin.requests).toEqual([]);
  });
});

describe('galera-decide (galera-agent.mjs) with the restore mark, against the API stand-in (in-process stand-in, not a cluster)', () => {
  let standin: ApiStandIn;
  let dir: string;
  const children: ChildProcess[] = [];
  const objs = render(['mariadb.replicas=3']);
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'osb-agent-restore-'));
    standin = new ApiStandIn();
    await standin.start();
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await standin.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Pods 0..2 (fresh uids) with these published positions, and the mark if given. */
  function cluster(published: Record<string, object>, mark?: object): Record<string, string> {
    for (const k of [...standin.objects.keys()]) standin.objects.delete(k);
    standin.put(structuredClone(find(objs, 'ConfigMap', 'mariadb-galera-state')));
    const uids: Record<string, string> = {};
    for (let i = 0; i < 3; i++) {
      const p = standin.put({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `mariadb-${i}`, namespace: 'openstack', labels: find(objs, 'StatefulSet', 'mariadb').spec.template.metadata.labels },
        status: { phase: 'Pending' },
      } as any);
      uids[p.metadata.name] = p.metadata.uid as string;
    }
    const cm = standin.find('ConfigMap', 'openstack', 'mariadb-galera-state')!;
    cm.data = {
      ...Object.fromEntries(Object.entries(published).map(([name, pos]) => [name, JSON.stringify({ ...pos, podUid: uids[name] })])),
      ...(mark ? { restore: JSON.stringify(mark) } : {}),
    };
    return uids;
  }

  function agent(me: string, uid: string, position: object) {
    const scripts = mkdtempSync(join(dir, 'scripts-'));
    for (const [k, v] of Object.entries(find(objs, 'ConfigMap', 'mariadb-scripts').data as Record<string, string>)) writeFileSync(join(scripts, k), v);
    for (const d of ['run', 'sa']) mkdirSync(join(scripts, d));
    writeFileSync(join(scripts, 'sa', 'token'), 't');
    writeFileSync(join(scripts, 'sa', 'namespace'), 'openstack');
    writeFileSync(join(scripts, 'run', 'position.json'), JSON.stringify(position));
    const init = find(objs, 'StatefulSet', 'mariadb').spec.template.spec.initContainers.find((c: any) => c.name === 'galera-decide');
    const env: Record<string, string> = { PATH: process.env.PATH ?? '' };
    for (const e of init.env as { name: string; value?: string }[]) if (e.value) env[e.name] = e.value;
    Object.assign(env, {
      POD_NAME: me,
      POD_UID: uid,
      OSB_API_URL: `http://127.0.0.1:${standin.port}`,
      OSB_SERVICEACCOUNT_DIR: join(scripts, 'sa'),
      OSB_RUN_DIR: join(scripts, 'run'),
      OSB_POLL_MS: '50',
    });
    let output = '';
    const child = spawn(process.execPath, [join(scripts, 'galera-agent.mjs')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    children.push(child);
    return { child, output: () => output, mode: () => readFileSync(join(scripts, 'run', 'galera-mode'), 'utf8') };
  }
  async function until(ok: () => boolean, output: () => string, ms = 15_000) {
    const end = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > end) throw new Error(`timed out; galera-decide said:\n${output()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  const restored = { hasData: true, uuid: 'a1b2c3d4-0000-0000-0000-000000000001', seqno: 42, safeToBootstrap: false };
  const empty = { hasData: false, uuid: '', seqno: -1, safeToBootstrap: false };

  it('the marked pod holds the only data: it bootstraps; the others wait for it (then join by SST)', async () => {
    const uids = cluster({ 'mariadb-1': empty, 'mariadb-2': empty }, { pod: 'mariadb-0', backup: 'B1' });
    const a = agent('mariadb-0', uids['mariadb-0']!, restored);
    await until(() => a.child.exitCode !== null, a.output);
    expect(a.child.exitCode).toBe(0);
    expect(a.mode()).toBe('bootstrap\n');
    expect(a.output()).toMatch(/recover, this pod bootstraps: restored from backup B1 into mariadb-0, the others join by SST/);
    const uids2 = cluster({ 'mariadb-0': restored, 'mariadb-2': empty }, { pod: 'mariadb-0', backup: 'B1' });
    const b = agent('mariadb-1', uids2['mariadb-1']!, empty);
    await until(() => b.output().includes('waiting for mariadb-0 to bootstrap'), b.output);
    b.child.kill('SIGTERM');
  });

  it('without the mark the same positions are refused (a lone data dir is never bootstrapped on a guess)', async () => {
    const uids = cluster({ 'mariadb-1': empty, 'mariadb-2': empty });
    const a = agent('mariadb-0', uids['mariadb-0']!, restored);
    await until(() => a.output().includes('refusing to start'), a.output);
    expect(a.output()).toMatch(/mariadb-1, mariadb-2 lost its data/);
    a.child.kill('SIGTERM');
  });

  it('with the mark but another pod holding data too: no forced bootstrap (the usual decision refuses)', async () => {
    const other = { hasData: true, uuid: 'ffffffff-0000-0000-0000-000000000009', seqno: 99, safeToBootstrap: false };
    const uids = cluster({ 'mariadb-1': other, 'mariadb-2': empty }, { pod: 'mariadb-0', backup: 'B1' });
    const a = agent('mariadb-0', uids['mariadb-0']!, restored);
    await until(() => a.output().includes('refusing to start'), a.output);
    expect(a.output()).not.toContain('this pod bootstraps');
    a.child.kill('SIGTERM');
  });
});
