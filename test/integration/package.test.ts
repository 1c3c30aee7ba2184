import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listeningInBlock } from '../helpers/local.js';
import { OSB, portBlock, type OsbRun } from '../helpers/osb.js';

/**
 * osb as an npm package: `npm pack` (its prepack builds dist/), then the tarball installed with
 * `npm install -g --prefix` on a clean prefix, and run through `npx`. The installed osb deploys,
 * tests and destroys real daemons (memcached and mariadb, one node each, port block 60), and
 * renders the README's default deployment exactly as the clone does.
 */
const ROOT = resolve(__dirname, '../..');
const BLOCK = 60;
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; dependencies: Record<string, string> };
const tmp = mkdtempSync(join(tmpdir(), 'osb-test-package-'));
const prefix = join(tmp, 'prefix');
const installed = join(prefix, 'bin', 'osb');
let tarball = '';

function run(cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<OsbRun> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd ?? tmp,
      env: { ...(process.env as Record<string, string>), ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
    child.on('error', rej);
    child.on('close', (code) => {
      clearTimeout(timer);
      res({ code: code ?? -1, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  const pack = await run('npm', ['pack', '--pack-destination', tmp, '--json'], { cwd: ROOT });
  expect(pack.code, pack.stderr).toBe(0);
  const info = (JSON.parse(pack.stdout) as { filename: string; size: number; unpackedSize: number; files: { path: string; size: number }[] }[])[0]!;
  tarball = join(tmp, info.filename);
  console.log(
    `npm pack: ${info.filename}, ${info.size} bytes packed, ${info.unpackedSize} bytes unpacked, ${info.files.length} files:\n` +
      info.files.map((f) => `  ${String(f.size).padStart(8)}  ${f.path}`).join('\n'),
  );
  // A clean prefix; dependencies come from the npm cache when it has them.
  const install = await run('npm', ['install', '-g', '--prefix', prefix, tarball, '--no-audit', '--no-fund', '--prefer-offline']);
  expect(install.code, install.stderr).toBe(0);
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('osb as an npm package (npm pack, npm install -g --prefix, npx)', () => {
  it('the tarball holds what runs — bin, bundle, the modules the bundle reads, README, LICENSE, docs — and no sources or tests', () => {
    const list = spawnSync('tar', ['-tzf', tarball], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter(Boolean)
      .map((p) => p.replace(/^package\//, ''));
    for (const f of [
      'bin/osb',
      'dist/cli/bundle/osb.cjs',
      'dist/components/mariadb/bootstrap.js',
      'dist/components/mariadb/writer.js',
      'README.md',
      'LICENSE',
      'package.json',
      'docs/kubernetes.md',
    ])
      expect(list).toContain(f);
    // The bundle (its parts, compiled by bin/osb with V8's code cache) ships; its caches do not.
    for (const f of readdirSync(join(ROOT, 'dist/cli/bundle'))) expect(list).toContain(`dist/cli/bundle/${f}`);
    expect(list.filter((p) => p.startsWith('dist/cli/code-cache/'))).toEqual([]);
    expect(list.filter((p) => /^(src|test|bench|scripts)\//.test(p) || /\.(d\.ts|map|ts)$/.test(p))).toEqual([]);
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toContain('Apache License');
  });

  it('installs only the runtime dependency the bundle loads (@kubernetes/client-node)', () => {
    const dir = join(prefix, 'lib', 'node_modules', pkg.name);
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(manifest.dependencies)).toEqual(['@kubernetes/client-node']);
    const top = readdirSync(join(dir, 'node_modules'));
    for (const bundled of ['commander', 'zod', 'mysql2', 'amqplib', 'memjs', 'listr2', 'yaml', 'typescript', 'esbuild', 'vitest'])
      expect(top, bundled).not.toContain(bundled);
  });

  it('the installed osb answers --version and renders the README default (and a cluster) exactly as the clone does', async () => {
    const v = await run(installed, ['--version']);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout.trim()).toBe(pkg.version);
    const stateDir = join(tmp, 'render-state');
    for (const extra of [[], ['--set', 'mariadb.replicas=3', '--set', 'rabbitmq.replicas=3']]) {
      // The clone renders first (it generates the credentials into the state dir); the package reuses them.
      const fromClone = await run(process.execPath, [OSB, 'render', '--state-dir', stateDir, ...extra]);
      const fromPackage = await run(installed, ['render', '--state-dir', stateDir, ...extra]);
      expect(fromPackage.code, fromPackage.stderr).toBe(0);
      expect(fromPackage.stdout.length).toBeGreaterThan(1000);
      expect(fromPackage.stdout).toBe(fromClone.stdout);
    }
    const completion = await run(installed, ['completion', 'bash']);
    expect(completion.stdout).toContain('complete -F _osb osb');
  });

  it('the installed osb deploys, tests and destroys real memcached and mariadb (port block 60)', async () => {
    const stateDir = join(tmp, 'deploy-state');
    const env = { OSB_STATE_DIR: stateDir };
    const set = [...portBlock(BLOCK), '--set', 'rabbitmq.enabled=false'];
    try {
      const doctor = await run(installed, ['doctor', ...set], { env });
      console.log(doctor.stdout);
      expect(doctor.code, doctor.stdout + doctor.stderr).toBe(0);
      const deploy = await run(installed, ['deploy', 'memcached', 'mariadb', ...set], { env });
      expect(deploy.code, deploy.stdout + deploy.stderr).toBe(0);
      expect(listeningInBlock(BLOCK).length).toBeGreaterThanOrEqual(2);
      const test = await run(installed, ['test', '--json'], { env });
      expect(test.code, test.stdout + test.stderr).toBe(0);
      expect(test.stdout).toContain('mariadb');
      expect(test.stdout).toContain('memcached');
      const endpoints = await run(installed, ['endpoints', '--service', 'keystone', '--format', 'oslo'], { env });
      expect(endpoints.stdout).toMatch(/connection = mysql\+pymysql:\/\/keystone:/);
    } finally {
      const destroy = await run(installed, ['destroy'], { env, timeoutMs: 120_000 });
      expect(destroy.code, destroy.stdout + destroy.stderr).toBe(0);
      rmSync(stateDir, { recursive: true, force: true });
    }
    expect(listeningInBlock(BLOCK)).toEqual([]);
  });

  it('runs from the same tarball through npx (from the npm cache, no registry needed for osb itself)', async () => {
    const npx = await run('npx', ['--yes', '--prefer-offline', '--package', tarball, '--', 'osb', '--version'], { cwd: tmp });
    expect(npx.code, npx.stderr).toBe(0);
    expect(npx.stdout.trim()).toBe(pkg.version);
    const help = await run('npx', ['--yes', '--prefer-offline', '--package', tarball, '--', 'osb', 'doctor', '--help'], { cwd: tmp });
    expect(help.stdout).toMatch(/exit 0\s+only when a deploy would work/);
    expect(existsSync(installed)).toBe(true);
  });
});
