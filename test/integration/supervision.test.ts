import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SystemdContainer } from '../helpers/systemd-container.js';

/**
 * Supervision under a real systemd: this machine's own OS booted in a throwaway container
 * (systemd-nspawn on an overlay of /, its own network namespace: ports cannot clash with the host).
 * osb runs inside as root, so its units are system units. Nothing but `osb status` is run between
 * the faults and the checks: systemd alone brings the nodes back.
 */
const ROOT = resolve(__dirname, '../..');
const OSB = [process.execPath, `${ROOT}/bin/osb`];
const HELPERS = `${ROOT}/test/openstack`;
const STATE = '/var/lib/osb-supervised';
const ALL3 = ['--set', 'mariadb.replicas=3', '--set', 'rabbitmq.replicas=3', '--set', 'memcached.replicas=3'];

let ct: SystemdContainer;
const osb = (args: string[], timeoutMs = 600_000) =>
  ct.exec([...OSB, ...args, '--state-dir', STATE], { check: false, timeoutMs, env: { OSB_LOCK_WAIT_SECONDS: '300' } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Node {
  name: string;
  pid?: number;
  running: boolean;
  healthy: boolean;
  error?: string;
  supervision?: { unit: string; state: string; restarts: number };
  details?: { galera?: { clusterSize: number; state: string; clusterStatus: string }; cluster?: { running: string[] } };
}
interface Status {
  healthy: boolean;
  supervision: { kind: string };
  components: { component: string; nodes: Node[] }[];
}
async function status(): Promise<Status> {
  const r = await osb(['status', '-o', 'json'], 60_000);
  return JSON.parse(r.stdout) as Status;
}
const nodes = (s: Status, c: string) => s.components.find((x) => x.component === c)!.nodes;

async function waitHealthy(what: string, timeoutMs: number): Promise<{ ms: number; s: Status }> {
  const t0 = Date.now();
  let last: Status | undefined;
  while (Date.now() - t0 < timeoutMs) {
    last = await status().catch(() => undefined);
    if (last?.healthy) return { ms: Date.now() - t0, s: last };
    await sleep(500);
  }
  const bad = last?.components.flatMap((c) => c.nodes.filter((n) => !n.healthy).map((n) => `${n.name}: ${n.error}`)) ?? ['no status'];
  const journal = await ct.exec(['journalctl', '-u', 'osb-*', '--no-pager', '-n', '150'], { check: false }).catch(() => ({ stdout: '(no journal)' }));
  console.error(`${what}: not healthy:\n${bad.join('\n')}\n${galeraLogTails(80)}\n--- journal of the osb units ---\n${journal.stdout}`);
  throw new Error(`${what}: not healthy within ${timeoutMs / 1000}s: ${bad.join('; ')}`);
}

/** One of the OpenStack client loops (Debian's oslo.db / oslo.messaging / oslo.cache), run inside the container. */
class CtLoop {
  readonly lines: string[][] = [];
  stderr = '';
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly exited: Promise<number>;
  constructor(script: string, args: string[]) {
    const env = ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root', 'LANG=C.UTF-8'];
    this.proc = spawn('nsenter', ['-t', String(ct.leaderPid), '-a', '--', '/usr/bin/env', '-i', ...env, '/usr/bin/python3', `${HELPERS}/${script}`, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.proc.stderr.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-100_000)));
    createInterface({ input: this.proc.stdout }).on('line', (l) => this.lines.push(l.split(' ')));
    this.exited = new Promise((r) => this.proc.on('close', (code) => r(code ?? -1)));
  }
  ok(): number {
    return this.lines.filter((l) => l[0] === 'A').length;
  }
  acked(): number[] {
    return this.lines.filter((l) => l[0] === 'A').map((l) => Number(l[1]));
  }
  async ready(n = 5, timeoutMs = 60_000): Promise<void> {
    const t0 = Date.now();
    while (this.ok() < n) {
      if (Date.now() - t0 > timeoutMs) throw new Error(`loop not ready: ${this.stderr.slice(-1500)}`);
      await sleep(100);
    }
  }
  async stop(): Promise<number> {
    this.proc.stdin.end();
    return Promise.race([this.exited, sleep(120_000).then(() => -2)]);
  }
}

/** The last lines of every Galera node's error log: the cause of a failed join is often on another node (the donor, the bootstrap node). */
function galeraLogTails(lines: number): string {
  return ['mariadb-0', 'mariadb-1', 'mariadb-2']
    .map((n) => {
      let text = '(no log)';
      try {
        text = ct.readFile(`${STATE}/mariadb/${n}/log/mariadb.err`).trimEnd().split('\n').slice(-lines).join('\n');
      } catch {
        /* not created */
      }
      return `--- ${n} error log ---\n${text}`;
    })
    .join('\n');
}

/** Service config files osb prints, written inside the container. */
async function writeServiceConf(service: string): Promise<string> {
  const r = await osb(['endpoints', '--service', service, '--format', 'oslo']);
  expect(r.code, r.stderr).toBe(0);
  const file = `/root/${service}.conf`;
  await ct.writeFile(file, r.stdout);
  return file;
}

/** Acked ids missing from a table, read on every Galera node over its socket (causal read). */
async function missingOnEveryNode(table: string, acked: number[]): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const n of ['mariadb-0', 'mariadb-1', 'mariadb-2']) {
    const r = await ct.exec([
      'mariadb',
      '--no-defaults',
      '-S',
      `${STATE}/mariadb/${n}/run/mysqld.sock`,
      '-u',
      'root',
      '-N',
      '-B',
      '-e',
      `SET SESSION wsrep_sync_wait=1; SELECT id FROM nova.${table}`,
    ]);
    const have = new Set(r.stdout.split('\n').filter(Boolean).map(Number));
    out[n] = acked.filter((id) => !have.has(id));
  }
  return out;
}

describe('supervised by a real systemd (inside a throwaway container of this machine)', { timeout: 900_000 }, () => {
  beforeAll(async () => {
    // The checkout (osb, its node_modules, the OpenStack client scripts) wherever CI cloned it, /tmp included.
    ct = await SystemdContainer.create('osb-sup', { tmpfsSize: '4g', bindRo: [ROOT] });
    await ct.start();
  }, 120_000);
  afterAll(async () => {
    await ct?.destroy();
  });

  it('osb deploy of 3-node RabbitMQ, Galera and Memcached installs one unit per node, proxy and epmd under one target; a second deploy changes nothing', async () => {
    const r = await osb(['deploy', ...ALL3]);
    // vitest shortens long messages: the whole of it on the console, the error line and the log tails in the assertion.
    if (r.code !== 0) console.error(`osb deploy failed (${r.code}):\n${r.stdout.slice(-3000)}\n${r.stderr}\n${galeraLogTails(60)}`);
    expect(r.code, `${r.stderr.match(/osb: .*/)?.[0] ?? r.stderr.slice(-1500)}\n${galeraLogTails(15)}`).toBe(0);
    const units = await ct.sh(`systemctl list-units --all --no-legend 'osb-*' | awk '{print $1}'`);
    const names = units.stdout.split('\n').filter(Boolean);
    // nodes, the Galera proxy, RabbitMQ's epmd, one mysqld-exporter and one memcached exporter per node; the heal job
    expect(names.filter((u) => u.endsWith('.service'))).toHaveLength(3 * 3 + 1 + 1 + 3 + 3 + 1);
    expect(names.filter((u) => u.endsWith('.target'))).toHaveLength(1);
    expect(names.filter((u) => u.endsWith('.timer'))).toEqual([expect.stringMatching(/^osb-.*-heal\.timer$/)]);
    const s = await status();
    expect(s.supervision.kind).toBe('systemd');
    expect(s.healthy).toBe(true);
    for (const c of s.components) for (const n of c.nodes) expect(n.supervision?.state, n.name).toBe('active/running');
    const again = await osb(['deploy']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/no change/);
  });

  it('kill -9 of one node of each while OpenStack clients work: systemd brings each back, Galera rejoins by IST, no acked commit lost', async () => {
    const nova = await writeServiceConf('nova');
    const db = new CtLoop('ha_db_loop.py', [nova, 'sup_kill']);
    const rpc = new CtLoop('ha_rpc_loop.py', [nova]);
    const cache = new CtLoop('ha_cache_loop.py', [nova]);
    await Promise.all([db.ready(), rpc.ready(2), cache.ready()]);
    const before = await status();
    const victims = ['mariadb-1', 'rabbitmq-1', 'memcached-1'].map((name) => before.components.flatMap((c) => c.nodes).find((n) => n.name === name)!);
    const t0 = Date.now();
    for (const v of victims) await ct.exec(['kill', '-9', String(v.pid)]);
    const { ms, s } = await waitHealthy('after kill -9', 240_000);
    console.log(
      `supervision: kill -9 of mariadb-1, rabbitmq-1, memcached-1 → all healthy again ${((Date.now() - t0) / 1000).toFixed(1)}s later (status poll ${ms} ms)`,
    );
    const okAfter = db.ok();
    await sleep(2000);
    expect(db.ok(), 'the oslo.db loop commits after the recovery').toBeGreaterThan(okAfter);
    for (const v of victims) {
      const n = s.components.flatMap((c) => c.nodes).find((x) => x.name === v.name)!;
      expect(n.pid, `${v.name} has a new pid`).not.toBe(v.pid);
      expect(n.supervision?.restarts, `${v.name} restarted by systemd`).toBeGreaterThanOrEqual(1);
    }
    for (const n of nodes(s, 'mariadb')) expect(n.details?.galera).toMatchObject({ clusterSize: 3, state: 'Synced', clusterStatus: 'Primary' });
    expect(nodes(s, 'rabbitmq')[0]!.details?.cluster?.running).toHaveLength(3);
    const err = await ct.readFile(`${STATE}/mariadb/mariadb-1/log/mariadb.err`);
    const sinceKill = err.slice(Math.max(err.lastIndexOf('Starting MariaDB'), 0));
    expect(sinceKill, 'mariadb-1 caught up by IST, not a full SST').toMatch(/IST received|Receiving IST/);
    expect(await db.stop()).toBe(0);
    expect(await rpc.stop()).toBe(0);
    expect(await cache.stop()).toBe(0);
    const missing = await missingOnEveryNode('sup_kill', db.acked());
    expect(missing).toEqual({ 'mariadb-0': [], 'mariadb-1': [], 'mariadb-2': [] });
  });

  it('a Galera node whose provider left every group (Disconnected, still answering) is restarted by the heal timer with no osb command and rejoins', async () => {
    const before = nodes(await status(), 'mariadb').find((n) => n.name === 'mariadb-1')!;
    await ct.exec([
      'mariadb',
      '--no-defaults',
      '-S',
      `${STATE}/mariadb/mariadb-1/run/mysqld.sock`,
      '-u',
      'root',
      '-e',
      "SET GLOBAL wsrep_cluster_address = ''",
    ]);
    const t0 = Date.now();
    const seen = nodes(await status(), 'mariadb').find((n) => n.name === 'mariadb-1')!;
    expect(seen.error).toMatch(/^Disconnected: its Galera provider left every group/);
    const { s } = await waitHealthy('after mariadb-1 was disconnected', 120_000);
    console.log(`supervision: a Disconnected Galera node healed by the timer ${((Date.now() - t0) / 1000).toFixed(1)}s after it left its group`);
    const after = nodes(s, 'mariadb').find((n) => n.name === 'mariadb-1')!;
    expect(after.pid, 'mariadb-1 was restarted').not.toBe(before.pid);
    for (const n of nodes(s, 'mariadb')) expect(n.details?.galera).toMatchObject({ clusterSize: 3, state: 'Synced', clusterStatus: 'Primary' });
    const heal = (await ct.exec(['journalctl', '-u', 'osb-*-heal.service', '--no-pager', '-o', 'cat'], { check: false })).stdout;
    expect(heal).toMatch(/mariadb-1: restarting: its Galera provider is Disconnected from every group/);
    expect(heal).toMatch(/mariadb-1: back and healthy/);
    // It runs every 15 s: systemd's own lines about each run stay out of the journal.
    expect(heal).not.toMatch(/^(Starting|Finished) osb heal/m);
  });

  it('a reboot brings the whole tier back with no osb command: Galera Primary with 3 Synced, RabbitMQ 3 running, memcached answering; no acked commit lost; keystone db_sync check and an RPC work', async () => {
    const keystone = await writeServiceConf('keystone');
    const nova = await writeServiceConf('nova');
    await ct.writeFile('/root/keystone-full.conf', `${await ct.readFile(keystone)}\n[fernet_tokens]\nkey_repository = /root/fernet\n`);
    const sync = await ct.exec(['keystone-manage', '--config-file', '/root/keystone-full.conf', 'db_sync'], { check: false, timeoutMs: 300_000 });
    expect(sync.code, sync.stderr.slice(-2000)).toBe(0);
    const db = new CtLoop('ha_db_loop.py', [nova, 'sup_reboot']);
    await db.ready(20);
    expect(await db.stop()).toBe(0);
    const acked = db.acked();
    const t0 = Date.now();
    const boot = await ct.reboot(120_000);
    const { s } = await waitHealthy('after the reboot', 300_000);
    console.log(`supervision: reboot (poweroff ${boot.poweroffMs} ms) → tier healthy ${((Date.now() - t0) / 1000).toFixed(1)}s after the poweroff began`);
    for (const n of nodes(s, 'mariadb')) expect(n.details?.galera).toMatchObject({ clusterSize: 3, state: 'Synced', clusterStatus: 'Primary' });
    expect(nodes(s, 'rabbitmq')[0]!.details?.cluster?.running).toHaveLength(3);
    expect(nodes(s, 'memcached').every((n) => n.healthy)).toBe(true);
    expect(await missingOnEveryNode('sup_reboot', acked)).toEqual({ 'mariadb-0': [], 'mariadb-1': [], 'mariadb-2': [] });
    const check = await ct.exec(['keystone-manage', '--config-file', '/root/keystone-full.conf', 'db_sync', '--check'], { check: false, timeoutMs: 120_000 });
    expect(check.code, `keystone-manage db_sync --check: ${check.stdout}${check.stderr.slice(-1500)}`).toBe(0);
    // An oslo.messaging RPC server and client with nova's printed settings (durable quorum queues on the cluster).
    const rpc = new CtLoop('ha_rpc_loop.py', [nova]);
    await rpc.ready(3);
    expect(await rpc.stop()).toBe(0);
  });

  it('a node whose data dir is gone must not start: its unit ends failed with the reason in osb status and the journal; the other two keep serving', async () => {
    const unit = (await status()).components.flatMap((c) => c.nodes).find((n) => n.name === 'mariadb-2')!.supervision!.unit;
    await ct.exec(['systemctl', 'stop', unit]);
    await ct.exec(['rm', '-rf', `${STATE}/mariadb/mariadb-2/data`]);
    await ct.exec(['systemctl', 'start', '--no-block', unit]);
    let n: Node | undefined;
    for (let i = 0; i < 120; i++) {
      n = nodes(await status(), 'mariadb').find((x) => x.name === 'mariadb-2');
      if (n?.supervision?.state.startsWith('failed')) break;
      await sleep(1000);
    }
    expect(n?.supervision?.state).toMatch(/^failed/);
    expect(n?.error).toMatch(/must not start: it ran before, and its data is gone/);
    const journal = await ct.exec(['journalctl', '-u', unit, '--no-pager', '-n', '50'], { check: false });
    expect(journal.stdout).toMatch(/must not start: it ran before, and its data is gone/);
    const others = nodes(await status(), 'mariadb').filter((x) => x.name !== 'mariadb-2');
    expect(others.every((x) => x.healthy)).toBe(true);
    const nova = await writeServiceConf('nova');
    const db = new CtLoop('ha_db_loop.py', [nova, 'sup_degraded']);
    await db.ready(10);
    expect(await db.stop()).toBe(0);
  });

  it('osb destroy leaves no unit, no process and no file outside the state dir', async () => {
    const r = await osb(['destroy']);
    expect(r.code, r.stderr).toBe(0);
    const units = await ct.sh(`ls /etc/systemd/system | grep '^osb-' || true; systemctl list-units --all --no-legend 'osb-*' | grep -v not-found || true`);
    expect(units.stdout.trim()).toBe('');
    const procs = await ct.sh(`ps -eo args | grep -E '${STATE}|osb-supervised' | grep -v grep || true`);
    expect(procs.stdout.trim()).toBe('');
    const left = await ct.exec(['ls', '-A', STATE], { check: false });
    expect(left.stdout.trim()).toBe('');
  });
});
