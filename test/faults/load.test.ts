/**
 * Issue 17, fault 7: a load spike (a busy loop on every core plus O_DIRECT+fsync disk writes, at the
 * daemons' own priority) while a 3-node Galera cluster forms and while it serves.
 * - formation: fresh 3-node deploys in a row under load (port block 46), destroyed in between: 0 failures;
 * - steady state (port block 47): an oslo.db client commits through the proxy for 60 s under load:
 *   0 view changes, every node sees 3 members throughout (no live node evicted);
 * - the writer killed with kill -9 under load: commits resume through the proxy within the documented
 *   failover time (docs/faults.md, "Failure detection under load").
 * Measured numbers are printed.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listeningInBlock, processesOf } from '../helpers/local.js';
import { cleanup, osb, portBlock, tempStateDir, type OsbRun } from '../helpers/osb.js';
import { Hogs } from './hogs.js';

const PY = '/usr/bin/python3';
const HELPERS = resolve(__dirname, '../openstack');
const MARIADB_ONLY = ['--set', 'mariadb.replicas=3', '--set', 'rabbitmq.enabled=false', '--set', 'memcached.enabled=false'];
/** Fresh formations in a row (OSB_LOAD_FORMATIONS; issue 17 asks for 20): ~29 s each idle, 60–67 s under this load (two mariabackup SSTs from one donor, each with a fixed 10 s sleep). */
const FORMATIONS = Number(process.env.OSB_LOAD_FORMATIONS ?? 1);
const STEADY_S = 60;
/**
 * docs/faults.md "Failure detection under load": kill -9 of the writer to the first commit through the proxy.
 * Typically 4.1–4.6 s (suspect_timeout 3 s); bounded by inactive_timeout (5 s) when a starved survivor suspects
 * late, plus the view install, the proxy and the client's reconnect (7.3 s seen once).
 */
const FAILOVER_LIMIT_S = 8;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => Date.now() / 1000;
const round = (s: number) => Math.round(s * 100) / 100;
const measured: Record<string, unknown> = {};

const NODES = ['mariadb-0', 'mariadb-1', 'mariadb-2'];
const errorLog = (stateDir: string, node: string) => join(stateDir, 'mariadb', node, 'log', 'mariadb.err');

/** The last lines of every node's error log: what to read when a cluster deploy fails. */
function logTails(stateDir: string, lines = 25): string {
  return NODES.map((n) => {
    const f = errorLog(stateDir, n);
    const text = existsSync(f) ? readFileSync(f, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') : '(no log)';
    return `--- ${n} ---\n${text}`;
  }).join('\n');
}

/** Galera view lines (`view(view_id(PRIM|NON_PRIM,...)`) written to a node's log after byte offset `from`. */
function viewsSince(stateDir: string, node: string, from: number): string[] {
  const text = readFileSync(errorLog(stateDir, node)).subarray(from).toString();
  return [...text.matchAll(/^(\S+\s+\S+) .*WSREP: view\(view_id\((\w+),/gm)].map((m) => `${m[1]} ${m[2]}`);
}

function readLog(stateDir: string, node: string): string {
  try {
    return readFileSync(errorLog(stateDir, node), 'utf8');
  } catch {
    return '';
  }
}

/** Pids of live processes with this exact argument in their command line. */
function pidsWithArg(needle: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const args = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (args.some((a) => a.endsWith(`=${needle}`) || a === needle) && args[0]!.endsWith('mariadbd')) out.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return out;
}

const why = (r: OsbRun) => (r.stderr.match(/osb: .*error.*/)?.[0] ?? '') + '\n' + r.stderr.slice(-2500) + r.stdout.slice(-600);

describe('fault 7: CPU hogs on every core plus heavy disk writes', () => {
  let hogs: Hogs | undefined;
  beforeAll(() => {
    // OSB_LOAD_CPU / OSB_LOAD_IO / OSB_LOAD_BUFFERED: a harsher spike, for measuring (docs/faults.md).
    const n = (v: string | undefined) => (v ? Number(v) : undefined);
    hogs = Hogs.start({ cpu: n(process.env.OSB_LOAD_CPU), io: n(process.env.OSB_LOAD_IO), buffered: n(process.env.OSB_LOAD_BUFFERED) });
  });
  afterAll(async () => {
    await hogs?.stop();
    console.log(`Load measurements (issue 17, fault 7):\n${JSON.stringify(measured, null, 2)}`);
  });

  it(
    `${FORMATIONS} fresh 3-node Galera deploys in a row under load: none fails`,
    async () => {
      const runs: { seconds: number; code: number; joinRetries: number }[] = [];
      const failures: string[] = [];
      for (let i = 0; i < FORMATIONS; i++) {
        const stateDir = tempStateDir('load-form');
        try {
          const t0 = Date.now();
          const r = await osb(['deploy', ...portBlock(46), ...MARIADB_ONLY], { stateDir, timeoutMs: 400_000 });
          const seconds = round((Date.now() - t0) / 1000);
          runs.push({ seconds, code: r.code, joinRetries: (r.stdout + r.stderr).match(/joining again/g)?.length ?? 0 });
          console.log(`formation ${i + 1}/${FORMATIONS}: exit ${r.code} in ${seconds}s`);
          if (r.code !== 0) {
            failures.push(`formation ${i + 1}: exit ${r.code}${why(r)}\n${logTails(stateDir)}`);
            continue;
          }
          const st = await osb(['status', '--json'], { stateDir });
          const s = JSON.parse(st.stdout) as { healthy: boolean; components: { nodes: { name: string; details?: { galera?: { clusterSize: number } } }[] }[] };
          const sizes = s.components.flatMap((c) => c.nodes.filter((n) => n.details?.galera).map((n) => n.details!.galera!.clusterSize));
          if (!s.healthy || sizes.join() !== '3,3,3') failures.push(`formation ${i + 1}: deployed but status says healthy=${s.healthy}, sizes ${sizes.join()}`);
        } finally {
          await cleanup(stateDir);
        }
      }
      const secs = runs.map((r) => r.seconds);
      measured.formations = {
        runs: runs.length,
        failed: runs.filter((r) => r.code !== 0).length,
        joinRetries: runs.reduce((a, r) => a + r.joinRetries, 0),
        secondsMin: Math.min(...secs),
        secondsMedian: [...secs].sort((a, b) => a - b)[Math.floor(secs.length / 2)],
        secondsMax: Math.max(...secs),
      };
      console.log(`formations under load: ${JSON.stringify(measured.formations)}`);
      expect(failures.join('\n\n')).toBe('');
      expect(listeningInBlock(46)).toEqual([]);
    },
    60_000 + FORMATIONS * 420_000,
  );

  it('a formation whose two joiners die (kill -9) during their state transfer still succeeds, all three Primary', async () => {
    const stateDir = tempStateDir('load-kill-joiners');
    try {
      const t0 = Date.now();
      const deploying = osb(['deploy', ...portBlock(46), ...MARIADB_ONLY, '-v'], { stateDir, timeoutMs: 400_000 });
      // Both joiners are members (mariadb-0 sees 3) and one of them receives its SST.
      await waitFor(
        'a 3-member view on mariadb-0 and a state transfer under way',
        () =>
          /view\(view_id\(PRIM,[^)]*\) memb \{(\s+\S+,\S*)\s+(\S+,\S*)\s+(\S+,\S*)\s+\}/.test(readLog(stateDir, 'mariadb-0')) &&
          [1, 2].some((i) => readLog(stateDir, `mariadb-${i}`).includes('SST started on joiner')),
        200_000,
      );
      const joiners = [1, 2].flatMap((i) => pidsWithArg(join(stateDir, 'mariadb', `mariadb-${i}`, 'my.cnf')));
      expect(joiners.length, 'two joiner processes').toBe(2);
      for (const pid of joiners) process.kill(pid, 'SIGKILL');
      const killedAfter = round((Date.now() - t0) / 1000);
      const r = await deploying;
      const out = r.stdout + r.stderr;
      measured.joinersKilled = {
        killedAfterSeconds: killedAfter,
        deploySeconds: round((Date.now() - t0) / 1000),
        code: r.code,
        rebootstrapped: /Primary again/.test(out),
        joinRetries: out.match(/joining again/g)?.length ?? 0,
      };
      console.log(`joiners killed during formation: ${JSON.stringify(measured.joinersKilled)}`);
      expect(r.code, `${why(r)}\n${logTails(stateDir)}`).toBe(0);
      // How it recovered depends on timing (measured above): when mariadb-0 lost its Primary component it was
      // bootstrapped again, and said so; otherwise the joiners simply joined again.
      if (/non-Primary for \d+s after a joiner left/.test(out)) expect(out).toMatch(/mariadb-0: Primary again \(bootstrapped at [0-9a-f-]+:\d+\)/);
      const st = await osb(['status', '--json'], { stateDir });
      expect(st.code, st.stdout).toBe(0);
      const s = JSON.parse(st.stdout) as { components: { nodes: { details?: { galera?: { clusterSize: number; clusterStatus: string } } }[] }[] };
      const g = s.components.flatMap((c) =>
        c.nodes.filter((n) => n.details?.galera).map((n) => `${n.details!.galera!.clusterStatus}/${n.details!.galera!.clusterSize}`),
      );
      expect(g).toEqual(['Primary/3', 'Primary/3', 'Primary/3']);
    } finally {
      await cleanup(stateDir);
    }
    expect(listeningInBlock(46)).toEqual([]);
  }, 500_000);

  describe('a serving cluster (port block 47)', () => {
    const stateDir = tempStateDir('load-serve');
    let novaConf: string;
    let eps: { mariadb: { username: string; password: string; nodes: { host: string; port: number }[] } };
    let loop: PyLoop | undefined;

    beforeAll(async () => {
      const r = await osb(['deploy', ...portBlock(47), ...MARIADB_ONLY], { stateDir, timeoutMs: 400_000 });
      if (r.code !== 0) throw new Error(`osb deploy failed (${r.code}):${why(r)}\n${logTails(stateDir)}`);
      eps = JSON.parse((await osb(['endpoints', '--json'], { stateDir })).stdout);
      const oslo = await osb(['endpoints', '--service', 'nova', '--format', 'oslo'], { stateDir });
      expect(oslo.code, oslo.stderr).toBe(0);
      novaConf = join(stateDir, 'nova-load.conf');
      writeFileSync(novaConf, oslo.stdout);
    }, 420_000);

    afterAll(async () => {
      loop?.kill();
      await cleanup(stateDir);
      expect(processesOf(stateDir)).toEqual([]);
      expect(listeningInBlock(47)).toEqual([]);
    }, 180_000);

    it(`${STEADY_S} s of oslo.db commits through the proxy under load: no live node is evicted (0 view changes, 3 members in every sample)`, async () => {
      loop = new PyLoop('ha_db_loop.py', [novaConf, 'load_steady']);
      await loop.ready(10);
      const offsets = NODES.map((n) => statSync(errorLog(stateDir, n)).size);
      const t0 = now();
      const samples = await sampleViews(eps, STEADY_S * 1000);
      const views = NODES.map((n, i) => viewsSince(stateDir, n, offsets[i]!));
      const confIds = NODES.map((_, i) => [...new Set(samples.map((s) => s.nodes[i]!.confId).filter((c) => c >= 0))]);
      const smallest = Math.min(...samples.flatMap((s) => s.nodes.map((n) => n.size)));
      const unanswered = samples.flatMap((s) => s.nodes.filter((n) => n.size < 0)).length;
      const g = gaps(loop.okTimes().filter((t) => t >= t0));
      measured.steady = {
        seconds: STEADY_S,
        samples: samples.length,
        commits: loop.okTimes().filter((t) => t >= t0).length,
        failedCommits: loop.events('E').length,
        longestGapSeconds: g,
        viewChangesInLogs: views.map((v) => v.length),
        confIdsSeen: confIds,
        smallestClusterSize: smallest,
        unansweredSamples: unanswered,
      };
      console.log(`steady state under load: ${JSON.stringify(measured.steady)}${views.flat().length ? `\n${views.flat().join('\n')}` : ''}`);
      await loop.stop();
      loop = undefined;
      expect(views.flat(), 'Galera view changes during the steady state').toEqual([]);
      expect(
        confIds.map((c) => c.length),
        'one configuration id per node throughout',
      ).toEqual([1, 1, 1]);
      expect(smallest, 'cluster size seen by any node').toBe(3);
      expect(measured.steady).toMatchObject({ failedCommits: 0 });
    }, 200_000);

    it(`kill -9 of the writer under load: commits resume through the proxy within ${FAILOVER_LIMIT_S} s, the survivors stay Primary`, async () => {
      const st = JSON.parse((await osb(['status', '--json'], { stateDir })).stdout) as {
        components: { nodes: { name: string; pid?: number }[] }[];
        proxy?: { writer?: string };
      };
      const writer = st.proxy!.writer!;
      const pid = st.components.flatMap((c) => c.nodes).find((n) => n.name === writer)!.pid!;
      loop = new PyLoop('ha_db_loop.py', [novaConf, 'load_failover']);
      await loop.ready(10);
      const offsets = NODES.map((n) => statSync(errorLog(stateDir, n)).size);
      const killedAt = now();
      process.kill(pid, 'SIGKILL');
      await waitFor('10 commits after the kill', () => loop!.okAfter(killedAt) >= 10, 60_000);
      // A commit in flight at the kill may still return just after it: the outage is the longest gap
      // between consecutive commits from the last one before the kill to the 10th after it.
      const times = loop.okTimes();
      const firstAfter = times.findIndex((t) => t > killedAt);
      const failover = gaps(times.slice(Math.max(0, firstAfter - 1), firstAfter + 10));
      await loop.stop();
      // What the client saw meanwhile: each failed commit, relative to the kill (the cause of a long gap).
      const failures = loop.events('E').map((e) => `+${(Number(e[2]) - killedAt).toFixed(2)}s after ${e[3]}s: ${e.slice(4).join(' ').slice(0, 160)}`);
      loop = undefined;
      const survivors = NODES.filter((n) => n !== writer);
      const views = survivors.map((n) => viewsSince(stateDir, n, offsets[NODES.indexOf(n)]!));
      measured.failover = { victim: writer, longestGapAroundKillSeconds: failover, survivorViews: views };
      console.log(
        `kill -9 ${writer} under load: no commit through the proxy for ${failover}s; survivors' views: ${JSON.stringify(views)}\n` +
          `  failed commits: ${failures.length ? `\n    ${failures.join('\n    ')}` : 'none'}`,
      );
      expect(failover).toBeLessThan(FAILOVER_LIMIT_S);
      // The survivors moved to a 2-node Primary view (no NON_PRIM on the way: the live pair was not split).
      for (const v of views) {
        expect(v.length, 'at least one new view').toBeGreaterThan(0);
        expect(v.filter((x) => x.endsWith('NON_PRIM'))).toEqual([]);
      }
    }, 200_000);
  });
});

interface ViewSample {
  t: number;
  nodes: { confId: number; size: number; status: string }[];
}

/** Every node's `wsrep_cluster_conf_id` (bumped by each view change), size and status, twice a second. */
async function sampleViews(
  eps: { mariadb: { username: string; password: string; nodes: { host: string; port: number }[] } },
  ms: number,
): Promise<ViewSample[]> {
  const conns = await Promise.all(
    eps.mariadb.nodes.map((n) =>
      mysql.createConnection({ host: n.host, port: n.port, user: eps.mariadb.username, password: eps.mariadb.password, connectTimeout: 5000 }),
    ),
  );
  const out: ViewSample[] = [];
  try {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const t = now();
      const nodes = await Promise.all(
        conns.map(async (c) => {
          try {
            const [rows] = (await c.query({
              sql: "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_cluster_conf_id','wsrep_cluster_size','wsrep_cluster_status')",
              timeout: 5000,
            })) as unknown as [{ Variable_name: string; Value: string }[]];
            const v = Object.fromEntries(rows.map((r) => [r.Variable_name, r.Value]));
            return { confId: Number(v.wsrep_cluster_conf_id), size: Number(v.wsrep_cluster_size), status: v.wsrep_cluster_status ?? '?' };
          } catch {
            return { confId: -1, size: -1, status: 'unanswered' };
          }
        }),
      );
      out.push({ t, nodes });
      await sleep(500);
    }
  } finally {
    for (const c of conns) c.destroy();
  }
  return out;
}

function gaps(times: number[]): number {
  let max = 0;
  for (let i = 1; i < times.length; i++) max = Math.max(max, times[i]! - times[i - 1]!);
  return round(max);
}

async function waitFor(what: string, fn: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** test/openstack/ha_db_loop.py: oslo.db's enginefacade committing in a loop, configured from osb's oslo ini. */
class PyLoop {
  readonly lines: string[][] = [];
  stderr = '';
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly exited: Promise<number>;
  constructor(script: string, args: string[]) {
    this.proc = spawn(PY, [join(HELPERS, script), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stderr.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-100_000)));
    createInterface({ input: this.proc.stdout }).on('line', (l) => this.lines.push(l.split(' ')));
    this.exited = new Promise((r) => this.proc.on('close', (code) => r(code ?? -1)));
  }
  events(kind: string): string[][] {
    return this.lines.filter((l) => l[0] === kind);
  }
  okTimes(): number[] {
    return this.events('A').map((l) => Number(l[2]));
  }
  okAfter(t: number): number {
    return this.okTimes().filter((x) => x > t).length;
  }
  async ready(n: number): Promise<void> {
    await waitFor(`${n} commits (stderr: ${this.stderr.slice(-500)})`, () => this.okTimes().length >= n, 60_000);
  }
  async stop(): Promise<void> {
    this.proc.stdin.end();
    const code = await Promise.race([this.exited, sleep(60_000).then(() => 'timeout' as const)]);
    if (code === 'timeout') {
      this.proc.kill('SIGKILL');
      throw new Error(`ha_db_loop.py did not stop: ${this.stderr.slice(-1500)}`);
    }
    expect(code, this.stderr.slice(-2000)).toBe(0);
  }
  kill(): void {
    this.proc.kill('SIGKILL');
  }
}
