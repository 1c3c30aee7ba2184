import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { definition, portsInUse } from '../../components/index.js';
import { COMPONENTS, configSchema, type ComponentName, type Config } from '../../config/schema.js';
import { type DoctorCheck, fail, ok, stateDirCheck, warn } from '../../model/doctor.js';
import { portIsFree } from '../../util/net.js';
import type { LocalState } from './state.js';

/** Binaries a deploy needs and the packages that ship them. */
export interface Requirement {
  binaries: string[];
  packages: string[];
}

export interface HostDoctorOptions {
  config: Config;
  stateDir: string;
  /** Enabled components to check for. */
  components: ComponentName[];
  /** The deployment already in the state dir, if any (its own ports are not conflicts). */
  state?: LocalState;
  /** Replaces the package requirements (tests point it at a package that is not installed). */
  requirements?: Requirement[];
  /** Replaces the effective uid (root installs missing packages itself). */
  uid?: number;
}

const run = (cmd: string, args: string[], timeout = 5000) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(cmd, args, { timeout, env: { ...process.env, LC_ALL: 'C' } }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 127) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });

const readText = (file: string) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
};

/** Package requirements of a deploy of these components (each component's definition says; Galera adds SST and HAProxy). */
export function requirementsFor(config: Config, components: ComponentName[]): Requirement[] {
  return components.flatMap((c) => definition(c).packages(config));
}

function osCheck(): DoctorCheck {
  const text = readText('/etc/os-release');
  if (!text)
    return warn(
      'os',
      'cannot read /etc/os-release: unknown OS',
      'osb installs packages with apt-get on Debian and Ubuntu; elsewhere install the daemons yourself',
    );
  const field = (k: string) => text.match(new RegExp(`^${k}="?([^"\\n]*)"?`, 'm'))?.[1] ?? '';
  const pretty = field('PRETTY_NAME') || field('NAME') || 'unknown';
  const family = `${field('ID')} ${field('ID_LIKE')}`;
  if (/\b(debian|ubuntu)\b/.test(family)) return ok('os', `${pretty} (${process.arch})`);
  return warn(
    'os',
    `${pretty}: not Debian or Ubuntu; osb installs missing packages with apt-get only`,
    'install RabbitMQ, MariaDB (with Galera) and Memcached from your distribution yourself',
  );
}

async function packagesCheck(reqs: Requirement[], uid: number): Promise<DoctorCheck> {
  const name = 'packages';
  const all = [...new Set(reqs.flatMap((r) => r.packages))];
  const missing = [...new Set(reqs.filter((r) => r.binaries.some((b) => !existsSync(b))).flatMap((r) => r.packages))];
  if (missing.length === 0) return ok(name, `installed: ${all.join(', ')}`);
  const cmd = `apt-get install -y ${missing.join(' ')}`;
  if (uid !== 0) return fail(name, `missing: ${missing.join(', ')} (osb installs packages only when run as root)`, `install them first: sudo ${cmd}`);
  if (!existsSync('/usr/bin/apt-get'))
    return fail(name, `missing: ${missing.join(', ')}, and there is no apt-get to install them`, 'install them with your package manager');
  const policy = await run('apt-cache', ['policy', ...missing]);
  const noCandidate = missing.filter((p) => {
    const block = policy.stdout.split(/^(?=\S)/m).find((b) => b.startsWith(`${p}:`));
    return !block || /Candidate: \(none\)/.test(block);
  });
  if (noCandidate.length)
    return fail(
      name,
      `missing: ${missing.join(', ')}; apt knows no installable version of ${noCandidate.join(', ')}`,
      `run apt-get update (and enable the Debian/Ubuntu main repository), then ${cmd}`,
    );
  return warn(name, `missing: ${missing.join(', ')}; osb deploy installs them with apt-get (running as root)`, `or install them now: ${cmd}`);
}

function supervisionCheck(): DoctorCheck {
  const comm = readText('/proc/1/comm')?.trim() ?? 'unknown';
  if (comm === 'systemd') return ok('supervision', 'PID 1 is systemd');
  return warn(
    'supervision',
    `PID 1 is "${comm}", not systemd: osb runs the daemons itself and nothing restarts one that dies until the next osb deploy`,
    'for restart-on-failure run osb on a host (or container) booted with systemd',
  );
}

/** The kernel's ephemeral port range and reserved ports (ports outgoing connections never take). */
export function ephemeralRange(): { lo: number; hi: number; reserved: (p: number) => boolean } | undefined {
  const range = readText('/proc/sys/net/ipv4/ip_local_port_range')?.trim().split(/\s+/).map(Number);
  if (range?.length !== 2 || range.some((n) => !Number.isInteger(n))) return undefined;
  const reservedSpec = readText('/proc/sys/net/ipv4/ip_local_reserved_ports')?.trim() ?? '';
  const spans = reservedSpec
    .split(',')
    .filter(Boolean)
    .map((s) => s.split('-').map(Number));
  const reserved = (p: number) => spans.some(([a, b]) => p >= a! && p <= (b ?? a)!);
  return { lo: range[0]!, hi: range[1]!, reserved };
}

function defaultOf(key: string): number | undefined {
  const v = key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], configSchema.parse({}));
  return typeof v === 'number' ? v : undefined;
}

async function portChecks(config: Config, components: ComponentName[], state?: LocalState): Promise<DoctorCheck[]> {
  const ports = portsInUse(config).filter((p) => components.some((c) => p.key.startsWith(`${c}.`)));
  const ours = new Set(Object.values(state?.instances ?? {}).flatMap((i) => i.ports));
  const taken: string[] = [];
  const takenFix: string[] = [];
  let oursInUse = 0;
  for (const { port, key } of ports) {
    if (await portIsFree(config.bindAddress, port)) continue;
    if (ours.has(port)) {
      oursInUse++;
      continue;
    }
    taken.push(`${port} (${key})`);
    takenFix.push(`--set ${key.split(' ')[0]}=${port + 100}`);
  }
  const list = ports.map((p) => p.port).sort((a, b) => a - b);
  const out: DoctorCheck[] = [];
  if (taken.length) {
    out.push(
      fail(
        'ports',
        `in use by another process on ${config.bindAddress}: ${taken.join(', ')}`,
        `stop that process or choose other ports, e.g. ${takenFix.join(' ')}`,
      ),
    );
  } else {
    out.push(
      ok(
        'ports',
        `${list.length} ports free on ${config.bindAddress}: ${list.join(', ')}${oursInUse ? ` (${oursInUse} held by this deployment's own daemons)` : ''}`,
      ),
    );
  }
  const eph = ephemeralRange();
  if (!eph) {
    out.push(warn('ephemeral ports', 'cannot read /proc/sys/net/ipv4/ip_local_port_range', 'keep ports below 32768 (the usual start of the ephemeral range)'));
    return out;
  }
  const inRange = ports.filter((p) => p.port >= eph.lo && p.port <= eph.hi && !eph.reserved(p.port));
  if (inRange.length) {
    const fixes = inRange.map(({ key, port }) => {
      const k = key.split(' ')[0]!;
      const d = defaultOf(k);
      return `--set ${k}=${d !== undefined && d < eph.lo ? d : Math.max(1024, eph.lo - 1000 + (port % 100))}`;
    });
    out.push(
      fail(
        'ephemeral ports',
        `${inRange.map((p) => `${p.port} (${p.key})`).join(', ')} ${inRange.length > 1 ? 'are' : 'is'} in the kernel's ephemeral port range ${eph.lo}-${eph.hi}: any outgoing connection may take ${inRange.length > 1 ? 'them' : 'it'} first`,
        `choose ports below ${eph.lo}, e.g. ${[...new Set(fixes)].join(' ')} — or reserve them: sysctl -w net.ipv4.ip_local_reserved_ports=${inRange.map((p) => p.port).join(',')}`,
      ),
    );
  } else {
    out.push(ok('ephemeral ports', `no port lies in the ephemeral range ${eph.lo}-${eph.hi} (or it is reserved)`));
  }
  return out;
}

/** Nodes the deploy would start that are not running yet (a running deployment's usage is already counted by the kernel). */
function newNodes(config: Config, components: ComponentName[], state?: LocalState): Record<ComponentName, number> {
  const out = { rabbitmq: 0, mariadb: 0, memcached: 0 } as Record<ComponentName, number>;
  for (const c of components) {
    for (let i = 0; i < config[c].replicas; i++) if (!state?.instances[`${c}-${i}`]) out[c]++;
  }
  return out;
}

const MB = 1024 * 1024;

function diskCheck(config: Config, stateDir: string, nodes: Record<ComponentName, number>): DoctorCheck {
  // Measured: a fresh MariaDB data dir is ~126 MB (96 MB redo log), a RabbitMQ node ~30 MB; margin for logs and growth.
  const needMB = COMPONENTS.reduce((sum, c) => sum + nodes[c] * definition(c).sizing(config).diskMB, 0);
  let dir = stateDir;
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  let freeMB: number;
  try {
    const s = statfsSync(dir);
    freeMB = Math.floor((Number(s.bavail) * Number(s.bsize)) / MB);
  } catch (err) {
    return warn('disk', `cannot tell the free space under ${dir} (${(err as Error).message})`);
  }
  const what = `${freeMB} MB free under ${dir}; the nodes to start need about ${needMB} MB`;
  if (freeMB < needMB) return fail('disk', what, `free space there, or use a state dir on a larger file system (--state-dir DIR)`);
  if (freeMB < needMB * 2) return warn('disk', `${what} — little room for data`, 'free space, or use a state dir on a larger file system (--state-dir DIR)');
  return ok('disk', what);
}

/** Available memory: MemAvailable, capped by the cgroup (v2) limit when there is one. */
function availableMB(): { mb: number; source: string } | undefined {
  const m = readText('/proc/meminfo')?.match(/^MemAvailable:\s+(\d+) kB/m);
  if (!m) return undefined;
  let mb = Math.floor(Number(m[1]) / 1024);
  let source = 'MemAvailable';
  const max = readText('/sys/fs/cgroup/memory.max')?.trim();
  const cur = readText('/sys/fs/cgroup/memory.current')?.trim();
  if (max && cur && /^\d+$/.test(max) && /^\d+$/.test(cur)) {
    const room = Math.floor((Number(max) - Number(cur)) / MB);
    if (room < mb) {
      mb = room;
      source = 'cgroup memory.max';
    }
  }
  return { mb, source };
}

function memoryCheck(config: Config, nodes: Record<ComponentName, number>): DoctorCheck {
  // Measured idle RSS: RabbitMQ ~132 MB, MariaDB ~100 MB plus its buffer pool, Memcached ~6 MB plus its cache.
  const needMB = COMPONENTS.reduce((sum, c) => sum + nodes[c] * definition(c).sizing(config).memoryMB, 0);
  const avail = availableMB();
  if (!avail) return warn('memory', 'cannot read /proc/meminfo');
  const what = `${avail.mb} MB available (${avail.source}); the nodes to start need about ${needMB} MB`;
  if (avail.mb < needMB) return fail('memory', what, 'free memory, or lower replicas, mariadb.innodbBufferPoolMB or memcached.memoryMB');
  if (avail.mb < needMB * 1.5) return warn('memory', `${what} — little headroom`, 'free memory, or lower mariadb.innodbBufferPoolMB / memcached.memoryMB');
  return ok('memory', what);
}

/** The open-files limits osb's daemons inherit (from this process). */
export function openFilesLimit(): { soft: number; hard: number } | undefined {
  const m = readText('/proc/self/limits')?.match(/^Max open files\s+(\S+)\s+(\S+)/m);
  if (!m) return undefined;
  const n = (s: string) => (s === 'unlimited' ? Number.POSITIVE_INFINITY : Number(s));
  return { soft: n(m[1]!), hard: n(m[2]!) };
}

function fdChecks(config: Config, components: ComponentName[]): DoctorCheck[] {
  const lim = openFilesLimit();
  if (!lim) return [warn('file descriptors', 'cannot read /proc/self/limits')];
  return components.flatMap((c) => definition(c).local.fdCheck?.(config, lim) ?? []);
}

// adjtimex(2) with modes=0 only reads the kernel's clock discipline state: return value 5 is
// TIME_ERROR, status bit 0x40 is STA_UNSYNC (no NTP daemon is disciplining the clock).
const ADJTIMEX_PY = `import ctypes, ctypes.util, struct
libc = ctypes.CDLL(ctypes.util.find_library('c'), use_errno=True)
buf = ctypes.create_string_buffer(512)
rc = libc.adjtimex(buf)
maxerror, esterror = struct.unpack_from('qq', buf, 24)
status, = struct.unpack_from('i', buf, 40)
print(rc, status, maxerror, esterror)`;

async function clockCheck(): Promise<DoctorCheck> {
  const name = 'clock';
  const note =
    "every node of a local deployment shares this host's clock, so this matters for TLS, tokens and logs across hosts, not for the daemons among themselves";
  const fix = 'run an NTP client (systemd-timesyncd, chrony or ntpsec) on this host — in a container, on its host';
  if (existsSync('/usr/bin/timedatectl') && readText('/proc/1/comm')?.trim() === 'systemd') {
    const r = await run('timedatectl', ['show', '-p', 'NTPSynchronized', '--value']);
    if (r.code === 0 && r.stdout.trim() === 'yes') return ok(name, 'synchronized (timedatectl: NTPSynchronized=yes)');
    if (r.code === 0 && r.stdout.trim() === 'no') return warn(name, `not synchronized (timedatectl: NTPSynchronized=no); ${note}`, fix);
  }
  for (const chronyc of ['/usr/bin/chronyc', '/usr/sbin/chronyc']) {
    if (!existsSync(chronyc)) continue;
    const r = await run(chronyc, ['-n', 'tracking']);
    const leap = r.stdout.match(/^Leap status\s*:\s*(.*)$/m)?.[1]?.trim();
    if (r.code === 0 && leap === 'Normal') return ok(name, 'synchronized (chronyc tracking: Leap status Normal)');
    if (r.code === 0 && leap) return warn(name, `not synchronized (chronyc tracking: Leap status ${leap}); ${note}`, fix);
  }
  if (existsSync('/usr/bin/python3')) {
    const r = await run('/usr/bin/python3', ['-c', ADJTIMEX_PY]);
    const [rc, status, maxerror] = r.stdout.trim().split(/\s+/).map(Number);
    if (r.code === 0 && rc !== undefined && status !== undefined && Number.isFinite(rc)) {
      const unsync = rc === 5 || (status & 0x40) !== 0;
      if (!unsync) return ok(name, `synchronized (kernel adjtimex: TIME_OK, max error ${Math.round((maxerror ?? 0) / 1000)} ms)`);
      return warn(
        name,
        `not synchronized (kernel adjtimex: ${rc === 5 ? 'TIME_ERROR' : `state ${rc}`}, STA_UNSYNC — no NTP client disciplines this clock); ${note}`,
        fix,
      );
    }
  }
  return warn(name, `cannot tell: no timedatectl (with systemd), chronyc, or /usr/bin/python3 for adjtimex; ${note}`, fix);
}

/** Every host check for a local deploy of `components`. Reads only; changes nothing. */
export async function hostChecks(o: HostDoctorOptions): Promise<DoctorCheck[]> {
  const nodes = newNodes(o.config, o.components, o.state);
  return [
    osCheck(),
    await packagesCheck(o.requirements ?? requirementsFor(o.config, o.components), o.uid ?? process.getuid?.() ?? 0),
    supervisionCheck(),
    ...(await portChecks(o.config, o.components, o.state)),
    diskCheck(o.config, o.stateDir, nodes),
    memoryCheck(o.config, nodes),
    ...fdChecks(o.config, o.components),
    await clockCheck(),
    stateDirCheck(o.stateDir),
  ];
}
