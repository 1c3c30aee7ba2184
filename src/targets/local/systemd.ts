/**
 * systemd as the supervisor of local deployments: unit rendering (pure) and thin systemctl/journalctl
 * wrappers; supervisor.ts drives them. Units: one per node, extra and helper, the deployment's target,
 * and a oneshot service plus a timer per scheduled job (schedules.ts).
 *
 * Facts verified under systemd 252 (Debian 12) in the test container (test/helpers/systemd-container.ts):
 *  - RestartSteps= / RestartMaxDelaySec= (exponential back-off) do not exist before 254: "Unknown key,
 *    ignoring". The back-off here is RestartSec= plus StartLimitIntervalSec=/StartLimitBurst= in [Unit].
 *  - Node 20 has no execve (process.execve arrived in Node 22.15/23.11): a Node entrypoint cannot
 *    replace itself with the daemon. Hence the default layout: ExecStartPre= runs the Node pre-start
 *    steps, ExecStart= is the daemon itself, so MainPID is the daemon.
 *  - `exec daemon > >(tee -a LOG) 2>&1` under bash keeps the daemon as MainPID (bash execs it) while
 *    its console output reaches both the node's log file and the journal.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { runQuiet } from '../../util/exec.js';
import { OsbError } from '../../util/errors.js';
import type { LocalHelper, LocalInstance } from '../../model/local.js';
import { JOB_NAMES, type ScheduledJob } from './schedules.js';

export type UnitScope = 'system' | 'user';

/** Written by `osb node prepare` in the node's dir before each start: `OSB_START_ARGS=...`. */
export const START_ENV_FILE = 'osb-start.env';

/** systemd is the init of this machine (what `sd_booted()` checks, plus PID 1's name). */
export function systemdIsPid1(root = '/'): boolean {
  try {
    return existsSync(join(root, 'run/systemd/system')) && readFileSync(join(root, 'proc/1/comm'), 'utf8').trim() === 'systemd';
  } catch {
    return false;
  }
}

/** Root gets system units; anyone else user units (~/.config/systemd/user). */
export function unitScope(uid = process.getuid?.() ?? 0): UnitScope {
  return uid === 0 ? 'system' : 'user';
}

export function unitDir(scope: UnitScope, home = homedir()): string {
  return scope === 'system' ? '/etc/systemd/system' : join(home, '.config', 'systemd', 'user');
}

/** 8 hex digits of the state dir's absolute path: the id of one deployment on this host. */
export function deploymentId(stateDir: string): string {
  return createHash('sha256').update(resolve(stateDir)).digest('hex').slice(0, 8);
}

/** systemd-escape of one name component (keeps [A-Za-z0-9:_.-], \xHH for the rest). */
export function escapeUnitComponent(s: string): string {
  return s.replace(/[^A-Za-z0-9:_.-]/g, (c) => [...Buffer.from(c)].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')).replace(/^\./, '\\x2e');
}

export const targetName = (stateDir: string) => `osb-${deploymentId(stateDir)}.target`;
export const serviceName = (stateDir: string, node: string) => `osb-${deploymentId(stateDir)}-${escapeUnitComponent(node)}.service`;

/**
 * One word of an ExecStart= command line: quoted when needed; `%` (specifiers) and `$` (variable
 * expansion) are doubled so that the word reaches the process as is.
 */
export function execWord(arg: string): string {
  const escaped = arg.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (/^[A-Za-z0-9_@%+=:,./$-]+$/.test(escaped) && escaped !== '') return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

export const execLine = (argv: string[]) => argv.map(execWord).join(' ');

/** An assignment of Environment= (specifiers are expanded there, variables are not). */
function envAssignment(key: string, value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new OsbError(`environment variable name ${JSON.stringify(key)} is not valid in a unit`);
  if (/PASS|SECRET|TOKEN|COOKIE|KEY$/i.test(key)) {
    throw new OsbError(`environment variable ${key} looks like a secret and unit files are world-readable`, 'pass secrets in a 0600 file instead');
  }
  const kv = `${key}=${value}`.replace(/%/g, '%%').replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  return `Environment="${kv}"`;
}

/** How a daemon that osb starts detached today runs in the foreground under systemd. */
export interface Foreground {
  argv: string[];
  /** notify: the daemon says READY=1 itself (mariadbd, haproxy -Ws); exec: started once exec() worked. */
  type: 'exec' | 'notify';
}

/** How a process runs under systemd: its foreground argv (the component says when it differs) and readiness. */
export function foreground(p: Pick<LocalInstance, 'command' | 'args' | 'foreground'>): Foreground {
  return { argv: [p.command, ...(p.foreground?.args ?? p.args)], type: p.foreground?.notify ? 'notify' : 'exec' };
}

export interface Entrypoint {
  /** Absolute path of the node binary (process.execPath). */
  node: string;
  /** Absolute path of the osb bundle (dist/cli/bundle/osb.mjs). */
  bundle: string;
  /**
   * pre-start (default): ExecStartPre=<node> <bundle> node prepare --state-dir D NODE, then
   * ExecStart= the daemon itself (MainPID = the daemon).
   * run: ExecStart=<node> <bundle> node run --state-dir D NODE, which must spawn the daemon and
   * exit when it exits (Node cannot exec); MainPID is then node and NotifyAccess=all is needed.
   */
  mode?: 'pre-start' | 'run';
}

export interface UnitContext {
  stateDir: string;
  scope: UnitScope;
  entrypoint?: Entrypoint;
  restartSec?: number;
  startLimitIntervalSec?: number;
  startLimitBurst?: number;
}

export interface ServiceSpec {
  unit: string;
  description: string;
  node: string;
  argv: string[];
  type: 'exec' | 'notify';
  env: Record<string, string>;
  execStartPre?: string[];
  /** The daemon writes no pid file: systemd writes its MainPID there once started. */
  pidFileFromMainPid?: string;
  /** A file the ExecStartPre step writes (OSB_START_ARGS=...): extra daemon args decided at each start. */
  startArgsFile?: string;
  /** Console output goes here as well as to the journal. */
  consoleLog?: string;
  readWritePaths: string[];
  workingDirectory: string;
  limitNofile?: number;
  timeoutStartSec: number;
  timeoutStopSec: number;
  /** Other units of this deployment that must run first (e.g. epmd before RabbitMQ). */
  after: string[];
  wants: string[];
}

export function instanceServiceSpec(inst: LocalInstance, ctx: UnitContext): ServiceSpec {
  const fg = foreground(inst);
  const unit = serviceName(ctx.stateDir, inst.name);
  const helpers = (inst.helpers ?? []).map((h) => serviceName(ctx.stateDir, h.name));
  const ep = ctx.entrypoint;
  const nodeArgs = (verb: string) => (ep ? [ep.node, ep.bundle, 'node', verb, '--state-dir', resolve(ctx.stateDir), inst.name] : []);
  const run = ep?.mode === 'run';
  return {
    unit,
    description: `osb ${inst.component} ${inst.name} (${resolve(ctx.stateDir)})`,
    node: inst.name,
    argv: run ? nodeArgs('run') : fg.argv,
    type: fg.type,
    env: inst.env,
    execStartPre: ep && !run ? nodeArgs('prepare') : undefined,
    startArgsFile: ep && !run ? join(inst.dir, START_ENV_FILE) : undefined,
    pidFileFromMainPid: inst.writesNoPidFile ? inst.pidFile : undefined,
    consoleLog: inst.consoleLog,
    readWritePaths: [inst.dir],
    workingDirectory: inst.dir,
    limitNofile: inst.limitNofile,
    timeoutStartSec: Math.ceil(inst.startTimeoutMs / 1000),
    timeoutStopSec: Math.ceil(inst.stopTimeoutMs / 1000),
    after: helpers,
    wants: helpers,
  };
}

/** A helper (epmd) shared by the nodes of one component; its dir is where its log goes. */
export function helperServiceSpec(h: LocalHelper, dir: string, ctx: UnitContext): ServiceSpec {
  const fg = foreground(h);
  return {
    unit: serviceName(ctx.stateDir, h.name),
    description: `osb helper ${h.name} (${resolve(ctx.stateDir)})`,
    node: h.name,
    argv: fg.argv,
    type: fg.type,
    env: h.env,
    consoleLog: join(dir, `${h.name}.log`),
    readWritePaths: [dir],
    workingDirectory: dir,
    timeoutStartSec: 30,
    timeoutStopSec: 10,
    after: [],
    wants: [],
  };
}

function underTmp(path: string): boolean {
  const p = resolve(path);
  return ['/tmp', '/var/tmp'].some((t) => p === t || p.startsWith(`${t}/`));
}

function underHome(path: string): boolean {
  const p = resolve(path);
  return ['/home', '/root', '/run/user'].some((h) => p === h || p.startsWith(`${h}/`)) || p.startsWith(`${homedir()}/`);
}

/**
 * The sandbox of every unit: the whole file system read-only except `readWritePaths` (a leading `-`:
 * the path may not exist yet), a private /tmp, no privilege gain.
 */
function sandbox(readWritePaths: string[], ctx: UnitContext): string[] {
  const rw = [...new Set(readWritePaths.map((p) => (p.startsWith('-') ? `-${resolve(p.slice(1))}` : resolve(p))))];
  // osb itself (its checkout or package) must stay visible to the unit's prepare step and to osb's own
  // exporters, even when it lives under /tmp (hidden by PrivateTmp) or a home (hidden by ProtectHome).
  const osbRoot = ctx.entrypoint ? resolve(dirname(ctx.entrypoint.bundle), '..') : undefined;
  const exposeOsb = osbRoot && (underTmp(osbRoot) || underHome(osbRoot)) ? [osbRoot] : [];
  return [
    'ProtectSystem=strict',
    ...rw.map((p) => `ReadWritePaths=${execWord(p)}`),
    // A state dir under /home or /root must stay reachable: read-only, with the RW hole above.
    `ProtectHome=${rw.some((p) => underHome(p.replace(/^-/, ''))) ? 'read-only' : 'yes'}`,
    'PrivateTmp=yes',
    ...exposeOsb.map((p) => `BindReadOnlyPaths=${execWord(p)}`),
    'NoNewPrivileges=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectControlGroups=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    ...(ctx.scope === 'user' ? ['PrivateUsers=yes'] : []),
  ];
}

/** The unit file of one node. */
export function renderService(spec: ServiceSpec, ctx: UnitContext): string {
  const target = targetName(ctx.stateDir);
  const restartSec = ctx.restartSec ?? 2;
  const burst = ctx.startLimitBurst ?? 5;
  // The interval must cover `burst` restarts including their start time, or the limit never triggers.
  const interval = ctx.startLimitIntervalSec ?? Math.max(60, burst * (restartSec + 10));
  const command = spec.consoleLog
    ? // bash execs the daemon (it stays MainPID); tee copies its console to the log file and the journal.
      ['/bin/bash', '-c', `exec "$0" "$@" > >(exec /usr/bin/tee -a ${shellQuote(spec.consoleLog)}) 2>&1`, ...spec.argv]
    : spec.argv;
  const lines = [
    '# generated by osb — do not edit; `osb deploy` rewrites it',
    '[Unit]',
    `Description=${spec.description.replace(/%/g, '%%')}`,
    `PartOf=${target}`,
    ...(spec.wants.length ? [`Wants=${spec.wants.join(' ')}`] : []),
    ...(spec.after.length ? [`After=${spec.after.join(' ')}`] : []),
    `StartLimitIntervalSec=${interval}`,
    `StartLimitBurst=${burst}`,
    '',
    '[Service]',
    `Type=${spec.type}`,
    ...(spec.type === 'notify' ? ['NotifyAccess=all'] : []),
    ...Object.entries(spec.env).map(([k, v]) => envAssignment(k, v)),
    `WorkingDirectory=${execWord(resolve(spec.workingDirectory))}`,
    ...(spec.execStartPre ? [`ExecStartPre=${execLine(spec.execStartPre)}`] : []),
    ...(spec.startArgsFile ? [`EnvironmentFile=-${execWord(resolve(spec.startArgsFile))}`] : []),
    // $OSB_START_ARGS (unbraced): systemd splits it into zero or more words.
    `ExecStart=${execLine(command)}${spec.startArgsFile ? ' $OSB_START_ARGS' : ''}`,
    ...(spec.pidFileFromMainPid ? [`ExecStartPost=/bin/sh -c ${execWord(`echo $MAINPID > ${shellQuote(resolve(spec.pidFileFromMainPid))}`)}`] : []),
    // always, not on-failure: a daemon killed under a wrapper script may exit 0 (rabbitmq-server's shell
    // does); only `systemctl stop` (osb destroy/restart) keeps a node down.
    'Restart=always',
    `RestartSec=${restartSec}`,
    `TimeoutStartSec=${spec.timeoutStartSec}`,
    `TimeoutStopSec=${spec.timeoutStopSec}`,
    // SIGTERM to the daemon only (it shuts down its own children), SIGKILL to what is left.
    'KillMode=mixed',
    'StandardOutput=journal',
    'StandardError=journal',
    `SyslogIdentifier=${spec.node}`,
    // Files the daemon creates (and the tee'd log) are private to the user, like osb's own.
    'UMask=0077',
    ...(spec.limitNofile ? [`LimitNOFILE=${spec.limitNofile}`] : []),
    ...sandbox(spec.readWritePaths, ctx),
    '',
    '[Install]',
    `WantedBy=${target}`,
    '',
  ];
  return lines.join('\n');
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The per-deployment target: `systemctl start/stop/status osb-<id>.target` acts on every node. */
export function renderTarget(ctx: UnitContext, units: string[]): string {
  return [
    '# generated by osb — do not edit; `osb deploy` rewrites it',
    '[Unit]',
    `Description=osb deployment ${resolve(ctx.stateDir).replace(/%/g, '%%')}`,
    ...(units.length ? [`Wants=${units.join(' ')}`] : []),
    '',
    '[Install]',
    `WantedBy=${ctx.scope === 'system' ? 'multi-user.target' : 'default.target'}`,
    '',
  ].join('\n');
}

export interface RenderedUnit {
  name: string;
  path: string;
  content: string;
}

/** Every unit of a deployment: one per node, one per helper (once), and the target. */
export function renderDeploymentUnits(instances: LocalInstance[], ctx: UnitContext, home = homedir()): RenderedUnit[] {
  const dir = unitDir(ctx.scope, home);
  const out: RenderedUnit[] = [];
  const helpers = new Map<string, RenderedUnit>();
  for (const inst of instances) {
    for (const h of inst.helpers ?? []) {
      if (helpers.has(h.name)) continue;
      const spec = helperServiceSpec(h, resolve(inst.dir, '..'), ctx);
      helpers.set(h.name, { name: spec.unit, path: join(dir, spec.unit), content: renderService(spec, ctx) });
    }
    const spec = instanceServiceSpec(inst, ctx);
    out.push({ name: spec.unit, path: join(dir, spec.unit), content: renderService(spec, ctx) });
  }
  const services = [...helpers.values(), ...out];
  const target = targetName(ctx.stateDir);
  return [
    ...services,
    {
      name: target,
      path: join(dir, target),
      content: renderTarget(
        ctx,
        services.map((u) => u.name),
      ),
    },
  ];
}

export const jobServiceName = (stateDir: string, job: string) => serviceName(stateDir, job);
export const jobTimerName = (stateDir: string, job: string) => `osb-${deploymentId(stateDir)}-${escapeUnitComponent(job)}.timer`;

/**
 * A scheduled job of the deployment (src/targets/local/schedules.ts) as a oneshot service that runs osb
 * the way the node units do (`<node> <osb> ARGS --state-dir D`; no secret in the unit: osb reads them
 * from the state dir), and the timer that starts it. Both are PartOf= the deployment's target: stopping
 * the deployment stops its timers; the timer is enabled into the target, so it starts with it at boot.
 * A run that fails leaves the service failed (`systemctl --failed`), with osb's message in the journal.
 */
export function renderJobUnits(job: ScheduledJob, ctx: UnitContext, home = homedir()): RenderedUnit[] {
  if (!ctx.entrypoint) throw new OsbError('a scheduled job needs the entrypoint of osb (node and the bundle)');
  const dir = unitDir(ctx.scope, home);
  const target = targetName(ctx.stateDir);
  const stateDir = resolve(ctx.stateDir);
  const service = jobServiceName(ctx.stateDir, job.name);
  const timer = jobTimerName(ctx.stateDir, job.name);
  const what = `osb ${job.name}: ${job.title} (${stateDir})`.replace(/%/g, '%%');
  const serviceText = [
    '# generated by osb — do not edit; `osb deploy` rewrites it',
    '[Unit]',
    `Description=${what}`,
    `PartOf=${target}`,
    '',
    '[Service]',
    'Type=oneshot',
    ...(job.lockWaitSeconds ? [envAssignment('OSB_LOCK_WAIT_SECONDS', String(job.lockWaitSeconds))] : []),
    `WorkingDirectory=${execWord(stateDir)}`,
    `ExecStart=${execLine([ctx.entrypoint.node, ctx.entrypoint.bundle, ...job.args])}`,
    `TimeoutStartSec=${job.timeoutStartSec}`,
    'StandardOutput=journal',
    'StandardError=journal',
    `SyslogIdentifier=osb-${job.name}`,
    ...(job.quietJournal ? ['SyslogLevel=notice', 'LogLevelMax=notice'] : []),
    'UMask=0077',
    // Day-2 work yields the CPU and the disk to the daemons it works on.
    'Nice=10',
    'IOSchedulingClass=best-effort',
    'IOSchedulingPriority=7',
    ...sandbox([stateDir, ...job.writes.filter((w) => !insideDir(w, stateDir)).map((w) => `-${w}`)], ctx),
    '',
  ].join('\n');
  const timerText = [
    '# generated by osb — do not edit; `osb deploy` rewrites it',
    '[Unit]',
    `Description=${what}`,
    `PartOf=${target}`,
    '',
    '[Timer]',
    ...job.onCalendar.map((c) => `OnCalendar=${c}`),
    ...(job.persistent ? ['Persistent=true'] : []),
    ...(job.accuracySec ? [`AccuracySec=${job.accuracySec}`] : []),
    `Unit=${service}`,
    '',
    '[Install]',
    `WantedBy=${target}`,
    '',
  ].join('\n');
  return [
    { name: service, path: join(dir, service), content: serviceText },
    { name: timer, path: join(dir, timer), content: timerText },
  ];
}

function insideDir(path: string, dir: string): boolean {
  const p = resolve(path);
  return p === dir || p.startsWith(`${dir}/`);
}

/** The job units of a deployment present in the unit dir (`osb-<id>-<job>.service|timer`), wanted or not. */
export function jobUnitFiles(stateDir: string, scope: UnitScope, home = homedir()): RenderedUnit[] {
  const dir = unitDir(scope, home);
  return JOB_NAMES.flatMap((job) => [jobServiceName(stateDir, job), jobTimerName(stateDir, job)])
    .filter((n) => existsSync(join(dir, n)))
    .map((n) => ({ name: n, path: join(dir, n), content: readFileSync(join(dir, n), 'utf8') }));
}

/** What to tell a non-root user so that user units start at boot without a login. */
export function lingerHint(user = userInfo().username): string {
  return `user units start at boot only with lingering enabled: run \`sudo loginctl enable-linger ${user}\``;
}

// ---- systemctl / journalctl wrappers ---------------------------------------------------------

export interface SystemctlOptions {
  scope: UnitScope;
  /** Runs the command through this prefix (tests: nsenter into a container). */
  wrap?: string[];
}

function systemctlArgv(opts: SystemctlOptions, args: string[]): [string, string[]] {
  const argv = [...(opts.wrap ?? []), 'systemctl', ...(opts.scope === 'user' ? ['--user'] : []), ...args];
  return [argv[0]!, argv.slice(1)];
}

export function systemctl(opts: SystemctlOptions, ...args: string[]): Promise<string> {
  const [cmd, argv] = systemctlArgv(opts, args);
  return runQuiet(cmd, argv, { timeoutMs: 120_000 });
}

export const daemonReload = (o: SystemctlOptions) => systemctl(o, 'daemon-reload');
export const enableNow = (o: SystemctlOptions, units: string[]) => systemctl(o, 'enable', '--now', ...units);
/**
 * Stops units and waits for them. `systemctl stop osb-<id>.target` alone returns at once (measured: 25 ms)
 * while the PartOf= stop jobs of its services still run: name the services too when the caller needs them stopped.
 */
export const stopUnits = (o: SystemctlOptions, units: string[]) => systemctl(o, 'stop', ...units);
export const disableUnits = (o: SystemctlOptions, units: string[]) => systemctl(o, 'disable', '--now', ...units);

export interface UnitStatus {
  unit: string;
  activeState: string;
  subState: string;
  result: string;
  nRestarts: number;
  mainPid: number;
  execMainStatus: number;
  loadState: string;
}

/** Parses `systemctl show -p …` output (one unit: KEY=value lines). */
export function parseShow(unit: string, text: string): UnitStatus {
  const kv = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1));
  }
  return {
    unit,
    activeState: kv.get('ActiveState') ?? 'unknown',
    subState: kv.get('SubState') ?? 'unknown',
    result: kv.get('Result') ?? 'unknown',
    nRestarts: Number(kv.get('NRestarts') ?? 0),
    mainPid: Number(kv.get('MainPID') ?? 0),
    execMainStatus: Number(kv.get('ExecMainStatus') ?? 0),
    loadState: kv.get('LoadState') ?? 'unknown',
  };
}

export async function unitStatus(o: SystemctlOptions, unit: string): Promise<UnitStatus> {
  return parseShow(unit, await systemctl(o, 'show', '-p', 'LoadState,ActiveState,SubState,Result,NRestarts,MainPID,ExecMainStatus', unit));
}

/** The last `lines` journal lines of a unit. */
export function journalTail(o: SystemctlOptions, unit: string, lines = 50): Promise<string> {
  const argv = [...(o.wrap ?? []), 'journalctl', ...(o.scope === 'user' ? ['--user'] : []), '-u', unit, '-n', String(lines), '--no-pager', '-o', 'short-iso'];
  return runQuiet(argv[0]!, argv.slice(1), { timeoutMs: 30_000 });
}

/** A scheduled job as systemd sees it: its timer (next run) and its service (last run and result). */
export interface JobUnitStatus {
  timer: string;
  service: string;
  /** Both unit files are loaded. */
  installed: boolean;
  /** The timer: active/waiting, inactive/dead... */
  timerState: string;
  /** enabled / disabled (UnitFileState of the timer). */
  enabled: string;
  /** ISO time of the next run (none when the timer is stopped). */
  nextRun?: string;
  /** ISO time the timer last started the service. */
  lastRun?: string;
  /** running (a run is under way), success, failed (exit status N) or never run. */
  lastResult: string;
}

/** `Fri 2026-11-27 15:45:00 UTC` (systemctl under TZ=UTC) as ISO; undefined when empty. */
export function parseSystemdTime(s: string | undefined): string | undefined {
  const m = /(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) UTC$/.exec(s?.trim() ?? '');
  return m ? `${m[1]}T${m[2]}Z` : undefined;
}

/** Splits `systemctl show` of several units (blocks of KEY=value lines, one per unit, each with Id=). */
export function parseShowBlocks(text: string): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const block of text.split(/\n\s*\n/)) {
    const kv = new Map<string, string>();
    for (const line of block.split('\n')) {
      const i = line.indexOf('=');
      if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1));
    }
    const id = kv.get('Id');
    if (id) out.set(id, kv);
  }
  return out;
}

export function jobStatusFromShow(timer: string, service: string, blocks: Map<string, Map<string, string>>): JobUnitStatus {
  const t = blocks.get(timer) ?? new Map<string, string>();
  const s = blocks.get(service) ?? new Map<string, string>();
  const installed = t.get('LoadState') === 'loaded' && s.get('LoadState') === 'loaded';
  // The service's own start time counts runs started by hand too (`systemctl start`), not only by the timer.
  const lastRun = parseSystemdTime(s.get('ExecMainStartTimestamp')) ?? parseSystemdTime(t.get('LastTriggerUSec'));
  const active = s.get('ActiveState');
  const result = s.get('Result');
  const status = s.get('ExecMainStatus');
  let lastResult = 'never run';
  if (active === 'activating' || active === 'active') lastResult = 'running';
  else if (result && result !== 'success') lastResult = `failed (${result}${status && status !== '0' ? `, exit status ${status}` : ''})`;
  else if (lastRun) lastResult = 'success';
  return {
    timer,
    service,
    installed,
    timerState: `${t.get('ActiveState') ?? 'unknown'}/${t.get('SubState') ?? 'unknown'}`,
    enabled: t.get('UnitFileState') || 'unknown',
    ...(parseSystemdTime(t.get('NextElapseUSecRealtime')) ? { nextRun: parseSystemdTime(t.get('NextElapseUSecRealtime')) } : {}),
    ...(lastRun ? { lastRun } : {}),
    lastResult,
  };
}

/** Every job's timer and service in one `systemctl show` (cheap enough for `osb status`). */
export async function jobStatuses(o: SystemctlOptions, stateDir: string, jobs: string[]): Promise<JobUnitStatus[]> {
  if (!jobs.length) return [];
  const units = jobs.flatMap((j) => [jobTimerName(stateDir, j), jobServiceName(stateDir, j)]);
  const [cmd, argv] = systemctlArgv(o, [
    'show',
    '-p',
    'Id,LoadState,ActiveState,SubState,Result,ExecMainStatus,ExecMainStartTimestamp,NextElapseUSecRealtime,LastTriggerUSec,UnitFileState',
    ...units,
  ]);
  // Times in UTC, whatever the host's zone: they are parsed back.
  const text = await runQuiet(cmd, argv, { timeoutMs: 30_000, env: { ...(process.env as Record<string, string>), TZ: 'UTC' } });
  const blocks = parseShowBlocks(text);
  return jobs.map((j) => jobStatusFromShow(jobTimerName(stateDir, j), jobServiceName(stateDir, j), blocks));
}
