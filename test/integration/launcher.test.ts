import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OSB } from '../helpers/osb.js';

// bin/osb compiles the bundle's parts (dist/cli/bundle/osb.cjs, and lazy.cjs with the drivers) with V8's
// code cache, one file per command and part. A copy of the built CLI, so that the caches are its own.
const tmp = mkdtempSync(join(tmpdir(), 'osb-launcher-'));
const copy = join(tmp, 'osb');
mkdirSync(join(copy, 'bin'), { recursive: true });
copyFileSync(OSB, join(copy, 'bin/osb'));
cpSync(join(OSB, '../../dist/cli/bundle'), join(copy, 'dist/cli/bundle'), { recursive: true });
cpSync(join(OSB, '../../dist/components'), join(copy, 'dist/components'), { recursive: true });
const caches = join(copy, 'dist/cli/code-cache');
const state = join(tmp, 'state');
const env = { PATH: process.env.PATH!, HOME: join(tmp, 'home') };

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const run = (...args: string[]) => spawnSync(process.execPath, [join(copy, 'bin/osb'), '--state-dir', state, ...args], { env, encoding: 'utf8' });

describe('bin/osb: the bundle in two parts, each with its code cache', () => {
  let first = '';

  it('help has its own cache: `osb render --help` first does not leave render a cache without its code', () => {
    const r = run('render', '--help');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('Usage: osb render');
    expect(readdirSync(caches)).toEqual(['help.v8']);
  });

  it('render writes its cache for the main part only (the drivers part is never read) and 0644', () => {
    const r = run('render', '--target', 'kubernetes');
    expect(r.status, r.stderr).toBe(0);
    first = r.stdout;
    expect(first).toContain('kind: StatefulSet');
    expect(readdirSync(caches).sort()).toEqual(['help.v8', 'render.v8']);
    expect(statSync(join(caches, 'render.v8')).mode & 0o777).toBe(0o644);
    expect(readFileSync(join(caches, 'render.v8'), 'latin1').split('\n')[0]).toContain(join(copy, 'dist/cli/bundle/osb.cjs'));
  });

  it('a second run uses the cache as it is (not rewritten) and prints the same', () => {
    const before = statSync(join(caches, 'render.v8'));
    const r = run('render', '--target', 'kubernetes');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(first);
    const after = statSync(join(caches, 'render.v8'));
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
  });

  it('a damaged cache, or one others could have written, is not used: the run is the same and writes a good one', () => {
    const file = join(caches, 'render.v8');
    const good = readFileSync(file);
    const header = good.indexOf(10) + 1;
    const damaged = Buffer.concat([good.subarray(0, header), Buffer.alloc(good.length - header, 0x5a)]);
    for (const mode of [0o644, 0o666]) {
      writeFileSync(file, damaged);
      chmodSync(file, mode);
      const r = run('render', '--target', 'kubernetes');
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe(first);
      expect(statSync(file).mode & 0o777).toBe(0o644);
      expect(readFileSync(file).subarray(header).equals(damaged.subarray(header))).toBe(false);
    }
  });

  it('output to a pipe that closes early ends quietly; to a full disk, one clear error and exit 1', () => {
    const early = spawnSync(
      'sh',
      [
        '-c',
        `"${process.execPath}" "${join(copy, 'bin/osb')}" --state-dir "${state}" render --target kubernetes | head -c 10 >/dev/null; echo "exit=\${PIPESTATUS:-$?}"`,
      ],
      {
        env,
        encoding: 'utf8',
      },
    );
    expect(early.stderr).toBe('');
    const full = openSync('/dev/full', 'w');
    try {
      const r = spawnSync(process.execPath, [join(copy, 'bin/osb'), '--state-dir', state, 'render', '--target', 'kubernetes'], {
        env,
        encoding: 'utf8',
        stdio: ['ignore', full, 'pipe'],
      });
      expect(r.status).toBe(1);
      expect(r.stderr.trim()).toBe(
        'osb: error: cannot write the output: ENOSPC: no space left on device, write — free space where the output goes, or send it elsewhere',
      );
    } finally {
      closeSync(full);
    }
  });

  it('a missing part is one clear error naming the fix, exit 2', () => {
    rmSync(join(copy, 'dist/cli/bundle/osb.cjs'));
    const r = run('render', '--target', 'kubernetes');
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('osb: not built yet (no dist/cli/bundle/osb.cjs). Run: npm ci && npm run build');
    expect(existsSync(join(copy, 'dist/cli/bundle/lazy.cjs'))).toBe(true);
  });
});
