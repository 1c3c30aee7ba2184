import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stopOrphanedSst } from '../../src/components/mariadb/local-cluster.js';

/**
 * A joiner killed during its state transfer leaves wsrep_sst_mariabackup (and socat, mbstream) behind; the
 * next start of that node would wait for it. Real processes stand in for the script: a shell whose command
 * line names the node's data dir the way mariadbd starts the script, with a child of its own.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const started: number[] = [];
afterEach(() => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

function pidsMatching(text: string): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        return readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(text);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** `sh -c "sleep 300; : wsrep_sst_mariabackup --role joiner --datadir DIR/data/"`, optionally under a parent named mariadbd. */
function fakeSst(dir: string, underMariadbd: boolean): number {
  const script = `sleep 300; : wsrep_sst_mariabackup --role joiner --datadir '${dir}/data/'`;
  // The stand-in mariadbd gets the script from its environment: its own command line names no data dir, like the real one.
  const args = underMariadbd ? ['-c', `exec -a /usr/sbin/mariadbd bash -c 'sh -c "$SST"; sleep 300'`] : ['-c', script];
  const p = spawn('/bin/bash', args, { detached: true, stdio: 'ignore', env: { ...process.env, SST: script } });
  started.push(p.pid!);
  return p.pid!;
}

describe('stopOrphanedSst', () => {
  it('ends the SST processes of a dead joiner (and their children), and nothing of a live node or of another data dir', async () => {
    const dead = mkdtempSync(join(tmpdir(), 'osb-sst-dead-'));
    const live = mkdtempSync(join(tmpdir(), 'osb-sst-live-'));
    try {
      fakeSst(dead, false);
      fakeSst(live, true);
      await sleep(300);
      expect(pidsMatching(`${dead}/data/`).length, 'the orphaned script runs').toBeGreaterThan(0);
      expect(pidsMatching(`${live}/data/`).length, 'the live node’s script runs').toBeGreaterThan(0);
      const deadChildren = pidsMatching(`${dead}/data/`);

      expect(stopOrphanedSst({ dir: live })).toBe(0);
      expect(stopOrphanedSst({ dir: dead })).toBeGreaterThanOrEqual(2); // the shell and its sleep
      await sleep(200);
      expect(deadChildren.filter((pid) => pidsMatching(`${dead}/data/`).includes(pid))).toEqual([]);
      expect(pidsMatching(`${live}/data/`).length, 'a script whose mariadbd lives is left alone').toBeGreaterThan(0);
    } finally {
      rmSync(dead, { recursive: true, force: true });
      rmSync(live, { recursive: true, force: true });
    }
  });
});
