/**
 * The rendered MariaDB Galera objects run under a LOCAL STAND-IN FOR THE KUBELET (test/k8s-harness/kubelet.ts):
 * real mariadbd + galera-4 + mariabackup from Debian as the mariadb:10.11 image, this machine's node as
 * node:24-alpine, the in-process API stand-in as the API server. See docs/kubernetes.md for what only a
 * real cluster can show.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/components/index.js';
import { ADMIN_USER } from '../../src/model/desired.js';
import { renderObjects } from '../../src/targets/kubernetes/render.js';
import { LocalKubelet } from '../k8s-harness/kubelet.js';
import { FIXED_SECRETS } from '../unit/kubernetes-fixtures.js';
import { ApiStandIn } from '../unit/kubernetes-standin.js';

// Port block 121 (the pods have their own network namespaces; the ports still stay in the block). SST is 4444 in every pod.
// The exporter sidecars are not what these scenarios test (their images have no faithful stand-in here).
const SET = [
  'metrics.enabled=false',
  'mariadb.replicas=3',
  'mariadb.port=32110',
  'mariadb.galeraPort=32120',
  'mariadb.innodbBufferPoolMB=64',
  'rabbitmq.enabled=false',
  'memcached.enabled=false',
];
const WORKLOADS = new Set(['StatefulSet', 'Deployment', 'Job', 'Pod']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Re-created pods may need full state transfers on a busy 2-core host: generous waits.
describe('Galera from the rendered objects, under a local stand-in for the kubelet', { timeout: 900_000 }, () => {
  const objects = renderObjects(loadConfig({ set: SET }), FIXED_SECRETS(), { components: ['mariadb'] }) as any[];
  const standin = new ApiStandIn();
  let kubelet: LocalKubelet;
  const pods = ['mariadb-0', 'mariadb-1', 'mariadb-2'];

  beforeAll(async () => {
    await standin.start();
    for (const o of objects.filter((x) => !WORKLOADS.has(x.kind))) standin.put(structuredClone(o));
    kubelet = new LocalKubelet({
      objects,
      standin,
      namespace: 'openstack',
      root: mkdtempSync(join(tmpdir(), 'osb-kubelet-')),
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
  const status = async (pod: string, name: string) => {
    const out = await sql(pod, `SHOW GLOBAL STATUS LIKE '${name}'`);
    const line = out.split('\n').find((l) => l.startsWith(`${name}\t`));
    if (!line) throw new Error(`${pod}: no ${name} in ${JSON.stringify(out)}`);
    return line.split('\t')[1]!;
  };
  const ready = (pod: string) => (standin.find('Pod', 'openstack', pod)?.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
  const diagnose = () =>
    pods
      .map((p) => {
        const pod = kubelet.pods.get(p);
        if (!pod) return `${p}: no pod`;
        return pod.containers
          .map((c) =>
            [...c.logs, c.log]
              .map((run, i) => `--- ${p}/${c.name} run ${i + 1} (restarts ${c.restartCount}, ${c.state}):\n${run.split('\n').slice(-12).join('\n')}`)
              .join('\n'),
          )
          .join('\n');
      })
      .join('\n') + `\n--- kubelet:\n${kubelet.events.slice(-30).join('\n')}`;
  async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 240_000) {
    const end = Date.now() + ms;
    let last = '';
    for (;;) {
      try {
        if (await ok()) return;
      } catch (err) {
        last = (err as Error).message; // a pod between runs: asked again
      }
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? ` (last: ${last})` : ''}\n${diagnose()}`);
      await sleep(500);
    }
  }
  const allReady = (ms?: number) => until('all three pods Ready', () => pods.every(ready), ms);
  const clusterOf = async () =>
    Promise.all(
      pods.map(async (p) => ({
        size: await status(p, 'wsrep_cluster_size'),
        uuid: await status(p, 'wsrep_cluster_state_uuid'),
        state: await status(p, 'wsrep_local_state_comment'),
      })),
    );
  let clusterUuid = '';

  it('forms a 3-node Galera cluster from the rendered pods (local stand-in for the kubelet)', async () => {
    await kubelet.createStatefulSet('mariadb');
    await kubelet.createDeploymentPod('mariadb-writer-controller');
    await allReady(Number(process.env.OSB_KUBELET_FORM_MS ?? 240_000));
    const members = await clusterOf();
    for (const m of members) expect(m).toMatchObject({ size: '3', state: 'Synced' });
    expect(new Set(members.map((m) => m.uuid)).size).toBe(1);
    clusterUuid = members[0]!.uuid!;
    // Pod 0 formed the cluster (the ordinal rule); the others joined by SST.
    expect(kubelet.pods.get('mariadb-0')!.logsOf('galera-decide')).toContain('this pod bootstraps');
    expect(kubelet.pods.get('mariadb-0')!.logsOf('mariadb')).toContain('bootstrapping the Galera cluster from mariadb-0');
    for (const p of ['mariadb-1', 'mariadb-2']) {
      expect(kubelet.pods.get(p)!.logsOf('galera-decide')).toMatch(/join:/);
      expect(kubelet.pods.get(p)!.logsOf('mariadb')).not.toContain('bootstrapping');
    }
    // The entrypoint initialised pod 0 with osb's admin account and root only on localhost.
    expect(await sql('mariadb-0', "SELECT CONCAT(user,'@',host) FROM mysql.user WHERE user='root' ORDER BY host")).toBe('root@localhost');
    // The writer controller labelled one Ready pod: the mariadb-writer Service leads there.
    await until('a writer label', () => standin.all('Pod').some((p) => p.metadata.labels?.['osb.openstack.org/galera-writer'] === 'true'), 60_000);
    // (Sticky: the donor of an SST is not Synced, hence not Ready, so the label may have moved on meanwhile.)
    const writers = standin
      .all('Pod')
      .filter((p) => p.metadata.labels?.['osb.openstack.org/galera-writer'] === 'true')
      .map((p) => p.metadata.name);
    expect(writers).toHaveLength(1);
    expect(ready(writers[0]!)).toBe(true);
  });

  it('a crashed bootstrap container (kill -9) is restarted alone and rejoins; it never bootstraps again (local stand-in for the kubelet)', async () => {
    expect(clusterUuid).not.toBe('');
    await sql(
      'mariadb-1',
      'CREATE DATABASE IF NOT EXISTS rig; CREATE TABLE IF NOT EXISTS rig.t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(32)) ENGINE=InnoDB; INSERT INTO rig.t (v) VALUES ("before-crash")',
    );
    const pod = kubelet.pods.get('mariadb-0')!;
    const uidBefore = pod.uid;
    await kubelet.crash('mariadb-0', 'mariadb');
    // While it is down the others carry on as a Primary component of 2.
    expect(await status('mariadb-1', 'wsrep_cluster_status')).toBe('Primary');
    await sql('mariadb-1', 'INSERT INTO rig.t (v) VALUES ("during-crash")');
    await until('mariadb-0 Ready again', () => ready('mariadb-0'));
    await until('a cluster of 3 again', async () => (await clusterOf()).every((m) => m.size === '3' && m.state === 'Synced'), 120_000);
    const members = await clusterOf();
    // The same cluster: no second bootstrap, so no new cluster UUID.
    for (const m of members) expect(m.uuid).toBe(clusterUuid);
    expect(kubelet.pods.get('mariadb-0')!.uid).toBe(uidBefore);
    const c = pod.container('mariadb');
    expect(c.restartCount).toBe(1);
    // start.sh used the bootstrap decision up before the first server started: the emptyDir says join.
    expect((await kubelet.exec('mariadb-0', 'mariadb', ['cat', '/run/osb/galera-mode'])).out).toBe('join\n');
    expect((await kubelet.exec('mariadb-0', 'mariadb', ['test', '-s', '/run/osb/galera-bootstrapped'])).code).toBe(0);
    expect(c.log).toContain('mariadb-0 joins the Galera cluster');
    expect(c.log).not.toContain('bootstrapping the Galera cluster');
    // Init containers ran once for this pod.
    for (const name of ['galera-recover', 'galera-decide']) {
      expect(pod.container(name).restartCount).toBe(0);
      expect(pod.container(name).logs).toHaveLength(0);
    }
    expect(await sql('mariadb-0', 'SELECT GROUP_CONCAT(v ORDER BY id) FROM rig.t')).toBe('before-crash,during-crash');
  });

  it('every pod deleted and re-created: the coordinator recovers from the most advanced (local stand-in for the kubelet)', async () => {
    // mariadb-0 leaves first (graceful); the other two go on writing, then vanish at once (kill -9: a node lost).
    await kubelet.deletePod('mariadb-0');
    await sql('mariadb-1', 'INSERT INTO rig.t (v) VALUES ("after-0-left")');
    await Promise.all(['mariadb-1', 'mariadb-2'].map((p) => kubelet.deletePod(p, { gracePeriodSeconds: 0 })));
    expect(standin.all('Pod').filter((p) => /^mariadb-\d$/.test(p.metadata.name))).toHaveLength(0);
    await kubelet.createStatefulSet('mariadb');
    await allReady(Number(process.env.OSB_KUBELET_FORM_MS ?? 480_000));
    const positions = Object.fromEntries(pods.map((p) => [p, JSON.parse(kubelet.pods.get(p)!.logsOf('galera-recover').trim().split('\n').pop()!)]));
    // mariadb-0 stopped cleanly behind the others: its position is lower, so it must not be the one that bootstraps.
    expect(positions['mariadb-0'].seqno).toBeLessThan(positions['mariadb-1'].seqno);
    const bootstrapped = pods.filter((p) => kubelet.pods.get(p)!.logsOf('galera-decide').includes('this pod bootstraps'));
    expect(bootstrapped).toHaveLength(1);
    expect(['mariadb-1', 'mariadb-2']).toContain(bootstrapped[0]);
    expect(kubelet.pods.get(bootstrapped[0]!)!.logsOf('galera-decide')).toContain('recover, this pod bootstraps');
    await until('a cluster of 3 again', async () => (await clusterOf()).every((m) => m.size === '3' && m.state === 'Synced'), 120_000);
    for (const m of await clusterOf()) expect(m.uuid, 'recovered, not a new cluster').toBe(clusterUuid);
    for (const p of pods) expect(await sql(p, 'SELECT GROUP_CONCAT(v ORDER BY id) FROM rig.t')).toBe('before-crash,during-crash,after-0-left');
  });

  it('runs the db-init Job and the test pod against the writer Service (local stand-in for the kubelet)', async () => {
    const job = objects.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('mariadb-db-init-'));
    expect(job).toBeDefined();
    const init = await kubelet.runJob(job.metadata.name);
    expect(init.exitCode, init.pod.logsOf('db-init')).toBe(0);
    expect(init.pod.logsOf('db-init')).toMatch(/^ok: databases and users of /m);
    expect(
      await sql(
        'mariadb-2',
        "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name IN ('keystone','nova','nova_api','nova_cell0','glance','placement','neutron','cinder')",
      ),
    ).not.toBe('0');
    const test = await kubelet.runBarePod('mariadb-test');
    const out = test.pod.logsOf('test');
    expect(test.exitCode, out).toBe(0);
    expect(out).toContain('ok: Galera cluster size 3');
    expect(out).toMatch(/ok: mariadb-writer leads to the writer mariadb-\d/);
    expect(out).toContain('ok: wrote and read back a row');
  });
});
