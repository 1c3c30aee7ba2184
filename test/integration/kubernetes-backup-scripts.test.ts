// The scheduled-backup programs of the Kubernetes target (backup-agent.sh, backup-job.sh from
// src/components/mariadb/pod/), run outside a cluster against a real mariadbd on 127.0.0.1: the agent
// streams a real `mariadb-backup --backup`, the job writes osb's backup folder and manifest, and the
// backup restores (mariadb-backup --prepare, then a real server on it). What only a cluster shows
// (the image's socat, volumes, NetworkPolicy, scheduling) is listed in docs/backup.md.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const POD = join(__dirname, '..', '..', 'src', 'components', 'mariadb', 'pod');
// Port block 103 (20000 + 100n): server, agent, restored server.
const BASE = 20000 + 103 * 100;
const PORT = { server: BASE + 40, agent: BASE + 45, restored: BASE + 41 };
const TOKEN = 'a'.repeat(64);
const PASSWORD = 'pw-' + Math.random().toString(36).slice(2);

let dir: string;
const procs: ChildProcess[] = [];

function cnf(name: string, data: string, port: number): string {
  const d = join(dir, name);
  for (const x of [d, join(d, 'run'), join(d, 'tmp')]) mkdirSync(x, { recursive: true });
  const file = join(d, 'my.cnf');
  writeFileSync(
    file,
    [
      '[mysqld]',
      'user = root',
      `datadir = ${data}`,
      `socket = ${join(d, 'run', 'mysqld.sock')}`,
      `pid-file = ${join(d, 'run', 'mysqld.pid')}`,
      `port = ${port}`,
      'bind-address = 127.0.0.1',
      `log-error = ${join(d, 'error.log')}`,
      `tmpdir = ${join(d, 'tmp')}`,
      '',
    ].join('\n'),
  );
  return file;
}

const sock = (name: string) => join(dir, name, 'run', 'mysqld.sock');

function sql(name: string, query: string): string {
  const r = spawnSync('mariadb', ['--no-defaults', `--socket=${sock(name)}`, '-uroot', '-N', '-B', '-e', query], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mariadb: ${r.stderr}`);
  return r.stdout.trim();
}

async function startServer(name: string, file: string): Promise<ChildProcess> {
  const child = spawn('mariadbd', [`--defaults-file=${file}`], { stdio: 'ignore' });
  procs.push(child);
  const end = Date.now() + 60_000;
  for (;;) {
    try {
      sql(name, 'SELECT 1');
      return child;
    } catch (err) {
      if (Date.now() > end || child.exitCode !== null) throw new Error(`${name} did not start: ${String(err)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    child.once('exit', () => res());
    child.kill('SIGTERM');
  });
}

function runJob(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const child = spawn('bash', [join(POD, 'backup-job.sh')], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return new Promise((res) => child.on('close', (code) => res({ code, out })));
}

let agentLog = '';
const jobEnv = () => ({
  OSB_BACKUP_TOKEN: TOKEN,
  OSB_BACKUP_PORT: String(PORT.agent),
  OSB_TARGET_FILE: join(dir, 'target'),
  OSB_BACKUP_ROOT: join(dir, 'backups'),
  OSB_VERSION: 'test',
  OSB_KEEP_COUNT: '1',
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'osb-k8s-backup-'));
  const file = cnf('server', join(dir, 'server', 'data'), PORT.server);
  const init = spawnSync('mariadb-install-db', [`--defaults-file=${file}`, '--skip-test-db', '--auth-root-authentication-method=socket'], { encoding: 'utf8' });
  if (init.status !== 0) throw new Error(init.stderr);
  await startServer('server', file);
  sql(
    'server',
    `CREATE USER osb_admin@localhost IDENTIFIED BY '${PASSWORD}'; GRANT ALL ON *.* TO osb_admin@localhost;` +
      'CREATE DATABASE nova; CREATE TABLE nova.t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(64)) ENGINE=InnoDB;' +
      "INSERT INTO nova.t (v) VALUES ('a'), ('b'), ('c');",
  );
  const agent = spawn('bash', [join(POD, 'backup-agent.sh'), 'listen'], {
    env: {
      PATH: process.env.PATH ?? '',
      POD_NAME: 'mariadb-1',
      OSB_ADMIN_USER: 'osb_admin',
      MARIADB_ADMIN_PASSWORD: PASSWORD,
      OSB_BACKUP_TOKEN: TOKEN,
      OSB_BACKUP_PORT: String(PORT.agent),
      OSB_BACKUP_BIND: '127.0.0.1',
      OSB_MARIADB_SOCKET: sock('server'),
      OSB_MARIADB_DATADIR: join(dir, 'server', 'data'),
      OSB_GALERA: '0',
      TMPDIR: join(dir, 'agent'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  procs.push(agent);
  agent.stdout.on('data', (d) => (agentLog += d));
  agent.stderr.on('data', (d) => (agentLog += d));
  const end = Date.now() + 10_000;
  while (!agentLog.includes('listening')) {
    if (Date.now() > end) throw new Error(`agent did not start: ${agentLog}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 300));
  writeFileSync(join(dir, 'target'), `mariadb-1 127.0.0.1\n`);
}, 120_000);

afterAll(async () => {
  for (const p of procs.reverse()) await stop(p);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('Kubernetes backup programs outside a cluster (backup-agent.sh + backup-job.sh, real mariadbd and mariadb-backup)', () => {
  it('the agent keeps the admin password out of every argv (a 0600 file instead)', () => {
    const cnfFile = join(dir, 'agent', 'osb-backup.cnf');
    expect(readFileSync(cnfFile, 'utf8')).toContain(`password=${PASSWORD}`);
    expect(spawnSync('stat', ['-c', '%a', cnfFile], { encoding: 'utf8' }).stdout.trim()).toBe('600');
    const argvs = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .map((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8');
        } catch {
          return '';
        }
      });
    expect(argvs.some((a) => a.includes(PASSWORD))).toBe(false);
  });

  it('a client with a wrong token gets nothing and the job says the stream ended early', async () => {
    const r = await runJob({ ...jobEnv(), OSB_BACKUP_TOKEN: 'b'.repeat(64) });
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('ended before the backup was complete');
    expect(readdirSync(join(dir, 'backups'))).toEqual([]);
    await new Promise((r) => setTimeout(r, 200));
    expect(agentLog).toContain('wrong token');
  });

  it('the job writes an osb backup folder (manifest, SHA-256 of every file) that restores with the rows it had', async () => {
    const first = await runJob(jobEnv());
    expect(first.code, first.out + agentLog).toBe(0);
    sql('server', "INSERT INTO nova.t (v) VALUES ('d')");
    const second = await runJob(jobEnv());
    expect(second.code, second.out).toBe(0);
    // backup.keep.count=1: only the newest stays, no partial folder.
    const ids = readdirSync(join(dir, 'backups'));
    expect(ids).toHaveLength(1);
    expect(ids[0]).toMatch(/^\d{8}T\d{9}Z-full$/);
    const b = join(dir, 'backups', ids[0]!);
    const m = JSON.parse(readFileSync(join(b, 'manifest.json'), 'utf8'));
    expect(m).toMatchObject({ format: 1, id: ids[0], kind: 'full', osbVersion: 'test', components: { mariadb: { node: 'mariadb-1' } } });
    expect(m.components.mariadb.checkpoints.backup_type).toBe('full-backuped');
    expect(m.components.mariadb.serverVersion).toMatch(/MariaDB/);
    expect(m.files.length).toBeGreaterThan(5);
    let total = 0;
    for (const f of m.files) {
      const data = readFileSync(join(b, f.path));
      expect(data.length, f.path).toBe(f.size);
      expect(createHash('sha256').update(data).digest('hex'), f.path).toBe(f.sha256);
      total += f.size;
    }
    expect(m.totalBytes).toBe(total);
    // The table's tablespace is t.ibd, or t.new when mariadb-backup saw it created since the last checkpoint (--prepare renames it).
    expect(m.files.map((f: { path: string }) => f.path).filter((p: string) => /^mariadb\/data\/nova\/t\.(ibd|new)$/.test(p))).toHaveLength(1);

    // Restore by hand the way `osb restore` does: prepare, move into an empty data dir, start a server.
    const prepared = join(dir, 'prepared');
    spawnSync('cp', ['-a', join(b, 'mariadb', 'data'), prepared]);
    const p = spawnSync('mariadb-backup', ['--no-defaults', '--prepare', `--target-dir=${prepared}`], { encoding: 'utf8' });
    expect(p.status, p.stderr.slice(-500)).toBe(0);
    const file = cnf('restored', prepared, PORT.restored);
    const server = await startServer('restored', file);
    expect(sql('restored', 'SELECT GROUP_CONCAT(v ORDER BY id) FROM nova.t')).toBe('a,b,c,d');
    await stop(server);
    expect(existsSync(join(dir, 'backups', `.${ids[0]}.partial`))).toBe(false);
  }, 180_000);
});
