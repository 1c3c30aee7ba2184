/**
 * Day-2 work a local deployment runs on a schedule (docs/supervision.md "Timers"): scheduled backups
 * (`backup.schedule`, verified with `backup.verify`), binlog archiving every minute (`backup.pitr`) and
 * the daily renewal of node certificates that are due (`tls.enabled` with osb's own CA). Under systemd
 * each is a oneshot service and a timer of the deployment; elsewhere `osb deploy` prints the crontab line.
 * Pure: what the config asks for, and how each job is written for systemd and for cron.
 */
import { definition } from '../../components/index.js';
import type { ComponentName, Config } from '../../config/schema.js';
import { cronToOnCalendar } from '../../util/cron.js';
import { backupRoot } from './context.js';

export const JOB_NAMES = ['backup', 'binlogs', 'certs', 'heal'] as const;
export type JobName = (typeof JOB_NAMES)[number];

export interface ScheduledJob {
  name: JobName;
  /** What it does, for the operator. */
  title: string;
  /** The config key that asks for it. */
  key: string;
  /** osb's arguments (after `<node> <osb>`); the state dir is always given. */
  args: string[];
  /** OnCalendar= lines (a timer fires at their union). */
  onCalendar: string[];
  /** The same schedule for a crontab. */
  cron: string;
  /** Run a missed schedule after a boot (a daily job whose time passed while the host was down). */
  persistent: boolean;
  /** How late systemd may fire it (AccuracySec=); systemd's default is 1min. */
  accuracySec?: string;
  /** Folders it writes besides the state dir (may not exist yet). */
  writes: string[];
  /** Longest run before systemd stops it. */
  timeoutStartSec: number;
  /** How long it waits for another osb command holding the deployment's lock. */
  lockWaitSeconds?: number;
  /** Only under systemd (it completes supervision): no crontab line is suggested elsewhere. */
  supervisedOnly?: boolean;
  /**
   * Runs so often that systemd's own "Starting…/Finished…" lines would flood the journal: they are dropped
   * (LogLevelMax=notice) and osb's output is logged at notice, so what it did stays.
   */
  quietJournal?: boolean;
}

const SECONDS_PER_HOUR = 3600;

/**
 * The jobs this config asks for, given the components the deployment runs. Generic: a backup exists
 * when a component has backup hooks, the binlog archiver when one archives logs. Without systemd
 * (`underSystemd` false) the jobs that only complete supervision are left out.
 */
export function scheduledJobs(config: Config, stateDir: string, components: readonly ComponentName[], underSystemd = true): ScheduledJob[] {
  const running = components.filter((c) => config[c].enabled);
  const backs = running.filter((c) => definition(c).backup);
  const root = backupRoot(config, stateDir);
  const state = ['--state-dir', stateDir];
  const jobs: ScheduledJob[] = [];
  const schedule = config.backup.schedule;
  if (schedule && backs.length) {
    jobs.push({
      name: 'backup',
      title: `backups of ${backs.join(' and ')}${config.backup.verify ? ', each verified' : ''}`,
      key: 'backup.schedule',
      args: ['backup', ...(config.backup.verify ? ['--verify'] : []), ...state],
      onCalendar: cronToOnCalendar(schedule),
      cron: schedule,
      persistent: true,
      writes: [root],
      timeoutStartSec: 24 * SECONDS_PER_HOUR,
      lockWaitSeconds: SECONDS_PER_HOUR,
    });
  }
  if (config.backup.pitr && running.some((c) => definition(c).backup?.archiveLogs)) {
    jobs.push({
      name: 'binlogs',
      title: 'binlog archiving every minute (point-in-time recovery)',
      key: 'backup.pitr',
      args: ['backup', 'archive-binlogs', ...state],
      onCalendar: ['*-*-* *:*:00'],
      cron: '* * * * *',
      persistent: false,
      accuracySec: '5s',
      writes: [root],
      timeoutStartSec: 10 * 60,
    });
  }
  // The operator's own certificates (tls.caFile) are renewed by the operator: osb cannot issue them.
  if (config.tls.enabled && !config.tls.caFile && running.length) {
    jobs.push({
      name: 'certs',
      title: 'the daily renewal of node certificates that are due (past 2/3 of their lifetime)',
      key: 'tls.enabled',
      args: ['certs', 'renew', ...state],
      onCalendar: ['*-*-* 00:00:00'],
      cron: '@daily',
      persistent: true,
      writes: [],
      timeoutStartSec: 30 * 60,
      lockWaitSeconds: SECONDS_PER_HOUR,
    });
  }
  // Clusters: restart nodes that run but are stuck (docs/supervision.md "Healing"); systemd restarts the ones that die.
  const clusters = running.filter((c) => definition(c).local.stuck && config[c].replicas > 1);
  if (clusters.length) {
    jobs.push({
      name: 'heal',
      title: `healing of stuck ${clusters.join(' and ')} nodes every 15 seconds`,
      key: `${clusters[0]}.replicas`,
      args: ['heal', '-q', ...state],
      onCalendar: ['*-*-* *:*:00/15'],
      cron: '* * * * *',
      persistent: false,
      accuracySec: '1s',
      writes: [],
      timeoutStartSec: 15 * 60,
      supervisedOnly: true,
      quietJournal: true,
    });
  }
  return underSystemd ? jobs : jobs.filter((j) => !j.supervisedOnly);
}

function shellWord(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The crontab line of a job (`%` is a newline in a crontab command, hence `\%`). */
export function cronLine(job: ScheduledJob, entry: { node: string; bundle: string }): string {
  const env = job.lockWaitSeconds ? `OSB_LOCK_WAIT_SECONDS=${job.lockWaitSeconds} ` : '';
  const command = [entry.node, entry.bundle, ...job.args, '-q'].map(shellWord).join(' ').replace(/%/g, '\\%');
  return `${job.cron} ${env}${command}`;
}

/** The one line `osb deploy` prints per job when nothing here runs timers. */
export function cronHint(job: ScheduledJob, entry: { node: string; bundle: string }, user: string): string {
  return `osb: note: ${job.key}: nothing runs ${job.title} here (no systemd timers) — add this line to ${user}'s crontab (crontab -e): ${cronLine(job, entry)}`;
}

/** A scheduled job as `osb deploy` reports it (and `osb status` extends). */
export interface DeployedSchedule {
  job: string;
  key: string;
  title: string;
  onCalendar: string[];
  cron: string;
  /** Under systemd: the timer unit. */
  timer?: string;
  /** Without systemd: the crontab line to add. */
  crontab?: string;
}
