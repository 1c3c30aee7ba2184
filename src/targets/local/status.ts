import { readdirSync, lstatSync, statSync, statfsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { definition, definitions } from '../../components/index.js';
import type { ComponentName } from '../../config/schema.js';
import type { LocalInstance } from '../../model/local.js';
import { formatBytes } from '../../util/format.js';
import { processRssBytes, processUptimeSeconds } from '../../util/process.js';
import { deployedComponents, type Deployment } from './context.js';
import { localExtras, localInstances } from './instances.js';
import { runningPid } from './runner.js';
import { entrypoint, supervisorFor, type Supervisor } from './supervisor.js';
import { cronLine, type DeployedSchedule, scheduledJobs } from './schedules.js';
import { nodeCertStatus, type NodeCertStatus } from './tls.js';

export interface NodeStatus {
  name: string;
  address: string;
  running: boolean;
  pid?: number;
  uptimeSeconds?: number;
  rssBytes?: number;
  dataBytes: number;
  healthy: boolean;
  version?: string;
  error?: string;
  /** A short state instead of "running" (e.g. Galera's Synced/Primary). */
  state?: string;
  /** Component-specific live view (Galera state, RabbitMQ cluster, memcached stats). */
  details?: unknown;
  /** Under systemd: its unit, the unit's state and how often systemd restarted it. */
  supervision?: { unit: string; state: string; restarts: number; result: string };
  /** TLS on: the node's certificate (serial, expiry, a warning within 30 days). */
  certificate?: NodeCertStatus;
  /** What an operator checks first (connections used/max, flow control, queue depth, hit ratio). */
  numbers?: Record<string, number | null>;
  /** The filesystem holding the node's data (the one with the least free space when its folders span several). */
  disk?: DiskStatus;
}

export interface DiskStatus {
  /** Mount point of the filesystem. */
  mount: string;
  freeBytes: number;
  sizeBytes: number;
  /** Less than DISK_FULL_BYTES free: the daemon can no longer write (the node is reported unhealthy). */
  full: boolean;
}

/**
 * Below this much free space a node's data filesystem counts as full. Daemons stop writing well
 * before 0 B: InnoDB cannot extend a tablespace page by page, RabbitMQ's disk alarm fires at
 * disk_free_limit (50 MB). docs/faults.md.
 */
export const DISK_FULL_BYTES = 16 * 1024 * 1024;

/** Where the filesystem holding `path` is mounted: the highest ancestor on the same device. */
function mountPoint(path: string): string {
  const dev = statSync(path).dev;
  let p = path;
  for (let up = dirname(p); up !== p; p = up, up = dirname(p)) {
    try {
      if (statSync(up).dev !== dev) break;
    } catch {
      break;
    }
  }
  return p;
}

/** statfs of each folder a node writes; the fullest filesystem among them. Undefined for a node that keeps nothing on disk. */
export function dataDisk(inst: LocalInstance): DiskStatus | undefined {
  let worst: DiskStatus | undefined;
  for (const dir of inst.dirs) {
    try {
      const s = statfsSync(dir);
      const freeBytes = s.bavail * s.bsize;
      if (worst && worst.freeBytes <= freeBytes) continue;
      worst = { mount: mountPoint(dir), freeBytes, sizeBytes: s.blocks * s.bsize, full: freeBytes < DISK_FULL_BYTES };
    } catch {
      /* not created yet */
    }
  }
  return worst;
}

export const diskFullMessage = (d: DiskStatus) => `its data filesystem ${d.mount} is full (${formatBytes(d.freeBytes)} free of ${formatBytes(d.sizeBytes)})`;

/** A process beside the nodes (the Galera proxy, an exporter). */
export interface ExtraProcessStatus {
  name: string;
  component: ComponentName;
  address: string;
  running: boolean;
  pid?: number;
  rssBytes?: number;
  healthy: boolean;
  error?: string;
}

export interface ComponentStatus {
  component: ComponentName;
  healthy: boolean;
  nodes: NodeStatus[];
  summary: string;
}

export interface StatusReport {
  stateDir: string;
  healthy: boolean;
  components: ComponentStatus[];
  /** Processes components run beside their nodes, by key (e.g. `proxy`: the single-writer proxy in front of Galera). */
  [extra: string]: unknown;
}

/** Bytes under a directory, without following symlinks (like `du -sb`). */
export function dirBytes(dir: string): number {
  let total = 0;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e);
    try {
      const st = lstatSync(p);
      total += st.isDirectory() ? dirBytes(p) : st.size;
    } catch {
      /* vanished while walking */
    }
  }
  return total;
}

async function nodeStatus(d: Deployment, inst: LocalInstance, supervisor: Supervisor): Promise<NodeStatus> {
  const pid = runningPid(inst);
  // The round trips start first; the synchronous walks below (certificate, data size) overlap them.
  const unitP = supervisor.status(inst);
  const liveP = pid
    ? definition(inst.component)
        .local.inspect(d.config, d.secrets, inst)
        .then(
          (live) => ({ live }),
          (err: unknown) => ({ err: err as Error }),
        )
    : undefined;
  const certificate = nodeCertStatus(d.config, inst);
  const dataBytes = dirBytes(inst.dir);
  const disk = dataDisk(inst);
  const full = disk?.full ? diskFullMessage(disk) : undefined;
  const unit = await unitP;
  const supervision =
    unit && unit.loadState === 'loaded'
      ? { unit: unit.unit, state: `${unit.activeState}/${unit.subState}`, restarts: unit.nRestarts, result: unit.result }
      : undefined;
  const base: NodeStatus = {
    name: inst.name,
    address: `${inst.host}:${inst.port}`,
    running: !!pid,
    dataBytes,
    healthy: false,
    ...(disk ? { disk } : {}),
    ...(supervision ? { supervision } : {}),
    ...(certificate ? { certificate } : {}),
  };
  if (!pid || !liveP) {
    // A full disk first (what to fix), then what the daemon's own log says ended it.
    const cause = [full, definition(inst.component).local.stopCause?.(inst)].filter(Boolean).join('; ');
    const downBecause = (what: string) => ({ ...base, error: cause ? `${what}: ${cause}` : what });
    if (unit?.activeState === 'failed') {
      // Why it gave up, from the journal: the prepare step's refusal or the daemon's last words.
      const journal = (await supervisor.journal(inst, 40)).split('\n');
      const why =
        journal
          .filter((l) => /osb: error: /.test(l))
          .pop()
          ?.replace(/^.*osb: error: /, '') ??
        journal
          .filter((l) => !/systemd\[\d+\]/.test(l) && /error|refus|abort/i.test(l))
          .pop()
          ?.replace(/^\S+ \S+ \S+: /, '');
      return { ...base, error: `unit failed (${unit.result})${why ? `: ${why}` : ''}${full ? `; ${full}` : ''}` };
    }
    if (unit?.activeState === 'activating') return downBecause(`starting (${unit.subState}, ${unit.nRestarts} restarts so far)`);
    return downBecause('not running');
  }
  base.pid = pid;
  base.uptimeSeconds = processUptimeSeconds(pid);
  base.rssBytes = processRssBytes(pid);
  const r = await liveP;
  if ('live' in r) {
    const live = r.live;
    return {
      ...base,
      version: live.version,
      ...(live.state ? { state: live.state } : {}),
      details: live.details,
      ...(live.numbers ? { numbers: live.numbers } : {}),
      healthy: !live.problem && !full,
      ...(live.problem || full ? { error: [full, live.problem].filter(Boolean).join('; ') } : {}),
    };
  }
  // Running but not answering: what its own log says (e.g. RabbitMQ paused by pause_minority), then the disk.
  const cause = definition(inst.component).local.stopCause?.(inst);
  return { ...base, error: [`protocol check failed: ${r.err.message}`, cause, full].filter(Boolean).join('; ') };
}

/** Running (its pid file names our live process) and answering its probe (an exporter serves /metrics). */
async function extraProcessStatus(inst: LocalInstance): Promise<ExtraProcessStatus> {
  const pid = runningPid(inst);
  const base = { name: inst.name, component: inst.component, address: `${inst.host}:${inst.port}`, running: !!pid };
  if (!pid) return { ...base, healthy: false, error: 'not running' };
  try {
    await inst.probe();
    return { ...base, pid, rssBytes: processRssBytes(pid), healthy: true };
  } catch (err) {
    return { ...base, pid, rssBytes: processRssBytes(pid), healthy: false, error: (err as Error).message };
  }
}

/** A scheduled job in `osb status`: its timer's next run and the last run's result, or the crontab line to add. */
export interface ScheduleStatus extends DeployedSchedule {
  /** Timer installed, enabled and waiting. */
  state?: string;
  enabled?: string;
  nextRun?: string;
  lastRun?: string;
  lastResult?: string;
}

async function scheduleStatus(d: Deployment, supervisor: Supervisor): Promise<ScheduleStatus[]> {
  const jobs = scheduledJobs(d.config, d.stateDir, deployedComponents(d), supervisor.choice.kind === 'systemd');
  const units = await supervisor.jobStatus(jobs).catch(() => undefined);
  return jobs.map((j, i) => {
    const base = { job: j.name, key: j.key, title: j.title, onCalendar: j.onCalendar, cron: j.cron };
    const u = units?.[i];
    if (supervisor.choice.kind !== 'systemd') return { ...base, crontab: cronLine(j, entrypoint()) };
    if (!u) return { ...base, state: 'unknown' };
    return {
      ...base,
      timer: u.timer,
      state: u.installed ? u.timerState : 'not installed',
      enabled: u.enabled,
      ...(u.nextRun ? { nextRun: u.nextRun } : {}),
      ...(u.lastRun ? { lastRun: u.lastRun } : {}),
      lastResult: u.lastResult,
    };
  });
}

/** One line per scheduled job, and a WARNING for a job whose last run failed or whose timer does not run. */
export function scheduleLines(schedules: ScheduleStatus[]): string[] {
  const when = (iso?: string) => (iso ? `${iso.slice(0, 16).replace('T', ' ')} UTC` : '-');
  return schedules.flatMap((s) => {
    if (s.crontab) return [`scheduled ${s.job} (${s.key}): no systemd timers here; crontab line: ${s.crontab}`];
    const last = s.lastResult === 'running' ? 'running now' : s.lastRun ? `last ${when(s.lastRun)}: ${s.lastResult}` : 'no run yet';
    const line = `timer ${s.job} (${s.key}): next ${when(s.nextRun)}, ${last}`;
    const warn =
      s.state !== 'active/waiting' && s.state !== 'active/running'
        ? [`WARNING: ${s.timer} is ${s.state}: run \`osb deploy\` to install and start it`]
        : s.lastResult?.startsWith('failed')
          ? [`WARNING: the last ${s.job} run ${s.lastResult}: see \`journalctl -u ${s.timer?.replace(/\.timer$/, '.service')}\``]
          : [];
    return [line, ...warn];
  });
}

/** The status report, and one line per extra process (e.g. the Galera proxy) for the terminal. */
export async function localStatus(d: Deployment, components?: ComponentName[]): Promise<{ report: StatusReport; extraLines: string[] }> {
  const deployed = deployedComponents(d, components);
  const instances = localInstances(d.config, d.stateDir, d.secrets, deployed);
  const supervisor = supervisorFor(d.stateDir);
  // Nodes, component extras and the processes beside them are checked at once (each is a round trip or two).
  const processesP = Promise.all(deployed.flatMap((c) => localExtras(d.config, d.stateDir, d.secrets, c)).map(extraProcessStatus));
  const extrasP = Promise.all(definitions(d.config, deployed).map((def) => def.local.extraStatus?.(d.config, d.stateDir, d.secrets)));
  const outP = Promise.all(
    [...instances].map(async ([component, list]): Promise<ComponentStatus> => {
      const nodes = await Promise.all(list.map((i) => nodeStatus(d, i, supervisor)));
      const up = nodes.filter((n) => n.healthy).length;
      const summary = `${up}/${nodes.length} healthy${definition(component).local.summary?.(d.config, nodes) ?? ''}`;
      return { component, nodes, healthy: nodes.every((n) => n.healthy), summary };
    }),
  );
  const [out, extrasAll, processes, schedules] = await Promise.all([outP, extrasP, processesP, scheduleStatus(d, supervisor)]);
  const extras = extrasAll.filter((e) => e !== undefined);
  const report: StatusReport = {
    stateDir: d.stateDir,
    supervision: supervisor.choice,
    healthy: out.every((c) => c.healthy) && extras.every((e) => e.healthy) && processes.every((p) => p.healthy),
    components: out,
    extras: processes,
    schedules,
  };
  for (const e of extras) report[e.key] = e.json;
  const down = processes.filter((p) => !p.healthy);
  const processLine =
    processes.length > 0 &&
    `beside the nodes: ${processes.filter((p) => p.healthy).length}/${processes.length} running` +
      (down.length ? `; DOWN: ${down.map((p) => `${p.name} (${p.error})`).join(', ')}` : '');
  return { report, extraLines: [...extras.map((e) => e.line), ...(processLine ? [processLine] : []), ...scheduleLines(schedules)] };
}
