/**
 * Scheduled day-2 jobs of the local target (src/targets/local/schedules.ts) and their systemd units
 * (renderJobUnits in src/targets/local/systemd.ts): which jobs a config asks for, the unit texts
 * (checked by the real `systemd-analyze verify`), the crontab lines, and reading their state back.
 * The same units run under a real systemd in test/integration/timers.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/components/index.js';
import { COMPONENTS } from '../../src/config/schema.js';
import { cronHint, cronLine, scheduledJobs } from '../../src/targets/local/schedules.js';
import {
  deploymentId,
  jobServiceName,
  jobStatusFromShow,
  jobTimerName,
  parseShowBlocks,
  parseSystemdTime,
  renderJobUnits,
  targetName,
  type UnitContext,
} from '../../src/targets/local/systemd.js';

const STATE = '/var/lib/osb-sched';
const ENTRY = { node: '/usr/bin/node', bundle: '/opt/osb/bin/osb' };
const ctx: UnitContext = { stateDir: STATE, scope: 'system', entrypoint: ENTRY };
const ALL = [...COMPONENTS];
const config = (...set: string[]) => loadConfig({ set });
const line = (unit: string, key: string) => unit.split('\n').filter((l) => l.startsWith(`${key}=`));

describe('which jobs a config asks for', () => {
  it('none by default', () => {
    expect(scheduledJobs(config(), STATE, ALL)).toEqual([]);
  });

  it('a cluster (replicas > 1 of a component with a stuck check) → heal every 15 s, under systemd only, quiet, never waiting for the lock', () => {
    const jobs = scheduledJobs(config('mariadb.replicas=3', 'rabbitmq.replicas=3'), STATE, ALL);
    expect(jobs.map((j) => [j.name, j.key, j.args, j.onCalendar, j.accuracySec, j.persistent, j.supervisedOnly])).toEqual([
      ['heal', 'rabbitmq.replicas', ['heal', '-q', '--state-dir', STATE], ['*-*-* *:*:00/15'], '1s', false, true],
    ]);
    expect(jobs[0]!.title).toBe('healing of stuck rabbitmq and mariadb nodes every 15 seconds');
    expect(jobs[0]!.lockWaitSeconds).toBeUndefined();
    expect(scheduledJobs(config('memcached.replicas=3'), STATE, ALL)).toEqual([]);
    expect(scheduledJobs(config('mariadb.replicas=3'), STATE, ['rabbitmq', 'memcached'])).toEqual([]);
    // Without systemd there is no heal job (nor a crontab line for it); a backup schedule stays.
    expect(scheduledJobs(config('mariadb.replicas=3', 'rabbitmq.replicas=3'), STATE, ALL, false)).toEqual([]);
    expect(scheduledJobs(config('mariadb.replicas=3', 'backup.schedule=@daily'), STATE, ALL, false).map((j) => j.name)).toEqual(['backup']);
    const [service, timer] = renderJobUnits(jobs[0]!, ctx, '/root');
    expect(line(service!.content, 'ExecStart')).toEqual([`ExecStart=/usr/bin/node /opt/osb/bin/osb heal -q --state-dir ${STATE}`]);
    expect(line(timer!.content, 'OnCalendar')).toEqual(['OnCalendar=*-*-* *:*:00/15']);
    // every 15 s: systemd's own start/finish lines stay out of the journal, osb's lines stay in
    expect([...line(service!.content, 'SyslogLevel'), ...line(service!.content, 'LogLevelMax')]).toEqual(['SyslogLevel=notice', 'LogLevelMax=notice']);
  });

  it('backup.schedule → backup (with --verify when backup.verify), backup.pitr → binlogs, tls.enabled → certs', () => {
    const jobs = scheduledJobs(config('backup.schedule=30 2 * * *', 'backup.verify=true', 'backup.pitr=true', 'tls.enabled=true'), STATE, ALL);
    expect(jobs.map((j) => [j.name, j.key, j.args, j.onCalendar, j.cron, j.persistent])).toEqual([
      ['backup', 'backup.schedule', ['backup', '--verify', '--state-dir', STATE], ['*-*-* 02:30:00'], '30 2 * * *', true],
      ['binlogs', 'backup.pitr', ['backup', 'archive-binlogs', '--state-dir', STATE], ['*-*-* *:*:00'], '* * * * *', false],
      ['certs', 'tls.enabled', ['certs', 'renew', '--state-dir', STATE], ['*-*-* 00:00:00'], '@daily', true],
    ]);
    expect(scheduledJobs(config('backup.schedule=@daily'), STATE, ALL)[0]!.args).toEqual(['backup', '--state-dir', STATE]);
  });

  it('only for what the deployment runs: no backup of memcached alone, no binlogs without MariaDB', () => {
    const c = config('backup.schedule=@daily', 'backup.pitr=true');
    expect(scheduledJobs(c, STATE, ['memcached'])).toEqual([]);
    expect(scheduledJobs(c, STATE, ['rabbitmq']).map((j) => j.name)).toEqual(['backup']);
    expect(scheduledJobs(c, STATE, ['rabbitmq'])[0]!.title).toBe('backups of rabbitmq');
    expect(scheduledJobs(config('backup.schedule=@daily', 'backup.pitr=true', 'mariadb.enabled=false'), STATE, ALL).map((j) => j.name)).toEqual(['backup']);
  });

  it("no certs timer with the operator's own CA (osb cannot issue those)", () => {
    const dir = mkdtempSync(join(tmpdir(), 'osb-sched-'));
    for (const f of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(join(dir, f), '');
    const c = config('tls.enabled=true', `tls.caFile=${dir}/ca.pem`, `tls.certFile=${dir}/cert.pem`, `tls.keyFile=${dir}/key.pem`);
    expect(scheduledJobs(c, STATE, ALL)).toEqual([]);
    rmSync(dir, { recursive: true });
  });

  it('backups in backup.dir outside the state dir: the job may write there', () => {
    const [job] = scheduledJobs(config('backup.schedule=@daily', 'backup.dir=/srv/osb-backups'), STATE, ALL);
    expect(job!.writes).toEqual(['/srv/osb-backups']);
  });
});

describe('the units of a job', () => {
  const jobs = scheduledJobs(
    config('backup.schedule=0 2 13 * FRI', 'backup.verify=true', 'backup.pitr=true', 'tls.enabled=true', 'backup.dir=/srv/osb-backups', 'mariadb.replicas=3'),
    STATE,
    ALL,
  );
  const units = jobs.flatMap((j) => renderJobUnits(j, ctx, '/root'));
  const byName = new Map(units.map((u) => [u.name, u.content]));
  const id = deploymentId(STATE);
  const backupService = byName.get(`osb-${id}-backup.service`)!;
  const backupTimer = byName.get(`osb-${id}-backup.timer`)!;

  it('are named osb-<id>-<job>.service|timer, in the system unit dir', () => {
    expect(units.map((u) => u.name)).toEqual(['backup', 'binlogs', 'certs', 'heal'].flatMap((j) => [`osb-${id}-${j}.service`, `osb-${id}-${j}.timer`]));
    expect(jobServiceName(STATE, 'backup')).toBe(`osb-${id}-backup.service`);
    expect(jobTimerName(STATE, 'backup')).toBe(`osb-${id}-backup.timer`);
    for (const u of units) expect(u.path).toBe(`/etc/systemd/system/${u.name}`);
    expect(renderJobUnits(jobs[0]!, { ...ctx, scope: 'user' }, '/home/ann')[0]!.path).toBe(`/home/ann/.config/systemd/user/osb-${id}-backup.service`);
  });

  it('the service: oneshot, osb run the way the node units run it, no secret, a sandbox that may write the state dir and the backups', () => {
    expect(line(backupService, 'Type')).toEqual(['Type=oneshot']);
    expect(line(backupService, 'ExecStart')).toEqual([`ExecStart=/usr/bin/node /opt/osb/bin/osb backup --verify --state-dir ${STATE}`]);
    expect(line(backupService, 'PartOf')).toEqual([`PartOf=${targetName(STATE)}`]);
    expect(line(backupService, 'ReadWritePaths')).toEqual([`ReadWritePaths=${STATE}`, 'ReadWritePaths=-/srv/osb-backups']);
    expect(line(backupService, 'ProtectSystem')).toEqual(['ProtectSystem=strict']);
    expect(line(backupService, 'Environment')).toEqual(['Environment="OSB_LOCK_WAIT_SECONDS=3600"']);
    expect(line(backupService, 'SyslogIdentifier')).toEqual(['SyslogIdentifier=osb-backup']);
    expect(backupService).not.toMatch(/Restart=|\[Install\]/);
    for (const u of units) expect(u.content).not.toMatch(/password|secret|cookie/i);
  });

  it("the timer: cron's day-of-month OR day-of-week as two OnCalendar= lines, Persistent, enabled into the deployment's target", () => {
    expect(line(backupTimer, 'OnCalendar')).toEqual(['OnCalendar=*-*-13 02:00:00', 'OnCalendar=Fri *-*-* 02:00:00']);
    expect(line(backupTimer, 'Persistent')).toEqual(['Persistent=true']);
    expect(line(backupTimer, 'Unit')).toEqual([`Unit=osb-${id}-backup.service`]);
    expect(line(backupTimer, 'PartOf')).toEqual([`PartOf=${targetName(STATE)}`]);
    expect(line(backupTimer, 'WantedBy')).toEqual([`WantedBy=${targetName(STATE)}`]);
    const binlogs = byName.get(`osb-${id}-binlogs.timer`)!;
    expect([...line(binlogs, 'OnCalendar'), ...line(binlogs, 'AccuracySec'), ...line(binlogs, 'Persistent')]).toEqual([
      'OnCalendar=*-*-* *:*:00',
      'AccuracySec=5s',
    ]);
    expect(line(byName.get(`osb-${id}-certs.service`)!, 'ExecStart')).toEqual([`ExecStart=/usr/bin/node /opt/osb/bin/osb certs renew --state-dir ${STATE}`]);
  });

  it('osb under /tmp or a home is bound into the sandbox (PrivateTmp/ProtectHome would hide it)', () => {
    const u = renderJobUnits(jobs[0]!, { ...ctx, entrypoint: { node: '/usr/bin/node', bundle: '/tmp/ci/osb/bin/osb' } }, '/root')[0]!;
    expect(line(u.content, 'BindReadOnlyPaths')).toEqual(['BindReadOnlyPaths=/tmp/ci/osb']);
  });

  const dir = mkdtempSync(join(tmpdir(), 'osb-units-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it('systemd 252 accepts every unit without a warning (systemd-analyze verify)', () => {
    for (const u of units) writeFileSync(join(dir, u.name), u.content);
    const r = spawnSync('systemd-analyze', ['verify', ...units.map((u) => join(dir, u.name))], { encoding: 'utf8' });
    // Only lines about these units count (the host's own units may add notes of their own).
    const ours = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.includes(`osb-${id}`));
    expect(ours).toEqual([]);
    expect(r.status).toBe(0);
  });
});

describe('without systemd: one crontab line per job', () => {
  const jobs = scheduledJobs(config('backup.schedule=30 2 * * *', 'backup.pitr=true', 'tls.enabled=true'), '/srv/osb 100%', ALL);
  it('runs the same command as the unit, % escaped for crontab, the state dir quoted', () => {
    expect(cronLine(jobs[0]!, ENTRY)).toBe(`30 2 * * * OSB_LOCK_WAIT_SECONDS=3600 /usr/bin/node /opt/osb/bin/osb backup --state-dir '/srv/osb 100\\%' -q`);
    expect(cronLine(jobs[1]!, ENTRY)).toBe(`* * * * * /usr/bin/node /opt/osb/bin/osb backup archive-binlogs --state-dir '/srv/osb 100\\%' -q`);
    expect(cronHint(jobs[2]!, ENTRY, 'root')).toBe(
      "osb: note: tls.enabled: nothing runs the daily renewal of node certificates that are due (past 2/3 of their lifetime) here (no systemd timers) — add this line to root's crontab (crontab -e): @daily OSB_LOCK_WAIT_SECONDS=3600 /usr/bin/node /opt/osb/bin/osb certs renew --state-dir '/srv/osb 100\\%' -q",
    );
  });
});

describe('reading a job back from systemctl show', () => {
  // As systemd 252 prints it (TZ=UTC), for a timer that ran its service, which failed.
  const show = [
    'NextElapseUSecRealtime=Fri 2026-11-27 15:48:00 UTC',
    'LastTriggerUSec=Fri 2026-11-27 15:47:07 UTC',
    'Result=success',
    'Id=osb-1234abcd-backup.timer',
    'LoadState=loaded',
    'ActiveState=active',
    'SubState=waiting',
    'UnitFileState=enabled',
    '',
    'Result=exit-code',
    'ExecMainStartTimestamp=Fri 2026-11-27 15:47:07 UTC',
    'ExecMainStatus=1',
    'Id=osb-1234abcd-backup.service',
    'LoadState=loaded',
    'ActiveState=failed',
    'SubState=failed',
    'UnitFileState=static',
    '',
  ].join('\n');

  it('next run, last run and its result', () => {
    expect(jobStatusFromShow('osb-1234abcd-backup.timer', 'osb-1234abcd-backup.service', parseShowBlocks(show))).toEqual({
      timer: 'osb-1234abcd-backup.timer',
      service: 'osb-1234abcd-backup.service',
      installed: true,
      timerState: 'active/waiting',
      enabled: 'enabled',
      nextRun: '2026-11-27T15:48:00Z',
      lastRun: '2026-11-27T15:47:07Z',
      lastResult: 'failed (exit-code, exit status 1)',
    });
  });

  it('a timer that never ran, and units that are not installed', () => {
    const never = show
      .replace(/LastTriggerUSec=.*/, 'LastTriggerUSec=')
      .replace(/Result=exit-code/, 'Result=success')
      .replace(/ExecMainStartTimestamp=.*/, 'ExecMainStartTimestamp=');
    expect(
      jobStatusFromShow(
        'osb-1234abcd-backup.timer',
        'osb-1234abcd-backup.service',
        parseShowBlocks(never.replace('ActiveState=failed', 'ActiveState=inactive')),
      ).lastResult,
    ).toBe('never run');
    const gone = jobStatusFromShow('osb-1234abcd-certs.timer', 'osb-1234abcd-certs.service', parseShowBlocks(show));
    expect([gone.installed, gone.lastResult, gone.nextRun]).toEqual([false, 'never run', undefined]);
    expect(parseSystemdTime('')).toBeUndefined();
  });
});
