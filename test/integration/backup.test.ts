/**
 * Issue 12 acceptance: backups proven by restoring them. One deployment on port block 100:
 * 3-node Galera behind osb's proxy, 3-node RabbitMQ, the 6 default OpenStack services, binlogs on
 * (backup.pitr). Clients are Debian's real oslo.db/PyMySQL and oslo.messaging (/usr/bin/python3),
 * configured only from `osb endpoints --service NAME --format oslo`.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockPorts } from '../helpers/local.js';
import { cleanup, osb, portBlock, tempStateDir, type OsbRun } from '../helpers/osb.js';

const PY = '/usr/bin/python3';
const HELPERS = resolve(__dirname, '../openstack');
const BLOCK = 100;
const PORTS = blockPorts(BLOCK);
const SETS = [
  ...portBlock(BLOCK),
  '--set',
  'mariadb.replicas=3',
  '--set',
  'rabbitmq.replicas=3',
  '--set',
  'memcached.enabled=false',
  '--set',
  'backup.pitr=true',
];
const SERVICES = ['keystone', 'glance', 'placement', 'nova', 'neutron', 'cinder'];

const stateDir = tempStateDir('backup');
const scratch = mkdtempSync(join(tmpdir(), 'osb-test-backup-copies-'));
const backups = join(stateDir, 'backups');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const why = (r: OsbRun) => (r.stderr.match(/osb: .*error.*/)?.[0] ?? '') + '\n' + r.stderr.slice(-2000) + r.stdout.slice(-1000);
const measured: Record<string, unknown> = {};

function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<OsbRun> {
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

/** Each service's oslo.config file, exactly as osb prints it. */
async function serviceConf(service: string): Promise<string> {
  const r = await osb(['endpoints', '--service', service, '--format', 'oslo'], { stateDir });
  expect(r.code, why(r)).toBe(0);
  const f = join(scratch, `${service}.conf`);
  writeFileSync(f, r.stdout, { mode: 0o600 });
  return f;
}

/** SQL through the service's oslo.db URL (PyMySQL, through the proxy). */
async function osloSql(service: string, ...sql: string[]): Promise<string[][]> {
  const r = await run(PY, [join(HELPERS, 'oslo_db_exec.py'), await serviceConf(service), ...sql]);
  expect(r.code, `${service}: ${r.stderr.slice(-1500)}`).toBe(0);
  return (JSON.parse(r.stdout.trim().split('\n').pop()!) as { rows: string[][] }).rows;
}

async function admin(): Promise<mysql.Connection> {
  const eps = JSON.parse((await osb(['endpoints', '--json'], { stateDir })).stdout) as {
    mariadb: { host: string; port: number; username: string; password: string };
  };
  return mysql.createConnection({ host: eps.mariadb.host, port: eps.mariadb.port, user: eps.mariadb.username, password: eps.mariadb.password });
}

/** CHECKSUM TABLE of every table of the six services' databases, through the proxy. */
async function checksums(): Promise<Record<string, string>> {
  const c = await admin();
  try {
    const [tables] = (await c.query(
      "SELECT TABLE_SCHEMA s, TABLE_NAME t FROM information_schema.TABLES WHERE TABLE_TYPE='BASE TABLE' AND TABLE_SCHEMA NOT IN ('mysql','information_schema','performance_schema','sys') ORDER BY 1,2",
    )) as unknown as [{ s: string; t: string }[]];
    const out: Record<string, string> = {};
    for (const { s, t } of tables) {
      const [r] = (await c.query(`CHECKSUM TABLE \`${s}\`.\`${t}\``)) as unknown as [{ Checksum: number }[]];
      out[`${s}.${t}`] = String(r[0]!.Checksum);
    }
    return out;
  } finally {
    await c.end();
  }
}

const localTime = (d: Date) => {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
};

async function backup(...args: string[]): Promise<{ id: string; dir: string; seconds: number }> {
  const r = await osb(['backup', '--json', ...args], { stateDir, timeoutMs: 300_000 });
  expect(r.code, why(r)).toBe(0);
  return JSON.parse(r.stdout) as { id: string; dir: string; seconds: number };
}

interface Status {
  components: { component: string; nodes: { name: string; details?: { galera?: { state: string; clusterStatus: string; clusterSize: number } } }[] }[];
  proxy?: { writer?: string };
}

async function insertRows(from: number, to: number): Promise<void> {
  const values = (svc: string) => Array.from({ length: to - from + 1 }, (_, i) => `(${from + i}, '${svc}-${from + i}')`).join(',');
  await osloSql('keystone', `INSERT INTO bk_rows (id, v) VALUES ${values('keystone')}`);
  await osloSql('nova', `INSERT INTO bk_rows (id, v) VALUES ${values('nova')}`);
}

let full: { id: string; dir: string; seconds: number };
let incr: { id: string; dir: string; seconds: number };
let atIncr: Record<string, string>;
let atT: Record<string, string>;
let T: string;

describe('backup and restore (3-node Galera, 3-node RabbitMQ, 6 services, PITR)', () => {
  beforeAll(async () => {
    const r = await osb(['deploy', ...SETS], { stateDir, timeoutMs: 300_000 });
    expect(r.code, why(r)).toBe(0);
    for (const s of ['keystone', 'nova']) await osloSql(s, 'CREATE TABLE bk_rows (id INT PRIMARY KEY, v VARCHAR(64) NOT NULL) ENGINE=InnoDB');
    await insertRows(1, 50);
  }, 400_000);

  afterAll(async () => {
    console.log('measured:', JSON.stringify(measured));
    await cleanup(stateDir);
    rmSync(scratch, { recursive: true, force: true });
  }, 180_000);

  it('a full backup under a write load never stalls the writer for 1 s or more; taken from a Synced non-writer node', async () => {
    const loop = spawn(PY, [join(HELPERS, 'ha_db_loop.py'), await serviceConf('cinder'), 'bk_load'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const times: number[] = [];
    createInterface({ input: loop.stdout }).on('line', (l) => {
      const f = l.split(' ');
      if (f[0] === 'A') times.push(Number(f[2]));
    });
    const done = new Promise((res) => loop.on('close', res));
    try {
      while (times.length < 20) await sleep(50);
      const t0 = Date.now() / 1000;
      full = await backup();
      const t1 = Date.now() / 1000;
      await sleep(300);
      const during = times.filter((t) => t >= t0 - 0.5 && t <= t1 + 0.3);
      let gap = 0;
      for (let i = 1; i < during.length; i++) gap = Math.max(gap, during[i]! - during[i - 1]!);
      measured.fullBackupSeconds = full.seconds;
      measured.commitsDuringBackup = during.length;
      measured.longestCommitGapDuringBackupS = Math.round(gap * 1000) / 1000;
      expect(during.length).toBeGreaterThan(20);
      expect(gap).toBeLessThan(1);
    } finally {
      loop.stdin.end();
      await done;
    }
    const manifest = JSON.parse(readFileSync(join(full.dir, 'manifest.json'), 'utf8'));
    const status = JSON.parse((await osb(['status', '--json'], { stateDir })).stdout) as Status;
    expect(manifest.components.mariadb.node).not.toBe(status.proxy?.writer);
    expect(manifest.components.mariadb.galera.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(manifest.components.mariadb.binlog.file).toMatch(/^mariadb-bin\.\d+$/);
    expect(manifest.components.mariadb.tableChecksums['keystone.bk_rows']).toMatch(/^\d+$/);
    expect(manifest.files.length).toBeGreaterThan(10);
    for (const f of manifest.files) expect(f.sha256).toMatch(/^[0-9a-f]{64}$/);
  }, 300_000);

  it('incremental, later writes, a time T, more writes, a dropped table; then destroy', async () => {
    await insertRows(51, 100);
    incr = await backup('--incremental');
    atIncr = await checksums();
    const m = JSON.parse(readFileSync(join(incr.dir, 'manifest.json'), 'utf8'));
    expect(m.parent).toBe(full.id);
    // The manifest's checksums (computed on the prepared backup) equal what clients saw at that backup.
    expect(m.components.mariadb.tableChecksums['keystone.bk_rows']).toBe(atIncr['keystone.bk_rows']);
    await insertRows(101, 150);
    atT = await checksums();
    await sleep(1100);
    T = localTime(new Date());
    await sleep(1100);
    await insertRows(151, 200);
    await osloSql('nova', 'DROP TABLE bk_rows');
    const a = await osb(['backup', 'archive-binlogs'], { stateDir });
    expect(a.code, why(a)).toBe(0);
    const list = await osb(['backup', 'list'], { stateDir });
    expect(list.stdout).toContain(incr.id);
    expect(list.stdout).toMatch(/point-in-time window/);
    expect(atT['nova.bk_rows']).not.toBe(atIncr['nova.bk_rows']);
    const d = await osb(['destroy'], { stateDir, timeoutMs: 120_000 });
    expect(d.code, why(d)).toBe(0);
    expect(existsSync(join(stateDir, 'mariadb'))).toBe(false);
  }, 300_000);

  it('a backup with one byte flipped and a chain without its parent are refused before anything is written; verify fails', async () => {
    const flipped = join(scratch, 'flipped');
    cpSync(backups, flipped, { recursive: true, filter: (src) => !src.includes('/binlogs') });
    // The incremental's biggest page-delta file (changed InnoDB pages).
    const data = join(flipped, incr.id, 'mariadb', 'data');
    const deltas = (readdirSync(data, { recursive: true }) as string[])
      .filter((f) => f.endsWith('.delta'))
      .sort((a, b) => statSync(join(data, b)).size - statSync(join(data, a)).size);
    expect(deltas.length).toBeGreaterThan(0);
    const ibd = join(data, deltas[0]!);
    const buf = readFileSync(ibd);
    buf[Math.floor(buf.length / 2)]! ^= 0xff;
    writeFileSync(ibd, buf);
    const target = join(scratch, 'target');
    const r1 = await osb(['restore', join(flipped, incr.id)], { stateDir: target });
    expect(r1.code).not.toBe(0);
    expect(r1.stderr).toContain(`mariadb/data/${deltas[0]}`);
    expect(r1.stderr).toMatch(/damaged/);
    expect(existsSync(target)).toBe(false);
    const v = await osb(['backup', 'verify', join(flipped, incr.id)], { stateDir: target });
    expect(v.code).not.toBe(0);
    expect(v.stdout).toMatch(/FAILED/);

    const orphan = join(scratch, 'orphan');
    cpSync(join(backups, incr.id), join(orphan, incr.id), { recursive: true });
    const r2 = await osb(['restore', join(orphan, incr.id)], { stateDir: target });
    expect(r2.code).not.toBe(0);
    expect(r2.stderr).toContain(`parent ${full.id} is missing`);
    expect(existsSync(target)).toBe(false);
  }, 300_000);

  it('osb backup verify: restores into a scratch server and checks it', async () => {
    const v = await osb(['backup', 'verify', incr.id, '--json'], { stateDir, timeoutMs: 300_000 });
    expect(v.code, why(v)).toBe(0);
    expect((JSON.parse(v.stdout) as { ok: boolean }).ok).toBe(true);
  }, 300_000);

  it('restore <incremental> --to-time T: exactly the rows committed up to T, 3 Synced nodes, every service URL logs in and writes, RabbitMQ definitions back', async () => {
    const t0 = Date.now();
    const r = await osb(['restore', incr.id, '--to-time', T], { stateDir, timeoutMs: 600_000 });
    expect(r.code, why(r)).toBe(0);
    measured.restorePitrSeconds = (Date.now() - t0) / 1000;
    expect(await checksums()).toEqual(atT);
    expect(await osloSql('nova', 'SELECT COUNT(*), MAX(id) FROM bk_rows')).toEqual([['150', '150']]);
    const status = JSON.parse((await osb(['status', '--json'], { stateDir })).stdout) as Status;
    const galera = status.components.find((c) => c.component === 'mariadb')!.nodes.map((n) => n.details?.galera);
    expect(galera.map((g) => `${g?.state}/${g?.clusterStatus}/${g?.clusterSize}`)).toEqual(Array(3).fill('Synced/Primary/3'));
    for (const s of SERVICES) {
      expect(
        await osloSql(
          s,
          'CREATE TABLE IF NOT EXISTS restored_probe (id INT PRIMARY KEY)',
          'INSERT INTO restored_probe VALUES (1)',
          'SELECT COUNT(*) FROM restored_probe',
        ),
      ).toEqual([['1']]);
    }
    // oslo.messaging RPC with the restored service user and vhost; quorum default queue type kept.
    const eps = JSON.parse((await osb(['endpoints', '--json'], { stateDir })).stdout) as {
      services: Record<string, { transport_url?: string }>;
      rabbitmq: { username: string; password: string };
    };
    const rpc = await run(PY, [join(HELPERS, 'rpc_roundtrip.py'), eps.services.nova!.transport_url!], 90_000);
    expect(rpc.code, rpc.stderr.slice(-1500)).toBe(0);
    const res = await fetch(`http://127.0.0.1:${PORTS.management}/api/vhosts/nova`, {
      headers: { authorization: `Basic ${Buffer.from(`${eps.rabbitmq.username}:${eps.rabbitmq.password}`).toString('base64')}` },
    });
    expect(((await res.json()) as { default_queue_type?: string }).default_queue_type).toBe('quorum');
  }, 700_000);

  it('restore <incremental> without --to-time (PITR not used): the state at that backup', async () => {
    const d = await osb(['destroy'], { stateDir, timeoutMs: 120_000 });
    expect(d.code, why(d)).toBe(0);
    const t0 = Date.now();
    const r = await osb(['restore', incr.id], { stateDir, timeoutMs: 600_000 });
    expect(r.code, why(r)).toBe(0);
    measured.restoreSeconds = (Date.now() - t0) / 1000;
    expect(await checksums()).toEqual(atIncr);
    expect(await osloSql('keystone', 'SELECT COUNT(*) FROM bk_rows')).toEqual([['100']]);
    expect(readdirSync(backups).filter((n) => n.endsWith('-full') || n.endsWith('-incr'))).toEqual([full.id, incr.id]);
  }, 700_000);
});
