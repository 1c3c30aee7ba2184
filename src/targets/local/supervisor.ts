import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalInstance } from '../../model/local.js';
import { OsbError } from '../../util/errors.js';
import { sleep } from '../../util/net.js';
import { runningPid } from '../../util/process.js';
import { failureReport, startInstance, stopInstance, writeInstanceFiles } from './runner.js';
import type { ScheduledJob } from './schedules.js';
import {
  daemonReload,
  jobStatuses,
  jobTimerName,
  jobUnitFiles,
  type JobUnitStatus,
  renderJobUnits,
  journalTail,
  renderDeploymentUnits,
  type SystemctlOptions,
  systemctl,
  systemdIsPid1,
  targetName,
  serviceName,
  type UnitStatus,
  unitScope,
  unitStatus,
  lingerHint,
} from './systemd.js';

/** One-shot extra args for the next start (e.g. Galera's --wsrep-new-cluster), consumed by `osb node prepare`. */
export const ONE_SHOT_ARGS = 'osb-next-start.json';

export interface SupervisorChoice {
  kind: 'systemd' | 'none';
  /** Why (shown once by deploy, and in `osb status --json`). */
  reason: string;
}

/** systemd supervises wherever it is PID 1 (OSB_SUPERVISOR=none|systemd overrides, e.g. for tests). */
export function chooseSupervisor(): SupervisorChoice {
  const forced = process.env.OSB_SUPERVISOR;
  if (forced === 'none') return { kind: 'none', reason: 'OSB_SUPERVISOR=none: the daemons run detached; nothing restarts them if they die' };
  if (forced === 'systemd' || systemdIsPid1()) {
    const scope = unitScope();
    return {
      kind: 'systemd',
      reason: `systemd ${scope} units restart a crashed node and start the deployment at boot${scope === 'user' ? ` (${lingerHint()})` : ''}`,
    };
  }
  return {
    kind: 'none',
    reason:
      'systemd is not PID 1 here (a container or sandbox): the daemons run detached and nothing restarts them if they die — run `osb deploy` again to start what is down',
  };
}

/** How the deployment's processes are started and stopped: detached by osb, or as systemd units. */
export interface Supervisor {
  readonly choice: SupervisorChoice;
  /** Units for every process of the deployment (nodes, extras, helpers); returns whether any file changed. */
  install(all: LocalInstance[]): Promise<boolean>;
  start(inst: LocalInstance, opts?: { extraArgs?: string[]; onProgress?: (m: string) => void }): Promise<number>;
  stop(inst: LocalInstance, discardData?: boolean): Promise<boolean>;
  /** Stops and removes the units of these processes (destroy); the deployment's target too when asked. */
  uninstall(insts: LocalInstance[], removeTarget: boolean): Promise<string[]>;
  unitOf(inst: Pick<LocalInstance, 'name'>): string | undefined;
  status(inst: Pick<LocalInstance, 'name'>): Promise<UnitStatus | undefined>;
  journal(inst: Pick<LocalInstance, 'name'>, lines?: number): Promise<string>;
  /**
   * Makes the deployment's scheduled jobs exactly these: units written, timers enabled and started,
   * the units of jobs no longer wanted stopped and removed. Returns the jobs installed or changed, and removed.
   */
  schedule(jobs: ScheduledJob[]): Promise<ScheduleChange>;
  /** Each job's timer and last run, in one systemctl call; undefined where nothing runs timers. */
  jobStatus(jobs: ScheduledJob[]): Promise<JobUnitStatus[] | undefined>;
}

export interface ScheduleChange {
  installed: string[];
  removed: string[];
  /** The unit files removed. */
  removedFiles: string[];
}

/** How units (and crontab lines) run osb: `<node> <osb> ...`, e.g. `node prepare --state-dir D NODE`. */
export function entrypoint(): { node: string; bundle: string } {
  const script = process.argv[1] ? realpathSync(process.argv[1]) : '';
  return { node: process.execPath, bundle: script };
}

export function detachedSupervisor(choice: SupervisorChoice = chooseSupervisor()): Supervisor {
  return {
    choice,
    install: async () => false,
    start: (inst, opts) => startInstance(inst, opts),
    stop: (inst, discard) => stopInstance(inst, discard),
    uninstall: async () => [],
    unitOf: () => undefined,
    status: async () => undefined,
    journal: async () => '',
    schedule: async () => ({ installed: [], removed: [], removedFiles: [] }),
    jobStatus: async () => undefined,
  };
}

export function systemdSupervisor(stateDir: string, choice: SupervisorChoice, wrap?: string[]): Supervisor {
  const o: SystemctlOptions = { scope: unitScope(), wrap };
  const ctx = { stateDir, scope: o.scope, entrypoint: entrypoint() };
  const unitOf = (inst: Pick<LocalInstance, 'name'>) => serviceName(stateDir, inst.name);

  /** Probe until the daemon answers; a unit that failed (its prepare step refused, the daemon exited) fails fast with its journal. */
  async function waitReady(inst: LocalInstance, onProgress?: (m: string) => void): Promise<void> {
    const t0 = Date.now();
    let last = '';
    let note = 0;
    while (Date.now() - t0 < inst.startTimeoutMs + 30_000) {
      try {
        await inst.probe();
        return;
      } catch (err) {
        last = (err as Error).message;
      }
      const st = await unitStatus(o, unitOf(inst)).catch(() => undefined);
      if (st?.activeState === 'failed' || (st?.activeState === 'inactive' && Date.now() - t0 > 3000)) {
        const journal = await journalTail(o, unitOf(inst), 12).catch(() => '');
        throw new OsbError(
          `${inst.name} failed to start under systemd (${unitOf(inst)}: ${st.activeState}/${st.result})\n  journal:\n    ${journal.trim().split('\n').join('\n    ')}`,
          `see \`journalctl -u ${unitOf(inst)}\` and \`osb logs ${inst.component}\``,
        );
      }
      if (onProgress && Date.now() - t0 - note > 2000) {
        note = Date.now() - t0;
        onProgress(`${inst.name}: waiting for ${inst.component} protocol (${Math.round(note / 1000)}s, ${st?.activeState ?? '?'}/${st?.subState ?? '?'})`);
      }
      await sleep(150);
    }
    throw failureReport(inst, `did not answer its protocol within ${Math.round(inst.startTimeoutMs / 1000)}s under systemd (last error: ${last})`);
  }

  return {
    choice,
    async install(all) {
      let changed = false;
      for (const u of renderDeploymentUnits(all, ctx)) {
        if (existsSync(u.path) && readFileSync(u.path, 'utf8') === u.content) continue;
        writeFileSync(u.path, u.content, { mode: 0o644 });
        changed = true;
      }
      if (changed) await daemonReload(o);
      // The target pulls every unit in at boot.
      await systemctl(o, 'enable', targetName(stateDir));
      return changed;
    },
    async start(inst, opts = {}) {
      writeInstanceFiles(inst);
      if (!inst.isInitialized() && inst.initialize) {
        opts.onProgress?.(`${inst.name}: initialising data dir`);
        await inst.initialize();
      }
      rmSync(inst.pidFile, { force: true });
      writeFileSync(join(inst.dir, ONE_SHOT_ARGS), JSON.stringify(opts.extraArgs ?? []), { mode: 0o600 });
      opts.onProgress?.(`${inst.name}: starting ${unitOf(inst)}`);
      await systemctl(o, 'reset-failed', unitOf(inst)).catch(() => {});
      await systemctl(o, 'start', '--no-block', unitOf(inst));
      await waitReady(inst, opts.onProgress);
      if (inst.writesNoPidFile) writeFileSync(inst.pidFile, `${(await unitStatus(o, unitOf(inst))).mainPid}\n`, { mode: 0o600 });
      if (inst.afterReady) await inst.afterReady();
      for (let i = 0; i < 100 && !runningPid(inst); i++) await sleep(50);
      return runningPid(inst) ?? (await unitStatus(o, unitOf(inst))).mainPid;
    },
    async stop(inst, discardData = false) {
      const st = await unitStatus(o, unitOf(inst)).catch(() => undefined);
      const active = st && st.activeState !== 'inactive' && st.activeState !== 'failed';
      if (discardData && active) await systemctl(o, 'kill', '-s', 'KILL', unitOf(inst)).catch(() => {});
      if (active) await systemctl(o, 'stop', unitOf(inst));
      // A process started before the units existed (detached) is stopped too.
      const detached = await stopInstance(inst, discardData);
      return !!active || detached;
    },
    async uninstall(insts, removeTarget) {
      const units = renderDeploymentUnits(insts, ctx).filter((u) => removeTarget || u.name.endsWith('.service'));
      const services = units.filter((u) => u.name.endsWith('.service')).map((u) => u.name);
      if (removeTarget) await systemctl(o, 'disable', targetName(stateDir)).catch(() => {});
      if (services.length) await systemctl(o, 'stop', ...services).catch(() => {});
      if (removeTarget) await systemctl(o, 'stop', targetName(stateDir)).catch(() => {});
      const removed: string[] = [];
      for (const u of units) {
        if (existsSync(u.path)) {
          rmSync(u.path, { force: true });
          removed.push(u.path);
        }
      }
      await daemonReload(o);
      await systemctl(o, 'reset-failed', ...services).catch(() => {});
      return removed;
    },
    async schedule(jobs) {
      const wanted = jobs.map((job) => ({ job, units: renderJobUnits(job, ctx) }));
      const wantedNames = new Set(wanted.flatMap((w) => w.units.map((u) => u.name)));
      const stale = jobUnitFiles(stateDir, o.scope).filter((u) => !wantedNames.has(u.name));
      const jobOf = (unit: string) => unit.replace(/^osb-[0-9a-f]{8}-/, '').replace(/\.(service|timer)$/, '');
      if (stale.length) {
        const timers = stale.filter((u) => u.name.endsWith('.timer')).map((u) => u.name);
        const services = stale.filter((u) => u.name.endsWith('.service')).map((u) => u.name);
        // disable before removing the file: it removes the link in the target's .wants too.
        if (timers.length) await systemctl(o, 'disable', '--now', ...timers).catch(() => {});
        if (services.length) await systemctl(o, 'stop', ...services).catch(() => {});
        for (const u of stale) rmSync(u.path, { force: true });
        if (services.length) await systemctl(o, 'reset-failed', ...services).catch(() => {});
      }
      const installed: string[] = [];
      const restart: string[] = [];
      for (const { job, units } of wanted) {
        // The folders it writes exist before its sandbox makes everything else read-only.
        for (const w of job.writes) mkdirSync(w, { recursive: true, mode: 0o700 });
        let changed = false;
        for (const u of units) {
          if (existsSync(u.path) && readFileSync(u.path, 'utf8') === u.content) continue;
          if (existsSync(u.path) && u.name.endsWith('.timer')) restart.push(u.name);
          writeFileSync(u.path, u.content, { mode: 0o644 });
          changed = true;
        }
        if (changed) installed.push(job.name);
      }
      if (stale.length || installed.length) await daemonReload(o);
      if (wanted.length) {
        await systemctl(o, 'enable', '--now', ...jobs.map((j) => jobTimerName(stateDir, j.name)));
        // A changed calendar: the timer computes its next run anew.
        if (restart.length) await systemctl(o, 'restart', ...restart);
      }
      return { installed, removed: [...new Set(stale.map((u) => jobOf(u.name)))], removedFiles: stale.map((u) => u.path) };
    },
    jobStatus: (jobs) =>
      jobStatuses(
        o,
        stateDir,
        jobs.map((j) => j.name),
      ),
    unitOf,
    status: (inst) => unitStatus(o, unitOf(inst)).catch(() => undefined),
    journal: (inst, lines = 20) => journalTail(o, unitOf(inst), lines).catch(() => ''),
  };
}

/** The supervisor for a deployment: systemd units where systemd is PID 1, detached processes elsewhere. */
export function supervisorFor(stateDir: string, choice: SupervisorChoice = chooseSupervisor()): Supervisor {
  return choice.kind === 'systemd' ? systemdSupervisor(stateDir, choice) : detachedSupervisor(choice);
}
