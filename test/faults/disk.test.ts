/**
 * Issue 17, faults 5 (full disk) and 6 (slow disk), on real daemons (docs/faults.md).
 *
 * Galera (port block 44): 3 nodes behind osb's HAProxy; mariadb-2's data dir is its own small ext4
 * filesystem (a loop-mounted image the test mounts at the node's data path before `osb deploy`).
 * - Full disk: the filesystem is filled while an oslo.db client (test/openstack/ha_db_loop.py) commits
 *   through the proxy and bulk writes need new space. mariadb-2 must leave the cluster or stop, the others
 *   keep serving, `osb status` names the full filesystem, and after the space is freed `osb deploy`
 *   brings mariadb-2 back Synced. No acknowledged commit is lost.
 * - Slow disk: writes to that filesystem are throttled (cgroup v1 blkio on the loop device; dm-delay is
 *   not available here). A measurement: commit latency through the proxy, flow control, eviction.
 * RabbitMQ (port block 45): one node whose data dir (mnesia) is a 100 MB filesystem, filled below
 * disk_free_limit (50 MB): publishers are blocked, `osb status` says so, and it recovers by itself.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import amqp from 'amqplib';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockPorts, listeningInBlock, processesOf } from '../helpers/local.js';
import { osb, portBlock, tempStateDir, type OsbRun } from '../helpers/osb.js';
import { PyLoop, sleep, waitFor } from '../helpers/pyloop.js';

/** The failover figure of docs/ha.md: no stretch without a commit longer than this. */
const FAILOVER_LIMIT_S = 5;
/**
 * A full disk on a backup stalls the writer longer than a kill does: the stuck applier holds flow control until
 * the node gives up (InnoDB's retries, then its own shutdown) and Galera evicts it. docs/faults.md "Full disk"
 * documents the measured 6.5–8.0 s; this is the bound it states.
 */
const FULL_DISK_STALL_LIMIT_S = 10;
const MiB = 1024 * 1024;

const now = () => Date.now() / 1000;
const round = (s: number) => Math.round(s * 1000) / 1000;
const why = (r: OsbRun) => (r.stderr.match(/osb: .*error.*/)?.[0] ?? '') + '\n' + r.stderr.slice(-1500) + r.stdout.slice(-800);
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

// ---------- a small filesystem: an ext4 image on a loop device ----------

/** An ext4 filesystem of `sizeMiB` on a loop device, mounted at `mount`; filled, freed and throttled on demand. */
class SmallFs {
  readonly img: string;
  readonly dev: string;
  private readonly filler: string;
  constructor(
    readonly mount: string,
    sizeMiB: number,
  ) {
    this.img = `${mount.replace(/\/+$/, '').replace(/\//g, '_')}.img`.replace(/^_/, '/tmp/osb-fault-');
    this.filler = join(mount, 'FILLER');
    rmSync(this.img, { force: true });
    sh('truncate', ['-s', `${sizeMiB}M`, this.img]);
    this.dev = sh('losetup', ['-f', '--show', this.img]);
    // -m 0: no blocks reserved for root (the daemons run as root here: they would use them).
    sh('mkfs.ext4', ['-q', '-F', '-m', '0', this.dev]);
    mkdirSync(mount, { recursive: true });
    sh('mount', [this.dev, mount]);
    rmSync(join(mount, 'lost+found'), { recursive: true, force: true });
  }
  freeBytes(): number {
    const s = statfsSync(this.mount);
    return s.bavail * s.bsize;
  }
  /** Takes all the free space but `leaveBytes` (fallocate, less 4 MiB for the extent tree; then dd for the rest). */
  fill(leaveBytes = 0): number {
    const want = this.freeBytes() - leaveBytes - 4 * MiB;
    if (want > 0) sh('fallocate', ['-l', String(want), this.filler]);
    if (leaveBytes > 0) {
      const more = this.freeBytes() - leaveBytes;
      if (more > 0) execFileSync('dd', ['if=/dev/zero', `of=${this.filler}-tail`, 'bs=64k', `count=${Math.floor(more / 65536)}`], { stdio: 'ignore' });
    } else {
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${this.filler}-tail`, 'bs=4k'], { stdio: 'ignore' });
      } catch {
        /* ENOSPC: what we wanted */
      }
    }
    return this.freeBytes();
  }
  free(): number {
    rmSync(this.filler, { force: true });
    rmSync(`${this.filler}-tail`, { force: true });
    return this.freeBytes();
  }
  /** major:minor of the loop device, for blkio. */
  private majMin(): string {
    return readFileSync(`/sys/block/${this.dev.replace('/dev/', '')}/dev`, 'utf8').trim();
  }
  /** cgroup v1 blkio throttle of writes to this device (0 lifts it). Set on the root cgroup: every writer, the flusher included. */
  throttleWrites(iops: number, bps: number): void {
    writeFileSync('/sys/fs/cgroup/blkio/blkio.throttle.write_iops_device', `${this.majMin()} ${iops}`);
    writeFileSync('/sys/fs/cgroup/blkio/blkio.throttle.write_bps_device', `${this.majMin()} ${bps}`);
  }
  unthrottle(): void {
    for (const f of ['write_iops_device', 'write_bps_device']) {
      try {
        writeFileSync(`/sys/fs/cgroup/blkio/blkio.throttle.${f}`, `${this.majMin()} 0`);
      } catch {
        /* not set */
      }
    }
  }
  /** Unmounts (the daemons must be stopped), detaches, removes the image. */
  destroy(): void {
    this.unthrottle();
    for (let i = 0; i < 20; i++) {
      try {
        sh('umount', [this.mount]);
        break;
      } catch {
        execFileSync('sleep', ['0.5']);
      }
    }
    try {
      sh('losetup', ['-d', this.dev]);
    } catch {
      /* already detached */
    }
    rmSync(this.img, { force: true });
  }
}

// ---------- the python oslo.db loop ----------

/** test/openstack/ha_db_loop.py: one line per event on stdout, runs until its stdin is closed. */

/** Longest gap between consecutive successful operations within [from, to]. */
function longestGap(times: number[], from: number, to: number): { seconds: number; at: number } {
  const ts = [from, ...times.filter((t) => t > from && t < to), to];
  let best = { seconds: 0, at: from };
  for (let i = 1; i < ts.length; i++) if (ts[i]! - ts[i - 1]! > best.seconds) best = { seconds: ts[i]! - ts[i - 1]!, at: ts[i - 1]! };
  return { seconds: round(best.seconds), at: best.at };
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : NaN;
};

// ---------- status ----------

interface StatusNode {
  name: string;
  pid?: number;
  running: boolean;
  healthy: boolean;
  error?: string;
  state?: string;
  disk?: { mount: string; freeBytes: number; sizeBytes: number; full: boolean };
  details?: { galera?: { state: string; clusterStatus: string; clusterSize: number } };
}
interface Status {
  healthy: boolean;
  components: { component: string; summary: string; nodes: StatusNode[] }[];
  proxy?: { running: boolean; writer?: string; backends: { name: string; status: string; backup: boolean }[] };
}
async function status(stateDir: string): Promise<{ run: OsbRun; s: Status }> {
  const run = await osb(['status', '--json'], { stateDir });
  return { run, s: JSON.parse(run.stdout) as Status };
}
const nodeNamed = (s: Status, name: string) => s.components.flatMap((c) => c.nodes).find((n) => n.name === name)!;

/** Stops everything, unmounts the small filesystems, removes the state. Nothing may be left running or listening. */
async function teardown(stateDir: string, fss: (SmallFs | undefined)[], block: number, epmdPort?: number): Promise<void> {
  const stop = await osb(['destroy', '--keep-data'], { stateDir, timeoutMs: 120_000 });
  for (const fs of fss) fs?.destroy();
  await osb(['destroy'], { stateDir, timeoutMs: 120_000 });
  rmSync(stateDir, { recursive: true, force: true });
  expect(stop.code, why(stop)).toBe(0);
  expect(processesOf(stateDir, epmdPort)).toEqual([]);
  expect(listeningInBlock(block)).toEqual([]);
}

// =====================================================================================
// Galera
// =====================================================================================

describe('Galera: one node on a small filesystem (port block 44)', () => {
  const BLOCK = 44;
  const PORTS = blockPorts(BLOCK);
  const PROXY_PORT = PORTS.mariadb + 9;
  const stateDir = tempStateDir('fault-disk-galera');
  const VICTIM = 'mariadb-2';
  const dataDir = join(stateDir, 'mariadb', VICTIM, 'data');
  let fs: SmallFs | undefined;
  let eps: { mariadb: { username: string; password: string; nodes: { host: string; port: number }[] } };
  let novaConf: string;
  const measured: Record<string, unknown> = {};

  const adminConn = (i: number, connectTimeout = 2000) =>
    mysql.createConnection({
      host: eps.mariadb.nodes[i]!.host,
      port: eps.mariadb.nodes[i]!.port,
      user: eps.mariadb.username,
      password: eps.mariadb.password,
      connectTimeout,
    });
  const proxyConn = () =>
    mysql.createConnection({ host: '127.0.0.1', port: PROXY_PORT, user: eps.mariadb.username, password: eps.mariadb.password, connectTimeout: 3000 });

  async function globalStatus(i: number, names: string[]): Promise<Record<string, string> | undefined> {
    let c: mysql.Connection | undefined;
    try {
      c = await adminConn(i, 800);
      const [rows] = (await c.query({
        sql: `SHOW GLOBAL STATUS WHERE Variable_name IN (${names.map(() => '?').join(',')})`,
        values: names,
        timeout: 1500,
      })) as unknown as [{ Variable_name: string; Value: string }[]];
      return Object.fromEntries(rows.map((r) => [r.Variable_name, r.Value]));
    } catch {
      return undefined;
    } finally {
      c?.destroy();
    }
  }
  async function galeraState(i: number): Promise<string> {
    const v = await globalStatus(i, ['wsrep_local_state_comment', 'wsrep_cluster_status']);
    return v ? `${v.wsrep_local_state_comment}/${v.wsrep_cluster_status}` : 'unreachable';
  }
  function proxyView(): Promise<{ name: string; status: string }[]> {
    return new Promise((res, rej) => {
      const s = createConnection(join(stateDir, 'mariadb', 'proxy', 'haproxy.sock'));
      let out = '';
      s.setTimeout(1000, () => s.destroy(new Error('stats socket timeout')));
      s.on('connect', () => s.end('show stat\n'));
      s.on('data', (d) => (out += d.toString()));
      s.on('error', rej);
      s.on('end', () => {
        const [head, ...rows] = out.trim().split('\n');
        const h = head!.replace(/^# /, '').split(',');
        const col = (f: string[], name: string) => f[h.indexOf(name)]!;
        res(
          rows
            .map((r) => r.split(','))
            .filter((f) => col(f, 'pxname') === 'mariadb' && !['FRONTEND', 'BACKEND'].includes(col(f, 'svname')))
            .map((f) => ({ name: col(f, 'svname'), status: col(f, 'status') })),
        );
      });
    });
  }
  /** The victim's Galera state, whether its process lives, and the proxy's view of it, every ~200 ms. */
  function sampleVictim(pid: () => number | undefined) {
    const samples: { t: number; key: string }[] = [];
    let running = true;
    const done = (async () => {
      while (running) {
        const t = now();
        const p = pid();
        const alive = p !== undefined && existsSync(`/proc/${p}`);
        const galera = await galeraState(2);
        const proxy = (await proxyView().catch(() => [])).find((b) => b.name === VICTIM)?.status ?? '?';
        samples.push({ t, key: `${alive ? 'process up' : 'process gone'} | ${galera} | proxy ${proxy}` });
        await sleep(200);
      }
    })();
    return {
      samples,
      timeline(t0: number) {
        return samples
          .filter((s, k) => k === 0 || samples[k - 1]!.key !== s.key)
          .map((s) => `+${(s.t - t0).toFixed(1)}s ${s.key}`)
          .join('\n    ');
      },
      async stop() {
        running = false;
        await done;
      },
    };
  }
  async function missingOn(i: number, table: string, acked: number[]): Promise<number[]> {
    const c = await adminConn(i);
    try {
      await c.query('SET SESSION wsrep_sync_wait = 1');
      const [rows] = (await c.query(`SELECT id FROM nova.${table}`)) as unknown as [{ id: number }[]];
      const have = new Set(rows.map((r) => r.id));
      return acked.filter((id) => !have.has(id));
    } finally {
      await c.end();
    }
  }

  beforeAll(async () => {
    // The node's data path is a mount point before osb creates anything there: osb installs into it.
    fs = new SmallFs(dataDir, 320);
    const args = ['deploy', ...portBlock(BLOCK), ...['--set', 'rabbitmq.enabled=false', '--set', 'memcached.enabled=false', '--set', 'mariadb.replicas=3']];
    const r = await osb(args, { stateDir, timeoutMs: 400_000 });
    if (r.code !== 0) throw new Error(`osb deploy failed (${r.code}):${why(r)}`);
    eps = JSON.parse((await osb(['endpoints', '--json'], { stateDir })).stdout);
    const oslo = await osb(['endpoints', '--service', 'nova', '--format', 'oslo'], { stateDir });
    expect(oslo.code, oslo.stderr).toBe(0);
    novaConf = join(stateDir, 'nova-disk.conf');
    writeFileSync(novaConf, oslo.stdout);
    console.log(`mariadb-2's data filesystem: ${fs.dev} on ${dataDir}, ${Math.round(fs.freeBytes() / MiB)} MiB free after the deploy`);
  }, 420_000);

  afterAll(async () => {
    console.log(`Disk fault measurements (Galera):\n${JSON.stringify(measured, null, 2)}`);
    await teardown(stateDir, [fs], BLOCK);
  }, 240_000);

  it('full disk on mariadb-2: it leaves the cluster, the others keep committing, osb status names the full filesystem; after freeing space osb deploy brings it back Synced; 0 acknowledged commits lost', async () => {
    const before = (await status(stateDir)).s;
    expect(before.healthy, 'all healthy before the fault').toBe(true);
    expect(before.proxy?.writer).toBe('mariadb-0');
    expect(nodeNamed(before, VICTIM).disk, 'status reports the node data filesystem').toMatchObject({ mount: dataDir, full: false });
    let victimPid = nodeNamed(before, VICTIM).pid;

    const table = 'fault_disk_full';
    const loop = new PyLoop('ha_db_loop.py', [novaConf, table]);
    const sampler = sampleVictim(() => victimPid);
    const bulk = await proxyConn();
    try {
      const ready = await loop.ready(30);
      expect(ready[2]).toBe(`127.0.0.1:${PROXY_PORT}`);
      await bulk.query('CREATE TABLE IF NOT EXISTS nova.fault_disk_bulk (id INT AUTO_INCREMENT PRIMARY KEY, b LONGBLOB) ENGINE=InnoDB');

      // The fault: nothing left on mariadb-2's data filesystem.
      const fc0 = (await globalStatus(0, ['wsrep_flow_control_paused_ns']))!;
      const filledAt = now();
      const left = fs!.fill();
      console.log(`filled ${fs!.mount}: ${left} B free`);
      // Writes that need new space on every node (the oslo.db loop alone grows its table a page at a time):
      // 1 MiB rows through the proxy until mariadb-2 is out of the cluster, or 60 s.
      let bulkRows = 0;
      const bulkErrors: string[] = [];
      const gone = async () => {
        const st = await galeraState(2);
        return st === 'unreachable' || !st.startsWith('Synced') ? st : undefined;
      };
      let left2: string | undefined;
      const deadline = Date.now() + 60_000;
      while (!(left2 = await gone()) && Date.now() < deadline) {
        try {
          await bulk.query('INSERT INTO nova.fault_disk_bulk (b) VALUES (REPEAT(?, 1048576))', ['x']);
          bulkRows++;
        } catch (err) {
          bulkErrors.push((err as Error).message);
        }
        await sleep(100);
      }
      const leftAt = now();
      expect(left2, `mariadb-2 left Synced within 60 s of the fill (${bulkRows} bulk rows written)`).toBeDefined();
      expect(bulkErrors, 'bulk writes through the proxy (served by mariadb-0) did not fail').toEqual([]);

      // The others keep serving: the loop keeps committing.
      await waitFor('30 commits after mariadb-2 left', () => loop.okAfter(leftAt) >= 30, 15_000, 50);
      const fc1 = (await globalStatus(0, ['wsrep_flow_control_paused_ns']))!;
      // Settled: the proxy took it out.
      await waitFor('the proxy marks mariadb-2 DOWN', async () => (await proxyView()).find((b) => b.name === VICTIM)?.status.startsWith('DOWN'), 15_000);
      const settledAt = now();
      await sleep(3000);

      // What the operator sees.
      const { run: during, s: sDuring } = await status(stateDir);
      const text = await osb(['status'], { stateDir });
      const vDuring = nodeNamed(sDuring, VICTIM);
      console.log(`osb status while mariadb-2's disk is full (exit ${text.code}):\n${text.stdout}`);
      expect(during.code, 'status exits non-zero').not.toBe(0);
      expect(sDuring.healthy).toBe(false);
      expect(vDuring.healthy).toBe(false);
      expect(vDuring.disk).toMatchObject({ mount: dataDir, full: true });
      expect(vDuring.error, 'the status names the full filesystem').toContain(`its data filesystem ${dataDir} is full`);
      expect(text.stdout).toContain(`its data filesystem ${dataDir} is full`);
      for (const other of ['mariadb-0', 'mariadb-1'])
        expect(nodeNamed(sDuring, other), `${other} keeps serving`).toMatchObject({ healthy: true, state: 'Synced/Primary' });
      expect(sDuring.proxy?.writer).toBe('mariadb-0');
      measured.fullDisk = {
        victimAfterFill: left2,
        secondsFromFillToLeaving: round(leftAt - filledAt),
        bulkRowsUntilItLeft: bulkRows,
        writerFlowControlPausedSecondsUntilItLeft: round((Number(fc1.wsrep_flow_control_paused_ns) - Number(fc0.wsrep_flow_control_paused_ns)) / 1e9),
        victimProcessRunning: vDuring.running,
        statusError: vDuring.error,
      };

      // What each node logged from the fill on (the error log's timestamps are UTC here).
      const since = new Date((filledAt - 1) * 1000).toISOString().slice(0, 19).replace('T', ' ');
      for (const i of [2, 0]) {
        const log = readFileSync(join(stateDir, 'mariadb', `mariadb-${i}`, 'log', 'mariadb.err'), 'utf8')
          .split('\n')
          // MariaDB pads the hour with a space ("2026-11-28  0:01:48"): zero-pad it to compare.
          .map((l) => l.replace(/^(\d{4}-\d\d-\d\d) {1,2}(\d):/, '$1 0$2:'))
          .filter((l) => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/.test(l) && l.slice(0, 19) >= since);
        // Repeated lines once, with their count (InnoDB retries its preallocation many times).
        const squeezed: string[] = [];
        for (const l of log.filter((x) => !/Aborted connection/.test(x))) {
          const body = l.slice(20);
          const last = squeezed[squeezed.length - 1];
          if (last?.slice(20).replace(/ \(x\d+\)$/, '') === body)
            squeezed[squeezed.length - 1] = `${last.replace(/ \(x(\d+)\)$/, '')} (x${Number(/ \(x(\d+)\)$/.exec(last)?.[1] ?? 1) + 1})`;
          else squeezed.push(l);
        }
        console.log(`mariadb-${i}'s error log from the fill (${log.length} lines):\n  ${squeezed.slice(0, 80).join('\n  ')}`);
      }

      // Under systemd the node's unit would start it again at once; its start step refuses while the disk is full
      // (systemd then gives up after its start limit instead of stalling the writer on every attempt).
      const prep = await osb(['node', 'prepare', VICTIM], { stateDir });
      expect(prep.code, 'the unit start step refuses a full disk').not.toBe(0);
      expect(prep.stderr).toContain(`${VICTIM} must not start: its data filesystem ${dataDir} is full`);

      // The operator frees space and runs osb deploy (which starts what is down, or restarts it: docs/faults.md).
      const freedAt = now();
      const free = fs!.free();
      console.log(`freed: ${Math.round(free / MiB)} MiB free`);
      const d = await osb(['deploy'], { stateDir, timeoutMs: 300_000 });
      expect(d.code, why(d)).toBe(0);
      console.log(`osb deploy after freeing space:\n${d.stdout}${d.stderr.slice(-1500)}`);
      const synced = await waitFor(
        'mariadb-2 Synced and UP in the proxy',
        async () => ((await galeraState(2)) === 'Synced/Primary' && (await proxyView()).find((b) => b.name === VICTIM)?.status === 'UP' ? now() : undefined),
        120_000,
        300,
      );
      await sleep(1000);
      const done = await loop.stop();
      await sampler.stop();
      const after = (await status(stateDir)).s;
      victimPid = nodeNamed(after, VICTIM).pid;

      const acked = loop.events('A').map((l) => Number(l[1]));
      const errors = loop.events('E');
      const g = longestGap(loop.okTimes(), filledAt, now());
      const errLog = readFileSync(join(stateDir, 'mariadb', VICTIM, 'log', 'mariadb.err'), 'utf8');
      const sst = /SST succeeded|State transfer .* complete|WSREP_SST: \[INFO\] .*completed/.test(errLog.slice(errLog.lastIndexOf('Starting MariaDB')));
      const ist = /IST received|Receiving IST/.test(errLog.slice(errLog.lastIndexOf('Starting MariaDB')));
      Object.assign(measured.fullDisk as object, {
        longestGapBetweenCommitsSeconds: g.seconds,
        longestGapAtSecondsAfterFill: round(g.at - filledAt),
        beyondTheKillFailoverFigure: g.seconds >= FAILOVER_LIMIT_S,
        commits: acked.length,
        failedCommits: errors.length,
        firstFailures: errors.slice(0, 3).map((e) => e.slice(4).join(' ')),
        secondsFromLeavingToProxyDown: round(settledAt - leftAt),
        healSecondsFromFreeToSynced: round(synced - freedAt),
        rejoinedBy: ist ? 'IST' : sst ? 'SST' : 'unknown',
        victimLogLines: errLog
          .split('\n')
          .filter((l) => /No space left|errno: ?28|Disk full|is full|Inconsistency|leaving cluster|shutdown|Aborting/i.test(l))
          .slice(0, 12),
      });
      console.log(`mariadb-2: process | galera state | proxy, from the fill:\n    ${sampler.timeline(filledAt)}`);

      expect(done[1]).toBe(String(acked.length));
      expect(g.seconds, 'longest gap between commits through the proxy (s)').toBeLessThan(FULL_DISK_STALL_LIMIT_S);
      expect(errors, 'failed commits').toEqual([]);
      for (const i of [0, 1, 2]) expect(await missingOn(i, table, acked), `acked commits missing on mariadb-${i}`).toEqual([]);
      expect(after.healthy, JSON.stringify(after.components.map((c) => c.nodes.map((n) => [n.name, n.error])))).toBe(true);
      expect(nodeNamed(after, VICTIM)).toMatchObject({ healthy: true, state: 'Synced/Primary', disk: { full: false } });
    } finally {
      await sampler.stop();
      loop.kill();
      bulk.destroy();
      fs?.free();
    }
  });

  it('slow disk on mariadb-2 (a measurement): commit latency through the proxy, flow control, eviction', async () => {
    const before = (await status(stateDir)).s;
    expect(before.healthy, 'all healthy before the fault').toBe(true);
    const table = 'fault_disk_slow';
    const loop = new PyLoop('ha_db_loop.py', [novaConf, table]);
    const FC = ['wsrep_flow_control_paused_ns', 'wsrep_flow_control_sent', 'wsrep_flow_control_recv', 'wsrep_local_recv_queue_max', 'wsrep_cluster_size'];
    /** Commit latency: the loop sleeps 10 ms between commits, the rest of each step is the commit. */
    const latencies = (from: number, to: number) => {
      const ts = loop.okTimes().filter((t) => t >= from && t <= to);
      return ts.slice(1).map((t, k) => t - ts[k]! - 0.01);
    };
    const phase = (name: string, from: number, to: number, fc0: Record<string, string>, fc1: Record<string, string>, victim1: Record<string, string>) => {
      const l = latencies(from, to);
      return {
        phase: name,
        seconds: round(to - from),
        commits: l.length,
        commitsPerSecond: round(l.length / (to - from)),
        latencyP50ms: Math.round(quantile(l, 0.5) * 1000),
        latencyP99ms: Math.round(quantile(l, 0.99) * 1000),
        latencyMaxms: Math.round(Math.max(...l) * 1000),
        flowControlPausedSeconds: round((Number(fc1.wsrep_flow_control_paused_ns) - Number(fc0.wsrep_flow_control_paused_ns)) / 1e9),
        flowControlMessagesSentByMariadb2: Number(victim1.wsrep_flow_control_sent ?? 0),
        recvQueueMaxOnMariadb2: Number(victim1.wsrep_local_recv_queue_max ?? 0),
        clusterSize: Number(fc1.wsrep_cluster_size),
      };
    };
    const flushVictim = async () => {
      const c = await adminConn(2);
      await c.query('FLUSH STATUS').finally(() => c.end()); // resets wsrep_local_recv_queue_max and the fc counters on mariadb-2
    };
    const sampler = sampleVictim(() => nodeNamed(before, VICTIM).pid);
    try {
      await loop.ready(30);
      const PHASE_S = 15;
      // Baseline.
      await flushVictim();
      const t0 = now();
      const w0 = (await globalStatus(0, FC))!;
      await sleep(PHASE_S * 1000);
      const t1 = now();
      const w1 = (await globalStatus(0, FC))!;
      const baseline = phase('baseline', t0, t1, w0, w1, (await globalStatus(2, FC))!);

      // Throttled: 20 write operations/s and 1 MiB/s to mariadb-2's data filesystem.
      await flushVictim();
      fs!.throttleWrites(20, MiB);
      const t2 = now();
      const w2 = (await globalStatus(0, FC))!;
      await sleep(PHASE_S * 1000);
      const t3 = now();
      const w3 = (await globalStatus(0, FC))!;
      const v3 = (await globalStatus(2, FC)) ?? {};
      const slowStatus = (await status(stateDir)).s;
      fs!.unthrottle();
      const throttled = phase('mariadb-2 throttled to 20 write IOPS, 1 MiB/s', t2, t3, w2, w3, v3);

      // Lifted.
      await sleep(3000);
      const t4 = now();
      const w4 = (await globalStatus(0, FC))!;
      await sleep(PHASE_S * 1000);
      const t5 = now();
      const w5 = (await globalStatus(0, FC))!;
      const lifted = phase('throttle lifted', t4, t5, w4, w5, (await globalStatus(2, FC))!);
      const done = await loop.stop();
      await sampler.stop();

      const acked = loop.events('A').map((l) => Number(l[1]));
      const g = longestGap(loop.okTimes(), t2, t3);
      const evicted = sampler.samples.filter((s) => s.t >= t2 && s.t <= t3 + 3).some((s) => !s.key.includes('Synced/Primary'));
      measured.slowDisk = {
        phases: [baseline, throttled, lifted],
        longestGapWhileThrottledSeconds: g.seconds,
        mariadb2EvictedOrDesynced: evicted,
        statusWhileThrottled: nodeNamed(slowStatus, VICTIM).error ?? 'ok',
        failedCommits: loop.events('E').length,
      };
      console.log(
        `Slow disk on mariadb-2:\n${[baseline, throttled, lifted].map((p) => `  ${JSON.stringify(p)}`).join('\n')}\n` +
          `  longest gap between commits while throttled ${g.seconds}s; mariadb-2 evicted or desynced: ${evicted}\n` +
          `  mariadb-2 timeline from the throttle:\n    ${sampler.timeline(t2)}`,
      );

      expect(done[1]).toBe(String(acked.length));
      // The measurement ran: commits in every phase, and the slow disk showed (flow control, or slower commits).
      for (const p of [baseline, throttled, lifted]) expect(p.commits, `${p.phase}: commits`).toBeGreaterThan(0);
      expect(
        throttled.flowControlPausedSeconds > baseline.flowControlPausedSeconds || throttled.latencyP50ms > baseline.latencyP50ms,
        'the throttle showed as flow control or slower commits',
      ).toBe(true);
      for (const i of [0, 1, 2]) expect(await missingOn(i, table, acked), `acked commits missing on mariadb-${i}`).toEqual([]);
      const after = await waitFor('healthy again', async () => ((await status(stateDir)).s.healthy ? true : undefined), 60_000, 1000);
      expect(after).toBe(true);
    } finally {
      fs?.unthrottle();
      await sampler.stop();
      loop.kill();
    }
  });
});

// =====================================================================================
// RabbitMQ
// =====================================================================================

describe('RabbitMQ: a node whose data filesystem fills below disk_free_limit (port block 45)', () => {
  const BLOCK = 45;
  const PORTS = blockPorts(BLOCK);
  const stateDir = tempStateDir('fault-disk-rabbitmq');
  const mnesia = join(stateDir, 'rabbitmq', 'rabbitmq-0', 'mnesia');
  let fs: SmallFs | undefined;
  const measured: Record<string, unknown> = {};

  beforeAll(async () => {
    fs = new SmallFs(mnesia, 100);
    const r = await osb(
      ['deploy', ...portBlock(BLOCK), '--set', 'mariadb.enabled=false', '--set', 'memcached.enabled=false', '--set', 'openstack.provision=false'],
      { stateDir, timeoutMs: 300_000 },
    );
    if (r.code !== 0) throw new Error(`osb deploy failed (${r.code}):${why(r)}`);
  }, 320_000);

  afterAll(async () => {
    console.log(`Disk fault measurements (RabbitMQ):\n${JSON.stringify(measured, null, 2)}`);
    await teardown(stateDir, [fs], BLOCK, PORTS.epmd);
  }, 240_000);

  it('the disk alarm blocks a confirming publisher, osb status says so, and publishing resumes by itself after space is freed; 0 confirmed messages lost', async () => {
    const eps = JSON.parse((await osb(['endpoints', '--json'], { stateDir })).stdout) as {
      rabbitmq: { username: string; password: string; nodes: { host: string; port: number }[] };
    };
    const n = eps.rabbitmq.nodes[0]!;
    const url = `amqp://${encodeURIComponent(eps.rabbitmq.username)}:${encodeURIComponent(eps.rabbitmq.password)}@${n.host}:${n.port}/`;
    const conn = await amqp.connect(url);
    const events: { t: number; what: string }[] = [];
    conn.on('blocked', (reason: string) => events.push({ t: now(), what: `blocked: ${reason}` }));
    conn.on('unblocked', () => events.push({ t: now(), what: 'unblocked' }));
    const ch = await conn.createConfirmChannel();
    const q = 'fault-disk-quorum';
    await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum' } });

    // A publisher with confirms: one message at a time, each waits for its confirm (a blocked connection holds it).
    const confirmed: { id: number; t: number }[] = [];
    let publishing = true;
    let nextId = 1;
    const body = Buffer.alloc(4096, 'm');
    const publisher = (async () => {
      while (publishing) {
        const id = nextId++;
        await new Promise<void>((res, rej) => ch.sendToQueue(q, body, { persistent: true, messageId: String(id) }, (err) => (err ? rej(err) : res())));
        confirmed.push({ id, t: now() });
        await sleep(20);
      }
    })();
    publisher.catch(() => {}); // awaited below; a failure while blocked must not be an unhandled rejection
    try {
      await waitFor('50 confirmed', () => confirmed.length >= 50, 20_000, 50);
      const before = (await status(stateDir)).s;
      expect(before.healthy).toBe(true);

      // The fault: fill to 20 MB free, below RabbitMQ's disk_free_limit (50 MB, docs/faults.md).
      const filledAt = now();
      const free = fs!.fill(20 * 1000 * 1000);
      console.log(`filled ${mnesia}: ${Math.round(free / MiB)} MiB free`);
      const blocked = await waitFor('the connection blocked', () => events.find((e) => e.what.startsWith('blocked')), 60_000, 100);
      const stalledFrom = confirmed.length;
      await sleep(3000);
      expect(confirmed.length - stalledFrom, 'no confirms while blocked (at most one in flight)').toBeLessThanOrEqual(1);

      // The management API refreshes node stats every 5 s (collect_statistics_interval): status may lag the block by that much.
      const { run, s } = await waitFor(
        'osb status reports the alarm',
        async () => {
          const r = await status(stateDir);
          return nodeNamed(r.s, 'rabbitmq-0').healthy ? undefined : r;
        },
        15_000,
        500,
      );
      const statusLagSeconds = round(now() - blocked.t);
      const text = await osb(['status'], { stateDir });
      console.log(`osb status while the disk alarm is on (exit ${text.code}):\n${text.stdout}`);
      const node = nodeNamed(s, 'rabbitmq-0');
      expect(run.code).not.toBe(0);
      expect(node.healthy).toBe(false);
      expect(node.error).toMatch(/disk alarm: .* free, below disk_free_limit .*: publishers are blocked/);
      expect(text.stdout).toMatch(/ALARMS: disk alarm on rabbit/);
      expect(node.disk).toMatchObject({ mount: mnesia });

      // Freed: the alarm clears by itself, the connection unblocks, the publisher carries on.
      const freedAt = now();
      fs!.free();
      const unblocked = await waitFor('unblocked', () => events.find((e) => e.what === 'unblocked'), 60_000, 100);
      await waitFor('50 more confirmed', () => confirmed.length >= stalledFrom + 50, 30_000, 50);
      publishing = false;
      await publisher;
      const after = await waitFor('status healthy again', async () => ((await status(stateDir)).s.healthy ? true : undefined), 30_000, 1000);
      expect(after).toBe(true);

      // Every confirmed message is in the queue, once.
      const got: number[] = [];
      await ch.prefetch(500);
      await new Promise<void>((res) => {
        void ch.consume(q, (m) => {
          if (!m) return;
          got.push(Number(m.properties.messageId));
          ch.ack(m);
          if (got.length >= confirmed.length) res();
        });
        setTimeout(res, 20_000);
      });
      const have = new Set(got);
      const lost = confirmed.filter((c) => !have.has(c.id)).map((c) => c.id);
      measured.rabbitmq = {
        blockedSecondsAfterFill: round(blocked.t - filledAt),
        blockReason: blocked.what,
        statusShowedItSecondsAfterBlock: statusLagSeconds,
        unblockedSecondsAfterFree: round(unblocked.t - freedAt),
        confirmed: confirmed.length,
        consumed: got.length,
        lost: lost.length,
        statusError: node.error,
      };
      console.log(`RabbitMQ full disk: ${JSON.stringify(measured.rabbitmq)}`);
      expect(blocked.what).toMatch(/disk/i);
      expect(lost, 'confirmed messages missing').toEqual([]);
    } finally {
      publishing = false;
      fs?.free();
      await conn.close().catch(() => {});
    }
  });
});

// Keeps the mount helper honest: nothing of ours stays attached.
afterAll(() => {
  const leftover = readdirSync('/tmp').filter((f) => f.startsWith('osb-fault-') && f.endsWith('.img'));
  expect(leftover).toEqual([]);
});
