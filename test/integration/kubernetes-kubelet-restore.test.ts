/**
 * Backup, binlog archiving and restore of Galera from the RENDERED objects, under the LOCAL STAND-IN FOR
 * THE KUBELET (test/k8s-harness/kubelet.ts): real mariadbd + galera-4 + mariadb-backup from Debian as the
 * mariadb:10.11 image, this machine's node as node:24-alpine, the in-process API stand-in as the API
 * server. The backup CronJob's Job takes a real backup from a non-writer pod through its backup-agent,
 * the binlog archiver Deployment copies the pods' closed binlogs, then the restore Jobs `osb restore
 * --target kubernetes` creates (rendered by the same plan) check the chain, prepare it into the claim of
 * pod 0 and replay the binlogs up to a time; the StatefulSet then starts on it: pod 0 bootstraps, the
 * others join by SST. The orchestration around these Jobs (refusals, --replace, ordering) is tested
 * against the API stand-in in test/unit/kubernetes-restore.test.ts; what only a cluster shows is in
 * docs/backup.md.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/components/index.js';
import { mariadbRestorePlan } from '../../src/components/mariadb/kubernetes-restore.js';
import { ADMIN_USER } from '../../src/model/desired.js';
import { renderContext } from '../../src/targets/kubernetes/context.js';
import { renderObjects } from '../../src/targets/kubernetes/render.js';
import { localTimeToUtc } from '../../src/targets/kubernetes/restore.js';
import { LocalKubelet } from '../k8s-harness/kubelet.js';
import { FIXED_SECRETS } from '../unit/kubernetes-fixtures.js';
import { ApiStandIn } from '../unit/kubernetes-standin.js';

// Port block 127 (the pods have their own network namespaces; the ports still stay in the block). SST is
// 4444 and the backup agent 4480 in every pod. No exporter sidecars (not what this tests).
const SET = [
  'metrics.enabled=false',
  'mariadb.replicas=3',
  'mariadb.port=32710',
  'mariadb.galeraPort=32720',
  'mariadb.innodbBufferPoolMB=64',
  'rabbitmq.enabled=false',
  'memcached.enabled=false',
  'backup.schedule=30 2 * * *',
  'backup.pitr=true',
];
const WORKLOADS = new Set(['StatefulSet', 'Deployment', 'Job', 'Pod', 'CronJob']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pods = ['mariadb-0', 'mariadb-1', 'mariadb-2'];
/** 'YYYY-MM-DD HH:MM:SS' of this host's clock, in its zone (what an operator passes to --to-time). */
const localNow = (d = new Date()) => {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
};

describe('Galera backup, binlog archiving and point-in-time restore, under a local stand-in for the kubelet', { timeout: 900_000 }, () => {
  const config = loadConfig({ set: SET });
  const objects = renderObjects(config, FIXED_SECRETS(), { components: ['mariadb'] }) as any[];
  // The archiver runs every 60 s; here every 3 s, so that the test does not wait minutes (nothing else changes).
  const archiverEnv = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'mariadb-binlog-archiver').spec.template.spec.containers[0].env;
  archiverEnv.find((e: any) => e.name === 'OSB_INTERVAL_SECONDS').value = '3';
  const standin = new ApiStandIn();
  let kubelet: LocalKubelet;

  beforeAll(async () => {
    await standin.start();
    for (const o of objects.filter((x) => !WORKLOADS.has(x.kind))) standin.put(structuredClone(o));
    kubelet = new LocalKubelet({
      objects,
      standin,
      namespace: 'openstack',
      root: mkdtempSync(join(tmpdir(), 'osb-kubelet-restore-')),
      log: process.env.OSB_KUBELET_DEBUG ? (l) => console.log(l) : undefined,
    });
    await kubelet.start();
  });
  afterAll(async () => {
    await kubelet?.stop();
    await standin.stop();
  });

  const sql = async (pod: string, query: string) => {
    const r = await kubelet.exec(pod, 'mariadb', [
      'bash',
      '-c',
      `MYSQL_PWD="$MARIADB_ADMIN_PASSWORD" exec mariadb --protocol=socket -u ${ADMIN_USER.mariadb} -N -B -e "$1"`,
      'sql',
      query,
    ]);
    if (r.code !== 0) throw new Error(`${pod}: ${query}: ${r.out}`);
    return r.out.trim();
  };
  const status = async (pod: string, name: string) => (await sql(pod, `SHOW GLOBAL STATUS LIKE '${name}'`)).split('\t')[1];
  const ready = (pod: string) => (standin.find('Pod', 'openstack', pod)?.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
  const diagnose = () =>
    [...kubelet.pods.values()]
      .map((pod) =>
        pod.containers
          .map((c) => `--- ${pod.name}/${c.name} (restarts ${c.restartCount}, ${c.state}):\n${[...c.logs, c.log].join('').split('\n').slice(-15).join('\n')}`)
          .join('\n'),
      )
      .join('\n') + `\n--- kubelet:\n${kubelet.events.slice(-30).join('\n')}`;
  async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 300_000) {
    const end = Date.now() + ms;
    while (!(await ok())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${diagnose()}`);
      await sleep(500);
    }
  }
  const backups = () => kubelet.claimDir('mariadb-backups');
  let backupId = '';
  let node = '';
  let history = '';
  let toTime = '';

  it('a 3-node cluster with binlogs: the backup CronJob takes a full backup from a non-writer pod, naming its binlog history', async () => {
    await kubelet.createStatefulSet('mariadb');
    await kubelet.createDeploymentPod('mariadb-writer-controller');
    await until('all three pods Ready', () => pods.every(ready));
    await until('a writer label', () => standin.all('Pod').some((p) => p.metadata.labels?.['osb.openstack.org/galera-writer'] === 'true'), 60_000);
    for (const p of pods) expect(await sql(p, 'SELECT @@log_bin, @@log_slave_updates, @@wsrep_gtid_mode, @@wsrep_gtid_domain_id')).toBe('1\t1\t1\t100');
    expect(await sql('mariadb-2', 'SELECT @@server_id, @@gtid_domain_id')).toBe('3\t3');
    await sql(
      'mariadb-0',
      "CREATE DATABASE nova; CREATE TABLE nova.t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(32)) ENGINE=InnoDB; INSERT INTO nova.t (v) VALUES ('a'), ('b')",
    );
    const writer = standin.all('Pod').find((p) => p.metadata.labels?.['osb.openstack.org/galera-writer'] === 'true')!.metadata.name;

    const run = await kubelet.runCronJob('mariadb-backup');
    expect(run.exitCode, run.pod.logsOf('pick') + run.pod.logsOf('backup') + diagnose()).toBe(0);
    const ids = readdirSync(backups()).filter((n) => n.endsWith('-full'));
    expect(ids).toHaveLength(1);
    backupId = ids[0]!;
    const m = JSON.parse(readFileSync(join(backups(), backupId, 'manifest.json'), 'utf8'));
    node = m.components.mariadb.node;
    history = m.components.mariadb.binlogHistory;
    expect(node).not.toBe(writer);
    expect(m.components.mariadb.binlog.file).toMatch(/^mariadb-bin\.\d+$/);
    expect(history).toMatch(/^\d{8}T\d{6}Z-[a-z0-9]{6}$/);
    // No history file travels in the physical backup; of the binlogs, mariadb-backup takes only the one a
    // Galera node writes at that moment (it does so with wsrep on), never the archive's job.
    const paths = m.files.map((f: { path: string }) => f.path);
    expect(paths.filter((p: string) => /osb-binlog-history/.test(p))).toEqual([]);
    for (const p of paths.filter((x: string) => /mariadb-bin/.test(x))) expect(p).toBe(`mariadb/data/${m.components.mariadb.binlog.file}`);
  });

  it('the archiver copies every closed binlog of every pod onto the backups claim (index.json: size, SHA-256, closed-by)', async () => {
    await kubelet.createDeploymentPod('mariadb-binlog-archiver');
    await sql('mariadb-0', "INSERT INTO nova.t (v) VALUES ('c')");
    // T: a whole second after 'c' was committed, and a whole second before what follows.
    await sleep(1100);
    toTime = localNow();
    await sleep(1100);
    await sql('mariadb-0', "INSERT INTO nova.t (v) VALUES ('d'); DROP TABLE nova.t");
    const dropped = Date.now();
    const dir = join(backups(), 'binlogs', history, node);
    await until(
      `the archiver to reach past the DROP in ${dir}`,
      () =>
        existsSync(join(dir, 'index.json')) &&
        JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')).some((e: any) => Date.parse(e.closedBy) > dropped + 500),
      120_000,
    );
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    for (const e of index) expect(readFileSync(join(dir, e.file)).length).toBe(e.size);
    const archiver = [...kubelet.pods.values()].find((p) => p.name.startsWith('mariadb-binlog-archiver'))!;
    expect(archiver.logsOf('archiver')).toMatch(/archived mariadb-bin\.\d+.* of mariadb-\d/);
    // Every pod has its own history folder.
    expect(readdirSync(join(backups(), 'binlogs')).length).toBeGreaterThanOrEqual(1);
  });

  it('the cluster lost (pods and data claims gone): the check Job refuses a time the archive does not reach, then passes for T', async () => {
    for (const p of pods) await kubelet.deletePod(p, { gracePeriodSeconds: 30 });
    for (const p of pods) kubelet.deleteClaim(`data-${p}`);
    const ctx = renderContext({ config, namespace: 'openstack' });
    const late = mariadbRestorePlan(ctx, { backup: backupId, toTime: localTimeToUtc(localNow(new Date(Date.now() + 3600_000))) });
    kubelet.addObjects([late.checkJob]);
    const refused = await kubelet.runJob(late.checkJob.metadata.name);
    expect(refused.exitCode).toBe(2);
    expect(refused.pod.logsOf('check')).toMatch(/osb restore: REFUSED: the archived binlogs only reach .* \(--to-time .* is later\)/);

    const plan = mariadbRestorePlan(ctx, { backup: backupId, toTime: localTimeToUtc(toTime) });
    kubelet.addObjects([plan.checkJob, plan.restoreJob]);
    const checked = await kubelet.runJob(plan.checkJob.metadata.name);
    expect(checked.exitCode, checked.pod.logsOf('check')).toBe(0);
    expect(checked.pod.logsOf('check')).toMatch(
      new RegExp(`backup ${backupId} is whole: a chain of 1 backup\\(s\\), \\d+ files .* archived binlog file\\(s\\) of ${node} roll it forward`),
    );
  });

  it('the restore Job prepares the backup into the claim of pod 0 and replays the binlogs up to T; the StatefulSet starts on it: pod 0 bootstraps, the others join by SST', async () => {
    const plan = mariadbRestorePlan(renderContext({ config, namespace: 'openstack' }), { backup: backupId, toTime: localTimeToUtc(toTime) });
    const r = await kubelet.runJob(plan.restoreJob.metadata.name);
    expect(r.exitCode, r.pod.logsOf('check') + r.pod.logsOf('restore')).toBe(0);
    expect(r.pod.logsOf('restore')).toMatch(/replaying \d+ archived binlog file\(s\) from position \d+ up to .* UTC/);
    // As osb restore does: the mark names the pod with the restored data, then the StatefulSet starts.
    standin.update('ConfigMap', 'openstack', 'mariadb-galera-state', (cm) => {
      cm.data = { ...cm.data, ...(plan.mark!.set.data as Record<string, string>) };
    });
    await kubelet.createStatefulSet('mariadb');
    await until('all three pods Ready on the restored data', () => pods.every(ready), 480_000);
    expect(kubelet.pods.get('mariadb-0')!.logsOf('galera-decide')).toContain(`restored from backup ${backupId} into mariadb-0`);
    for (const p of ['mariadb-1', 'mariadb-2']) expect(kubelet.pods.get(p)!.logsOf('galera-decide')).toMatch(/join:/);
    for (const p of pods) {
      expect(await status(p, 'wsrep_cluster_size')).toBe('3');
      expect(await status(p, 'wsrep_local_state_comment')).toBe('Synced');
      // Exactly the rows committed before T: 'c' (after the backup) replayed, 'd' and the DROP not.
      expect(await sql(p, 'SELECT GROUP_CONCAT(v ORDER BY id) FROM nova.t')).toBe('a,b,c');
    }
    // A new binlog history on the restored pod: reused file names never mix with the old archive.
    const historyOf0 = async () => (await kubelet.exec('mariadb-0', 'mariadb', ['cat', '/var/lib/mysql/osb-binlog-history'])).out.trim();
    await until(
      'the archiver to reach the restored pod 0 (its agent names a history)',
      async () => /^\d{8}T\d{6}Z-[a-z0-9]{6}$/.test(await historyOf0()),
      60_000,
    );
    expect(await historyOf0()).not.toBe(history);
  });
});
