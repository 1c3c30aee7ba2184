#!/usr/bin/env node
// `npm run bench`: what osb users wait for and what osb deploys, each figure side by side with
// a baseline measured in the same run (pair by pair), printed as a table and written to
// bench/results.json. It reports; it never fails on a number. Everything it starts lives under
// one private /tmp dir and ports 23000-23999, and is taken down in a finally block (and on
// SIGINT/SIGTERM).
//
// Knobs (env): BENCH_RUNS (3) runs per figure, BENCH_FAST_RUNS (5) for sub-second figures,
// BENCH_LOAD_SECONDS (10) per load run, BENCH_BUDGET_SECONDS (780) soft limit that trims runs,
// BENCH_ONLY (e.g. "cold,noop") to run some sections only (cold, noop, load, metrics, tls, cluster, render, backup, supervision),
// BENCH_BLOCKS (e.g. "102,103,104") port blocks to use instead of the first free ones in 30-39,
// BENCH_BACKUP_TABLES (16) × BENCH_BACKUP_ROWS (250000) sysbench rows for the backup section.
import { sectionSupervision } from './lib/supervision.mjs';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import mysql from 'mysql2/promise';
import { BARE_CHARSET, startBareGalera, startBareMariadb, startBareMemcached, startBareRabbitmq } from './lib/bare.mjs';
import { cleanupAll, registry } from './lib/cleanup.mjs';
import { amqpRun, memcslap, prepareSysbenchAccount, SB, sysbenchPrepare, sysbenchRun } from './lib/load.mjs';
import { blockPortList, blockPorts, osb, osbEndpoints, portFlags, REPO } from './lib/osb.mjs';
import { Figures, renderTable } from './lib/report.mjs';
import { allFree, alive, diskBytes, lastLines, MB, now, processes, processesOf, rssOf, run, sleep, waitFor } from './lib/util.mjs';

const int = (v, d) => (Number.isInteger(Number(v)) && Number(v) > 0 ? Number(v) : d);
const RUNS = int(process.env.BENCH_RUNS, 3);
const FAST_RUNS = int(process.env.BENCH_FAST_RUNS, 5);
const LOAD_S = int(process.env.BENCH_LOAD_SECONDS, 10);
const BUDGET_S = int(process.env.BENCH_BUDGET_SECONDS, 780);
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((x) => x.trim())) : undefined;
const SETTLE_MS = 3000; // idle time before reading RSS
const OS_USER = os.userInfo().username;
const START = now();
const elapsed = () => (now() - START) / 1000;

// Minimum cost of each section (one run each), reserved while earlier sections decide on more runs.
const MIN_COST = { cold: 60, noop: 15, load: 110, metrics: 90, tls: 100, cluster: 220, render: 10, backup: 300, supervision: 200 };
const ORDER = ['cold', 'noop', 'load', 'metrics', 'tls', 'cluster', 'render', 'backup', 'supervision'];
// Only sections that will run are reserved for (BENCH_ONLY leaves the others out).
const reserveAfter = (section) =>
  ORDER.slice(ORDER.indexOf(section) + 1)
    .filter((s) => !ONLY || ONLY.has(s))
    .reduce((a, s) => a + MIN_COST[s], 0);
/** Is there time for another run of `perRunS` seconds in this section? */
const affordable = (section, perRunS) => elapsed() + perRunS + reserveAfter(section) <= BUDGET_S;

const figs = new Figures();
const notes = [];
const log = (msg) => process.stderr.write(`[${elapsed().toFixed(1).padStart(6)}s] ${msg}\n`);
const errMsg = (err) =>
  String(err?.message ?? err)
    .split('\n')[0]
    .slice(0, 300);

let root;
const ctx = { blocks: {}, sections: [], osbDir: undefined, bare: undefined, bareMariadb: undefined };

// ------------------------------------------------------------------ setup

async function pickBlocks() {
  if (process.env.BENCH_BLOCKS) {
    const b = process.env.BENCH_BLOCKS.split(',').map(Number);
    if (b.length !== 3 || b.some((x) => !Number.isInteger(x) || x < 0 || 20000 + x * 100 + 99 >= 32768))
      throw new Error('BENCH_BLOCKS must be three port block numbers, e.g. 102,103,104 (ports 20000+100n, below 32768)');
    for (const x of b) if (!(await allFree(blockPortList(x)))) throw new Error(`port block ${x} (${20000 + x * 100}-${20000 + x * 100 + 99}) is in use`);
    return { osb: b[0], bare: b[1], cluster: b[2] };
  }
  const free = [];
  for (let b = 30; b <= 39 && free.length < 3; b++) if (await allFree(blockPortList(b))) free.push(b);
  if (free.length < 3) throw new Error(`need 3 free port blocks in 23000-23999, found ${free.length}`);
  return { osb: free[0], bare: free[1], cluster: free[2] };
}

function hostInfo() {
  const pkgs = spawnSync(
    'dpkg-query',
    ['-W', '-f', '${Package} ${Version}\\n', 'rabbitmq-server', 'erlang-base', 'mariadb-server', 'galera-4', 'memcached', 'sysbench', 'libmemcached-tools'],
    {
      encoding: 'utf8',
    },
  ).stdout;
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).stdout.trim();
  // Daemons on this host that are not ours: a sign of parallel work loading the machine.
  const others = processes().filter((p) => /(beam\.smp|mariadbd|memcached|mysqld)( |$)/.test(p.cmdline.split(' ')[0].split('/').pop() + ' ')).length;
  return {
    cpus: os.cpus().length,
    memMB: Math.round(os.totalmem() / MB),
    loadavgStart: os.loadavg().map((x) => Number(x.toFixed(2))),
    otherDaemonsAtStart: others,
    node: process.version,
    osbCommit: git,
    packages: Object.fromEntries(
      pkgs
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' ')),
    ),
  };
}

// ------------------------------------------------------------------ deployments

function osbGroups(dir) {
  return { rabbitmq: join(dir, 'rabbitmq'), mariadb: join(dir, 'mariadb'), memcached: join(dir, 'memcached') };
}

function footprint(dir, epmdPort) {
  const g = osbGroups(dir);
  return {
    rss: rssOf(g, [epmdPort]),
    disk: { total: diskBytes(dir), rabbitmq: diskBytes(g.rabbitmq), mariadb: diskBytes(g.mariadb), memcached: diskBytes(g.memcached) },
  };
}

async function osbColdDeploy(i) {
  const dir = join(root, `osb-${i}`);
  registry.osb(dir);
  const r = await osb(dir, ['deploy', ...portFlags(ctx.blocks.osb)], 600_000);
  if (r.code !== 0) throw new Error(`osb deploy exited ${r.code}: ${lastLines(r.stderr || r.stdout)}`);
  await sleep(SETTLE_MS);
  return { dir, seconds: r.seconds, ...footprint(dir, blockPorts(ctx.blocks.osb).epmd) };
}

/** `osb destroy`, timed; anything it leaves behind is noted (and killed, the bench leaves nothing). */
async function osbDestroy(dir, block) {
  const r = await osb(dir, ['destroy'], 300_000);
  if (r.code === 0) registry.osbDone(dir);
  await sleep(500);
  const left = processesOf({ osb: dir }, [blockPorts(block).epmd]);
  if (left.length) {
    notes.push(
      `\`osb destroy\` left ${left.length} process(es) behind: ${[...new Set(left.map((p) => p.cmdline.slice(0, 60)))].join('; ')} (killed by the bench)`,
    );
    for (const p of left) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  rmSync(dir, { recursive: true, force: true });
  if (r.code !== 0) throw new Error(`osb destroy exited ${r.code}: ${lastLines(r.stderr)}`);
  return r.seconds;
}

async function bareStartAll(i, { rabbitmqPlugins = true } = {}) {
  const dir = join(root, `bare-${i}`);
  const p = blockPorts(ctx.blocks.bare);
  const started = [];
  try {
    const memcached = await startBareMemcached(join(dir, 'memcached'), p.memcached);
    started.push(memcached);
    const mariadb = await startBareMariadb(join(dir, 'mariadb'), p.mariadb);
    started.push(mariadb);
    const rabbitmq = await startBareRabbitmq(join(dir, 'rabbitmq'), { port: p.rabbitmq, distPort: p.dist, epmdPort: p.epmd });
    started.push(rabbitmq);
    // The same node with the plugins osb enables (management for provisioning and health, prometheus for
    // metrics): the share of the cold deploy that is the plugins' boot, not osb. Started and stopped here.
    if (!rabbitmqPlugins) {
      await sleep(SETTLE_MS);
      return { dir, memcached, mariadb, rabbitmq, ...footprint(dir, p.epmd) };
    }
    const withPlugins = await startBareRabbitmq(join(dir, 'rabbitmq-plugins'), {
      port: p.rabbitmq + 1,
      distPort: p.dist + 1,
      epmdPort: p.epmd + 1,
      plugins: ['rabbitmq_management', 'rabbitmq_prometheus'],
      managementPort: p.management + 1,
      prometheusPort: p.management + 2,
    });
    const rabbitmqPluginsS = withPlugins.readyS;
    await withPlugins.stop();
    rmSync(join(dir, 'rabbitmq-plugins'), { recursive: true, force: true }); // not part of the footprint figures
    await sleep(SETTLE_MS);
    return { dir, memcached, mariadb, rabbitmq, rabbitmqPluginsS, ...footprint(dir, p.epmd) };
  } catch (err) {
    await Promise.all(started.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function bareStopAll(bare, { keepMariadb = false } = {}) {
  const t0 = now();
  await Promise.all([bare.rabbitmq.stop(), bare.memcached.stop(), keepMariadb ? undefined : bare.mariadb.stop()]);
  const seconds = (now() - t0) / 1000;
  if (!keepMariadb) rmSync(bare.dir, { recursive: true, force: true });
  return seconds;
}

// ------------------------------------------------------------------ 1 + 5: cold deploy, footprint

async function sectionCold() {
  const fCold = figs.add('1', 'cold deploy of all three, until ready', { unit: 's', baseline: 'slowest bare daemon: rabbitmq spawn → AMQP open' });
  const fSum = figs.add('1', 'cold deploy of all three, until ready', { unit: 's', baseline: 'bare daemons one after another (sum)' });
  const fColdP = figs.add('1', 'cold deploy of all three, until ready', {
    unit: 's',
    baseline: 'bare rabbitmq with the plugins osb enables (management, prometheus): spawn → AMQP open',
  });
  const fR = figs.add('1', '  bare rabbitmq: spawn → AMQP connection open', { unit: 's', baseline: '(baseline detail)' });
  const fM = figs.add('1', '  bare mariadb: install-db + spawn → SELECT 1', { unit: 's', baseline: '(baseline detail)' });
  const fMs = figs.add('1', '  bare mariadb: spawn → SELECT 1 (after install-db)', { unit: 's', baseline: '(baseline detail)' });
  const fC = figs.add('1', '  bare memcached: spawn → version', { unit: 's', baseline: '(baseline detail)' });
  const fDestroy = figs.add('2', 'osb destroy (all three)', { unit: 's', baseline: 'SIGTERM to the bare daemons until exit' });
  const fRss = figs.add('5', 'idle RSS, all daemons', { unit: 'MB', baseline: 'bare daemons, package defaults' });
  const fRssC = ['rabbitmq', 'mariadb', 'memcached'].map((c) => [
    c,
    figs.add('5', `  idle RSS, ${c}${c === 'rabbitmq' ? ' (+epmd)' : ''}`, { unit: 'MB', baseline: `bare ${c}` }),
  ]);
  const fDisk = figs.add('5', 'disk used by a fresh deployment', { unit: 'MB', baseline: 'bare data dirs' });
  const fDiskC = ['rabbitmq', 'mariadb'].map((c) => [c, figs.add('5', `  disk, ${c}`, { unit: 'MB', baseline: `bare ${c}` })]);

  let perRun = 60;
  for (let i = 0; i < RUNS; i++) {
    if (i > 0 && !affordable('cold', perRun)) {
      notes.push(`cold deploy: ${i} of ${RUNS} runs (time budget)`);
      break;
    }
    const last = i === RUNS - 1 || !affordable('cold', 2 * perRun);
    const t0 = now();
    let o;
    let b;
    const doOsb = async () => {
      try {
        o = await osbColdDeploy(i);
        log(`1 cold deploy run ${i + 1}: osb ${o.seconds.toFixed(2)} s`);
      } catch (err) {
        fCold.error(errMsg(err));
        log(`1 cold deploy run ${i + 1}: osb failed: ${errMsg(err)}`);
      }
    };
    const doBare = async () => {
      try {
        b = await bareStartAll(i);
        log(
          `1 cold deploy run ${i + 1}: bare rabbitmq ${b.rabbitmq.readyS.toFixed(2)} s, mariadb ${b.mariadb.readyS.toFixed(2)} s, memcached ${b.memcached.readyS.toFixed(3)} s`,
        );
      } catch (err) {
        fCold.error(`bare: ${errMsg(err)}`);
        log(`1 cold deploy run ${i + 1}: bare failed: ${errMsg(err)}`);
      }
    };
    // Alternate who goes first, so drift in the machine's load does not favour one side.
    if (i % 2 === 0) {
      await doOsb();
      await doBare();
    } else {
      await doBare();
      await doOsb();
    }
    const bareReady = b ? [b.rabbitmq.readyS, b.mariadb.readyS, b.memcached.readyS] : [];
    fCold.pair(o?.seconds, b ? Math.max(...bareReady) : undefined);
    fSum.pair(o?.seconds, b ? bareReady.reduce((x, y) => x + y, 0) : undefined);
    fColdP.pair(o?.seconds, b ? Math.max(b.rabbitmqPluginsS, b.mariadb.readyS, b.memcached.readyS) : undefined);
    if (b) {
      fR.pair(undefined, b.rabbitmq.readyS);
      fM.pair(undefined, b.mariadb.readyS);
      fMs.pair(undefined, b.mariadb.startS);
      fC.pair(undefined, b.memcached.readyS);
    }
    fRss.pair(o ? o.rss.total / MB : undefined, b ? b.rss.total / MB : undefined);
    for (const [c, f] of fRssC) f.pair(o ? (o.rss[c] ?? 0) / MB : undefined, b ? (b.rss[c] ?? 0) / MB : undefined);
    fDisk.pair(o ? o.disk.total / MB : undefined, b ? b.disk.total / MB : undefined);
    for (const [c, f] of fDiskC) f.pair(o ? o.disk[c] / MB : undefined, b ? b.disk[c] / MB : undefined);

    if (last) {
      ctx.osbDir = o?.dir;
      ctx.bare = b;
      break;
    }
    let od;
    let bd;
    try {
      if (o) od = await osbDestroy(o.dir, ctx.blocks.osb);
    } catch (err) {
      fDestroy.error(errMsg(err));
    }
    if (b) bd = await bareStopAll(b);
    fDestroy.pair(od, bd);
    perRun = (now() - t0) / 1000;
  }
  ctx.fDestroy = fDestroy;
}

// ------------------------------------------------------------------ 2: no-op redeploy, status

async function sectionNoop() {
  const fNoop = figs.add('2', 'no-op `osb deploy`', { unit: 's', baseline: '`node -e 0` (Node CLI floor)' });
  const fStatus = figs.add('2', '`osb status`', { unit: 's', baseline: '`node -e 0` (Node CLI floor)' });
  // status without its live checks: the same state dir, config and secrets read and printed, no daemon asked
  const fEndpoints = figs.add('2', '`osb endpoints` (status without its live checks)', { unit: 's', baseline: '`node -e 0` (Node CLI floor)' });
  if (!ctx.osbDir) {
    for (const f of [fNoop, fStatus, fEndpoints]) f.skip('no osb deployment (cold deploy failed)');
    return;
  }
  for (let i = 0; i < FAST_RUNS; i++) {
    if (i > 1 && !affordable('noop', 6)) {
      notes.push(`no-op/status: ${i} of ${FAST_RUNS} runs (time budget)`);
      break;
    }
    const base = await run(process.execPath, ['-e', '0']);
    const d = await osb(ctx.osbDir, ['deploy'], 120_000);
    if (d.code !== 0) fNoop.error(`exit ${d.code}: ${lastLines(d.stderr)}`);
    else if (/\b(started|restarted)\b/.test(d.stdout)) fNoop.error('a "no-op" deploy (re)started something');
    const s = await osb(ctx.osbDir, ['status'], 120_000);
    if (s.code !== 0) fStatus.error(`exit ${s.code}: ${lastLines(s.stdout + s.stderr)}`);
    const e = await osb(ctx.osbDir, ['endpoints'], 120_000);
    if (e.code !== 0) fEndpoints.error(`exit ${e.code}: ${lastLines(e.stdout + e.stderr)}`);
    fNoop.pair(d.code === 0 ? d.seconds : undefined, base.seconds);
    fStatus.pair(s.code === 0 ? s.seconds : undefined, base.seconds);
    fEndpoints.pair(e.code === 0 ? e.seconds : undefined, base.seconds);
    log(
      `2 no-op run ${i + 1}: deploy ${d.seconds.toFixed(2)} s, status ${s.seconds.toFixed(2)} s, endpoints ${e.seconds.toFixed(3)} s, node -e 0 ${base.seconds.toFixed(3)} s`,
    );
  }
}

// ------------------------------------------------------------------ 4: throughput (single nodes)

/** Without the cold section (BENCH_ONLY=load,…): one osb deployment and one set of bare daemons, not timed. */
async function ensureSingles() {
  if (ctx.osbDir || ctx.bare || !ONLY || ONLY.has('cold')) return;
  log('4 no cold section: deploying osb and starting the bare daemons for the single-node rows');
  try {
    ctx.osbDir = (await osbColdDeploy('singles')).dir;
    ctx.bare = await bareStartAll('singles', { rabbitmqPlugins: false });
  } catch (err) {
    notes.push(`single nodes for the load rows: ${errMsg(err)}`);
    log(`4 single nodes failed: ${errMsg(err)}`);
  }
}

async function sectionLoad() {
  // The bare server gets Debian's utf8mb4 (50-server.cnf), the character set OpenStack needs and osb serves.
  const bareMy = 'bare mariadbd, defaults + utf8mb4 (as Debian ships it)';
  const fSb = figs.add('4', `sysbench oltp_read_write, 1 node, ${SB.threads} threads`, { unit: 'tx/s', better: 'higher', baseline: bareMy });
  const fSbLat = figs.add('4', '  sysbench p95 latency, 1 node', { unit: 'ms', baseline: bareMy });
  const fSet = figs.add('4', 'memcslap set', { unit: 'ops/s', better: 'higher', baseline: 'bare memcached, default flags' });
  const fGet = figs.add('4', 'memcslap get', { unit: 'ops/s', better: 'higher', baseline: 'bare memcached, default flags' });
  const fAmqp = {};
  for (const q of ['classic', 'quorum']) {
    fAmqp[q] = {
      publish: figs.add('4', `AMQP publish with confirms, ${q} queue`, { unit: 'msg/s', better: 'higher', baseline: 'bare rabbitmq node, defaults' }),
      consume: figs.add('4', `AMQP consume with acks, ${q} queue`, { unit: 'msg/s', better: 'higher', baseline: 'bare rabbitmq node, defaults' }),
    };
  }
  const all = [fSb, fSbLat, fSet, fGet, ...Object.values(fAmqp).flatMap((x) => [x.publish, x.consume])];
  await ensureSingles();
  if (!ctx.osbDir || !ctx.bare) {
    for (const f of all) f.skip(!ctx.osbDir ? 'no osb deployment' : 'no bare daemons');
    return;
  }
  const eps = await osbEndpoints(ctx.osbDir);
  const sbPassword = randomBytes(12).toString('hex');
  const side = {
    osb: {
      mariadbPort: eps.mariadb.port,
      socket: eps.mariadb.socket,
      memcachedPort: Number(eps.memcached.servers[0].split(':').pop()),
      amqpUrl: `amqp://${encodeURIComponent(eps.rabbitmq.username)}:${encodeURIComponent(eps.rabbitmq.password)}@${eps.rabbitmq.hosts[0]}/`,
    },
    bare: { mariadbPort: ctx.bare.mariadb.port, socket: ctx.bare.mariadb.socket, memcachedPort: ctx.bare.memcached.port, amqpUrl: ctx.bare.rabbitmq.url },
  };
  const order = (i) => (i % 2 === 0 ? ['osb', 'bare'] : ['bare', 'osb']);

  // sysbench
  let sbReady = true;
  try {
    for (const s of ['osb', 'bare']) {
      await prepareSysbenchAccount({ socketPath: side[s].socket, user: OS_USER }, sbPassword);
      const secs = await sysbenchPrepare(side[s].mariadbPort, sbPassword);
      log(`4 sysbench prepare (${s}): ${secs.toFixed(1)} s`);
    }
    ctx.sbPassword = sbPassword;
  } catch (err) {
    sbReady = false;
    fSb.error(errMsg(err));
  }
  for (let i = 0; sbReady && i < RUNS; i++) {
    if (i > 1 && !affordable('load', 2 * LOAD_S + 60)) {
      notes.push(`sysbench 1 node: ${i} of ${RUNS} runs (time budget)`);
      break;
    }
    const res = {};
    for (const s of order(i)) {
      try {
        res[s] = await sysbenchRun(side[s].mariadbPort, sbPassword, LOAD_S);
      } catch (err) {
        fSb.error(`${s}: ${errMsg(err)}`);
      }
    }
    fSb.pair(res.osb?.tps, res.bare?.tps);
    fSbLat.pair(res.osb?.p95ms, res.bare?.p95ms);
    log(`4 sysbench run ${i + 1}: osb ${res.osb?.tps} tx/s, bare ${res.bare?.tps} tx/s`);
  }

  // memcslap
  for (let i = 0; i < RUNS; i++) {
    if (i > 1 && !affordable('load', 40)) {
      notes.push(`memcslap: ${i} of ${RUNS} runs (time budget)`);
      break;
    }
    const res = {};
    for (const s of order(i)) {
      try {
        res[s] = await memcslap(side[s].memcachedPort);
      } catch (err) {
        fSet.error(`${s}: ${errMsg(err)}`);
      }
    }
    fSet.pair(res.osb?.set, res.bare?.set);
    fGet.pair(res.osb?.get, res.bare?.get);
    log(
      `4 memcslap run ${i + 1}: osb set ${Math.round(res.osb?.set)} get ${Math.round(res.osb?.get)}, bare set ${Math.round(res.bare?.set)} get ${Math.round(res.bare?.get)} ops/s`,
    );
  }

  // AMQP
  const pubS = Math.max(2, Math.round(LOAD_S / 3));
  for (const q of ['classic', 'quorum']) {
    for (let i = 0; i < RUNS; i++) {
      if (i > 1 && !affordable('load', 4 * pubS + 20)) {
        notes.push(`AMQP ${q}: ${i} of ${RUNS} runs (time budget)`);
        break;
      }
      const res = {};
      for (const s of order(i)) {
        try {
          res[s] = await amqpRun(side[s].amqpUrl, q, pubS);
        } catch (err) {
          fAmqp[q].publish.error(`${s}: ${errMsg(err)}`);
        }
      }
      fAmqp[q].publish.pair(res.osb?.publish, res.bare?.publish);
      fAmqp[q].consume.pair(res.osb?.consume, res.bare?.consume);
      log(
        `4 AMQP ${q} run ${i + 1}: osb pub ${Math.round(res.osb?.publish)} cons ${Math.round(res.osb?.consume)}, bare pub ${Math.round(res.bare?.publish)} cons ${Math.round(res.bare?.consume)} msg/s`,
      );
    }
  }
}

// ------------------------------------------------------------------ 4/5: what the exporters cost

/**
 * The same 1-node deployment with and without its exporters (`osb deploy --set metrics.enabled=…`
 * toggled pair by pair): idle RSS of every process of the tier; and sysbench while Prometheus'
 * usual 5 s scrape of mysqld-exporter runs (a GET /metrics every 5 s) against the same node unscraped.
 */
async function sectionMetrics() {
  await ensureSingles();
  const fRss = figs.add('5', 'idle RSS, all daemons + exporters', { unit: 'MB', baseline: 'same deployment, metrics.enabled=false' });
  const fSb = figs.add('4', 'sysbench oltp_read_write, 1 node, mysqld-exporter scraped every 5 s', {
    unit: 'tx/s',
    better: 'higher',
    baseline: 'same node, not scraped',
  });
  if (!ctx.osbDir) {
    for (const f of [fRss, fSb]) f.skip('no osb deployment');
    return;
  }
  const dir = ctx.osbDir;
  const epmd = blockPorts(ctx.blocks.osb).epmd;
  const deployWith = async (on) => {
    const r = await osb(dir, ['deploy', '--set', `metrics.enabled=${on}`], 600_000);
    if (r.code !== 0) throw new Error(`osb deploy metrics.enabled=${on} exited ${r.code}: ${lastLines(r.stderr || r.stdout)}`);
    await sleep(SETTLE_MS);
    return rssOf(osbGroups(dir), [epmd]).total / MB;
  };
  // Every measurement follows a real toggle (the plugin change restarts RabbitMQ, so both sides
  // measure a freshly started broker): off once unmeasured, then on, off, on, off …
  try {
    await deployWith(false);
  } catch (err) {
    fRss.error(errMsg(err));
  }
  for (let i = 0; i < RUNS && !fRss.figure.errors.length; i++) {
    if (i > 0 && !affordable('metrics', 60)) {
      notes.push(`RSS with/without exporters: ${i} of ${RUNS} runs (time budget)`);
      break;
    }
    try {
      const on = await deployWith(true);
      const off = await deployWith(false);
      fRss.pair(on, off);
      log(`5 idle RSS run ${i + 1}: with exporters ${on.toFixed(0)} MB, without ${off.toFixed(0)} MB`);
    } catch (err) {
      fRss.error(errMsg(err));
      break;
    }
  }
  try {
    await deployWith(true);
  } catch (err) {
    fSb.skip(`metrics could not be turned back on: ${errMsg(err)}`);
    return;
  }
  if (!ctx.sbPassword) {
    fSb.skip('no sysbench tables (section 4 did not prepare them)');
    return;
  }
  const targets = JSON.parse((await osb(dir, ['metrics', 'mariadb', '--json'], 60_000)).stdout);
  const url = `http://${targets.find((t) => t.job === 'osb-mariadb').address}/metrics`;
  const eps = await osbEndpoints(dir);
  for (let i = 0; i < RUNS; i++) {
    if (i > 1 && !affordable('metrics', 2 * LOAD_S + 20)) {
      notes.push(`sysbench with/without scraping: ${i} of ${RUNS} runs (time budget)`);
      break;
    }
    const res = {};
    for (const scraped of i % 2 === 0 ? [true, false] : [false, true]) {
      let timer;
      let scrapes = 0;
      if (scraped) {
        const scrape = () =>
          fetch(url)
            .then((r) => r.text())
            .then(() => scrapes++)
            .catch(() => {});
        scrape();
        timer = setInterval(scrape, 5000);
      }
      try {
        res[scraped ? 'on' : 'off'] = await sysbenchRun(eps.mariadb.port, ctx.sbPassword, LOAD_S);
      } catch (err) {
        fSb.error(`${scraped ? 'scraped' : 'not scraped'}: ${errMsg(err)}`);
      } finally {
        if (timer) clearInterval(timer);
      }
      if (scraped && scrapes === 0) fSb.error('the exporter answered no scrape');
    }
    fSb.pair(res.on?.tps, res.off?.tps);
    log(`4 sysbench run ${i + 1}: scraped every 5 s ${res.on?.tps} tx/s, not scraped ${res.off?.tps} tx/s`);
  }
}

/** Takes down the single-node deployments; keeps the bare mariadbd for the 3-node comparison. */
async function teardownSingles() {
  let od;
  let bd;
  if (ctx.osbDir) {
    try {
      od = await osbDestroy(ctx.osbDir, ctx.blocks.osb);
    } catch (err) {
      ctx.fDestroy?.error(errMsg(err));
    }
    ctx.osbDir = undefined;
  }
  if (ctx.bare) {
    bd = await bareStopAll(ctx.bare, { keepMariadb: true });
    ctx.bareMariadb = ctx.bare.mariadb;
    ctx.bareDir = ctx.bare.dir;
    ctx.bare = undefined;
  }
  ctx.fDestroy?.pair(od, bd);
}

// ------------------------------------------------------------------ 7: TLS against plain text (issue 13)

/** `n` timed calls on each side (ms), the two sides interleaved so that load drifts hit both alike. */
async function timedPairs(f, n, tlsSide, plainSide) {
  for (let i = 0; i < n; i++) {
    const ms = {};
    for (const side of i % 2 === 0 ? ['tls', 'plain'] : ['plain', 'tls']) {
      const t0 = now();
      try {
        await (side === 'tls' ? tlsSide : plainSide)();
        ms[side] = now() - t0;
      } catch (err) {
        f.error(`${side}: ${errMsg(err)}`);
      }
    }
    f.pair(ms.tls, ms.plain);
  }
}

/**
 * One osb deployment (1 node each) with `tls.enabled=true` and `tls.require=false`: MariaDB serves
 * TLS and plain text on the same port, RabbitMQ AMQPS on tlsPort beside plain AMQP — so TLS and
 * plain run against the very same daemons, pair by pair. memcached with TLS on speaks TLS only, so
 * it has no same-daemon plain side and no row here.
 */
async function sectionTls() {
  const fMy = figs.add('9', 'TLS: MariaDB connection setup (connect + SELECT 1 + quit)', { unit: 'ms', baseline: 'plain text, same daemon' });
  const fAm = figs.add('9', 'TLS: AMQP connection setup (open + close)', { unit: 'ms', baseline: 'plain AMQP, same node' });
  const fSb = figs.add('9', 'TLS: sysbench oltp_read_write, 1 node, 4 threads', { unit: 'tx/s', better: 'higher', baseline: 'plain text, same daemon' });
  const fPub = figs.add('9', 'TLS: AMQP publish with confirms, classic queue', { unit: 'msg/s', better: 'higher', baseline: 'plain AMQP, same node' });
  const block = ctx.blocks.osb;
  const p = blockPorts(block);
  const dir = join(root, 'osb-tls');
  registry.osb(dir);
  const tlsPort = p.rabbitmq + 5;
  const r = await osb(dir, ['deploy', ...portFlags(block), '--set', 'tls.enabled=true', '--set', `rabbitmq.tlsPort=${tlsPort}`], 600_000);
  if (r.code !== 0) {
    for (const f of [fMy, fAm, fSb, fPub]) f.skip(`osb deploy with TLS failed: ${lastLines(r.stderr || r.stdout)}`);
    await osbDestroy(dir, block).catch(() => {});
    return;
  }
  try {
    const eps = await osbEndpoints(dir);
    const ca = readFileSync(eps.mariadb.caFile, 'utf8');
    const my = { host: '127.0.0.1', port: eps.mariadb.port, user: eps.mariadb.username, password: eps.mariadb.password, connectTimeout: 10_000 };
    const once = async (cfg) => {
      const c = await mysql.createConnection(cfg);
      await c.query('SELECT 1');
      await c.end();
    };
    await timedPairs(
      fMy,
      FAST_RUNS * 10,
      () => once({ ...my, ssl: { ca, rejectUnauthorized: true } }),
      () => once(my),
    );

    const user = `${encodeURIComponent(eps.rabbitmq.username)}:${encodeURIComponent(eps.rabbitmq.password)}`;
    const amqpsUrl = `amqps://${user}@127.0.0.1:${tlsPort}/`;
    const amqpUrl = `amqp://${user}@127.0.0.1:${p.rabbitmq}/`;
    const amqpOnce = async (url, opts) => {
      const c = await amqp.connect(url, { timeout: 10_000, ...opts });
      await c.close();
    };
    await timedPairs(
      fAm,
      FAST_RUNS * 4,
      () => amqpOnce(amqpsUrl, { ca: [ca] }),
      () => amqpOnce(amqpUrl, {}),
    );

    // Short load runs against the same daemons: sysbench --mysql-ssl=on against off, AMQPS against AMQP.
    const sbPassword = randomBytes(12).toString('hex');
    await prepareSysbenchAccount({ socketPath: eps.mariadb.socket, user: OS_USER }, sbPassword);
    await sysbenchPrepare(eps.mariadb.port, sbPassword);
    const loadS = Math.min(LOAD_S, 10);
    // sysbench 1.0's --mysql-ssl=on reads fixed file names from its working directory: the CA and,
    // as client certificate, the node's own (it carries clientAuth).
    const sbDir = join(root, 'sysbench-tls');
    mkdirSync(sbDir, { recursive: true });
    const nodeTls = join(dir, 'mariadb', 'mariadb-0', 'tls');
    copyFileSync(eps.mariadb.caFile, join(sbDir, 'cacert.pem'));
    copyFileSync(join(nodeTls, 'cert.pem'), join(sbDir, 'client-cert.pem'));
    copyFileSync(join(nodeTls, 'key.pem'), join(sbDir, 'client-key.pem'));
    for (let i = 0; i < RUNS; i++) {
      if (i > 0 && !affordable('tls', 4 * loadS + 30)) {
        notes.push(`TLS load rows: ${i} of ${RUNS} runs (time budget)`);
        break;
      }
      const sb = {};
      const pub = {};
      for (const side of i % 2 === 0 ? ['tls', 'plain'] : ['plain', 'tls']) {
        sb[side] = await sysbenchRun(eps.mariadb.port, sbPassword, loadS, [`--mysql-ssl=${side === 'tls' ? 'on' : 'off'}`], sbDir).catch((err) =>
          fSb.error(errMsg(err)),
        );
        pub[side] = await (side === 'tls' ? amqpRun(amqpsUrl, 'classic', loadS, { ca: [ca] }) : amqpRun(amqpUrl, 'classic', loadS)).catch((err) =>
          fPub.error(errMsg(err)),
        );
      }
      fSb.pair(sb.tls?.tps, sb.plain?.tps);
      fPub.pair(pub.tls?.publish, pub.plain?.publish);
    }
  } finally {
    await osbDestroy(dir, block).catch((err) => notes.push(`TLS: ${errMsg(err)}`));
  }
}

// ------------------------------------------------------------------ 3: clusters, recovery

/** The 3-node comparison needs the bare mariadbd with sysbench tables; start one if section 4 did not. */
async function ensureBareMariadbForSysbench() {
  if (ctx.bareMariadb && ctx.sbPassword) return;
  ctx.sbPassword ??= randomBytes(12).toString('hex');
  ctx.bareDir = join(root, 'bare-sysbench');
  ctx.bareMariadb = await startBareMariadb(join(ctx.bareDir, 'mariadb'), blockPorts(ctx.blocks.bare).mariadb);
  await prepareSysbenchAccount({ socketPath: ctx.bareMariadb.socket, user: OS_USER }, ctx.sbPassword);
  await sysbenchPrepare(ctx.bareMariadb.port, ctx.sbPassword);
}

/** The bare 3-node Galera cluster's ports, in the bare block: clients mariadb+5+i, Galera like osb's scheme. */
function bareGaleraPorts() {
  const p = blockPorts(ctx.blocks.bare);
  return [0, 1, 2].map((i) => ({ client: p.mariadb + 5 + i, group: p.galera + i, ist: p.galera + 10 + i, sst: p.galera + 20 + i }));
}

/**
 * sysbench against osb's 3-node cluster (through its endpoint, and direct to node 0), a bare 3-node
 * cluster (node 0) and the bare single server, in this order and reversed every other run.
 */
async function galeraSysbench(eps, [fSbG, fSbP, fSb3]) {
  let bareGalera;
  try {
    await ensureBareMariadbForSysbench();
    await prepareSysbenchAccount(
      { host: eps.mariadb.host, port: eps.mariadb.port, user: eps.mariadb.username, password: eps.mariadb.password },
      ctx.sbPassword,
    );
    const secs = await sysbenchPrepare(eps.mariadb.port, ctx.sbPassword);
    log(`4 sysbench prepare (osb Galera): ${secs.toFixed(1)} s`);
    try {
      bareGalera = await startBareGalera(join(root, 'bare-galera'), bareGaleraPorts(), { charset: BARE_CHARSET });
      log(`4 bare Galera: 3 nodes Synced in ${bareGalera.readyS.toFixed(1)} s`);
      await prepareSysbenchAccount({ socketPath: bareGalera.socket, user: OS_USER }, ctx.sbPassword);
      const bs = await sysbenchPrepare(bareGalera.port, ctx.sbPassword);
      log(`4 sysbench prepare (bare Galera): ${bs.toFixed(1)} s`);
    } catch (err) {
      fSbG.error(`bare Galera: ${errMsg(err)}`);
      await bareGalera?.stop();
      bareGalera = undefined;
    }
    const ports = { proxy: eps.mariadb.port, node0: eps.mariadb.nodes[0].port, bareGalera: bareGalera?.port, bare1: ctx.bareMariadb.port };
    const sides = Object.keys(ports).filter((k) => ports[k] !== undefined);
    for (let i = 0; i < RUNS; i++) {
      if (i > 0 && !affordable('cluster', sides.length * LOAD_S + 90)) {
        notes.push(`sysbench Galera: ${i} of ${RUNS} runs (time budget)`);
        break;
      }
      const res = {};
      // Compared sides run back to back (proxy|node 0, node 0|bare Galera), who goes first alternating.
      const order = i % 2 === 0 ? sides : [...sides].reverse();
      for (const s of order) {
        try {
          res[s] = await sysbenchRun(ports[s], ctx.sbPassword, LOAD_S);
        } catch (err) {
          (s === 'proxy' ? fSbP : s === 'bare1' ? fSb3 : fSbG).error(`${s}: ${errMsg(err)}`);
        }
      }
      fSbG.pair(res.node0?.tps, res.bareGalera?.tps);
      fSbP.pair(res.proxy?.tps, res.node0?.tps);
      fSb3.pair(res.proxy?.tps, res.bare1?.tps);
      log(
        `4 sysbench Galera run ${i + 1}: osb proxy ${res.proxy?.tps}, osb node 0 ${res.node0?.tps}, bare Galera node 0 ${res.bareGalera?.tps}, bare 1 node ${res.bare1?.tps} tx/s`,
      );
    }
  } catch (err) {
    for (const f of [fSbG, fSbP, fSb3]) f.error(errMsg(err));
  } finally {
    await bareGalera?.stop();
    rmSync(join(root, 'bare-galera'), { recursive: true, force: true });
  }
}

async function galeraState(eps) {
  const nodes = eps.mariadb.nodes ?? [{ host: eps.mariadb.host, port: eps.mariadb.port }];
  const states = [];
  for (const n of nodes) {
    const c = await mysql.createConnection({ host: n.host, port: n.port, user: eps.mariadb.username, password: eps.mariadb.password, connectTimeout: 2000 });
    try {
      const [rows] = await c.query("SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_cluster_status', 'wsrep_cluster_size', 'wsrep_local_state_comment')");
      states.push(Object.fromEntries(rows.map((r) => [r.Variable_name, r.Value])));
    } finally {
      c.destroy();
    }
  }
  return states;
}

/** Primary component of 3 and every node Synced (a joiner still in SST is counted but useless). */
async function galeraReady(eps) {
  const s = await galeraState(eps);
  return (
    s.length === 3 && s.every((x) => x.wsrep_cluster_status === 'Primary' && Number(x.wsrep_cluster_size) === 3 && x.wsrep_local_state_comment === 'Synced')
  );
}

async function rabbitRunningNodes(eps) {
  const auth = Buffer.from(`${eps.rabbitmq.username}:${eps.rabbitmq.password}`).toString('base64');
  const res = await fetch(`${eps.rabbitmq.managementUrl.replace(/\/$/, '')}/api/nodes`, {
    headers: { authorization: `Basic ${auth}` },
    signal: AbortSignal.timeout(3000),
  });
  if (!res.ok) throw new Error(`management API ${res.status}`);
  return (await res.json()).filter((n) => n.running).length;
}

function pidsUnder(path, exe) {
  return processesOf({ x: path })
    .filter((p) => p.cmdline.split(' ')[0].endsWith(exe))
    .map((p) => p.pid);
}

async function sectionClusters() {
  const fGForm = figs.add('3', 'Galera 3 nodes: cold formation (`osb deploy`, until all Synced)', { unit: 's', baseline: '(baseline of the recovery row)' });
  const fGRec = figs.add('3', 'Galera recovery after kill -9 of all 3 (`osb deploy` → Primary, 3 Synced)', { unit: 's', baseline: 'cold formation, same run' });
  const fRForm = figs.add('3', 'RabbitMQ 3 nodes: cold formation (`osb deploy`, until 3 running)', { unit: 's', baseline: '(baseline of the recovery row)' });
  const fRRec = figs.add('3', 'RabbitMQ recovery after kill -9 of 1 node (`osb deploy` → 3 running)', { unit: 's', baseline: 'cold formation, same run' });
  // Three views of the same 3-node cluster, measured in one rotation so that drift hits all sides alike:
  // osb's cluster against a bare cluster (what osb costs), osb's proxy against node 0 (what the
  // single-writer path costs), and osb's endpoint against one bare server (what replication costs).
  const fSbG = figs.add('4', 'sysbench oltp_read_write, Galera 3 nodes, direct to node 0, 4 threads', {
    unit: 'tx/s',
    better: 'higher',
    baseline: 'bare 3-node Galera by hand (defaults + what Galera needs), node 0',
  });
  const fSbP = figs.add('4', "sysbench oltp_read_write, Galera 3 nodes, via osb's HAProxy endpoint, 4 threads", {
    unit: 'tx/s',
    better: 'higher',
    baseline: 'direct to node 0, same cluster',
  });
  const fSb3 = figs.add('4', "sysbench oltp_read_write, Galera 3 nodes, via osb's endpoint: cost of replication", {
    unit: 'tx/s',
    better: 'higher',
    baseline: 'bare mariadbd, 1 node, no replication',
  });
  const fSbAll = [fSbG, fSbP, fSb3];
  let galeraSkip;
  let rabbitSkip;
  const cycles = RUNS >= 3 ? 2 : 1;
  let perCycle = 150;
  for (let c = 0; c < cycles; c++) {
    if (c === 0 && !affordable('cluster', 100)) {
      galeraSkip = rabbitSkip = 'time budget used up by earlier sections';
      break;
    }
    if (c > 0 && !affordable('cluster', perCycle)) {
      notes.push(`clusters: ${c} of ${cycles} formation cycles (time budget)`);
      break;
    }
    if (galeraSkip && rabbitSkip) break;
    const t0 = now();
    const dir = join(root, `osb-cluster-${c}`);
    registry.osb(dir);
    const flags = [...portFlags(ctx.blocks.cluster), '--set', 'mariadb.replicas=3', '--set', 'rabbitmq.replicas=3'];
    try {
      let eps;
      let galeraForm;
      let rabbitForm;
      // Galera: cold formation
      if (!galeraSkip) {
        const r = await osb(dir, ['deploy', 'mariadb', ...flags], 600_000);
        if (r.code !== 0) {
          galeraSkip = `\`osb deploy --set mariadb.replicas=3\` failed: ${lastLines(r.stderr || r.stdout, 2)}`;
          fGForm.error(galeraSkip);
        } else {
          eps = await osbEndpoints(dir);
          const extra = await waitFor(() => galeraReady(eps), { timeoutMs: 180_000, intervalMs: 200, what: 'Galera Primary with 3 Synced nodes' }).catch(
            (err) => {
              galeraSkip = `Galera did not reach 3 Synced nodes: ${errMsg(err)}`;
              fGForm.error(galeraSkip);
            },
          );
          if (extra !== undefined) {
            galeraForm = r.seconds + extra;
            fGForm.pair(galeraForm, undefined);
            log(`3 Galera cold formation ${c + 1}: ${galeraForm.toFixed(1)} s`);
          }
        }
      }
      // RabbitMQ: cold formation
      if (!rabbitSkip) {
        const r = await osb(dir, ['deploy', 'rabbitmq', ...flags], 600_000);
        if (r.code !== 0) {
          rabbitSkip = `\`osb deploy --set rabbitmq.replicas=3\` failed: ${lastLines(r.stderr || r.stdout, 2)}`;
          fRForm.error(rabbitSkip);
        } else {
          eps = await osbEndpoints(dir);
          const extra = await waitFor(async () => (await rabbitRunningNodes(eps)) === 3, {
            timeoutMs: 180_000,
            intervalMs: 250,
            what: '3 running RabbitMQ nodes',
          }).catch((err) => {
            rabbitSkip = `RabbitMQ did not report 3 running nodes: ${errMsg(err)}`;
            fRForm.error(rabbitSkip);
          });
          if (extra !== undefined) {
            rabbitForm = r.seconds + extra;
            fRForm.pair(rabbitForm, undefined);
            log(`3 RabbitMQ cold formation ${c + 1}: ${rabbitForm.toFixed(1)} s`);
          }
        }
      }
      // 3-node sysbench, in the first cycle only
      if (c === 0 && galeraForm !== undefined) await galeraSysbench(eps, fSbAll);
      // Recoveries: two per cycle, each paired with this cycle's cold formation
      for (let k = 0; k < 2; k++) {
        if (galeraForm !== undefined && affordable('cluster', 40)) {
          try {
            const pids = pidsUnder(join(dir, 'mariadb'), 'mariadbd');
            if (pids.length !== 3) throw new Error(`expected 3 mariadbd processes, found ${pids.length}`);
            for (const pid of pids) process.kill(pid, 'SIGKILL');
            await waitFor(() => !pids.some(alive), { timeoutMs: 10_000, what: 'mariadbd to die' });
            const t1 = now();
            const r = await osb(dir, ['deploy', 'mariadb'], 600_000);
            if (r.code !== 0) throw new Error(`osb deploy exited ${r.code}: ${lastLines(r.stderr || r.stdout, 2)}`);
            await waitFor(() => galeraReady(eps), { timeoutMs: 180_000, intervalMs: 200, what: 'Galera Primary with 3 Synced nodes' });
            const secs = (now() - t1) / 1000;
            fGRec.pair(secs, galeraForm);
            log(`3 Galera recovery ${c + 1}.${k + 1}: ${secs.toFixed(1)} s`);
          } catch (err) {
            fGRec.error(errMsg(err));
            log(`3 Galera recovery failed: ${errMsg(err)}`);
          }
        }
        if (rabbitForm !== undefined && affordable('cluster', 30)) {
          try {
            const node = 2 - k; // node 0 serves the management API we poll
            const beams = pidsUnder(join(dir, 'rabbitmq', `rabbitmq-${node}`), 'beam.smp');
            if (beams.length !== 1) throw new Error(`expected 1 beam.smp for rabbitmq-${node}, found ${beams.length}`);
            process.kill(beams[0], 'SIGKILL');
            await waitFor(async () => !alive(beams[0]) && (await rabbitRunningNodes(eps)) < 3, {
              timeoutMs: 30_000,
              intervalMs: 100,
              what: 'the cluster to notice',
            });
            const t1 = now();
            const r = await osb(dir, ['deploy', 'rabbitmq'], 600_000);
            if (r.code !== 0) throw new Error(`osb deploy exited ${r.code}: ${lastLines(r.stderr || r.stdout, 2)}`);
            await waitFor(async () => (await rabbitRunningNodes(eps)) === 3, { timeoutMs: 180_000, intervalMs: 250, what: '3 running RabbitMQ nodes' });
            const secs = (now() - t1) / 1000;
            fRRec.pair(secs, rabbitForm);
            log(`3 RabbitMQ recovery ${c + 1}.${k + 1}: ${secs.toFixed(1)} s`);
          } catch (err) {
            fRRec.error(errMsg(err));
            log(`3 RabbitMQ recovery failed: ${errMsg(err)}`);
          }
        }
      }
    } finally {
      try {
        await osbDestroy(dir, ctx.blocks.cluster);
      } catch (err) {
        notes.push(`cluster destroy: ${errMsg(err)}`);
      }
    }
    perCycle = (now() - t0) / 1000;
  }
  if (galeraSkip) {
    for (const f of [fGForm, fGRec, ...fSbAll]) if (!f.figure.osb.length) f.skip(galeraSkip);
  } else for (const f of fSbAll) if (!f.figure.osb.length && !f.figure.errors.length) f.skip('no sysbench baseline available');
  if (rabbitSkip) for (const f of [fRForm, fRRec]) if (!f.figure.osb.length) f.skip(rabbitSkip);
}

// ------------------------------------------------------------------ 6: render

async function sectionRender() {
  const f = figs.add('6', '`osb render --target kubernetes` (all three)', { unit: 's', baseline: '`node -e 0` (Node CLI floor)' });
  const dir = join(root, 'render');
  const help = await osb(dir, ['render', '--help'], 60_000);
  if (help.code !== 0) {
    f.skip(`no \`osb render\` command yet (${lastLines(help.stderr || help.stdout, 1)})`);
    return;
  }
  for (let i = 0; i < FAST_RUNS; i++) {
    if (i > 1 && !affordable('render', 5)) break;
    const base = await run(process.execPath, ['-e', '0']);
    const r = await osb(dir, ['render', '--target', 'kubernetes'], 120_000);
    if (r.code !== 0) {
      if (i === 0) {
        f.skip(`\`osb render --target kubernetes\` exited ${r.code}: ${lastLines(r.stderr || r.stdout, 1)}`);
        return;
      }
      f.error(`exit ${r.code}: ${lastLines(r.stderr)}`);
    }
    f.pair(r.code === 0 ? r.seconds : undefined, base.seconds);
    log(`6 render run ${i + 1}: ${r.seconds.toFixed(2)} s (${(r.stdout.length / 1024).toFixed(0)} KiB)`);
  }
  await renderAgainstHelm(dir);
}

/**
 * `osb render` next to `helm template` of the three upstream openstack-helm charts (rabbitmq, mariadb,
 * memcached, one process each, as the seed's scripts run them), pinned in ../shared/baselines/.
 * helm comes from BENCH_HELM or the PATH (../shared/baselines/README.md says where to get one).
 */
async function renderAgainstHelm(dir) {
  const f = figs.add('6', '`osb render --target kubernetes` (all three)', {
    unit: 's',
    baseline: '`helm template` of the upstream rabbitmq, mariadb, memcached charts (three runs, summed)',
  });
  const baselines = join(REPO, '..', 'shared', 'baselines');
  const tarball = existsSync(baselines) ? readdirSync(baselines).find((n) => /^openstack-helm-.*-backend-charts\.tar\.gz$/.test(n)) : undefined;
  const helm = process.env.BENCH_HELM || spawnSync('sh', ['-c', 'command -v helm'], { encoding: 'utf8' }).stdout.trim() || undefined;
  if (!tarball) return f.skip(`the pinned upstream charts are absent (${baselines}/openstack-helm-*-backend-charts.tar.gz)`);
  if (!helm || !existsSync(helm)) return f.skip('no helm binary: set BENCH_HELM=/path/to/helm (../shared/baselines/README.md says where to get one)');
  const charts = join(root, 'helm-charts');
  mkdirSync(charts, { recursive: true });
  const helmEnv = { ...process.env, HELM_CACHE_HOME: join(charts, '.cache'), HELM_CONFIG_HOME: join(charts, '.config'), HELM_DATA_HOME: join(charts, '.data') };
  const untar = spawnSync('tar', ['-xzf', join(baselines, tarball), '-C', charts], { encoding: 'utf8' });
  if (untar.status !== 0) return f.skip(`cannot unpack ${tarball}: ${untar.stderr.trim()}`);
  const chartDir = (name) => {
    const found = spawnSync('find', [charts, '-name', 'Chart.yaml', '-path', `*/${name}/Chart.yaml`], { encoding: 'utf8' })
      .stdout.trim()
      .split('\n')[0];
    return found ? dirname(found) : undefined;
  };
  const names = ['rabbitmq', 'mariadb', 'memcached'];
  const dirs = names.map(chartDir);
  if (dirs.some((d) => !d)) return f.skip(`the tarball lacks one of the charts ${names.join(', ')}`);
  for (const d of dirs) {
    const dep = spawnSync(helm, ['dependency', 'build', d], { encoding: 'utf8', env: helmEnv });
    if (dep.status !== 0) return f.skip(`helm dependency build ${d}: ${lastLines(dep.stderr || dep.stdout, 1)}`);
  }
  const helmTemplate = async () => {
    let total = 0;
    for (const [i, d] of dirs.entries()) {
      const r = await run(helm, ['template', names[i], d, '--namespace', 'openstack'], { env: helmEnv, timeoutMs: 120_000 });
      if (r.code !== 0) throw new Error(`helm template ${names[i]} exited ${r.code}: ${lastLines(r.stderr || r.stdout, 1)}`);
      total += r.seconds;
    }
    return total;
  };
  for (let i = 0; i < FAST_RUNS; i++) {
    if (i > 2 && !affordable('render', 5)) break;
    try {
      const order = i % 2 === 0 ? ['osb', 'helm'] : ['helm', 'osb'];
      const t = {};
      for (const side of order) {
        if (side === 'helm') t.helm = await helmTemplate();
        else {
          const r = await osb(dir, ['render', '--target', 'kubernetes'], 120_000);
          if (r.code !== 0) throw new Error(`osb render exited ${r.code}`);
          t.osb = r.seconds;
        }
      }
      f.pair(t.osb, t.helm);
      log(`6 render vs helm run ${i + 1}: osb ${t.osb.toFixed(2)} s, helm template ×3 ${t.helm.toFixed(2)} s`);
    } catch (err) {
      f.error(errMsg(err));
      return;
    }
  }
}

// ------------------------------------------------------------------ 7: backup and restore per GB

const BACKUP_TABLES = int(process.env.BENCH_BACKUP_TABLES, 16);
const BACKUP_ROWS = int(process.env.BENCH_BACKUP_ROWS, 250_000);
const GB = 1024 * MB;

/**
 * A 1-node osb tier (all three components, MariaDB a single node) filled by
 * `sysbench oltp_read_write prepare` (BENCH_BACKUP_TABLES × BENCH_BACKUP_ROWS). Each run:
 * `osb backup` (which also restores the backup into a scratch server and checksums it) next to
 * `mariadb-backup --backup` by hand on the same node; then `osb destroy` + `osb restore` (prepare,
 * move-back, deploy, RabbitMQ definitions) next to `mariadb-backup --prepare` + `--copy-back` by
 * hand of the hand-taken backup into an empty dir. Times are divided by the node's data dir size.
 */
async function sectionBackup() {
  const fB = figs.add('7', '`osb backup` (full, incl. its restore check), per GB of data', {
    unit: 's/GB',
    baseline: '`mariadb-backup --backup` by hand, same node',
  });
  const fR = figs.add('7', '`osb destroy` + `osb restore` until deployed, per GB of data', {
    unit: 's/GB',
    baseline: '`mariadb-backup --prepare` + `--copy-back` by hand',
  });
  const fSize = figs.add('7', 'backup size', { unit: 'MB', baseline: '`mariadb-backup --backup` folder' });
  const fData = figs.add('7', '  data size (node data dir; baseline: sbtest tables)', { unit: 'MB', baseline: 'sbtest data + index length' });
  const all = [fB, fR, fSize, fData];
  if (!existsSync('/usr/bin/mariadb-backup')) {
    for (const f of all) f.skip('mariadb-backup is not installed');
    return;
  }
  const dir = join(root, 'osb-backup');
  const backups = join(root, 'osb-backups');
  registry.osb(dir);
  let deployed = false;
  try {
    const d = await osb(dir, ['deploy', ...portFlags(ctx.blocks.osb)], 600_000);
    if (d.code !== 0) throw new Error(`osb deploy exited ${d.code}: ${lastLines(d.stderr || d.stdout)}`);
    deployed = true;
    const eps = await osbEndpoints(dir);
    const socket = eps.mariadb.socket;
    const nodeDir = dirname(dirname(socket));
    const myCnf = join(nodeDir, 'my.cnf');
    const dataDir = join(nodeDir, 'data');
    const sbPassword = randomBytes(12).toString('hex');
    await prepareSysbenchAccount({ socketPath: socket, user: OS_USER }, sbPassword);
    const t0 = now();
    const prep = await run(
      'sysbench',
      [
        'oltp_read_write',
        '--db-driver=mysql',
        '--mysql-host=127.0.0.1',
        `--mysql-port=${eps.mariadb.port}`,
        `--mysql-user=${SB.user}`,
        `--mysql-password=${sbPassword}`,
        `--mysql-db=${SB.db}`,
        `--tables=${BACKUP_TABLES}`,
        `--table-size=${BACKUP_ROWS}`,
        '--threads=2',
        'prepare',
      ],
      { timeoutMs: 3600_000 },
    );
    if (prep.code !== 0) throw new Error(`sysbench prepare failed: ${lastLines(prep.stderr || prep.stdout)}`);
    log(`7 sysbench prepare ${BACKUP_TABLES} × ${BACKUP_ROWS} rows: ${((now() - t0) / 1000).toFixed(1)} s`);
    const c = await mysql.createConnection({ socketPath: socket, user: OS_USER });
    const [rows] = await c.query('SELECT SUM(data_length + index_length) AS b FROM information_schema.tables WHERE table_schema = ?', [SB.db]);
    await c.end();
    const tableBytes = Number(rows[0].b);
    const dataBytes = diskBytes(dataDir);
    const gb = dataBytes / GB;
    log(`7 data: node data dir ${(dataBytes / MB).toFixed(0)} MB, sbtest tables ${(tableBytes / MB).toFixed(0)} MB`);
    fData.pair(dataBytes / MB, tableBytes / MB);
    for (let i = 0; i < RUNS; i++) {
      if (i > 0 && !affordable('backup', 6 * 60 * Math.max(1, gb))) {
        notes.push(`backup: ${i} of ${RUNS} runs (time budget)`);
        break;
      }
      const bare = join(root, `bare-backup-${i}`);
      const res = {};
      for (const s of i % 2 === 0 ? ['osb', 'bare'] : ['bare', 'osb']) {
        if (s === 'osb') {
          const r = await osb(dir, ['backup', '--to', backups, '--json'], 3600_000);
          if (r.code !== 0) {
            fB.error(`osb backup exited ${r.code}: ${lastLines(r.stderr || r.stdout)}`);
            continue;
          }
          const out = JSON.parse(r.stdout);
          res.osb = { seconds: r.seconds, bytes: out.totalBytes ?? diskBytes(out.dir), id: out.id, dir: out.dir };
        } else {
          mkdirSync(bare, { recursive: true });
          const r = await run(
            '/usr/bin/mariadb-backup',
            [`--defaults-file=${myCnf}`, '--backup', `--target-dir=${join(bare, 'data')}`, `--user=${OS_USER}`, `--socket=${socket}`],
            { timeoutMs: 3600_000 },
          );
          if (r.code !== 0) {
            fB.error(`mariadb-backup --backup exited ${r.code}: ${lastLines(r.stderr)}`);
            continue;
          }
          res.bare = { seconds: r.seconds, bytes: diskBytes(join(bare, 'data')) };
        }
      }
      fB.pair(res.osb && res.osb.seconds / gb, res.bare && res.bare.seconds / gb);
      fSize.pair(res.osb && res.osb.bytes / MB, res.bare && res.bare.bytes / MB);
      log(
        `7 backup run ${i + 1}: osb ${res.osb?.seconds.toFixed(1)} s (${(res.osb?.bytes / MB).toFixed(0)} MB), bare ${res.bare?.seconds.toFixed(1)} s (${(res.bare?.bytes / MB).toFixed(0)} MB)`,
      );

      // restore: osb destroy + osb restore vs --prepare + --copy-back of the hand-taken backup
      const rres = {};
      for (const s of i % 2 === 0 ? ['bare', 'osb'] : ['osb', 'bare']) {
        if (s === 'osb' && res.osb) {
          const t1 = now();
          const x = await osb(dir, ['destroy'], 600_000);
          if (x.code !== 0) {
            fR.error(`osb destroy exited ${x.code}: ${lastLines(x.stderr || x.stdout)}`);
            deployed = true;
            continue;
          }
          deployed = false;
          const r = await osb(dir, ['restore', res.osb.dir, '--json'], 3600_000);
          deployed = true;
          if (r.code !== 0) {
            fR.error(`osb restore exited ${r.code}: ${lastLines(r.stderr || r.stdout)}`);
            continue;
          }
          rres.osb = (now() - t1) / 1000;
        } else if (s === 'bare' && res.bare) {
          const target = join(bare, 'restored');
          mkdirSync(target, { recursive: true });
          const t1 = now();
          const p = await run('/usr/bin/mariadb-backup', ['--no-defaults', '--prepare', `--target-dir=${join(bare, 'data')}`], { timeoutMs: 3600_000 });
          const cb =
            p.code === 0
              ? await run('/usr/bin/mariadb-backup', ['--no-defaults', '--copy-back', `--target-dir=${join(bare, 'data')}`, `--datadir=${target}`], {
                  timeoutMs: 3600_000,
                })
              : p;
          if (cb.code !== 0) {
            fR.error(`mariadb-backup --prepare/--copy-back exited ${cb.code}: ${lastLines(cb.stderr)}`);
            continue;
          }
          rres.bare = (now() - t1) / 1000;
        }
      }
      rmSync(bare, { recursive: true, force: true });
      fR.pair(rres.osb && rres.osb / gb, rres.bare && rres.bare / gb);
      log(`7 restore run ${i + 1}: osb destroy+restore ${rres.osb?.toFixed(1)} s, bare prepare+copy-back ${rres.bare?.toFixed(1)} s`);
      rmSync(backups, { recursive: true, force: true });
    }
  } catch (err) {
    for (const f of all) if (!f.figure.osb.length) f.error(errMsg(err));
    log(`7 backup failed: ${errMsg(err)}`);
  } finally {
    if (deployed) await osbDestroy(dir, ctx.blocks.osb).catch((err) => notes.push(`backup destroy: ${errMsg(err)}`));
    rmSync(backups, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ main

function writeResults(extra) {
  const file = join(REPO, 'bench', 'results.json');
  const data = {
    startedAt: new Date(Date.now() - elapsed() * 1000).toISOString(),
    durationSeconds: Number(elapsed().toFixed(1)),
    settings: { runs: RUNS, fastRuns: FAST_RUNS, loadSeconds: LOAD_S, budgetSeconds: BUDGET_S, portBlocks: ctx.blocks },
    host: ctx.host,
    sections: ctx.sections,
    notes,
    figures: figs.toJSON(),
    ...extra,
  };
  writeFileSync(file, JSON.stringify(data, null, 2) + '\n');
  return file;
}

let interrupted = false;
function onSignal(sig) {
  if (interrupted) return;
  interrupted = true;
  log(`${sig}: stopping every daemon the bench started`);
  const left = cleanupAll(log);
  if (left.length) log(`left behind: ${left.map((p) => p.pid).join(', ')}`);
  try {
    notes.push(`interrupted by ${sig}`);
    writeResults({ interrupted: sig });
  } catch {
    /* best effort */
  }
  process.exit(130);
}

async function main() {
  root = mkdtempSync('/tmp/osb-bench-');
  registry.setRoot(root);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => onSignal(sig));
  ctx.host = hostInfo();
  log(
    `osb bench: ${RUNS} runs per figure (${FAST_RUNS} for fast ones), ${LOAD_S} s load runs, ${ctx.host.cpus} CPUs, load ${ctx.host.loadavgStart.join(' ')}, root ${root}`,
  );
  let leftovers = [];
  try {
    ctx.blocks = await pickBlocks();
    log(`port blocks: osb ${ctx.blocks.osb}, bare ${ctx.blocks.bare}, clusters ${ctx.blocks.cluster}`);
    // osb's private epmd daemons are ours too: the last sweep stops any that outlive a destroy.
    for (const b of Object.values(ctx.blocks)) registry.epmd(blockPorts(b).epmd);
    const sections = [
      ['cold', 'cold deploy', sectionCold],
      ['noop', 'no-op redeploy / status', sectionNoop],
      ['load', 'throughput', sectionLoad],
      ['metrics', 'exporters: RSS and sysbench while scraped', sectionMetrics],
      ['teardown', 'teardown of the single nodes', teardownSingles],
      ['tls', 'TLS against plain text', sectionTls],
      ['cluster', 'clusters', sectionClusters],
      ['render', 'render', sectionRender],
      ['backup', 'backup and restore per GB', sectionBackup],
      [
        'supervision',
        'supervision under a real systemd (container)',
        () => sectionSupervision({ repo: REPO, figs, log, runs: int(process.env.BENCH_SUPERVISION_RUNS, 1) }),
      ],
    ];
    for (const [id, name, fn] of sections) {
      if (ONLY && id !== 'teardown' && !ONLY.has(id)) continue;
      const t0 = now();
      try {
        await fn();
      } catch (err) {
        notes.push(`${name}: ${errMsg(err)}`);
        log(`${name} failed: ${errMsg(err)}`);
      }
      const secs = (now() - t0) / 1000;
      ctx.sections.push({ section: name, seconds: Number(secs.toFixed(1)), loadavg1: Number(os.loadavg()[0].toFixed(2)) });
      log(`${name}: done in ${secs.toFixed(1)} s (load average ${os.loadavg()[0].toFixed(2)})`);
    }
  } finally {
    try {
      if (ctx.osbDir) await osbDestroy(ctx.osbDir, ctx.blocks.osb).catch(() => {});
      if (ctx.bare) await bareStopAll(ctx.bare);
      if (ctx.bareMariadb) await ctx.bareMariadb.stop();
    } catch {
      /* cleanupAll below is the safety net */
    }
    leftovers = cleanupAll(log);
  }
  ctx.host.loadavgEnd = os.loadavg().map((x) => Number(x.toFixed(2)));
  const table = renderTable(figs);
  process.stdout.write(`\n${table}\n\n`);
  if (notes.length) process.stdout.write(`notes:\n${notes.map((n) => `  - ${n}`).join('\n')}\n\n`);
  process.stdout.write(
    `${ctx.host.cpus} CPUs, load average ${ctx.host.loadavgStart.join('/')} at start, ${ctx.host.loadavgEnd.join('/')} at end; ` +
      `${ctx.host.otherDaemonsAtStart} other daemons (beam/mariadbd/memcached) were running on the host at start.\n` +
      `↓ lower is better, ↑ higher is better; ratios are osb ÷ baseline taken pair by pair in the same run.\n`,
  );
  const file = writeResults({ leftovers: leftovers.map((p) => p.cmdline.slice(0, 120)) });
  process.stdout.write(`results: ${file}; took ${elapsed().toFixed(0)} s\n`);
  if (leftovers.length) {
    process.stderr.write(`bench: could not stop: ${leftovers.map((p) => `${p.pid} ${p.cmdline.slice(0, 80)}`).join('; ')}\n`);
    process.exitCode = 1;
  }
}

await main();
