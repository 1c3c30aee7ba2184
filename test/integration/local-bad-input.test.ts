/**
 * Acceptance 4 of issue 2: each bad input gives one clear error line, a non-zero exit, and
 * changes nothing — neither for a deployment that does not exist yet (no state dir, no
 * process) nor for one that runs (same files, same pids). Also the deployment lock.
 * Port blocks 4 (an existing deployment: memcached only, it starts in milliseconds) and 5.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockPorts, listeningInBlock, ok, pids, processesOf } from '../helpers/local.js';
import { cleanup, osb, portBlock, tempStateDir, type OsbRun } from '../helpers/osb.js';

const EXISTING = 4;
const FRESH = 5;
const scratch = mkdtempSync(join(tmpdir(), 'osb-test-bad-input-'));
// Never created by a good run: every fresh case must leave it absent.
const freshDir = join(scratch, 'never-created');
const existingDir = tempStateDir('bad-input');
const existingPorts = blockPorts(EXISTING);
const freshPorts = blockPorts(FRESH);

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen({ host: '127.0.0.1', port }, () => resolve(srv));
  });
}
const close = (srv: Server) => new Promise<void>((r) => srv.close(() => r()));

/** path → mode and content hash, for everything osb keeps (logs and the lock excluded). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (e === 'osb.lock' || e.endsWith('.log')) continue;
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else out[p.slice(dir.length)] = `${(st.mode & 0o7777).toString(8)} ${createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 16)}`;
    }
  };
  walk(dir);
  return out;
}

/** The bad-input contract: non-zero exit, exactly one stderr line `osb: error: …`, nothing on stdout. */
function expectOneLineError(r: OsbRun, pattern: RegExp): void {
  expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).not.toBe(0);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^osb: error: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stdout).toBe('');
}

beforeAll(async () => {
  ok(await osb(['deploy', 'memcached', ...portBlock(EXISTING)], { stateDir: existingDir }));
  writeFileSync(join(scratch, 'good.yaml'), 'memcached:\n  memoryMB: 32\n');
});

afterAll(async () => {
  await cleanup(existingDir);
  rmSync(scratch, { recursive: true, force: true });
});

const BAD_INPUTS: [string, string[], RegExp][] = [
  ['unknown key', ['--set', 'mariadb.prot=13306'], /unknown config key "mariadb\.prot" — did you mean "mariadb\.port"\?/],
  ['unknown key in a values file', ['-f', '__dir__/unknown.yaml'], /unknown config key "memcached\.memoryMb" — did you mean "memcached\.memoryMB"\?/],
  ['wrong type', ['--set', 'memcached.memoryMB=lots'], /config key "memcached\.memoryMB": expected a (whole )?number \(got "lots"\)/],
  ['wrong type (bool)', ['--set', 'rabbitmq.enabled=yes'], /config key "rabbitmq\.enabled": expected true or false/],
  ['port out of range', ['--set', 'memcached.port=70000'], /config key "memcached\.port": must be at most 65535 \(got 70000\)/],
  ['port zero', ['--set', 'mariadb.port=0'], /config key "mariadb\.port": must be at least 1/],
  ['duplicate ports', ['--set', 'memcached.port=__mariadb__'], /port \d+ is used twice: by mariadb\.port and by memcached\.port/],
  ['unknown component', ['mysql'], /unknown component "mysql"/],
  ['misspelt component', ['rabitmq'], /unknown component "rabitmq" — did you mean "rabbitmq"\?/],
  ['missing values file', ['-f', '__dir__/missing.yaml'], /values file .*missing\.yaml does not exist/],
  ['unreadable values file', ['-f', '__dir__'], /values file .* cannot be read \(EISDIR\)/],
  ['invalid YAML', ['-f', '__dir__/broken.yaml'], /values file .*broken\.yaml is not valid YAML/],
];

function argsFor(extra: string[], block: number): string[] {
  const ports = blockPorts(block);
  const fixed = extra.map((a) => a.replace('__dir__', scratch).replace('__mariadb__', String(ports.mariadb)));
  // Components come right after the command; the bad value comes after the port block so it wins.
  const components = fixed.filter((a) => !a.startsWith('-') && !a.includes('=') && !a.startsWith('/'));
  const flags = fixed.filter((a) => !components.includes(a));
  return ['deploy', ...components, ...portBlock(block), ...flags];
}

describe('bad input for a deployment that does not exist yet', () => {
  beforeAll(() => {
    writeFileSync(join(scratch, 'unknown.yaml'), 'memcached:\n  memoryMb: 32\n');
    writeFileSync(join(scratch, 'broken.yaml'), 'memcached: [\n');
  });

  it.each(BAD_INPUTS)('%s: one error line, non-zero exit, no state dir, no process', async (_name, extra, pattern) => {
    const r = await osb(argsFor(extra, FRESH), { stateDir: freshDir });
    expectOneLineError(r, pattern);
    expect(existsSync(freshDir)).toBe(false);
    expect(processesOf(freshDir, freshPorts.epmd)).toEqual([]);
    expect(listeningInBlock(FRESH)).toEqual([]);
  });

  it('port already taken by another process', async () => {
    const srv = await listen(freshPorts.mariadb);
    try {
      const r = await osb(['deploy', ...portBlock(FRESH)], { stateDir: freshDir });
      expectOneLineError(
        r,
        new RegExp(`port ${freshPorts.mariadb} \\(mariadb\\.port\\) on 127\\.0\\.0\\.1 is already in use by another process — .*--set mariadb\\.port=`),
      );
      expect(existsSync(freshDir)).toBe(false);
      expect(processesOf(freshDir, freshPorts.epmd)).toEqual([]);
      expect(listeningInBlock(FRESH)).toEqual([freshPorts.mariadb]);
    } finally {
      await close(srv);
    }
  });

  it.each([
    ['a path under a regular file', '/etc/hostname/x', /state dir \/etc\/hostname\/x is not writable \(ENOTDIR\)/],
    ['a path in /proc', '/proc/osb', /state dir \/proc\/osb is not writable/],
  ])('state dir not writable: %s', async (_name, dir, pattern) => {
    const r = await osb(['deploy', ...portBlock(FRESH)], { stateDir: dir, timeoutMs: 30_000 });
    expectOneLineError(r, pattern);
    expect(existsSync(dir)).toBe(false);
    expect(processesOf(dir, freshPorts.epmd)).toEqual([]);
    expect(listeningInBlock(FRESH)).toEqual([]);
  });

  it.each([['status'], ['test'], ['endpoints'], ['logs', 'mariadb']])('`osb %s` with nothing deployed', async (...cmd) => {
    const r = await osb(cmd, { stateDir: freshDir });
    expectOneLineError(r, /nothing is deployed in .*never-created — run `osb deploy` first/);
    expect(existsSync(freshDir)).toBe(false);
  });
});

describe('bad input for a running deployment changes nothing', () => {
  let before: Record<string, string>;
  let pidBefore: number | undefined;

  beforeAll(async () => {
    before = snapshot(existingDir);
    pidBefore = (await pids(existingDir)).memcached;
    expect(pidBefore).toBeGreaterThan(1);
  });

  const unchanged = async () => {
    expect(snapshot(existingDir)).toEqual(before);
    expect((await pids(existingDir)).memcached).toBe(pidBefore);
    expect(listeningInBlock(EXISTING)).toEqual([existingPorts.memcached, existingPorts.memcachedExporter]);
  };

  it.each(BAD_INPUTS)('%s', async (_name, extra, pattern) => {
    expectOneLineError(await osb(argsFor(extra, EXISTING), { stateDir: existingDir }), pattern);
    await unchanged();
  });

  it('moving memcached to a port another process holds', async () => {
    const taken = existingPorts.memcached + 5;
    const srv = await listen(taken);
    try {
      const r = await osb(['deploy', '--set', `memcached.port=${taken}`], { stateDir: existingDir });
      expectOneLineError(r, new RegExp(`port ${taken} \\(memcached\\.port\\) on 127\\.0\\.0\\.1 is already in use by another process`));
      expect(snapshot(existingDir)).toEqual(before);
      expect((await pids(existingDir)).memcached).toBe(pidBefore);
    } finally {
      await close(srv);
    }
  });

  it('adding MariaDB on a port another process holds', async () => {
    const srv = await listen(existingPorts.mariadb);
    try {
      const r = await osb(['deploy', 'mariadb'], { stateDir: existingDir });
      expectOneLineError(r, new RegExp(`port ${existingPorts.mariadb} \\(mariadb\\.port\\) .* already in use`));
      expect(snapshot(existingDir)).toEqual(before);
      expect(processesOf(existingDir).filter((p) => p.args.includes('mariadb'))).toEqual([]);
    } finally {
      await close(srv);
    }
  });

  it('destroy of an unknown component', async () => {
    expectOneLineError(await osb(['destroy', 'postgres'], { stateDir: existingDir }), /unknown component "postgres"/);
    await unchanged();
  });

  it('a good values file still works afterwards (sanity: the deployment was not wedged)', async () => {
    const r = ok(await osb(['deploy', 'memcached', '-f', join(scratch, 'good.yaml')], { stateDir: existingDir }));
    expect(r.stdout).toMatch(/memcached-0 .* restarted/);
  });
});

describe('the deployment lock', () => {
  it('a second command waits for the first and then runs', async () => {
    const release = await lockfile.lock(existingDir, { lockfilePath: join(existingDir, 'osb.lock'), stale: 15_000, update: 5_000, realpath: false });
    const t0 = Date.now();
    const pending = osb(['deploy', 'memcached'], { stateDir: existingDir });
    await new Promise((r) => setTimeout(r, 2000));
    await release();
    const r = ok(await pending);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2000);
    expect(r.stderr).toContain(`osb: waiting for another osb command to finish with ${existingDir}`);
  });

  it('fails with a clear message when the wait runs out, changing nothing', async () => {
    const before = snapshot(existingDir);
    const release = await lockfile.lock(existingDir, { lockfilePath: join(existingDir, 'osb.lock'), stale: 15_000, update: 5_000, realpath: false });
    try {
      const r = await osb(['deploy', 'memcached', '--set', 'memcached.memoryMB=48'], { stateDir: existingDir, env: { OSB_LOCK_WAIT_SECONDS: '1' } });
      expect(r.code).not.toBe(0);
      const last = r.stderr.trimEnd().split('\n').pop()!;
      expect(last).toMatch(/^osb: error: another osb command is changing the deployment in .* \(lock .*osb\.lock\); gave up after 1s — wait for it to finish/);
      expect(r.code, 'exit code 5: locked (docs/output.md)').toBe(5);
      expect(snapshot(existingDir)).toEqual(before);
    } finally {
      await release();
    }
  });

  it('two concurrent deploys on one state dir both succeed, one after the other', async () => {
    const [a, b] = await Promise.all([
      osb(['deploy', 'memcached', '--set', 'memcached.memoryMB=40'], { stateDir: existingDir }),
      osb(['deploy', 'memcached', '--set', 'memcached.memoryMB=40'], { stateDir: existingDir }),
    ]);
    ok(a);
    ok(b);
    // Exactly one of them restarted memcached; the other found it done.
    expect([a.stdout, b.stdout].filter((s) => /restarted/.test(s))).toHaveLength(1);
    expect([a.stdout, b.stdout].filter((s) => /no change/.test(s))).toHaveLength(1);
  });
});
