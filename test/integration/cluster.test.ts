import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/components/index.js';
import type { RabbitmqEndpoint } from '../../src/components/rabbitmq/client.js';
import { vhostsNotRunning } from '../../src/components/rabbitmq/health.js';
import { rabbitmqEnv, rabbitNodeName } from '../../src/components/rabbitmq/local.js';
import { readSecrets } from '../../src/config/secrets.js';
import { nodeDir } from '../../src/config/state-dir.js';
import { localInstances } from '../../src/targets/local/instances.js';
import { ConfirmedPublisher, GaleraWriteLoop, type HostPort } from '../helpers/load.js';
import { cleanup, osb, portBlock, tempStateDir } from '../helpers/osb.js';

// Real 3-node Galera, 3-node RabbitMQ and a 3-server Memcached pool on one host (port block 20).
const stateDir = tempStateDir('cluster');
const HA = [...portBlock(20), '--set', 'mariadb.replicas=3', '--set', 'rabbitmq.replicas=3', '--set', 'memcached.replicas=3'];
const config = loadConfig({ set: HA.filter((a) => a !== '--set') });

function rabbitmqctl(ordinal: number, args: string[]): string {
  const r = spawnSync('/usr/lib/rabbitmq/bin/rabbitmqctl', ['-n', rabbitNodeName(config, ordinal), ...args], {
    env: rabbitmqEnv(config, ordinal, nodeDir(stateDir, 'rabbitmq', `rabbitmq-${ordinal}`)),
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(r.status, `rabbitmqctl ${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(0);
  return r.stdout;
}

interface StatusNode {
  name: string;
  pid?: number;
  running: boolean;
  healthy: boolean;
  details?: { galera?: { clusterSize: number; state: string; clusterStatus: string }; cluster?: { members: string[]; running: string[] } };
}
interface Status {
  healthy: boolean;
  components: { component: string; nodes: StatusNode[] }[];
}

async function status(): Promise<Status> {
  const r = await osb(['status', '--json'], { stateDir });
  return JSON.parse(r.stdout) as Status;
}
const nodesOf = (s: Status, c: string) => s.components.find((x) => x.component === c)!.nodes;

let eps: {
  mariadb: { username: string; password: string; nodes: HostPort[] };
  rabbitmq: { username: string; password: string; nodes: HostPort[] };
};
const amqpUrl = (n: HostPort) => `amqp://${eps.rabbitmq.username}:${eps.rabbitmq.password}@${n.host}:${n.port}/`;
const killPid = (pid: number) => process.kill(pid, 'SIGKILL');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The error line first: vitest cuts long assertion messages. */
const why = (r: { stderr: string; stdout: string }) => (r.stderr.match(/osb: .*error.*/)?.[0] ?? '') + '\n' + r.stderr.slice(-1500) + r.stdout.slice(-500);

async function deploy(): Promise<string> {
  const r = await osb(['deploy', '--verbose'], { stateDir });
  expect(r.code, why(r)).toBe(0);
  return r.stdout;
}

describe('real clusters: 3-node Galera, 3-node RabbitMQ, Memcached pool', () => {
  beforeAll(async () => {
    const r = await osb(['deploy', ...HA], { stateDir, timeoutMs: 400_000 });
    expect(r.code, why(r)).toBe(0);
    eps = JSON.parse((await osb(['endpoints', '--json'], { stateDir })).stdout);
  });
  afterAll(() => cleanup(stateDir));

  it('deploys 3 of each; osb test passes on every node; status shows cluster size 3 and 3 running nodes', async () => {
    const t = await osb(['test'], { stateDir });
    expect(t.code, t.stdout + t.stderr).toBe(0);
    for (const n of ['mariadb-0', 'mariadb-1', 'mariadb-2', 'rabbitmq-0', 'rabbitmq-1', 'rabbitmq-2', 'memcached-0', 'memcached-1', 'memcached-2']) {
      expect(t.stdout).toContain(`${n}:`);
    }
    const s = await status();
    expect(s.healthy).toBe(true);
    for (const n of nodesOf(s, 'mariadb')) expect(n.details?.galera).toMatchObject({ clusterSize: 3, state: 'Synced', clusterStatus: 'Primary' });
    for (const n of nodesOf(s, 'rabbitmq')) expect(n.details?.cluster?.running).toHaveLength(3);
    const text = (await osb(['status'], { stateDir })).stdout;
    expect(text).toContain('Galera cluster size 3 (Primary)');
    expect(text).toContain('cluster 3/3 running');
    expect(eps.mariadb.nodes).toHaveLength(3);
    expect(JSON.parse((await osb(['endpoints', '--json'], { stateDir })).stdout).memcached.servers).toHaveLength(3);
    // With replicas > 1 each service's vhost defaults to quorum queues (checked on the real broker).
    const n0 = eps.rabbitmq.nodes[0]!;
    const mgmt = JSON.parse((await osb(['endpoints', '--json'], { stateDir })).stdout).rabbitmq.managementUrl as string;
    const res = await fetch(`${mgmt}api/vhosts/nova`, {
      headers: { authorization: 'Basic ' + Buffer.from(`${eps.rabbitmq.username}:${eps.rabbitmq.password}`).toString('base64') },
    });
    expect(((await res.json()) as { default_queue_type?: string }).default_queue_type, `vhost nova on ${n0.port}`).toBe('quorum');
  });

  it('Galera: kill -9 of one node during a write loop; survivors keep committing; the node rejoins; no acked commit missing', async () => {
    const loop = new GaleraWriteLoop(eps.mariadb.nodes, { user: eps.mariadb.username, password: eps.mariadb.password }, 'osbtest.one');
    await loop.prepare();
    loop.start();
    await sleep(1500);
    const victim = nodesOf(await status(), 'mariadb')[1]!;
    const before = loop.acked.length;
    const killedAt = Date.now();
    killPid(victim.pid!);
    while (loop.acked.length < before + 20 && Date.now() - killedAt < 15_000) await sleep(50);
    expect(loop.acked.length, 'the loop kept committing through the survivors').toBeGreaterThanOrEqual(before + 20);
    console.log(`Galera: 20 commits through the survivors ${Date.now() - killedAt} ms after kill -9 of ${victim.name}`);
    const out = await deploy();
    expect(out).toMatch(/mariadb-1\s.*recovered/);
    await sleep(1000);
    await loop.stop();
    for (const n of eps.mariadb.nodes) expect(await loop.missingOn(n), `acked rows missing on ${n.port}`).toEqual([]);
    const s = await status();
    for (const n of nodesOf(s, 'mariadb')) expect(n.details?.galera?.state).toBe('Synced');
  });

  it('RabbitMQ: a node killed while publishing with confirms to a quorum queue loses no confirmed message', async () => {
    const urls = eps.rabbitmq.nodes.map(amqpUrl);
    const pub = new ConfirmedPublisher([urls[0]!, urls[2]!], 'osb-test-quorum');
    await pub.declare();
    pub.start();
    await sleep(1500);
    const victim = nodesOf(await status(), 'rabbitmq')[1]!;
    killPid(victim.pid!);
    await sleep(3000);
    await pub.stop();
    expect(pub.confirmed.size).toBeGreaterThan(50);
    const out = await deploy();
    expect(out).toMatch(/rabbitmq-1\s.*recovered/);
    const got = await pub.drain(urls[1]!);
    const lost = [...pub.confirmed].filter((id) => !got.has(id));
    expect(lost, 'confirmed messages lost').toEqual([]);
  });

  it('rolling restart under light load: no failed client operation beyond reconnects', async () => {
    const loop = new GaleraWriteLoop(eps.mariadb.nodes, { user: eps.mariadb.username, password: eps.mariadb.password }, 'osbtest.rolling');
    await loop.prepare();
    loop.start();
    const r = await osb(['restart', 'mariadb', '--rolling'], { stateDir, timeoutMs: 400_000 });
    expect(r.code, why(r)).toBe(0);
    await loop.stop();
    // Errors are reconnects after the node it wrote to went down; every acked write is everywhere.
    for (const n of eps.mariadb.nodes) expect(await loop.missingOn(n)).toEqual([]);
    expect(loop.acked.length).toBeGreaterThan(50);
    expect((await status()).healthy).toBe(true);
  });

  it('RabbitMQ rolling restart drains each node first (await_online_quorum_plus_one, drain): publishing with confirms to a quorum queue loses nothing', async () => {
    const urls = eps.rabbitmq.nodes.map(amqpUrl);
    const pub = new ConfirmedPublisher(urls, 'osb-test-rolling');
    await pub.declare();
    pub.start();
    const r = await osb(['restart', 'rabbitmq', '--rolling', '--verbose'], { stateDir, timeoutMs: 600_000 });
    await pub.stop();
    expect(r.code, why(r)).toBe(0);
    for (const n of ['rabbitmq-0', 'rabbitmq-1', 'rabbitmq-2']) expect(r.stderr).toContain(`${n}: draining`);
    expect(pub.confirmed.size).toBeGreaterThan(50);
    const got = await pub.drain(urls[0]!);
    expect(
      [...pub.confirmed].filter((id) => !got.has(id)),
      'confirmed messages lost',
    ).toEqual([]);
    expect((await status()).healthy).toBe(true);
  });

  it("RabbitMQ: a vhost not running on one node (RabbitMQ 3.10's formation race): status names it, the probe's repair starts it, osb heal restarts such a node, provisioning starts a service's vhost", async () => {
    // The state the race leaves (health.ts vhostsNotRunning): the vhost's processes stopped on rabbitmq-1 only.
    const stopVhost = () => rabbitmqctl(1, ['eval', 'rabbit_vhost_sup_sup:stop_and_delete_vhost(<<"/">>).']);
    const url1 = amqpUrl(eps.rabbitmq.nodes[1]!);
    const opens = async () => (await amqp.connect(url1)).close().then(() => 'open', String);
    const node1 = rabbitNodeName(config, 1);
    const mgmt1: RabbitmqEndpoint = {
      ...eps.rabbitmq.nodes[1]!,
      managementPort: config.rabbitmq.managementPort + 1,
      username: eps.rabbitmq.username,
      password: eps.rabbitmq.password,
    };
    stopVhost();
    // amqplib drops the server's reason ("vhost '/' is down"): the open is refused after authentication.
    await expect(opens()).rejects.toThrow(/Expected ConnectionOpenOk; got <ConnectionClose/);
    expect(await vhostsNotRunning(mgmt1, node1)).toEqual(['/']);
    const r = await osb(['status'], { stateDir });
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/rabbitmq-1.*vhost '\/' is not running on this node.*osb heal/s);

    // What a starting node's probe (osb's own, as deploy and systemd starts run it) does when it meets the race:
    // start the vhost there through the management API and say so; the next probe gets in.
    const inst = localInstances(config, stateDir, readSecrets(stateDir)!, ['rabbitmq']).get('rabbitmq')![1]!;
    await expect(inst.probe()).rejects.toThrow(/vhost '\/' is not running on this node.*started it through the management API/);
    await inst.probe();
    expect(await opens()).toBe('open');
    expect(await vhostsNotRunning(mgmt1, node1)).toEqual([]);

    // What `osb heal` (and its timer) does: restart the node; its boot starts every vhost it knows.
    stopVhost();
    const h = await osb(['heal'], { stateDir, timeoutMs: 300_000 });
    expect(h.code, why(h)).toBe(0);
    expect(h.stdout + h.stderr).toMatch(/restarted rabbitmq-1/);
    expect(h.stdout + h.stderr).not.toMatch(/restarted rabbitmq-[02]/);
    expect(await opens()).toBe('open');
    expect((await status()).healthy).toBe(true);

    // A service's vhost, created by provisioning once every node answered AMQP, is missed the same way by a node whose
    // listener was up before its boot had finished: '/' works there, nova's clients are refused. Status names it, and
    // provisioning (every deploy that provisions, and `osb provision`) starts it.
    rabbitmqctl(1, ['eval', 'rabbit_vhost_sup_sup:stop_and_delete_vhost(<<"nova">>).']);
    expect(await vhostsNotRunning(mgmt1, node1)).toEqual(['nova']);
    expect(await opens()).toBe('open');
    const s2 = await osb(['status'], { stateDir });
    expect(s2.code).toBe(1);
    expect(s2.stdout + s2.stderr).toMatch(/rabbitmq-1.*vhost 'nova' is not running on this node.*osb heal/s);
    const p = await osb(['provision', 'nova'], { stateDir });
    expect(p.code, why(p)).toBe(0);
    expect(p.stdout).toContain(`vhost was not running on ${node1}: started`);
    expect(await vhostsNotRunning(mgmt1, node1)).toEqual([]);
    expect((await status()).healthy).toBe(true);
  });

  it('Galera: all three killed with kill -9 during a write loop; osb deploy recovers from the most advanced node; no acked commit missing', async () => {
    const loop = new GaleraWriteLoop(eps.mariadb.nodes, { user: eps.mariadb.username, password: eps.mariadb.password }, 'osbtest.all');
    await loop.prepare();
    loop.start();
    await sleep(1500);
    for (const n of nodesOf(await status(), 'mariadb')) killPid(n.pid!);
    await sleep(300);
    await loop.stop();
    expect(loop.acked.length).toBeGreaterThan(10);
    const down = await osb(['status'], { stateDir });
    expect(down.code).not.toBe(0);
    const out = await deploy();
    expect(out).toMatch(/bootstrapped the cluster at seqno \d+/);
    for (const n of eps.mariadb.nodes) expect(await loop.missingOn(n)).toEqual([]);
    for (const n of nodesOf(await status(), 'mariadb')) expect(n.details?.galera).toMatchObject({ clusterSize: 3, state: 'Synced' });
  });

  it("recovery with one node's data dir deleted: a clear refusal naming what was found, then an operator-chosen bootstrap", async () => {
    for (const n of nodesOf(await status(), 'mariadb')) killPid(n.pid!);
    await sleep(300);
    rmSync(join(stateDir, 'mariadb', 'mariadb-2', 'data'), { recursive: true, force: true });
    const r = await osb(['deploy', 'mariadb'], { stateDir });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/refusing to start: .*mariadb-2 lost its data/);
    expect(r.stderr).toContain('osb recover --force-bootstrap');
    // Nothing was started by the refusal: no split brain.
    expect(nodesOf(await status(), 'mariadb').every((n) => !n.running)).toBe(true);
    const f = await osb(['recover', '--force-bootstrap', 'mariadb-0'], { stateDir, timeoutMs: 400_000 });
    expect(f.code, why(f)).toBe(0);
    const s = await status();
    for (const n of nodesOf(s, 'mariadb')) expect(n.details?.galera).toMatchObject({ clusterSize: 3, state: 'Synced' });
  });
});
