// Running the built CLI exactly as a user does (node bin/osb ...), with a private state dir.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './util.mjs';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const OSB = join(REPO, 'bin', 'osb');

/** The ports of test/helpers/osb.ts `portBlock(n)`: block n uses 20000 + n*100 + offsets. */
export function blockPorts(block) {
  const base = 20000 + block * 100;
  return {
    base,
    rabbitmq: base,
    management: base + 10,
    dist: base + 20,
    epmd: base + 30,
    mariadb: base + 40,
    galera: base + 50,
    memcached: base + 80,
  };
}

/**
 * Every port a deployment in this block may use with up to 3 nodes per component, plus what the bench
 * puts there by hand: MariaDB's proxy (mariadb+9) and the bare Galera cluster's clients (mariadb+5+i).
 */
export function blockPortList(block) {
  const p = blockPorts(block);
  const list = [p.epmd, p.mariadb + 9];
  for (let i = 0; i < 3; i++) {
    list.push(
      p.rabbitmq + i,
      p.management + i,
      p.dist + i,
      p.mariadb + i,
      p.mariadb + 5 + i,
      p.galera + i,
      p.galera + 10 + i,
      p.galera + 20 + i,
      p.memcached + i,
    );
  }
  return list;
}

/** `--set` flags moving every osb port into the block (same keys as portBlock()). */
export function portFlags(block) {
  const p = blockPorts(block);
  return [
    `rabbitmq.port=${p.rabbitmq}`,
    `rabbitmq.managementPort=${p.management}`,
    `rabbitmq.distPort=${p.dist}`,
    `rabbitmq.epmdPort=${p.epmd}`,
    `mariadb.port=${p.mariadb}`,
    `mariadb.galeraPort=${p.galera}`,
    `memcached.port=${p.memcached}`,
  ].flatMap((s) => ['--set', s]);
}

/** `osb --state-dir DIR ...args`; resolves { code, stdout, stderr, seconds }, never rejects. */
export function osb(stateDir, args, timeoutMs = 300_000) {
  const env = { ...process.env };
  delete env.OSB_STATE_DIR;
  return run(process.execPath, [OSB, '--state-dir', stateDir, ...args], { cwd: REPO, env, timeoutMs });
}

export async function osbEndpoints(stateDir) {
  const r = await osb(stateDir, ['endpoints', '--json'], 60_000);
  if (r.code !== 0) throw new Error(`osb endpoints failed: ${r.stderr.trim().split('\n').pop()}`);
  return JSON.parse(r.stdout);
}
