/**
 * Units rendered by src/targets/local/systemd.ts, run by a real systemd 252 (this machine's own OS booted
 * in a throwaway container, test/helpers/systemd-container.ts), supervising a real memcached and a real
 * MariaDB: `kill -9` of each main pid → systemd restarts it and the protocol answers again; a reboot of
 * the container → both come back with no command run; `systemctl stop osb-<id>.target` stops both;
 * afterwards nothing of the container is left on the host.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mariadbLocalInstance, mariadbPaths } from '../../src/components/mariadb/local.js';
import { memcachedLocalInstance } from '../../src/components/memcached/local.js';
import { loadConfig } from '../../src/components/index.js';
import { desiredState } from '../../src/model/desired.js';
import type { LocalInstance } from '../../src/model/local.js';
import {
  daemonReload,
  enableNow,
  journalTail,
  renderDeploymentUnits,
  serviceName,
  systemctl,
  systemdIsPid1,
  targetName,
  unitStatus,
  type SystemctlOptions,
  type UnitContext,
} from '../../src/targets/local/systemd.js';
import { mountsUnder, SystemdContainer } from '../helpers/systemd-container.js';

// Port block 90 (29000-29099); inside the container's own network namespace anyway.
const config = loadConfig({ set: ['memcached.port=29080', 'mariadb.port=29040', 'mariadb.galeraPort=29050', 'rabbitmq.port=29000'] });
// Under /root: exercises ProtectHome=read-only with a ReadWritePaths hole (root's default state dir is ~/.local/state/osb).
const STATE_DIR = '/root/.local/state/osb-systemd-test';
const secrets = {
  mariadbAdminPassword: 'unused-in-this-test',
  rabbitmqAdminPassword: 'unused',
  erlangCookie: 'unused',
  mariadbExporterPassword: 'e',
  services: {},
};
const nodes = desiredState(config, ['memcached', 'mariadb']).components;
const memcached = memcachedLocalInstance(config, nodes.memcached![0]!, `${STATE_DIR}/memcached/memcached-0`);
const mariadb = mariadbLocalInstance(config, nodes.mariadb![0]!, `${STATE_DIR}/mariadb/mariadb-0`, secrets);
const ctx: UnitContext = { stateDir: STATE_DIR, scope: 'system' };
const units = renderDeploymentUnits([memcached, mariadb], ctx, '/root');
const TARGET = targetName(STATE_DIR);
const MC_UNIT = serviceName(STATE_DIR, memcached.name);
const DB_UNIT = serviceName(STATE_DIR, mariadb.name);

let ct: SystemdContainer;
let sys: SystemctlOptions;
const timings: Record<string, number> = {};

/** A memcached `version` round trip inside the container. */
async function memcachedAnswers(): Promise<boolean> {
  const r = await ct.exec(['/bin/bash', '-c', `exec 3<>/dev/tcp/127.0.0.1/${memcached.port}; printf 'version\\r\\n' >&3; timeout 2 head -n1 <&3`], {
    check: false,
    timeoutMs: 5000,
  });
  return /^VERSION /.test(r.stdout);
}

/** A MariaDB query over TCP (the port clients use) and the socket, as root by socket auth. */
async function mariadbQuery(sql: string): Promise<string | undefined> {
  const r = await ct.exec(['mariadb', `--defaults-file=${mariadbPaths(mariadb.dir).myCnf}`, '-N', '-B', '-e', sql], { check: false, timeoutMs: 10_000 });
  return r.code === 0 ? r.stdout.trim() : undefined;
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function writeInstance(inst: LocalInstance): Promise<void> {
  for (const d of [inst.dir, ...inst.dirs]) await ct.exec(['install', '-d', '-m', '0700', d]);
  for (const f of inst.files) ct.writeFile(f.path, f.content, f.mode ?? 0o644);
}

beforeAll(async () => {
  ct = await SystemdContainer.create('osb-systemd');
  const boot = await ct.start();
  timings.bootMs = boot.bootMs;
  sys = { scope: 'system', wrap: ['nsenter', '-t', String(ct.leaderPid), '-a', '--'] };
  await writeInstance(memcached);
  await writeInstance(mariadb);
  // The data dir initialisation `osb deploy` does (mariadbLocalInstance().initialize), inside the container.
  await ct.exec([
    'mariadb-install-db',
    `--defaults-file=${mariadbPaths(mariadb.dir).myCnf}`,
    '--skip-test-db',
    '--auth-root-authentication-method=socket',
    '--auth-root-socket-user=root',
  ]);
  for (const u of units) ct.writeFile(u.path, u.content);
}, 120_000);

afterAll(async () => {
  const dir = ct?.dir;
  await ct?.destroy();
  if (dir) {
    // Nothing of the container stays on the host.
    expect(mountsUnder(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  }
  console.log(`systemd rig timings (ms): ${JSON.stringify(timings)}`);
});

describe('osb units under a real systemd (container rig)', () => {
  it('renders units that systemd 252 accepts without a warning', async () => {
    expect(units.map((u) => u.name).sort()).toEqual([DB_UNIT, MC_UNIT, TARGET].sort());
    const r = await ct.exec(['systemd-analyze', 'verify', ...units.map((u) => u.path)], { check: false });
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/unknown|invalid|ignoring|failed/i);
    expect(r.code).toBe(0);
    // The detection, pointed at the container's root as its PID 1 sees it (its /run, its /proc).
    expect(systemdIsPid1(`/proc/${ct.leaderPid}/root`)).toBe(true);
    expect(systemdIsPid1('/nonexistent')).toBe(false);
  });

  it('enable --now of the target starts both daemons, in the foreground, with their console in the log file and the journal', async () => {
    await daemonReload(sys);
    await enableNow(sys, [TARGET, MC_UNIT, DB_UNIT]);
    await waitFor('memcached', memcachedAnswers);
    expect(await waitFor('mariadb', () => mariadbQuery('SELECT 1'))).toBe('1');
    const mc = await unitStatus(sys, MC_UNIT);
    const db = await unitStatus(sys, DB_UNIT);
    expect([mc.activeState, mc.subState, db.activeState, db.subState]).toEqual(['active', 'running', 'active', 'running']);
    // MainPID is the daemon itself (bash exec'd it), not a wrapper.
    expect((await ct.exec(['cat', `/proc/${mc.mainPid}/comm`])).stdout.trim()).toBe('memcached');
    expect((await ct.exec(['cat', `/proc/${db.mainPid}/comm`])).stdout.trim()).toBe('mariadbd');
    // Type=notify: mariadbd itself told systemd it is ready.
    expect((await systemctl(sys, 'show', '-p', 'StatusText', '--value', DB_UNIT)).trim()).toMatch(/Taking your SQL requests now/);
    // The daemon's console reaches both the node's console log (0600) and the journal, under the node's name.
    const consoleLine = await waitFor(
      'a console line from mariadbd',
      async () =>
        ct
          .readFile(mariadb.consoleLog)
          .split('\n')
          .find((l) => /\[(Note|Warning)\]/.test(l)),
      10_000,
    );
    expect(await journalTail(sys, DB_UNIT, 200)).toContain(`mariadb-0[`);
    expect(await journalTail(sys, DB_UNIT, 200)).toContain(consoleLine.slice(20)); // after the timestamp
    expect((await ct.exec(['stat', '-c', '%a', memcached.logFile, mariadb.consoleLog])).stdout.split('\n').filter(Boolean)).toEqual(['600', '600']);
    // The sandbox holds: / is read-only for the daemon, its own dir is writable.
    const ns = ['nsenter', '-t', String(db.mainPid), '-m', '--'];
    expect((await ct.exec([...ns, 'touch', '/usr/osb-sandbox-probe'], { check: false })).code).not.toBe(0);
    expect((await ct.exec([...ns, 'touch', '/root/osb-sandbox-probe'], { check: false })).code).not.toBe(0);
    expect((await ct.exec([...ns, 'touch', `${mariadb.dir}/tmp/osb-sandbox-probe`], { check: false })).code).toBe(0);
    // LimitNOFILE=32768, capped by the hard limit the container itself got (20000 on these machines).
    const hard = Number(/Max open files\s+\d+\s+(\d+)/.exec((await ct.exec(['cat', '/proc/1/limits'])).stdout)![1]);
    const lim = /Max open files\s+(\d+)\s+(\d+)/.exec((await ct.exec(['cat', `/proc/${db.mainPid}/limits`])).stdout)!;
    expect([Number(lim[1]), Number(lim[2])]).toEqual([Math.min(32768, hard), Math.min(32768, hard)]);
    await mariadbQuery(
      'CREATE DATABASE IF NOT EXISTS osb_systemd; CREATE TABLE IF NOT EXISTS osb_systemd.t (id INT PRIMARY KEY); INSERT INTO osb_systemd.t VALUES (1)',
    );
  });

  for (const [label, unit, healthy] of [
    ['memcached', () => MC_UNIT, () => memcachedAnswers()],
    ['mariadb', () => DB_UNIT, async () => (await mariadbQuery('SELECT COUNT(*) FROM osb_systemd.t')) === '1'],
  ] as const) {
    it(`kill -9 of ${label}'s main pid: systemd restarts it (NRestarts=1, new MainPID) and it answers again`, async () => {
      const before = await unitStatus(sys, unit());
      expect(before.nRestarts).toBe(0);
      await ct.exec(['kill', '-9', String(before.mainPid)]);
      const t0 = Date.now();
      const after = await waitFor(`${label} restarted`, async () => {
        const s = await unitStatus(sys, unit());
        return s.nRestarts === 1 && s.activeState === 'active' && s.mainPid !== before.mainPid && s.mainPid > 0 && (await healthy()) ? s : undefined;
      });
      timings[`${label}KillToHealthyMs`] = Date.now() - t0;
      expect(after.subState).toBe('running');
      expect(await journalTail(sys, unit(), 200)).toMatch(
        /Main process exited, code=killed, status=9\/KILL[\s\S]*Scheduled restart job, restart counter is at 1/,
      );
    });
  }

  it('a reboot brings both back with no command run, data intact', async () => {
    const t0 = Date.now();
    const r = await ct.reboot();
    timings.poweroffMs = r.poweroffMs;
    timings.rebootBootMs = r.bootMs;
    sys = { scope: 'system', wrap: ['nsenter', '-t', String(ct.leaderPid), '-a', '--'] };
    await waitFor('memcached after reboot', memcachedAnswers);
    expect(await waitFor('mariadb after reboot', () => mariadbQuery('SELECT COUNT(*) FROM osb_systemd.t'))).toBe('1');
    timings.rebootToHealthyMs = Date.now() - t0;
    for (const u of [MC_UNIT, DB_UNIT]) {
      const s = await unitStatus(sys, u);
      expect([s.activeState, s.nRestarts]).toEqual(['active', 0]);
    }
    expect((await systemctl(sys, 'is-enabled', TARGET)).trim()).toBe('enabled');
  });

  it('systemctl stop of the deployment target stops every node', async () => {
    // `systemctl stop` of a target returns before the PartOf= stop jobs of its services end.
    await systemctl(sys, 'stop', TARGET);
    for (const u of [MC_UNIT, DB_UNIT]) {
      const s = await waitFor(`${u} stopped`, async () => {
        const st = await unitStatus(sys, u);
        return st.activeState === 'inactive' || st.activeState === 'failed' ? st : undefined;
      });
      expect([s.activeState, s.result, s.mainPid]).toEqual(['inactive', 'success', 0]);
    }
    expect(await memcachedAnswers()).toBe(false);
    expect((await ct.exec(['pgrep', '-x', 'memcached|mariadbd'], { check: false })).stdout).toBe('');
  });
});
