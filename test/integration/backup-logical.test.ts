/**
 * Issue 12, per-service logical dumps: "moving one service's data". Deployment A (port block 105)
 * and deployment B (block 106), each a single MariaDB node (RabbitMQ and memcached off) with the
 * default services provisioned. Debian's real keystone-manage fills A's keystone database through the
 * URL osb printed; `osb backup --logical keystone` dumps it; `osb restore` loads it into B, where
 * keystone's user and password from A's URL work and every keystone table's CHECKSUM TABLE equals A's.
 * A flipped byte and a restore over existing tables without --replace are refused with B unchanged.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockPorts } from '../helpers/local.js';
import { cleanup, osb, portBlock, tempStateDir, type OsbRun } from '../helpers/osb.js';

const PY = '/usr/bin/python3';
const HELPERS = resolve(__dirname, '../openstack');
const A = { block: 105, dir: tempStateDir('logical-a') };
const B = { block: 106, dir: tempStateDir('logical-b') };
const sets = (block: number) => [
  ...portBlock(block),
  '--set',
  'rabbitmq.enabled=false',
  '--set',
  'memcached.enabled=false',
  // The scratch server of the checks: a port of this block (the default, mariadb.port + 90, is in the next one).
  '--set',
  `backup.verifyPort=${20000 + block * 100 + 75}`,
];
const work = mkdtempSync(join(tmpdir(), 'osb-test-logical-work-'));
const why = (r: OsbRun) => `${r.stderr.slice(-2500)}\n${r.stdout.slice(-1000)}`;

function run(cmd: string, args: string[], timeoutMs = 300_000): Promise<OsbRun> {
  return new Promise((res) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(t);
      res({ code: code ?? -1, stdout, stderr });
    });
  });
}

interface ServiceJson {
  username: string;
  password: string;
  database_connection: string;
}

async function keystoneOf(stateDir: string): Promise<ServiceJson> {
  const r = await osb(['endpoints', '--service', 'keystone', '--format', 'json'], { stateDir });
  expect(r.code, why(r)).toBe(0);
  return (JSON.parse(r.stdout) as Record<string, ServiceJson>).keystone!;
}

/** keystone.conf made of osb's printed oslo lines (optionally edited) and the two key repositories. */
async function keystoneConf(stateDir: string, name: string, edit: (t: string) => string = (t) => t): Promise<string> {
  const r = await osb(['endpoints', '--service', 'keystone', '--format', 'oslo'], { stateDir });
  expect(r.code, why(r)).toBe(0);
  const keys = join(work, 'keys');
  mkdirSync(join(keys, 'fernet'), { recursive: true });
  mkdirSync(join(keys, 'credential'), { recursive: true });
  const conf = join(work, `${name}.conf`);
  writeFileSync(
    conf,
    `${edit(r.stdout)}\n[fernet_tokens]\nkey_repository = ${join(keys, 'fernet')}\n\n[credential]\nkey_repository = ${join(keys, 'credential')}\n`,
    { mode: 0o600 },
  );
  return conf;
}

async function keystoneManage(conf: string, ...args: string[]): Promise<OsbRun> {
  return run('keystone-manage', ['--config-file', conf, ...args], 600_000);
}

async function adminOf(stateDir: string): Promise<mysql.Connection> {
  const eps = JSON.parse((await osb(['endpoints', '--json'], { stateDir })).stdout) as {
    mariadb: { host: string; port: number; username: string; password: string };
  };
  return mysql.createConnection({ host: eps.mariadb.host, port: eps.mariadb.port, user: eps.mariadb.username, password: eps.mariadb.password });
}

/** CHECKSUM TABLE and COUNT(*) of every table of a database. */
async function tablesOf(stateDir: string, db: string): Promise<{ sums: Record<string, string>; rows: Record<string, number> }> {
  const c = await adminOf(stateDir);
  try {
    const [tables] = (await c.query("SELECT TABLE_NAME t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1", [
      db,
    ])) as unknown as [{ t: string }[]];
    const sums: Record<string, string> = {};
    const rows: Record<string, number> = {};
    for (const { t } of tables) {
      const [s] = (await c.query(`CHECKSUM TABLE \`${db}\`.\`${t}\``)) as unknown as [{ Checksum: number }[]];
      sums[t] = String(s[0]!.Checksum);
      const [n] = (await c.query(`SELECT COUNT(*) AS n FROM \`${db}\`.\`${t}\``)) as unknown as [{ n: number }[]];
      rows[t] = Number(n[0]!.n);
    }
    return { sums, rows };
  } finally {
    await c.end();
  }
}

const readSecrets = (dir: string) => readFileSync(join(dir, 'secrets.json'), 'utf8');
const sha256 = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

let aKeystone: ServiceJson;
let aTables: { sums: Record<string, string>; rows: Record<string, number> };
let backup: { id: string; dir: string; kind: string; services: string[]; seconds: number; totalBytes: number };
const measured: Record<string, unknown> = {};

beforeAll(async () => {
  for (const d of [A, B]) {
    const r = await osb(['deploy', ...sets(d.block)], { stateDir: d.dir, timeoutMs: 600_000 });
    if (r.code !== 0) throw new Error(`osb deploy (${d.dir}) failed (${r.code}):\n${why(r)}`);
  }
  // Keystone's own schema and rows, written by Debian's keystone-manage through A's printed URL.
  const conf = await keystoneConf(A.dir, 'keystone-a');
  const sync = await keystoneManage(conf, 'db_sync');
  if (sync.code !== 0) throw new Error(`keystone-manage db_sync failed:\n${sync.stderr.slice(-3000)}`);
  for (const setup of ['fernet_setup', 'credential_setup']) {
    const s = await keystoneManage(conf, setup, '--keystone-user', 'root', '--keystone-group', 'root');
    if (s.code !== 0) throw new Error(`keystone-manage ${setup} failed:\n${s.stderr.slice(-3000)}`);
  }
  const boot = await keystoneManage(conf, 'bootstrap', '--bootstrap-password', 'osb-logical-pw', '--bootstrap-region-id', 'RegionOne');
  if (boot.code !== 0) throw new Error(`keystone-manage bootstrap failed:\n${boot.stderr.slice(-3000)}`);
  aKeystone = await keystoneOf(A.dir);
  aTables = await tablesOf(A.dir, 'keystone');
}, 1_500_000);

afterAll(async () => {
  await Promise.all([cleanup(A.dir), cleanup(B.dir)]);
  rmSync(work, { recursive: true, force: true });
  if (Object.keys(measured).length) console.log(`logical backup measurements: ${JSON.stringify(measured)}`);
}, 300_000);

describe('osb backup --logical keystone (deployment A)', () => {
  it('dumps keystone and its account into its own folder with a checksummed manifest, and checks it in a scratch server', async () => {
    expect(Object.keys(aTables.sums).length).toBeGreaterThan(30);
    expect(aTables.rows.local_user).toBe(1);
    const r = await osb(['backup', '--logical', 'keystone', '--json'], { stateDir: A.dir, timeoutMs: 600_000 });
    expect(r.code, why(r)).toBe(0);
    backup = JSON.parse(r.stdout);
    measured.backupSeconds = backup.seconds;
    measured.backupBytes = backup.totalBytes;
    expect(backup).toMatchObject({ kind: 'logical', services: ['keystone'] });
    expect(backup.dir).toBe(join(A.dir, 'backups', backup.id));
    expect(statSync(join(A.dir, 'backups')).mode & 0o777).toBe(0o700);

    const m = JSON.parse(readFileSync(join(backup.dir, 'manifest.json'), 'utf8'));
    expect(m).toMatchObject({ format: 1, id: backup.id, kind: 'logical', services: ['keystone'] });
    expect(m.osbVersion).toMatch(/^\d+\.\d+\.\d+/);
    const part = m.components.mariadb;
    expect(part.serverVersion).toMatch(/MariaDB/);
    expect(part.node).toBe('mariadb-0');
    expect(part.services.keystone).toMatchObject({ databases: ['keystone'], users: ['keystone@%'], file: 'keystone.sql.gz' });
    // The rows the dump holds, counted from the dump as it was written, equal what A holds (nothing wrote since).
    expect(part.databases.keystone.tables).toEqual(aTables.rows);
    // And the checksums recorded from loading it into the scratch server equal A's.
    expect(Object.fromEntries(Object.entries(part.tableChecksums as Record<string, string>).map(([t, v]) => [t.replace(/^keystone\./, ''), v]))).toEqual(
      aTables.sums,
    );
    // Every file: listed with its size and SHA-256, private.
    const files = m.files as { path: string; size: number; sha256: string }[];
    expect(files.map((f) => f.path).sort()).toEqual(['mariadb/keystone.accounts.json', 'mariadb/keystone.sql.gz', 'service-passwords.json']);
    for (const f of files) {
      const p = join(backup.dir, f.path);
      expect(statSync(p).size, f.path).toBe(f.size);
      expect(sha256(p), f.path).toBe(f.sha256);
      expect(statSync(p).mode & 0o777, f.path).toBe(0o600);
    }
    expect(readFileSync(join(backup.dir, 'mariadb/keystone.sql.gz')).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    // The account is there with its password hash, not the password; only the service's password file holds that.
    const accounts = JSON.parse(readFileSync(join(backup.dir, 'mariadb/keystone.accounts.json'), 'utf8')) as { create: string; grants: string[] }[];
    expect(accounts[0]!.create).toMatch(/^CREATE USER `keystone`@`%` IDENTIFIED BY PASSWORD '\*[0-9A-F]{40}'/);
    expect(accounts[0]!.grants.join('\n')).toMatch(/GRANT ALL PRIVILEGES ON `keystone`\.\* TO `keystone`@`%`/);
    expect(JSON.parse(readFileSync(join(backup.dir, 'service-passwords.json'), 'utf8'))).toEqual({ keystone: aKeystone.password });
    const adminPassword = JSON.parse(readSecrets(A.dir)).mariadbAdminPassword as string;
    for (const f of files) if (!f.path.endsWith('.gz')) expect(readFileSync(join(backup.dir, f.path), 'utf8')).not.toContain(adminPassword);
    expect(JSON.parse(readFileSync(join(backup.dir, 'verify.json'), 'utf8'))).toMatchObject({ ok: true, when: 'backup' });
  }, 700_000);

  it('osb backup list shows it as logical with its services; verify loads it again and checks tables and rows', async () => {
    const l = await osb(['backup', 'list', '--json'], { stateDir: A.dir });
    expect(l.code, why(l)).toBe(0);
    expect(JSON.parse(l.stdout).backups).toEqual([expect.objectContaining({ id: backup.id, kind: 'logical', services: ['keystone'], verified: 'ok' })]);
    const t = await osb(['backup', 'list'], { stateDir: A.dir });
    expect(t.stdout).toMatch(new RegExp(`${backup.id}\\s+logical\\s+-\\s+keystone\\s`));
    const v = await osb(['backup', 'verify', backup.id, '--json'], { stateDir: A.dir, timeoutMs: 600_000 });
    expect(v.code, why(v)).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ id: backup.id, ok: true, problems: [], facts: { mariadb: { tables: Object.keys(aTables.sums).length } } });
  }, 700_000);
});

describe('osb restore of the logical backup into deployment B', () => {
  it('refuses a copy with one flipped byte, naming the file, and changes nothing in B', async () => {
    const copy = join(work, backup.id);
    cpSync(backup.dir, copy, { recursive: true });
    const f = join(copy, 'mariadb/keystone.sql.gz');
    const bytes = readFileSync(f);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    writeFileSync(f, bytes);
    const before = { secrets: readSecrets(B.dir), keystone: await keystoneOf(B.dir), tables: await tablesOf(B.dir, 'keystone') };
    expect(before.tables.sums).toEqual({});
    const r = await osb(['restore', copy], { stateDir: B.dir, timeoutMs: 600_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`backup ${backup.id} is damaged: mariadb/keystone.sql.gz does not match its SHA-256 in the manifest`);
    expect(readSecrets(B.dir)).toBe(before.secrets);
    expect(await tablesOf(B.dir, 'keystone')).toEqual(before.tables);
    // B's own keystone account is untouched: its password still logs in, A's does not.
    const bk = { host: '127.0.0.1', port: blockPorts(B.block).mariadb, user: 'keystone', database: 'keystone' };
    await (await mysql.createConnection({ ...bk, password: before.keystone.password })).end();
    await expect(mysql.createConnection({ ...bk, password: aKeystone.password })).rejects.toThrow(/Access denied/);
    // And verify reports the damaged copy as failed.
    const v = await osb(['backup', 'verify', copy], { stateDir: A.dir, timeoutMs: 600_000 });
    expect(v.code).toBe(1);
    expect(v.stdout).toContain('mariadb/keystone.sql.gz does not match its SHA-256');
  }, 700_000);

  it("loads keystone into B: A's keystone user and password work on B, and every table's CHECKSUM TABLE equals A's", async () => {
    const r = await osb(['restore', backup.dir, '--json'], { stateDir: B.dir, timeoutMs: 600_000 });
    expect(r.code, why(r)).toBe(0);
    const out = JSON.parse(r.stdout);
    measured.restoreSeconds = out.seconds;
    expect(out).toMatchObject({ kind: 'logical', id: backup.id, services: ['keystone'], ok: true, problems: [] });
    expect((await tablesOf(B.dir, 'keystone')).sums).toEqual(aTables.sums);
    // A's URL, pointed at B's port: the same user and password, through oslo.db (PyMySQL).
    const aPort = String(blockPorts(A.block).mariadb);
    const bPort = String(blockPorts(B.block).mariadb);
    const aConfOnB = await keystoneConf(A.dir, 'keystone-a-on-b', (t) => t.replace(`@127.0.0.1:${aPort}/`, `@127.0.0.1:${bPort}/`));
    expect(readFileSync(aConfOnB, 'utf8')).toContain(`mysql+pymysql://keystone:${aKeystone.password}@127.0.0.1:${bPort}/keystone`);
    const q = await run(PY, [join(HELPERS, 'oslo_db_exec.py'), aConfOnB, "SELECT name FROM local_user WHERE name = 'admin'"]);
    expect(q.code, q.stderr.slice(-1500)).toBe(0);
    expect(JSON.parse(q.stdout.trim().split('\n').pop()!).rows).toEqual([['admin']]);
    // Keystone itself finds its schema complete on B.
    const check = await keystoneManage(aConfOnB, 'db_sync', '--check');
    expect(check.code, check.stdout + check.stderr.slice(-2000)).toBe(0);
    // B now prints the URL the restored account accepts, and a later deploy keeps it.
    expect((await keystoneOf(B.dir)).password).toBe(aKeystone.password);
    const again = await osb(['deploy', ...sets(B.block)], { stateDir: B.dir, timeoutMs: 600_000 });
    expect(again.code, why(again)).toBe(0);
    const bConf = await keystoneConf(B.dir, 'keystone-b');
    const q2 = await run(PY, [join(HELPERS, 'oslo_db_exec.py'), bConf, 'SELECT COUNT(*) FROM project']);
    expect(q2.code, q2.stderr.slice(-1500)).toBe(0);
    expect(Number(JSON.parse(q2.stdout.trim().split('\n').pop()!).rows[0][0])).toBe(aTables.rows.project);
  }, 900_000);

  it('refuses to load over tables that exist without --replace (nothing changed); --replace drops and reloads keystone only', async () => {
    // A row written on B after the restore: --replace must remove it, the refused restore must keep it.
    const c = await adminOf(B.dir);
    try {
      await c.query("INSERT INTO keystone.region (id, description, extra) VALUES ('RegionTwo', 'b only', '{}')");
      await c.query('CREATE TABLE glance.b_only (id INT PRIMARY KEY)');
    } finally {
      await c.end();
    }
    const changed = await tablesOf(B.dir, 'keystone');
    expect(changed.rows.region).toBe(aTables.rows.region! + 1);
    const refused = await osb(['restore', backup.dir], { stateDir: B.dir, timeoutMs: 600_000 });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/the target already holds data in keystone \(\d+ table\(s\)\); nothing was changed — pass --replace/);
    expect(await tablesOf(B.dir, 'keystone')).toEqual(changed);
    const replaced = await osb(['restore', backup.dir, '--service', 'keystone', '--replace', '--json'], { stateDir: B.dir, timeoutMs: 600_000 });
    expect(replaced.code, why(replaced)).toBe(0);
    expect(JSON.parse(replaced.stdout)).toMatchObject({ ok: true, services: ['keystone'] });
    expect((await tablesOf(B.dir, 'keystone')).sums).toEqual(aTables.sums);
    expect(Object.keys((await tablesOf(B.dir, 'glance')).sums)).toEqual(['b_only']);
    // A service the backup does not hold is named.
    const other = await osb(['restore', backup.dir, '--service', 'nova'], { stateDir: B.dir });
    expect(other.code).toBe(2);
    expect(other.stderr).toContain(`backup ${backup.id} holds keystone, not nova`);
  }, 700_000);
});
