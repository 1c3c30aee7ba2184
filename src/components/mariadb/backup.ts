/**
 * MariaDB's part of `osb backup` / `osb restore` / `osb backup verify` on the local target:
 * physical backups with mariadb-backup (full, incremental), prepared chains, a scratch server
 * for checks, and binlog archiving/replay for point-in-time restore. See docs/backup.md.
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { basename, join } from 'node:path';
import type { Config } from '../../config/schema.js';
import type { Secrets } from '../../config/secrets.js';
import type { BackupHooks, BackupTakeContext, RestoreDataContext, RestoredCheck, ScratchVerifyContext } from '../../model/backup.js';
import { clustered } from '../../model/desired.js';
import type { LocalInstance } from '../../model/local.js';
import { accountName, serviceSpecs } from '../../model/services.js';
import { OsbError } from '../../util/errors.js';
import { runQuiet } from '../../util/exec.js';
import { sleep } from '../../util/net.js';
import { isAlive, runningPid, startDetached, stopProcess } from '../../util/process.js';
import { BINLOG_BASENAME } from './binlog.js';
import { archiveDir, binlogsFor as archivedBinlogsFor, type BinlogPosition, PitrError, pitrWindow, readIndex, sha256Of, writeIndex } from './binlog-archive.js';
import { ident, withMariadb } from './client.js';
import { wsrepOf } from './local-cluster.js';
import { MARIADB_BINARIES, mariadbPaths } from './local.js';
import { proxyStatus } from './local-proxy.js';
import { childProcess } from '../../util/builtin.js';

export const BACKUP_BIN = '/usr/bin/mariadb-backup';
const BINLOG_BIN = '/usr/bin/mariadb-binlog';
const CLIENT_BIN = '/usr/bin/mariadb';

const osUser = () => userInfo().username;
const socketOf = (inst: LocalInstance) => mariadbPaths(inst.dir).socket;
const viaSocket = (inst: LocalInstance) => ({ host: inst.host, port: inst.port, user: osUser(), socketPath: socketOf(inst) });

/** A file mariadb-backup writes, under its 10.11 name or the older xtrabackup_ one. */
function infoFile(dir: string, what: 'binlog_info' | 'galera_info' | 'checkpoints'): string | undefined {
  for (const n of [`mariadb_backup_${what}`, `xtrabackup_${what}`]) if (existsSync(join(dir, n))) return readFileSync(join(dir, n), 'utf8').trim();
  return undefined;
}

function parseBinlogInfo(text: string | undefined): BinlogPosition | undefined {
  const f = text?.split(/\s+/).filter(Boolean);
  if (!f || f.length < 2) return undefined;
  return { file: basename(f[0]!), position: Number(f[1]), ...(f[2] ? { gtid: f[2] } : {}) };
}

function parseCheckpoints(text: string | undefined): Record<string, string> {
  return Object.fromEntries(
    (text ?? '')
      .split('\n')
      .map((l) => l.split('=').map((x) => x.trim()))
      .filter((x) => x.length === 2) as [string, string][],
  );
}

/** The node a backup is taken from: on Galera a Synced member that is not the proxy's writer, so the writer never desyncs. */
export async function backupNode(
  config: Config,
  stateDir: string,
  secrets: Secrets,
  nodes: LocalInstance[],
  report: (m: string) => void,
): Promise<LocalInstance> {
  if (!clustered(config.mariadb)) {
    const n = nodes[0]!;
    if (!runningPid(n)) throw new OsbError(`${n.name} is not running`, 'start it with `osb deploy`, then back up');
    return n;
  }
  const writer = (await proxyStatus(config, stateDir, secrets, runningPid)).writer;
  const seen: string[] = [];
  for (const n of nodes) {
    if (n.name === writer) {
      seen.push(`${n.name}: the writer`);
      continue;
    }
    const ws = runningPid(n) ? await wsrepOf(n) : undefined;
    seen.push(`${n.name}: ${ws ? `${ws.state}/${ws.clusterStatus}` : 'down'}`);
    if (ws?.state === 'Synced' && ws.clusterStatus === 'Primary') {
      report(`backing up from ${n.name} (Synced; the writer is ${writer ?? 'unknown'})`);
      return n;
    }
  }
  throw new OsbError(
    `no Synced non-writer Galera node to back up from (${seen.join('; ')})`,
    'run `osb deploy` to bring the cluster back, then back up; osb never desyncs the writer',
  );
}

async function liveContents(inst: LocalInstance, config: Config) {
  return withMariadb(viaSocket(inst), async (c) => {
    const [v] = (await c.query('SELECT VERSION() AS v')) as unknown as [{ v: string }[]];
    const [dbs] = (await c.query('SHOW DATABASES')) as unknown as [{ Database: string }[]];
    const [users] = (await c.query("SELECT CONCAT(User, '@', Host) AS u FROM mysql.user ORDER BY 1")) as unknown as [{ u: string }[]];
    const wanted = new Set(serviceSpecs(config).flatMap((s) => Object.keys(s.databases)));
    return {
      serverVersion: v[0]!.v,
      databases: dbs.map((d) => d.Database).filter((d) => wanted.has(d)),
      users: users.map((u) => u.u),
    };
  });
}

async function take(ctx: BackupTakeContext): Promise<Record<string, unknown>> {
  if (!existsSync(BACKUP_BIN)) throw new OsbError(`${BACKUP_BIN} is not installed`, 'install it: apt-get install -y --no-install-recommends mariadb-backup');
  const node = await backupNode(ctx.config, ctx.stateDir, ctx.secrets, ctx.nodes, ctx.report);
  const target = join(ctx.dir, 'data');
  const log = join(ctx.dir, 'mariadb-backup.log');
  const parentData = ctx.parentDir ? join(ctx.parentDir, 'data') : undefined;
  const args = [
    `--defaults-file=${mariadbPaths(node.dir).myCnf}`,
    '--backup',
    `--target-dir=${target}`,
    `--user=${osUser()}`,
    `--socket=${socketOf(node)}`,
    ...(clustered(ctx.config.mariadb) ? ['--galera-info'] : []),
    ...(parentData ? [`--incremental-basedir=${parentData}`] : []),
  ];
  ctx.report(`${node.name}: mariadb-backup --backup${parentData ? ' --incremental' : ''}`);
  const contents = await liveContents(node, ctx.config);
  await runQuiet(BACKUP_BIN, args, { logFile: log, timeoutMs: 24 * 3600_000 });
  const galera = infoFile(target, 'galera_info');
  // "uuid:seqno", then the wsrep GTID when wsrep_gtid_mode is on (backup.pitr).
  const [uuid, seqno] = (galera ?? '').split(/\s+/)[0]!.split(':');
  return {
    node: node.name,
    ...contents,
    binlog: parseBinlogInfo(infoFile(target, 'binlog_info')),
    ...(galera ? { galera: { uuid, seqno: Number(seqno) } } : {}),
    checkpoints: parseCheckpoints(infoFile(target, 'checkpoints')),
    /** Archived binlogs of the deployment this backup came from (point-in-time restore). */
    binlogHistory: ctx.config.backup.pitr ? historyId(ctx.stateDir) : undefined,
  };
}

/** Applies the chain to a copy of the full backup: --prepare, then --prepare --incremental-dir for each incremental. */
export async function prepareChain(chain: { dir: string }[], target: string, report: (m: string) => void): Promise<void> {
  rmSync(target, { recursive: true, force: true });
  cpSync(join(chain[0]!.dir, 'data'), target, { recursive: true });
  const log = `${target}.prepare.log`;
  report(`preparing the full backup${chain.length > 1 ? ` and ${chain.length - 1} incremental(s)` : ''}`);
  await runQuiet(BACKUP_BIN, ['--no-defaults', '--prepare', `--target-dir=${target}`], { logFile: log });
  for (const link of chain.slice(1)) {
    // --prepare moves files out of the incremental dir: apply a copy, never the backup itself.
    const incr = `${target}.incremental`;
    rmSync(incr, { recursive: true, force: true });
    cpSync(join(link.dir, 'data'), incr, { recursive: true });
    try {
      await runQuiet(BACKUP_BIN, ['--no-defaults', '--prepare', `--target-dir=${target}`, `--incremental-dir=${incr}`], { logFile: log });
    } finally {
      rmSync(incr, { recursive: true, force: true });
    }
  }
}

// ---------- point-in-time: archived binlogs ----------

/**
 * Binlogs of one deployment's history: a restored deployment starts new logs with the same
 * names, so each history (until the next destroy) archives into its own folder.
 */
function historyId(stateDir: string): string {
  const f = join(stateDir, 'mariadb', 'binlog-history');
  if (!existsSync(f)) {
    mkdirSync(join(stateDir, 'mariadb'), { recursive: true });
    writeFileSync(f, `${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}Z-${Math.random().toString(36).slice(2, 8)}\n`, { mode: 0o600 });
  }
  return readFileSync(f, 'utf8').trim();
}

/** Closes the current binlog of every running node (FLUSH LOCAL BINARY LOGS) and copies every closed one not yet archived. */
async function archiveLogs(ctx: { config: Config; nodes: LocalInstance[]; backupRoot: string; stateDir: string; report: (m: string) => void }) {
  if (!ctx.config.backup.pitr) return { copied: [] };
  const history = historyId(ctx.stateDir);
  const copied: string[] = [];
  for (const n of ctx.nodes) {
    if (!runningPid(n)) continue;
    const closedBy = new Date().toISOString();
    const active = await withMariadb(viaSocket(n), async (c) => {
      await c.query('FLUSH LOCAL BINARY LOGS');
      const [st] = (await c.query('SHOW MASTER STATUS')) as unknown as [{ File: string }[]];
      return st[0]?.File;
    });
    const src = mariadbPaths(n.dir).binlogDir;
    const dst = archiveDir(ctx.backupRoot, history, n.name);
    mkdirSync(dst, { recursive: true, mode: 0o700 });
    const index = readIndex(dst);
    const have = new Set(index.map((e) => e.file));
    const files = readdirSync(src)
      .filter((f) => f.startsWith(`${BINLOG_BASENAME}.`) && /\.\d+$/.test(f) && f !== active)
      .sort();
    for (const f of files) {
      if (have.has(f)) continue;
      copyFileSync(join(src, f), join(dst, `${f}.tmp`));
      renameSync(join(dst, `${f}.tmp`), join(dst, f));
      index.push({ file: f, size: statSync(join(dst, f)).size, sha256: await sha256Of(join(dst, f)), closedBy });
      copied.push(`${n.name}/${f}`);
    }
    writeIndex(dst, index);
  }
  if (copied.length) ctx.report(`archived ${copied.length} binlog file(s)`);
  return { copied, window: pitrWindow(ctx.backupRoot, history) };
}

/**
 * The archived binlogs a point-in-time restore replays (binlog-archive.ts, the logic the Kubernetes
 * restore pod runs too), as an OsbError when they do not reach `toTime`.
 */
export async function binlogsFor(root: string, part: Record<string, unknown>, toTime: string, backupEnd: string): Promise<string[]> {
  try {
    return await archivedBinlogsFor(root, part, toTime, backupEnd);
  } catch (err) {
    if (err instanceof PitrError) throw new OsbError(err.message, err.fix, 2);
    throw err;
  }
}

/** mariadb-binlog FILES --start-position --stop-datetime | mariadb, over the node's socket. */
async function replay(files: string[], start: number, toTime: string, socket: string, logFile: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const dump = childProcess().spawn(BINLOG_BIN, ['--no-defaults', `--start-position=${start}`, `--stop-datetime=${toTime}`, ...files], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const client = childProcess().spawn(CLIENT_BIN, ['--no-defaults', `--socket=${socket}`, `--user=${osUser()}`, '--binary-mode'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let err = '';
    dump.stderr.on('data', (d: Buffer) => (err += d.toString()));
    client.stderr.on('data', (d: Buffer) => (err += d.toString()));
    client.stdout.on('data', () => {});
    dump.stdout.pipe(client.stdin);
    let codes = 0;
    const failures: string[] = [];
    const done = (what: string) => (code: number | null) => {
      if (code !== 0) failures.push(`${what} exit ${code}`);
      if (++codes === 2) {
        writeFileSync(logFile, err);
        if (failures.length) reject(new OsbError(`binlog replay failed (${failures.join(', ')}): ${err.trim().split('\n').slice(-3).join(' | ')}`));
        else resolve();
      }
    };
    dump.on('close', done('mariadb-binlog'));
    client.on('close', done('mariadb'));
    dump.on('error', reject);
    client.on('error', reject);
  });
}

async function restoreData(ctx: RestoreDataContext): Promise<{ forceBootstrap?: string }> {
  const last = ctx.chain[ctx.chain.length - 1]!;
  const files = ctx.toTime ? await binlogsFor(ctx.backupRoot, last.part, ctx.toTime, last.manifest.finishedAt) : [];
  const prepared = join(ctx.workDir, 'mariadb-prepared');
  await prepareChain(ctx.chain, prepared, ctx.report);
  const node0 = ctx.nodes[0]!;
  const p = mariadbPaths(node0.dir);
  if (existsSync(p.dataDir) && readdirSync(p.dataDir).length)
    throw new OsbError(`${p.dataDir} is not empty`, 'restore into a fresh deployment (osb destroy first, or another --state-dir)', 2);
  mkdirSync(node0.dir, { recursive: true, mode: 0o700 });
  ctx.report(`${node0.name}: copying the prepared data back`);
  await runQuiet(BACKUP_BIN, ['--no-defaults', '--move-back', `--target-dir=${prepared}`, `--datadir=${p.dataDir}`], {
    logFile: join(ctx.workDir, 'move-back.log'),
  });
  if (files.length) {
    // Alone, without Galera or TCP: no client sees the data before it is complete.
    ctx.report(`${node0.name}: replaying ${files.length} archived binlog file(s) up to ${ctx.toTime}`);
    await ctx.runtime.start(node0, { extraArgs: ['--wsrep-on=OFF', '--wsrep-provider=none', '--skip-networking', '--skip-log-bin'], onProgress: ctx.report });
    try {
      await replay(files, (last.part.binlog as BinlogPosition).position, ctx.toTime!, p.socket, join(p.logDir, 'binlog-replay.log'));
    } finally {
      await ctx.runtime.stop(node0);
    }
  }
  return clustered(ctx.config.mariadb) ? { forceBootstrap: node0.name } : {};
}

// ---------- scratch server: verify ----------

export interface Scratch {
  pid: number;
  socket: string;
}

/** The scratch server's private config (0600): 127.0.0.1 only, no binlog, no Galera. */
export function writeScratchCnf(dir: string, dataDir: string, host: string, port: number, extra: string[] = []): { cnf: string; socket: string } {
  const cnf = join(dir, 'scratch.cnf');
  const socket = join(dir, 'scratch.sock');
  writeFileSync(
    cnf,
    [
      '[mysqld]',
      `user = ${osUser()}`,
      `datadir = ${dataDir}`,
      `socket = ${socket}`,
      `pid-file = ${join(dir, 'scratch.pid')}`,
      `port = ${port}`,
      `bind-address = ${host}`,
      `log-error = ${join(dir, 'scratch.err')}`,
      `tmpdir = ${dir}`,
      'skip-name-resolve',
      'skip-log-bin',
      'wsrep_on = OFF',
      'innodb_buffer_pool_size = 64M',
      'innodb_autoinc_lock_mode = 2',
      ...extra,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return { cnf, socket };
}

export async function startScratch(dir: string, dataDir: string, host: string, port: number, extra: string[] = []): Promise<Scratch> {
  const { cnf, socket } = writeScratchCnf(dir, dataDir, host, port, extra);
  const pid = startDetached(MARIADB_BINARIES.server, [`--defaults-file=${cnf}`], {}, join(dir, 'scratch.console'));
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      await withMariadb({ host, port, user: osUser(), socketPath: socket }, (c) => c.query('SELECT 1'), 1000);
      return { pid, socket };
    } catch {
      if (!isAlive(pid)) {
        const tail = existsSync(join(dir, 'scratch.err')) ? readFileSync(join(dir, 'scratch.err'), 'utf8').trim().split('\n').slice(-3).join(' | ') : '';
        throw new OsbError(`the restored copy does not start: ${tail}`);
      }
      if (Date.now() > deadline) throw new OsbError('the restored copy did not answer within 120 s');
      await sleep(200);
    }
  }
}

/** CHECKSUM TABLE of every table of the service databases, and the newest created_at/updated_at. */
export async function tableChecksums(ep: { host: string; port: number; user: string; socketPath?: string; password?: string }, databases: string[]) {
  return withMariadb(ep, async (c) => {
    const sums: Record<string, string> = {};
    let newest: string | undefined;
    if (!databases.length) return { sums, newest };
    const [tables] = (await c.query(
      "SELECT TABLE_SCHEMA s, TABLE_NAME t FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA IN (?) ORDER BY 1, 2",
      [databases],
    )) as unknown as [{ s: string; t: string }[]];
    for (const { s, t } of tables) {
      const [r] = (await c.query(`CHECKSUM TABLE ${ident(s)}.${ident(t)}`)) as unknown as [{ Checksum: number | string | null }[]];
      sums[`${s}.${t}`] = String(r[0]?.Checksum ?? 'null');
    }
    const [cols] = (await c.query(
      "SELECT TABLE_SCHEMA s, TABLE_NAME t, COLUMN_NAME c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA IN (?) AND COLUMN_NAME IN ('created_at','updated_at') AND DATA_TYPE IN ('datetime','timestamp')",
      [databases],
    )) as unknown as [{ s: string; t: string; c: string }[]];
    for (const { s, t, c: col } of cols) {
      const [r] = (await c.query(`SELECT DATE_FORMAT(MAX(${ident(col)}), '%Y-%m-%d %H:%i:%s') m FROM ${ident(s)}.${ident(t)}`)) as unknown as [
        { m: string | null }[],
      ];
      const m = r[0]?.m;
      if (m && (!newest || m > newest)) newest = m;
    }
    return { sums, newest };
  });
}

async function verifyScratch(ctx: ScratchVerifyContext): Promise<RestoredCheck> {
  const last = ctx.chain[ctx.chain.length - 1]!;
  const data = join(ctx.workDir, 'data');
  await prepareChain(ctx.chain, data, ctx.report);
  ctx.report(`starting a scratch server on ${ctx.host}:${ctx.port}`);
  const scratch = await startScratch(ctx.workDir, data, ctx.host, ctx.port);
  const problems: string[] = [];
  try {
    const root = { host: ctx.host, port: ctx.port, user: osUser(), socketPath: scratch.socket };
    const [dbRows] = (await withMariadb(root, (c) => c.query('SHOW DATABASES'))) as unknown as [{ Database: string }[]];
    const have = new Set(dbRows.map((r) => r.Database));
    const services = serviceSpecs(ctx.config);
    const expectedDbs = (last.part.databases as string[] | undefined) ?? services.flatMap((s) => Object.keys(s.databases));
    for (const db of expectedDbs) if (!have.has(db)) problems.push(`database ${db} is missing`);
    // Each service logs in over TCP with its own password, as its oslo.db URL does.
    for (const s of services) {
      const password = ctx.secrets.services[s.name] ?? s.configuredPassword;
      if (!password) continue;
      for (const db of Object.keys(s.databases).filter((d) => have.has(d))) {
        try {
          await withMariadb({ host: ctx.host, port: ctx.port, user: accountName(s.name), password, database: db }, (c) => c.query('SELECT 1'));
        } catch (err) {
          problems.push(`${s.name} cannot log in to ${db}: ${(err as Error).message}`);
        }
      }
    }
    const { sums, newest } = await tableChecksums(
      root,
      expectedDbs.filter((d) => have.has(d)),
    );
    const expected = last.part.tableChecksums as Record<string, string> | undefined;
    if (expected) {
      for (const [t, v] of Object.entries(expected)) {
        if (!(t in sums)) problems.push(`table ${t} is missing`);
        else if (sums[t] !== v) problems.push(`table ${t}: checksum ${sums[t]}, manifest says ${v}`);
      }
      for (const t of Object.keys(sums)) if (!(t in expected)) problems.push(`table ${t} is not in the manifest`);
    }
    return { ok: problems.length === 0, problems, facts: { tableChecksums: sums, tables: Object.keys(sums).length, newestRowTime: newest ?? null } };
  } finally {
    await stopProcess(scratch.pid, 60_000);
  }
}

async function restorePreflight(ctx: { chain: RestoreDataContext['chain']; toTime?: string; backupRoot: string }): Promise<void> {
  const last = ctx.chain[ctx.chain.length - 1]!;
  if (ctx.toTime) await binlogsFor(ctx.backupRoot, last.part, ctx.toTime, last.manifest.finishedAt);
}

export const mariadbBackup: BackupHooks = { take, incremental: true, restorePreflight, restoreData, verifyScratch, archiveLogs };
