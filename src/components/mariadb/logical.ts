/**
 * MariaDB's per-service logical dumps (`osb backup --logical`, `osb restore` of one, `osb backup
 * verify` of one): `mariadb-dump --single-transaction` of each service's databases from the same
 * node a physical backup reads (a Synced non-writer on Galera), the service's accounts as
 * `SHOW CREATE USER` / `SHOW GRANTS` give them (same password hash), loaded back through the
 * writer of a running deployment or into a scratch server. See docs/backup.md.
 */
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import type { LogicalBackupHooks, LogicalRestoreContext, LogicalTakeContext, LogicalVerifyContext, RestoredCheck } from '../../model/backup.js';
import type { Endpoints } from '../../model/endpoints.js';
import { accountName } from '../../model/services.js';
import { OsbError } from '../../util/errors.js';
import { runQuiet } from '../../util/exec.js';
import { stopProcess } from '../../util/process.js';
import { backupNode, startScratch, tableChecksums, writeScratchCnf } from './backup.js';
import { ident, type MariadbEndpoint, withMariadb } from './client.js';
import { DumpScanner, type DumpFacts } from './dump-scan.js';
import { MARIADB_BINARIES, mariadbPaths } from './local.js';
import { builtin, childProcess } from '../../util/builtin.js';

// Loaded when a dump is taken or loaded, not with the component registry (every command).
const stream = builtin<typeof import('node:stream')>('node:stream');
const streamPromises = builtin<typeof import('node:stream/promises')>('node:stream/promises');
const zlib = builtin<typeof import('node:zlib')>('node:zlib');

export const DUMP_BIN = '/usr/bin/mariadb-dump';
const CLIENT_BIN = '/usr/bin/mariadb';
const osUser = () => userInfo().username;

/** One account as it was: `SHOW CREATE USER` (password hash included) and its `SHOW GRANTS`. */
export interface DumpedAccount {
  user: string;
  host: string;
  create: string;
  grants: string[];
}

/** The manifest section of one service in a logical backup. */
export interface LogicalServicePart {
  databases: string[];
  /** user@host of its accounts. */
  users: string[];
  /** The dump (gzip) and the accounts (JSON), relative to the component's folder. */
  file: string;
  accountsFile: string;
  /** Uncompressed SQL bytes. */
  sqlBytes: number;
  /** Binlog position of this dump's snapshot (only when the server writes binlogs: backup.pitr). */
  binlog?: { file: string; position: number; gtid?: string };
}

/** The manifest section of MariaDB in a logical backup. */
export interface LogicalPart {
  node: string;
  serverVersion: string;
  /** Whether the server wrote binlogs (then each service has its exact GTID position). */
  binlogs: boolean;
  services: Record<string, LogicalServicePart>;
  /** Database → service, and its tables with the rows the dump holds. */
  databases: Record<string, { service: string; tables: Record<string, number> }>;
  /** `CHECKSUM TABLE` of every table as the dump loaded into a scratch server when it was taken. */
  tableChecksums?: Record<string, string>;
}

const asPart = (p: Record<string, unknown>) => p as unknown as LogicalPart;

// ---------- taking ----------

async function accountsOf(c: Connection, user: string): Promise<DumpedAccount[]> {
  const [rows] = (await c.query('SELECT User AS u, Host AS h FROM mysql.user WHERE User = ? ORDER BY Host', [user])) as unknown as [{ u: string; h: string }[]];
  const out: DumpedAccount[] = [];
  for (const { u, h } of rows) {
    const [cr] = (await c.query('SHOW CREATE USER ?@?', [u, h])) as unknown as [Record<string, string>[]];
    const [gr] = (await c.query('SHOW GRANTS FOR ?@?', [u, h])) as unknown as [Record<string, string>[]];
    out.push({ user: u, host: h, create: Object.values(cr[0]!)[0]!, grants: gr.map((r) => Object.values(r)[0]!) });
  }
  return out;
}

/** mariadb-dump … | (rows counted) | gzip > file; the dump's own facts. */
async function dumpTo(args: string[], file: string): Promise<DumpFacts> {
  const child = childProcess().spawn(DUMP_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    if (err.length < 64 * 1024) err += d.toString();
  });
  const exited = new Promise<number | null>((res, rej) => {
    child.on('error', (e) => rej(new OsbError(`cannot run ${DUMP_BIN}: ${e.message}`, 'install it: apt-get install -y mariadb-client')));
    child.on('close', (code) => res(code));
  });
  const scanner = new DumpScanner();
  const tap = new (stream().Transform)({
    transform(chunk: Buffer, _enc, cb) {
      scanner.push(chunk);
      cb(null, chunk);
    },
  });
  const written = streamPromises().pipeline(
    child.stdout,
    tap,
    zlib().createGzip({ level: zlib().constants.Z_BEST_SPEED }),
    createWriteStream(file, { mode: 0o600 }),
  );
  const [code] = await Promise.all([exited, written]);
  if (code !== 0) throw new OsbError(`mariadb-dump failed (exit ${code}): ${err.trim().split('\n').slice(-3).join(' | ')}`);
  const facts = scanner.end();
  if (!facts.complete) throw new OsbError('mariadb-dump ended before its "-- Dump completed" line');
  return facts;
}

async function take(ctx: LogicalTakeContext): Promise<{ services: string[]; part: Record<string, unknown> }> {
  if (!existsSync(DUMP_BIN)) throw new OsbError(`${DUMP_BIN} is not installed`, 'install it: apt-get install -y --no-install-recommends mariadb-client');
  const node = await backupNode(ctx.config, ctx.stateDir, ctx.secrets, ctx.nodes, ctx.report);
  const socket = mariadbPaths(node.dir).socket;
  const ep: MariadbEndpoint = { host: node.host, port: node.port, user: osUser(), socketPath: socket };
  const live = await withMariadb(ep, async (c) => {
    const [v] = (await c.query('SELECT VERSION() AS v, @@log_bin AS b')) as unknown as [{ v: string; b: number }[]];
    const [dbs] = (await c.query('SHOW DATABASES')) as unknown as [{ Database: string }[]];
    return { version: v[0]!.v, binlogs: Number(v[0]!.b) === 1, databases: new Set(dbs.map((d) => d.Database)) };
  });
  const chosen: { name: string; databases: string[] }[] = [];
  for (const s of ctx.services) {
    const dbs = Object.keys(s.databases);
    const missing = dbs.filter((d) => !live.databases.has(d));
    if (!dbs.length || missing.length) {
      if (ctx.explicit)
        throw new OsbError(
          `service ${s.name} is not provisioned on ${node.name}: ${dbs.length ? `database ${missing.join(', ')} missing` : 'it has no databases'}`,
          `provision it first (osb provision ${s.name}), or leave it out`,
          2,
        );
      continue;
    }
    chosen.push({ name: s.name, databases: dbs });
  }
  if (!chosen.length)
    throw new OsbError(`no provisioned OpenStack service on ${node.name} to dump`, 'provision one first (osb provision), or name the services to dump', 2);
  const part: LogicalPart = { node: node.name, serverVersion: live.version, binlogs: live.binlogs, services: {}, databases: {} };
  for (const s of chosen) {
    ctx.report(`${node.name}: mariadb-dump --single-transaction ${s.databases.join(' ')} (${s.name})`);
    const accounts = await withMariadb(ep, (c) => accountsOf(c, accountName(s.name)));
    const accountsFile = `${s.name}.accounts.json`;
    writeFileSync(join(ctx.dir, accountsFile), JSON.stringify(accounts, null, 2) + '\n', { mode: 0o600 });
    const file = `${s.name}.sql.gz`;
    const facts = await dumpTo(
      [
        '--no-defaults',
        `--socket=${socket}`,
        `--user=${osUser()}`,
        // One consistent snapshot of the service's databases; writers are not blocked (no FLUSH TABLES WITH READ LOCK:
        // with --single-transaction MariaDB reads the binlog position from binlog_snapshot_*).
        '--single-transaction',
        '--quick',
        '--routines',
        '--triggers',
        '--events',
        '--hex-blob',
        '--skip-add-locks',
        '--skip-dump-date',
        '--default-character-set=utf8mb4',
        ...(live.binlogs ? ['--master-data=2', '--gtid'] : []),
        '--databases',
        ...s.databases,
      ],
      join(ctx.dir, file),
    );
    for (const db of s.databases) part.databases[db] = { service: s.name, tables: facts.tables[db] ?? {} };
    part.services[s.name] = {
      databases: s.databases,
      users: accounts.map((a) => `${a.user}@${a.host}`),
      file,
      accountsFile,
      sqlBytes: facts.bytes,
      ...(facts.binlog ? { binlog: facts.binlog } : {}),
    };
    const rows = s.databases.reduce((n, db) => n + Object.values(part.databases[db]!.tables).reduce((a, b) => a + b, 0), 0);
    ctx.report(`${s.name}: ${rows} rows, ${accounts.length} account(s)`);
  }
  return { services: chosen.map((s) => s.name), part: part as unknown as Record<string, unknown> };
}

// ---------- loading ----------

/** Re-creates accounts exactly as they were (CREATE OR REPLACE: the same password hash and only the dumped grants). */
async function recreateAccounts(ep: MariadbEndpoint, accounts: DumpedAccount[]): Promise<void> {
  await withMariadb(ep, async (c) => {
    for (const a of accounts) {
      if (!/^CREATE USER /.test(a.create)) throw new OsbError(`unexpected account statement for ${a.user}@${a.host} in the backup`);
      await c.query(a.create.replace(/^CREATE USER /, 'CREATE OR REPLACE USER '));
      for (const g of a.grants) await c.query(g);
    }
  });
}

/** gunzip < file | mariadb <client args>; the client's own connection options come from argv (socket) or a 0600 option file. */
async function loadDump(file: string, clientArgs: string[]): Promise<void> {
  const child = childProcess().spawn(CLIENT_BIN, [...clientArgs, '--batch', '--binary-mode'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    if (err.length < 64 * 1024) err += d.toString();
  });
  const exited = new Promise<number | null>((res, rej) => {
    child.on('error', (e) => rej(new OsbError(`cannot run ${CLIENT_BIN}: ${e.message}`, 'install it: apt-get install -y mariadb-client')));
    child.on('close', (code) => res(code));
  });
  const fed = streamPromises()
    .pipeline(createReadStream(file), zlib().createGunzip(), child.stdin)
    .catch((e: Error) => e);
  const [code, fedErr] = await Promise.all([exited, fed]);
  if (code !== 0) throw new OsbError(`loading ${file} failed (mariadb exit ${code}): ${err.trim().split('\n').slice(-3).join(' | ')}`);
  if (fedErr) throw new OsbError(`reading ${file} failed: ${fedErr.message}`);
}

/** A 0600 client option file with the admin's password (never in argv); mariadb reads only this file. */
function adminOptionFile(workDir: string, ep: MariadbEndpoint): string {
  const q = (v: string) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const file = join(workDir, 'client.cnf');
  writeFileSync(
    file,
    [
      '[client]',
      `user = ${q(ep.user)}`,
      `password = ${q(ep.password ?? '')}`,
      `host = ${ep.host}`,
      `port = ${ep.port}`,
      'protocol = TCP',
      ...(ep.caFile ? [`ssl-ca = ${ep.caFile}`, 'ssl-verify-server-cert'] : []),
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return file;
}

/** Databases, tables and row counts as the manifest holds them; `CHECKSUM TABLE` equal to it when it has them. */
async function checkLoaded(ep: MariadbEndpoint, part: LogicalPart, services: string[]): Promise<RestoredCheck> {
  const problems: string[] = [];
  const dbs = services.flatMap((s) => part.services[s]?.databases ?? []);
  const rowCounts: Record<string, number> = {};
  await withMariadb(ep, async (c) => {
    const [have] = (await c.query('SELECT SCHEMA_NAME s FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN (?)', [dbs])) as unknown as [{ s: string }[]];
    const present = new Set(have.map((r) => r.s));
    for (const db of dbs) {
      if (!present.has(db)) {
        problems.push(`database ${db} is missing`);
        continue;
      }
      const expected = part.databases[db]?.tables ?? {};
      const [tables] = (await c.query(
        "SELECT TABLE_NAME t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') ORDER BY 1",
        [db],
      )) as unknown as [{ t: string }[]];
      const found = new Set(tables.map((r) => r.t));
      for (const [t, rows] of Object.entries(expected)) {
        if (!found.has(t)) {
          problems.push(`table ${db}.${t} is missing`);
          continue;
        }
        const [n] = (await c.query(`SELECT COUNT(*) AS n FROM ${ident(db)}.${ident(t)}`)) as unknown as [{ n: number }[]];
        rowCounts[`${db}.${t}`] = Number(n[0]!.n);
        if (Number(n[0]!.n) !== rows) problems.push(`table ${db}.${t}: ${n[0]!.n} rows, the manifest says ${rows}`);
      }
      for (const t of found) if (!(t in expected)) problems.push(`table ${db}.${t} is not in the manifest`);
    }
  });
  const { sums } = await tableChecksums(
    ep,
    dbs.filter((d) => !problems.includes(`database ${d} is missing`)),
  );
  if (part.tableChecksums) {
    for (const [t, v] of Object.entries(part.tableChecksums)) {
      if (!dbs.includes(t.split('.')[0]!) || !(t in sums)) continue;
      if (sums[t] !== v) problems.push(`table ${t}: checksum ${sums[t]}, the manifest says ${v}`);
    }
  }
  return { ok: problems.length === 0, problems, facts: { tableChecksums: sums, tables: Object.keys(sums).length, rowCounts } };
}

function readAccounts(dir: string, s: LogicalServicePart): DumpedAccount[] {
  return JSON.parse(readFileSync(join(dir, s.accountsFile), 'utf8')) as DumpedAccount[];
}

// ---------- restore into a running deployment ----------

function writerOf(eps: Endpoints): MariadbEndpoint {
  const m = eps.mariadb;
  if (!m) throw new OsbError('MariaDB is not deployed in the target', 'deploy it first: osb deploy mariadb', 3);
  return { host: m.host, port: m.port, user: m.username, password: m.password, ...(m.caFile ? { caFile: m.caFile } : {}) };
}

async function restorePreflight(ctx: LogicalRestoreContext): Promise<void> {
  const part = asPart(ctx.part);
  const writer = writerOf(ctx.endpoints);
  const dbs = ctx.services.flatMap((s) => part.services[s]?.databases ?? []);
  let held: { s: string; tables: number; routines: number; events: number }[];
  try {
    held = await withMariadb(writer, async (c) => {
      const out: { s: string; tables: number; routines: number; events: number }[] = [];
      for (const db of dbs) {
        const [[t], [r], [e]] = await Promise.all([
          c.query('SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [db]),
          c.query('SELECT COUNT(*) AS n FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?', [db]),
          c.query('SELECT COUNT(*) AS n FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?', [db]),
        ] as unknown as Promise<[{ n: number }[]]>[]);
        out.push({ s: db, tables: Number(t[0]!.n), routines: Number(r[0]!.n), events: Number(e[0]!.n) });
      }
      return out;
    });
  } catch (err) {
    throw new OsbError(
      `cannot reach the target's MariaDB writer at ${writer.host}:${writer.port}: ${(err as Error).message}`,
      'check it with `osb status` (start it with `osb deploy`), then restore again',
      3,
    );
  }
  const busy = held.filter((h) => h.tables + h.routines + h.events > 0);
  if (busy.length && !ctx.replace) {
    const what = busy.map((h) => `${h.s} (${h.tables} table(s)${h.routines ? `, ${h.routines} routine(s)` : ''}${h.events ? `, ${h.events} event(s)` : ''})`);
    throw new OsbError(
      `the target already holds data in ${what.join(', ')}; nothing was changed`,
      `pass --replace to drop and reload ${busy.map((h) => h.s).join(', ')} (their current data is lost), or restore into another deployment`,
      2,
    );
  }
}

async function restore(ctx: LogicalRestoreContext): Promise<RestoredCheck> {
  const part = asPart(ctx.part);
  const writer = writerOf(ctx.endpoints);
  const options = adminOptionFile(ctx.workDir, writer);
  for (const name of ctx.services) {
    const s = part.services[name]!;
    ctx.report(`${name}: re-creating ${s.users.join(', ') || 'no accounts'}`);
    await recreateAccounts(writer, readAccounts(ctx.dir, s));
    await withMariadb(writer, async (c) => {
      for (const db of s.databases) await c.query(`DROP DATABASE IF EXISTS ${ident(db)}`);
    });
    ctx.report(`${name}: loading ${s.databases.join(', ')} through ${writer.host}:${writer.port}`);
    await loadDump(join(ctx.dir, s.file), [`--defaults-file=${options}`]);
  }
  ctx.report('checking tables, row counts and checksums');
  return checkLoaded(writer, part, ctx.services);
}

// ---------- verify: a scratch server ----------

async function verifyScratch(ctx: LogicalVerifyContext): Promise<RestoredCheck> {
  const part = asPart(ctx.part);
  const services = Object.keys(part.services);
  const data = join(ctx.workDir, 'data');
  mkdirSync(data, { recursive: true, mode: 0o700 });
  const extra = ['innodb_log_file_size = 16M'];
  const { cnf } = writeScratchCnf(ctx.workDir, data, ctx.host, ctx.port, extra);
  ctx.report('initialising an empty scratch server');
  await runQuiet(
    MARIADB_BINARIES.installDb,
    [`--defaults-file=${cnf}`, '--skip-test-db', '--auth-root-authentication-method=socket', `--auth-root-socket-user=${osUser()}`],
    { logFile: join(ctx.workDir, 'install-db.log') },
  );
  ctx.report(`starting it on ${ctx.host}:${ctx.port}`);
  const scratch = await startScratch(ctx.workDir, data, ctx.host, ctx.port, extra);
  try {
    const root: MariadbEndpoint = { host: ctx.host, port: ctx.port, user: osUser(), socketPath: scratch.socket };
    for (const name of services) {
      const s = part.services[name]!;
      ctx.report(`loading ${name} (${s.databases.join(', ')})`);
      await recreateAccounts(root, readAccounts(ctx.dir, s));
      await loadDump(join(ctx.dir, s.file), ['--no-defaults', `--socket=${scratch.socket}`, `--user=${osUser()}`]);
    }
    const check = await checkLoaded(root, part, services);
    // Each service logs in over TCP with its own password, as its oslo.db URL does.
    for (const name of services) {
      const s = part.services[name]!;
      const password = ctx.passwords[name];
      if (password === undefined) {
        check.problems.push(`${name}: no password recorded in the backup`);
        continue;
      }
      const user = s.users.find((u) => u.endsWith('@%'))?.replace(/@%$/, '') ?? accountName(name);
      for (const db of s.databases) {
        try {
          await withMariadb({ host: ctx.host, port: ctx.port, user, password, database: db }, (c) => c.query('SELECT 1'));
        } catch (err) {
          check.problems.push(`${name} cannot log in to ${db}: ${(err as Error).message}`);
        }
      }
    }
    return { ...check, ok: check.problems.length === 0 };
  } finally {
    await stopProcess(scratch.pid, 60_000);
  }
}

export const mariadbLogical: LogicalBackupHooks = { take, restorePreflight, restore, verifyScratch };
