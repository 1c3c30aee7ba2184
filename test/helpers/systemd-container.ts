/**
 * A throwaway container that boots this machine's own OS under a real systemd (PID 1 of the test
 * machine is not systemd). Recipe and measurements: /work/shared/notes/systemd-container.md.
 *
 *   tmpfs  <rig>/           (everything lives in RAM; destroy() unmounts it)
 *   upper  <rig>/upper      copy-on-write layer: what the container wrote; survives a poweroff
 *   root   <rig>/root       overlay(lower=/, upper) — the container's /, also readable/writable from
 *                           the host while the container runs (same mount, changes show inside)
 *
 * Two ways to drive it:
 *  - interactive: `await ct.start()` boots and waits for systemd to finish booting, then `ct.exec()` /
 *    `ct.sh()` run commands inside the running container through `nsenter -t <its PID 1> -a`
 *    (all of its namespaces: mount, pid, net, ipc, uts, cgroup), `ct.poweroff()` stops it and
 *    `ct.reboot()` = poweroff + another boot on the same upper layer.
 *  - scenario: `await ct.boot(script)` installs the script as a oneshot unit, boots, lets the unit
 *    power the container off, and returns the script's output and exit code (read from the upper
 *    layer afterwards).
 *
 * Needs root, systemd-nspawn (package systemd-container), nsenter (util-linux).
 * `--register=no` (no machined/bus on the host), `--private-network` (own netns with only loopback:
 * ports inside never clash with the host's), `--keep-unit` (do not ask a host systemd for a scope).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Units of the distribution that the host has enabled and that must not start inside. */
export const MASKED_UNITS = [
  'rabbitmq-server.service',
  'mariadb.service',
  'mysql.service',
  'memcached.service',
  'haproxy.service',
  'epmd.service',
  'epmd.socket',
  'postgresql.service',
  'prometheus.service',
  'prometheus-mysqld-exporter.service',
  'prometheus-node-exporter.service',
  'keystone.service',
  'apache2.service',
  'nginx.service',
  // timers that would run apt, man-db, fstrim... during a test
  'apt-daily.timer',
  'apt-daily-upgrade.timer',
  'dpkg-db-backup.timer',
  'e2scrub_all.timer',
  'e2scrub_reap.service',
  'fstrim.timer',
  'logrotate.timer',
  'man-db.timer',
  'systemd-timesyncd.service',
];

export const RIG_BASE = '/run/osb-ct';
const CT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  input?: string;
  timeoutMs?: number;
  env?: Record<string, string>;
  /** Throw when the exit code is not 0 (default true). */
  check?: boolean;
}

export interface BootInfo {
  /** Spawn of systemd-nspawn to `systemctl is-system-running --wait` returning. */
  bootMs: number;
  /** What is-system-running said (running, or degraded when a unit failed). */
  state: string;
  leaderPid: number;
}

export interface ScenarioResult {
  code: number;
  output: string;
  /** Spawn of systemd-nspawn to its exit (boot + scenario + poweroff). */
  totalMs: number;
}

const live = new Set<SystemdContainer>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort when a test process ends without destroy(): nothing may stay mounted or running.
  process.on('exit', () => {
    for (const ct of live) ct.destroySync();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      for (const ct of live) ct.destroySync();
      process.kill(process.pid, sig);
    });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Mount points at or below `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4]?.replace(/\\040/g, ' ');
    if (mp && (mp === dir || mp.startsWith(`${dir}/`))) out.push(mp);
  }
  return out.sort((a, b) => b.length - a.length);
}

/** Host processes whose parent is `ppid`. */
function childrenOf(ppid: number): { pid: number; comm: string }[] {
  const out = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      if (Number(fields[1]) === ppid) out.push({ pid: Number(e), comm: stat.slice(stat.indexOf('(') + 1, close) });
    } catch {
      /* gone */
    }
  }
  return out;
}

export class SystemdContainer {
  readonly name: string;
  /** The rig dir (a tmpfs) on the host. */
  readonly dir: string;
  readonly upper: string;
  /** The container's / seen from the host. */
  readonly root: string;
  private nspawn?: ChildProcess;
  private nspawnExit?: Promise<number>;
  private leader?: number;
  private consoleText = '';
  private destroyed = false;

  private constructor(name: string, dir: string) {
    this.name = name;
    this.dir = dir;
    this.upper = join(dir, 'upper');
    this.root = join(dir, 'root');
  }

  /** Mounts a tmpfs and an overlay of the host's / on it; masks the distribution's daemons. */
  /** Host paths bound read-only at the same place inside (systemd-nspawn mounts a fresh tmpfs on /tmp: a checkout under /tmp is otherwise invisible). */
  private bindRo: string[] = [];

  static async create(name: string, opts: { tmpfsSize?: string; mask?: string[]; bindRo?: string[] } = {}): Promise<SystemdContainer> {
    if (process.getuid?.() !== 0) throw new Error('SystemdContainer needs root (mount, systemd-nspawn, nsenter)');
    for (const bin of ['/usr/bin/systemd-nspawn', '/usr/bin/nsenter']) {
      if (!existsSync(bin)) throw new Error(`${bin} is missing: apt-get install -y --no-install-recommends systemd-container util-linux`);
    }
    if (!/^[a-z0-9][a-z0-9-]{0,30}$/.test(name)) throw new Error(`container name ${JSON.stringify(name)}: use a-z, 0-9 and -`);
    const id = `${name}-${process.pid}-${randomBytes(3).toString('hex')}`;
    const dir = join(RIG_BASE, id);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const ct = new SystemdContainer(id, dir);
    ct.bindRo = opts.bindRo ?? [];
    live.add(ct);
    installExitHook();
    try {
      ct.run('mount', ['-t', 'tmpfs', '-o', `size=${opts.tmpfsSize ?? '4g'},mode=0700`, `osbct-${id}`, dir]);
      // The upper dir's mode becomes the mode of the container's / : 0755, or every daemon that drops
      // root (dbus-daemon first, then the boot hangs) gets EACCES on every path.
      for (const d of ['upper', 'work', 'root']) mkdirSync(join(dir, d), { mode: d === 'work' ? 0o700 : 0o755 });
      ct.run('mount', ['-t', 'overlay', `osbct-${id}`, '-o', `lowerdir=/,upperdir=${ct.upper},workdir=${join(dir, 'work')}`, ct.root]);
      const units = join(ct.root, 'etc/systemd/system');
      for (const u of [...MASKED_UNITS, ...(opts.mask ?? [])]) {
        rmSync(join(units, u), { force: true });
        symlinkSync('/dev/null', join(units, u));
      }
      // The host's own enablement links of masked units would only produce "masked" warnings.
      return ct;
    } catch (err) {
      ct.destroySync();
      throw err;
    }
  }

  private run(cmd: string, args: string[]): string {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error?.message || `exit ${r.status}`}`);
    return r.stdout;
  }

  /** Host path of a path inside the container. */
  path(p: string): string {
    return join(this.root, p);
  }

  writeFile(p: string, content: string, mode = 0o644): void {
    mkdirSync(dirname(this.path(p)), { recursive: true });
    writeFileSync(this.path(p), content, { mode });
  }

  readFile(p: string): string {
    return readFileSync(this.path(p), 'utf8');
  }

  get running(): boolean {
    return this.nspawn !== undefined && this.nspawn.exitCode === null && this.nspawn.signalCode === null;
  }

  /** PID (on the host) of the container's systemd. */
  get leaderPid(): number {
    if (!this.leader || !this.running) throw new Error(`container ${this.name} is not running`);
    return this.leader;
  }

  /** Everything the container printed on its console (systemd's boot and shutdown messages). */
  console(): string {
    return this.consoleText;
  }

  private spawnNspawn(): number {
    if (this.destroyed) throw new Error(`container ${this.name} was destroyed`);
    if (this.running) throw new Error(`container ${this.name} is already running`);
    const child = spawn(
      'systemd-nspawn',
      [
        '-D',
        this.root,
        `--machine=${this.name.slice(0, 60)}`,
        '--register=no',
        '--keep-unit',
        '--private-network',
        '--link-journal=no',
        ...this.bindRo.map((p) => `--bind-ro=${p}`),
        '--boot',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.on('data', (d: Buffer) => (this.consoleText += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.consoleText += d.toString()));
    this.nspawn = child;
    this.leader = undefined;
    this.nspawnExit = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : -1))));
    if (!child.pid) throw new Error('could not start systemd-nspawn');
    return child.pid;
  }

  private async findLeader(nspawnPid: number, deadline: number): Promise<number> {
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`systemd-nspawn exited during boot:\n${this.consoleText.slice(-2000)}`);
      const init = childrenOf(nspawnPid).find((c) => c.comm === 'systemd');
      if (init) return init.pid;
      await sleep(20);
    }
    throw new Error(`container ${this.name}: no systemd under systemd-nspawn ${nspawnPid}`);
  }

  /** Boots and waits until systemd has finished booting (interactive mode). */
  async start(timeoutMs = 60_000): Promise<BootInfo> {
    const t0 = Date.now();
    const deadline = t0 + timeoutMs;
    const nspawnPid = this.spawnNspawn();
    this.leader = await this.findLeader(nspawnPid, deadline);
    // systemctl fails ("Failed to connect to bus") until systemd has set up its private socket.
    for (;;) {
      const r = await this.exec(['systemctl', 'is-system-running', '--wait'], { check: false, timeoutMs: Math.max(1000, deadline - Date.now()) });
      const state = r.stdout.trim();
      if (state === 'running' || state === 'degraded') return { bootMs: Date.now() - t0, state, leaderPid: this.leader };
      if (Date.now() > deadline) throw new Error(`container ${this.name} did not finish booting (${state || r.stderr.trim()})`);
      await sleep(50);
    }
  }

  /** Runs argv inside the running container (all its namespaces), with a clean environment. */
  exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const env = { PATH: CT_PATH, HOME: '/root', LANG: 'C.UTF-8', TERM: 'dumb', SYSTEMD_PAGER: '', SYSTEMD_COLORS: '0', ...opts.env };
    const args = ['-t', String(this.leaderPid), '-a', '--', '/usr/bin/env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv];
    return new Promise((resolve, reject) => {
      const child = spawn('nsenter', args, { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        const res = { code: code ?? (signal ? 128 : -1), stdout, stderr };
        if ((opts.check ?? true) && res.code !== 0) {
          reject(new Error(`in container: ${argv.join(' ')} → exit ${res.code}${signal ? ` (${signal})` : ''}\n${stdout}${stderr}`));
        } else resolve(res);
      });
      if (child.stdin) {
        child.stdin.on('error', () => {}); // the command may exit without reading its input
        child.stdin.end(opts.input);
      }
    });
  }

  /** Runs a bash script inside the running container. */
  sh(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    return this.exec(['/bin/bash', '-euo', 'pipefail', '-c', script], opts);
  }

  /** `systemctl poweroff` and waits until systemd-nspawn exited; returns how long it took. */
  async poweroff(timeoutMs = 90_000): Promise<number> {
    if (!this.running) return 0;
    const t0 = Date.now();
    await this.exec(['systemctl', 'poweroff'], { check: false, timeoutMs: 10_000 });
    const done = await Promise.race([this.nspawnExit!.then(() => true), sleep(timeoutMs).then(() => false)]);
    if (!done) {
      await this.kill();
      throw new Error(`container ${this.name} did not power off within ${timeoutMs / 1000}s (killed)`);
    }
    this.leader = undefined;
    return Date.now() - t0;
  }

  /** Another boot on the same upper layer (the container keeps its files, loses its processes). */
  async reboot(timeoutMs = 60_000): Promise<BootInfo & { poweroffMs: number }> {
    const poweroffMs = await this.poweroff();
    return { ...(await this.start(timeoutMs)), poweroffMs };
  }

  /**
   * Scenario mode: `script` (bash) runs as a oneshot unit once the container reached multi-user.target,
   * then the container powers off. Resolves with the script's exit code and output.
   */
  async boot(script: string, timeoutMs = 300_000): Promise<ScenarioResult> {
    const out = '/var/lib/osb-scenario';
    rmSync(this.path(out), { recursive: true, force: true });
    this.writeFile(`${out}/scenario.sh`, script, 0o755);
    this.writeFile(
      '/etc/systemd/system/osb-scenario.service',
      [
        '[Unit]',
        'Description=osb test scenario',
        'After=multi-user.target',
        '[Service]',
        'Type=oneshot',
        `ExecStart=/bin/bash -c '/bin/bash ${out}/scenario.sh > ${out}/output 2>&1; echo $$? > ${out}/rc; systemctl --no-block poweroff'`,
        'TimeoutStartSec=infinity',
        '[Install]',
        'WantedBy=multi-user.target',
        '',
      ].join('\n'),
    );
    const wants = this.path('/etc/systemd/system/multi-user.target.wants/osb-scenario.service');
    mkdirSync(dirname(wants), { recursive: true });
    rmSync(wants, { force: true });
    symlinkSync('../osb-scenario.service', wants);
    const t0 = Date.now();
    try {
      this.spawnNspawn();
      const done = await Promise.race([this.nspawnExit!.then(() => true), sleep(timeoutMs).then(() => false)]);
      if (!done) {
        await this.kill();
        throw new Error(`scenario did not end within ${timeoutMs / 1000}s`);
      }
    } finally {
      // Later boots must not run the scenario again.
      rmSync(wants, { force: true });
      rmSync(this.path('/etc/systemd/system/osb-scenario.service'), { force: true });
    }
    const totalMs = Date.now() - t0;
    const rcFile = this.path(`${out}/rc`);
    if (!existsSync(rcFile)) throw new Error(`scenario did not run; console:\n${this.consoleText.slice(-3000)}`);
    return { code: Number(readFileSync(rcFile, 'utf8').trim()), output: readFileSync(this.path(`${out}/output`), 'utf8'), totalMs };
  }

  /** Stops the container the hard way: SIGTERM to nspawn (it halts the container), then SIGKILL to its PID 1. */
  private async kill(): Promise<void> {
    if (!this.running) return;
    const nspawnPid = this.nspawn!.pid!;
    const leader = this.leader ?? childrenOf(nspawnPid).find((c) => c.comm === 'systemd')?.pid;
    try {
      process.kill(nspawnPid, 'SIGTERM');
    } catch {
      /* gone */
    }
    const exited = await Promise.race([this.nspawnExit!.then(() => true), sleep(15_000).then(() => false)]);
    if (!exited) {
      // Killing the PID 1 of a pid namespace kills every process in it; nspawn then exits.
      if (leader && alive(leader)) process.kill(leader, 'SIGKILL');
      await Promise.race([this.nspawnExit, sleep(5_000)]);
      if (this.running) process.kill(nspawnPid, 'SIGKILL');
      await Promise.race([this.nspawnExit, sleep(5_000)]);
    }
    this.leader = undefined;
  }

  /** Powers off (or kills) the container, unmounts the overlay and the tmpfs, removes the rig dir. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    if (this.running) {
      try {
        await this.poweroff(30_000);
      } catch {
        await this.kill();
      }
    }
    this.destroySync();
  }

  /** Synchronous part of destroy (also the process-exit hook): kill what runs, unmount, remove. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    live.delete(this);
    if (this.running) {
      const pid = this.nspawn!.pid!;
      const leader = this.leader ?? childrenOf(pid).find((c) => c.comm === 'systemd')?.pid;
      if (leader && alive(leader)) process.kill(leader, 'SIGKILL');
      for (let i = 0; i < 100 && alive(pid); i++) spawnSync('sleep', ['0.05']);
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
    for (const mp of mountsUnder(this.dir)) {
      if (spawnSync('umount', [mp]).status !== 0) spawnSync('umount', ['-l', mp]);
    }
    if (mountsUnder(this.dir).length === 0) rmSync(this.dir, { recursive: true, force: true });
    try {
      rmdirSync(RIG_BASE);
    } catch {
      /* other rigs still there */
    }
  }
}
