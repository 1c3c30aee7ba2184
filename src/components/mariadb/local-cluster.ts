import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import type { LocalDeployContext } from '../../model/component.js';
import type { LocalInstance, LocalRuntime, NodePlan, NodeResult } from '../../model/local.js';
import { OsbError } from '../../util/errors.js';
import { runningPid } from '../../util/process.js';
import { runQuiet } from '../../util/exec.js';
import { sleep } from '../../util/net.js';
import { decideGaleraStart, type GaleraNodeView } from './bootstrap.js';
import { withMariadb } from './client.js';
import { markBootstrap, parseRecoveredPosition, readGrastate } from './grastate.js';
import { MARIADB_BINARIES, mariadbPaths } from './local.js';

/** How often a joiner that exits during its join (a transient partition) is started again. */
const JOIN_ATTEMPTS = 4;
/** How long the bootstrap node may stay non-Primary during a join before osb makes it Primary again. */
const NON_PRIMARY_GRACE_MS = 6000;

interface Wsrep {
  state: string;
  clusterStatus: string;
  clusterSize: number;
}

/** This node's Galera view over its unix socket (socket auth, no password needed). */
export async function wsrepOf(inst: LocalInstance): Promise<Wsrep | undefined> {
  try {
    return await withMariadb(
      { host: inst.host, port: inst.port, user: userInfo().username, socketPath: mariadbPaths(inst.dir).socket },
      async (c) => {
        const [rows] = (await c.query(
          "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_state_comment','wsrep_cluster_status','wsrep_cluster_size')",
        )) as unknown as [{ Variable_name: string; Value: string }[]];
        const v = Object.fromEntries(rows.map((r) => [r.Variable_name, r.Value]));
        return { state: v.wsrep_local_state_comment ?? '?', clusterStatus: v.wsrep_cluster_status ?? '?', clusterSize: Number(v.wsrep_cluster_size ?? 0) };
      },
      1500,
    );
  } catch {
    return undefined;
  }
}

/** Waits until the node is Synced in a Primary component. */
export async function waitSynced(
  inst: LocalInstance,
  runtime: Pick<LocalRuntime, 'runningPid'>,
  report: (m: string) => void,
  timeoutMs = 300_000,
): Promise<void> {
  const t0 = Date.now();
  let last: Wsrep | undefined;
  let lastNote = 0;
  while (Date.now() - t0 < timeoutMs) {
    last = await wsrepOf(inst);
    if (last?.state === 'Synced' && last.clusterStatus === 'Primary') return;
    if (!runtime.runningPid(inst))
      throw new OsbError(`${inst.name} stopped while joining the Galera cluster`, `see \`osb logs mariadb --node ${inst.ordinal}\``);
    if (Date.now() - t0 - lastNote > 3000) {
      lastNote = Date.now() - t0;
      report(`${inst.name}: ${last ? `${last.state}/${last.clusterStatus}` : 'joining (state transfer)'} ${Math.round(lastNote / 1000)}s`);
    }
    await sleep(200);
  }
  throw new OsbError(
    `${inst.name} did not reach Synced/Primary within ${timeoutMs / 1000}s (last: ${last ? `${last.state}/${last.clusterStatus}` : 'no answer'})`,
    `see \`osb logs mariadb --node ${inst.ordinal}\``,
  );
}

/** Wsrep states of a node that holds (or is taking) a complete copy of the data. */
const HOLDS_STATE = new Set(['Synced', 'Donor/Desynced', 'Joined']);

/**
 * The node this deploy bootstrapped may lose its Primary component while the others join: with two
 * members (itself and the first joiner) a joiner that dies — its SST aborted when a load spike delayed
 * keepalives past evs.suspect_timeout — leaves a 1–1 split with no majority, so the bootstrap node stays
 * non-Primary for good and every later joiner fails with "failed to reach primary view".
 * While the joins run, this watches the bootstrap node. When it has been non-Primary for
 * NON_PRIMARY_GRACE_MS (a split between live nodes heals by itself sooner) and no other node runs with
 * a copy of the data (the others are dead, or joiners still waiting for their state transfer), nothing
 * else can hold a Primary component or newer writes: the node is restarted as the bootstrap node of the
 * cluster, at its own position (as after all nodes were down). `pc.bootstrap=YES` would be lighter, but a
 * node that was donating when its joiner died stays Donor/Desynced after it and can donate no more
 * ("No donor candidates temporarily available"): measured with galera-4 26.4.23.
 */
export function watchBootstrapPrimary(
  first: LocalInstance,
  all: LocalInstance[],
  runtime: Pick<LocalRuntime, 'runningPid' | 'start' | 'stop'>,
  report: (m: string) => void,
  restarted: (pid: number) => void,
): { stop(): Promise<void> } {
  let running = true;
  let nonPrimarySince: number | undefined;
  const check = async () => {
    if (!runtime.runningPid(first)) return (nonPrimarySince = undefined);
    const ws = await wsrepOf(first);
    if (!ws || ws.clusterStatus === 'Primary') return (nonPrimarySince = undefined);
    nonPrimarySince ??= Date.now();
    if (Date.now() - nonPrimarySince < NON_PRIMARY_GRACE_MS) return;
    const others = all.filter((i) => i.name !== first.name && runtime.runningPid(i));
    const views = await Promise.all(others.map((i) => wsrepOf(i)));
    if (views.some((v) => v?.clusterStatus === 'Primary' || HOLDS_STATE.has(v?.state ?? ''))) return;
    report(
      `${first.name}: non-Primary for ${NON_PRIMARY_GRACE_MS / 1000}s after a joiner left, and no other node holds data: restarting it as the bootstrap node`,
    );
    await runtime.stop(first);
    const grastate = join(mariadbPaths(first.dir).dataDir, 'grastate.dat');
    const gra = readGrastate(grastate);
    let pos = gra?.uuid && gra.seqno !== undefined && gra.seqno >= 0 ? { uuid: gra.uuid, seqno: gra.seqno } : undefined;
    pos ??= await recoverPosition(first);
    if (pos) markBootstrap(grastate, pos.uuid, pos.seqno);
    restarted(await runtime.start(first, { onProgress: report, extraArgs: ['--wsrep-new-cluster'] }));
    await waitSynced(first, runtime, report, 120_000);
    nonPrimarySince = undefined;
    report(`${first.name}: Primary again (bootstrapped at ${pos ? `${pos.uuid}:${pos.seqno}` : 'its data'}); the joiners join again`);
  };
  const done = (async () => {
    while (running) {
      await sleep(1000);
      if (running) await check().catch((err: Error) => report(`${first.name}: could not restore the Primary component: ${err.message.split('\n')[0]}`));
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
    },
  };
}

/** Parent pid and command line of every process, from /proc. */
function processTable(): { pid: number; ppid: number; cmd: string }[] {
  const out: { pid: number; ppid: number; cmd: string }[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      out.push({ pid: Number(e), ppid, cmd: readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0/g, ' ') });
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/**
 * A joiner that died during its state transfer leaves its SST script behind (wsrep_sst_mariabackup with
 * socat listening on the SST port and mbstream, under `timeout 300`): the next start of that node waits
 * for it ("Previous SST is not completed") for up to 5 minutes. Before a node starts again, the SST
 * processes of its data dir whose mariadbd is gone are ended. Returns how many processes were ended.
 */
export function stopOrphanedSst(inst: Pick<LocalInstance, 'dir'>): number {
  const dataDir = `${mariadbPaths(inst.dir).dataDir}/`;
  const procs = processTable();
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const isServer = (p: { cmd: string } | undefined) => /mariadbd|mysqld/.test(p?.cmd.split(' ')[0] ?? '');
  const roots = procs.filter((p) => p.cmd.includes('wsrep_sst_') && p.cmd.includes(dataDir) && !isServer(p) && !byPid.get(p.ppid)?.cmd.includes('wsrep_sst_'));
  const orphaned = roots.filter((r) => !isServer(byPid.get(r.ppid)));
  const doomed = new Set<number>();
  const add = (pid: number) => {
    doomed.add(pid);
    for (const c of procs) if (c.ppid === pid && !doomed.has(c.pid)) add(c.pid);
  };
  for (const r of orphaned) add(r.pid);
  for (const pid of doomed) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  return doomed.size;
}

/** The last lines of every node's error log, for an error about the whole cluster. */
export function errorLogTails(insts: LocalInstance[], lines = 12, skip = ''): string {
  return insts
    .filter((i) => !skip.includes(i.logFile))
    .map((i) => {
      let text: string[] = [];
      try {
        text = readFileSync(i.logFile, 'utf8').trimEnd().split('\n').slice(-lines);
      } catch {
        text = ['(no log yet)'];
      }
      return `\n  last log lines of ${i.name} (${i.logFile}):\n    ${text.join('\n    ')}`;
    })
    .join('');
}

/** `mariadbd --wsrep-recover`: the last committed position in InnoDB, for a node whose grastate says -1. */
export async function recoverPosition(inst: LocalInstance): Promise<{ uuid: string; seqno: number } | undefined> {
  const log = join(mariadbPaths(inst.dir).logDir, 'wsrep-recover.log');
  rmSync(log, { force: true });
  try {
    await runQuiet(MARIADB_BINARIES.server, [`--defaults-file=${mariadbPaths(inst.dir).myCnf}`, '--wsrep-recover', `--log-error=${log}`], {
      timeoutMs: 120_000,
    });
  } catch {
    /* the log says what happened; no position is the answer */
  }
  try {
    return parseRecoveredPosition(readFileSync(log, 'utf8'));
  } catch {
    return undefined;
  }
}

/** What is known of every node before anything starts; runs --wsrep-recover where it is needed. */
export async function galeraViews(insts: LocalInstance[], runtime: Pick<LocalRuntime, 'runningPid'>): Promise<GaleraNodeView[]> {
  const views = await Promise.all(
    insts.map(async (inst): Promise<GaleraNodeView> => {
      const running = !!runtime.runningPid(inst);
      const ws = running ? await wsrepOf(inst) : undefined;
      const gra = readGrastate(join(mariadbPaths(inst.dir).dataDir, 'grastate.dat'));
      return {
        name: inst.name,
        running,
        primary: ws?.clusterStatus === 'Primary',
        hasData: inst.isInitialized() || !!gra,
        uuid: gra?.uuid,
        seqno: gra?.seqno,
        safeToBootstrap: gra?.safeToBootstrap,
      };
    }),
  );
  await Promise.all(
    views.map(async (v, i) => {
      if (!v.running && v.hasData && (v.seqno === undefined || v.seqno < 0)) {
        const pos = await recoverPosition(insts[i]!);
        if (pos) Object.assign(v, { uuid: v.uuid ?? pos.uuid, seqno: pos.seqno });
      }
    }),
  );
  return views;
}

/**
 * Forms, heals or recovers the Galera cluster, then restarts changed nodes one at a time. When that
 * fails, the error carries the tail of every node's error log: the cause of a failed join is often on
 * the donor or the bootstrap node, not on the node that exited.
 */
export async function deployGalera(plans: NodePlan[], ctx: LocalDeployContext): Promise<NodeResult[]> {
  try {
    return await formOrHeal(plans, ctx);
  } catch (err) {
    const e = err instanceof OsbError ? err : new OsbError((err as Error).message, 'see `osb logs mariadb`');
    // A refusal (exit 4) is a decision about data, explained in its own words.
    if (e.exitCode === 4) throw e;
    throw new OsbError(
      `${e.message}${errorLogTails(
        plans.map((p) => p.inst),
        12,
        e.message,
      )}`,
      e.fix,
      e.exitCode,
    );
  }
}

async function formOrHeal(plans: NodePlan[], ctx: LocalDeployContext): Promise<NodeResult[]> {
  const { runtime, report } = ctx;
  const insts = plans.map((p) => p.inst);
  const views = await galeraViews(insts, runtime);
  const decision = decideGaleraStart(views, { forceBootstrap: ctx.forceBootstrap });
  const byName = new Map(plans.map((p) => [p.inst.name, p]));
  const results = new Map<string, NodeResult>();
  const done = (p: NodePlan, pid: number, action = p.action, reason = p.reason) => {
    runtime.record(p);
    results.set(p.inst.name, { name: p.inst.name, address: `${p.inst.host}:${p.inst.port}`, action, reason, pid });
  };
  const start = async (p: NodePlan, extraArgs: string[] = []) => {
    // A joiner may be dropped by a transient non-Primary view (a loaded host delays keepalives past
    // evs.suspect_timeout while the cluster forms); its donor then aborts the SST and the joiner exits.
    // While it runs (state transfer included) it is waited for; once it exited (or a supervisor
    // restarted it) it joins again — watchBootstrapPrimary gives the bootstrap node its Primary
    // component back meanwhile if the joiner's exit took it away. The bootstrap node is never retried.
    const attempts = extraArgs.includes('--wsrep-new-cluster') ? 1 : JOIN_ATTEMPTS;
    for (let attempt = 1; ; attempt++) {
      try {
        if (!runtime.runningPid(p.inst)) {
          const ended = stopOrphanedSst(p.inst);
          if (ended) report(`${p.inst.name}: ended ${ended} process(es) of a state transfer left by its previous run`);
        }
        const pid = await runtime.start(p.inst, { onProgress: report, extraArgs });
        await waitSynced(p.inst, runtime, report);
        return pid;
      } catch (err) {
        const msg = (err as Error).message;
        // Alive but never Synced within waitSynced's limit: another try would not help.
        if (attempt >= attempts || (runtime.runningPid(p.inst) && /did not reach Synced/.test(msg))) throw err;
        report(`${p.inst.name}: left the cluster while joining (${msg.split('\n')[0]}); joining again (${attempt + 1}/${attempts})`);
        await sleep(2000);
      }
    }
  };
  /** Joins nodes while the bootstrap node is watched (see watchBootstrapPrimary). */
  const joinWatched = async (first: NodePlan, join: () => Promise<void>) => {
    const watch = watchBootstrapPrimary(first.inst, insts, runtime, report, (pid) => done(first, pid));
    try {
      await join();
    } finally {
      await watch.stop();
    }
  };
  /** A known position lets the node ask its donor for IST (the missing writesets) instead of SST. */
  const startPosition = (name: string): string[] => {
    const v = views.find((x) => x.name === name)!;
    return v.uuid && v.seqno !== undefined && v.seqno >= 0 ? [`--wsrep-start-position=${v.uuid}:${v.seqno}`] : [];
  };

  switch (decision.kind) {
    case 'refuse':
      throw new OsbError(`Galera: refusing to start: ${decision.reason}`, undefined, 4);
    case 'form': {
      report(`forming a new cluster from ${decision.bootstrap}`);
      const first = byName.get(decision.bootstrap)!;
      done(first, await start(first, ['--wsrep-new-cluster']));
      await joinWatched(first, async () => {
        await Promise.all(decision.then.map(async (n) => done(byName.get(n)!, await start(byName.get(n)!))));
      });
      break;
    }
    case 'recover': {
      report(`recovering: ${decision.reason}; bootstrapping ${decision.bootstrap}`);
      const first = byName.get(decision.bootstrap)!;
      if (decision.seqno >= 0 && decision.uuid) markBootstrap(join(mariadbPaths(first.inst.dir).dataDir, 'grastate.dat'), decision.uuid, decision.seqno);
      done(first, await start(first, ['--wsrep-new-cluster']), 'recovered', `bootstrapped the cluster at seqno ${decision.seqno}`);
      await joinWatched(first, async () => {
        for (const n of decision.then) {
          const p = byName.get(n)!;
          done(p, await start(p, startPosition(n)), 'recovered', 'rejoined');
        }
      });
      break;
    }
    case 'join': {
      report(`${decision.reason}; starting ${decision.start.join(', ')}`);
      await Promise.all(decision.start.map(async (n) => done(byName.get(n)!, await start(byName.get(n)!, startPosition(n)))));
      break;
    }
    case 'healthy':
      break;
  }

  // Running nodes whose config changed: one at a time, so the cluster keeps a Primary majority.
  for (const p of plans) {
    if (results.has(p.inst.name)) continue;
    if (p.action === 'restarted' && p.pid) {
      report(`${p.inst.name}: rolling restart (config changed)`);
      await runtime.stop(p.inst);
      done(p, await start(p));
    } else {
      results.set(p.inst.name, { name: p.inst.name, address: `${p.inst.host}:${p.inst.port}`, action: 'unchanged', pid: runtime.runningPid(p.inst) ?? 0 });
    }
  }
  return plans.map((p) => results.get(p.inst.name)!);
}

/** A stopped node's last committed position, published in its own dir for its peers (unattended starts). */
interface PublishedPosition {
  hasData: boolean;
  uuid?: string;
  seqno?: number;
  safeToBootstrap?: boolean;
  /** ms since the epoch: valid only when newer than the node's pid file (i.e. than its last start). */
  at: number;
}

const POSITION_FILE = 'galera-position.json';
const positionFile = (inst: LocalInstance) => join(inst.dir, POSITION_FILE);

function readPublished(inst: LocalInstance): PublishedPosition | undefined {
  try {
    const pos = JSON.parse(readFileSync(positionFile(inst), 'utf8')) as PublishedPosition;
    // A position older than the node's last start describes an earlier life: not to be trusted.
    const started = existsSync(mariadbPaths(inst.dir).pidFile) ? statSync(mariadbPaths(inst.dir).pidFile).mtimeMs : 0;
    return pos.at > started ? pos : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What a Galera node needs on its command line when the supervisor starts it by itself (after a crash
 * or a reboot): the same `decideGaleraStart` `osb deploy` uses, over every node's published position.
 * Joins at its recovered position when a Primary component exists; bootstraps when all are down and it
 * is the most advanced; waits while that node starts; refuses (throws) when it must not start.
 */
export async function prepareGaleraStart(inst: LocalInstance, peers: LocalInstance[], report: (m: string) => void, timeoutMs = 300_000): Promise<string[]> {
  const paths = mariadbPaths(inst.dir);
  const gra = readGrastate(join(paths.dataDir, 'grastate.dat'));
  const hasData = inst.isInitialized() || !!gra;
  let mine: PublishedPosition = { hasData, uuid: gra?.uuid, seqno: gra?.seqno, safeToBootstrap: gra?.safeToBootstrap, at: Date.now() };
  if (hasData && (mine.seqno === undefined || mine.seqno < 0)) {
    const pos = await recoverPosition(inst);
    if (pos) mine = { ...mine, uuid: mine.uuid ?? pos.uuid, seqno: pos.seqno };
  }
  writeFileSync(positionFile(inst), JSON.stringify({ ...mine, at: Date.now() }), { mode: 0o600 });
  report(`${inst.name}: position ${mine.uuid ?? '-'}:${mine.seqno ?? -1}${hasData ? '' : ' (no data)'}`);
  const startAt = mine.uuid && mine.seqno !== undefined && mine.seqno >= 0 ? [`--wsrep-start-position=${mine.uuid}:${mine.seqno}`] : [];
  const deadline = Date.now() + timeoutMs;
  let said = '';
  for (;;) {
    const views: GaleraNodeView[] = [];
    const silent: string[] = [];
    for (const p of peers) {
      if (p.name === inst.name) {
        views.push({ name: p.name, running: false, primary: false, ...mine });
        continue;
      }
      const running = !!runningPid(p);
      const ws = running ? await wsrepOf(p) : undefined;
      const pub = running ? undefined : readPublished(p);
      if (!running && !pub) silent.push(p.name);
      views.push({
        name: p.name,
        running,
        primary: ws?.clusterStatus === 'Primary',
        hasData: pub?.hasData ?? true,
        uuid: pub?.uuid,
        seqno: pub?.seqno,
        safeToBootstrap: pub?.safeToBootstrap,
      });
    }
    let message: string;
    if (views.some((v) => v.primary)) {
      report(`${inst.name}: a Primary component exists; joining${startAt.length ? ` at ${startAt[0]!.split('=')[1]}` : ' (state transfer)'}`);
      return startAt;
    }
    if (silent.length) {
      message = `waiting for ${silent.join(', ')} to publish its last position (or for a Primary component)`;
    } else {
      const d = decideGaleraStart(views);
      // A peer that runs outside a Primary component is usually passing through a transient view (a
      // formation or a partition healing): wait for it. Refusals about data (lost, other history) are final.
      if (d.kind === 'refuse' && !views.some((v) => v.running)) throw new OsbError(`Galera: ${inst.name} must not start: ${d.reason}`);
      if ((d.kind === 'form' || d.kind === 'recover') && d.bootstrap === inst.name) {
        if (d.kind === 'recover' && d.seqno >= 0 && d.uuid) markBootstrap(join(paths.dataDir, 'grastate.dat'), d.uuid, d.seqno);
        report(
          `${inst.name}: ${d.kind === 'form' ? 'forming a new cluster' : `every node is down; this one is the most advanced (seqno ${d.seqno}): bootstrapping`}`,
        );
        return ['--wsrep-new-cluster'];
      }
      message =
        d.kind === 'form' || d.kind === 'recover'
          ? `waiting for ${d.bootstrap} to bootstrap (${d.reason})`
          : `waiting for a Primary component${'reason' in d ? ` (${d.reason})` : ''}`;
    }
    if (message !== said) report(`${inst.name}: ${message}`);
    said = message;
    if (Date.now() > deadline) throw new OsbError(`Galera: ${inst.name} gave up after ${Math.round(timeoutMs / 1000)}s: ${message}`);
    await sleep(1000);
  }
}
