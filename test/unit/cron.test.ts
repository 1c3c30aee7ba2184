/**
 * Cron → systemd OnCalendar= (src/util/cron.ts). The conversion is checked against the real
 * `systemd-analyze calendar` (systemd 252, this machine's): for each expression, the next runs systemd
 * computes from the OnCalendar= lines equal the minutes cron's rules give, from the same base time.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/components/index.js';
import { OsbError } from '../../src/util/errors.js';
import { loadValuesTree } from '../../src/config/load.js';
import { deepMerge } from '../../src/config/set.js';
import { cronProblem, cronToOnCalendar, parseCron, type ParsedCron } from '../../src/util/cron.js';

describe('parseCron reads the five fields as cron does', () => {
  it.each([
    ['*/15 * * * *', 'minute', [0, 15, 30, 45]],
    ['0-10/5 * * * *', 'minute', [0, 5, 10]],
    ['5,1,3 * * * *', 'minute', [1, 3, 5]],
    ['0 9-17/4 * * *', 'hour', [9, 13, 17]],
    ['0 0 1/10 * *', 'dayOfMonth', [1, 11, 21, 31]],
    ['0 0 * JAN,jul,12 *', 'month', [1, 7, 12]],
    ['0 0 * * MON-FRI', 'dayOfWeek', [1, 2, 3, 4, 5]],
    ['0 0 * * 5-7', 'dayOfWeek', [0, 5, 6]],
    ['0 0 * * 7', 'dayOfWeek', [0]],
    ['0 0 * * sun', 'dayOfWeek', [0]],
  ] as const)('%s: %s = %j', (expr, field, values) => {
    expect(parseCron(expr)[field as keyof ParsedCron].values).toEqual(values);
  });

  it('shortcuts are the 5-field forms cron documents', () => {
    expect(parseCron('@daily')).toEqual(parseCron('0 0 * * *'));
    expect(parseCron('@midnight')).toEqual(parseCron('0 0 * * *'));
    expect(parseCron('@hourly')).toEqual(parseCron('0 * * * *'));
    expect(parseCron('@weekly')).toEqual(parseCron('0 0 * * 0'));
    expect(parseCron('@monthly')).toEqual(parseCron('0 0 1 * *'));
    expect(parseCron('@yearly')).toEqual(parseCron('0 0 1 1 *'));
    expect(parseCron('@annually')).toEqual(parseCron('0 0 1 1 *'));
  });

  it.each([
    ['61 * * * *', 'minute field: 61 is outside 0-59'],
    ['* 24 * * *', 'hour field: 24 is outside 0-23'],
    ['* * 0 * *', 'day-of-month field: 0 is outside 1-31'],
    ['* * * 13 *', 'month field: 13 is outside 1-12'],
    ['* * * * 8', 'day-of-week field: 8 is outside 0-7'],
    ['* * * * MON-SUN-X', 'is not a range'],
    ['10-5 * * * *', 'range "10-5" runs backwards'],
    ['*/0 * * * *', 'step "0" in "*/0" must be a number of at least 1'],
    ['L * * * *', 'minute field: "L" is not a number'],
    ['0 0 * * FRI#2', '"FRI#2" is not a number or a name (SUN, MON'],
    ['0 0 30 2 *', 'never runs: no chosen month has day 30'],
    ['0 0 * * * *', 'has 6 fields, cron needs 5'],
    ['@reboot', 'unknown shortcut "@reboot"'],
    ['1,,2 * * * *', 'empty list item'],
    ['? * * * *', '"?" is only allowed for day-of-month and day-of-week'],
  ])('refuses %j: %s', (expr, message) => {
    expect(cronProblem(expr)).toContain(message);
  });

  it('30 February is fine when the day of the week may match instead (cron ORs the two day fields)', () => {
    expect(cronProblem('0 0 30 2 MON')).toBeUndefined();
  });
});

describe('cronToOnCalendar', () => {
  it.each([
    ['30 2 * * *', ['*-*-* 02:30:00']],
    ['@daily', ['*-*-* 00:00:00']],
    ['@hourly', ['*-*-* *:00:00']],
    ['@weekly', ['Sun *-*-* 00:00:00']],
    ['@monthly', ['*-*-01 00:00:00']],
    ['@yearly', ['*-01-01 00:00:00']],
    ['* * * * *', ['*-*-* *:*:00']],
    ['*/15 * * * *', ['*-*-* *:00/15:00']],
    ['0 */6 * * *', ['*-*-* 00/6:00:00']],
    ['15 3 * * MON-FRI', ['Mon..Fri *-*-* 03:15:00']],
    ['0 4 * * 0,6', ['Sat,Sun *-*-* 04:00:00']],
    ['0 4 * * 5-7', ['Fri..Sun *-*-* 04:00:00']],
    ['0 1 1,15 * *', ['*-*-01,15 01:00:00']],
    ['0 0 1 1-3,7 *', ['*-01..03,07-01 00:00:00']],
    ['10-12 0 * * *', ['*-*-* 00:10..12:00']],
    ['0-30/10 0 * * *', ['*-*-* 00:00,10,20,30:00']],
    // both day fields restricted: cron runs on either kind of day, systemd on both → two lines
    ['0 2 13 * FRI', ['*-*-13 02:00:00', 'Fri *-*-* 02:00:00']],
  ])('%s → %j', (expr, lines) => {
    expect(cronToOnCalendar(expr)).toEqual(lines);
  });
});

// ---- against the real systemd-analyze ----------------------------------------------------------

const BASE = '2026-01-01T00:00:00Z';
const ITERATIONS = 16;

/** The next `n` minutes (ISO, UTC) strictly after `base` at which cron runs the expression. */
function cronRuns(expr: string, base: string, n: number): string[] {
  const c = parseCron(expr);
  const has = (f: { values: number[] }, v: number) => f.values.includes(v);
  const out: string[] = [];
  const start = new Date(base);
  for (let day = 0; out.length < n && day < 366 * 100; day++) {
    const d = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate() + day));
    if (!has(c.month, d.getUTCMonth() + 1)) continue;
    const domOk = has(c.dayOfMonth, d.getUTCDate());
    const dowOk = has(c.dayOfWeek, d.getUTCDay());
    // cron: a restricted day-of-month and a restricted day-of-week are ORed; a field starting with * ANDs.
    const dayOk = c.dayOfMonth.star || c.dayOfWeek.star ? domOk && dowOk : domOk || dowOk;
    if (!dayOk) continue;
    for (const h of c.hour.values)
      for (const m of c.minute.values) {
        const t = new Date(d.getTime() + (h * 60 + m) * 60_000);
        if (t.getTime() > start.getTime() && out.length < n) out.push(t.toISOString().replace('.000', ''));
      }
  }
  return out;
}

/** What systemd computes: the union of each OnCalendar= line's next elapses, first `n`. */
function systemdRuns(lines: string[], base: string, n: number): string[] {
  const r = spawnSync('systemd-analyze', ['calendar', `--iterations=${n}`, `--base-time=${base.replace('T', ' ').replace('Z', ' UTC')}`, ...lines], {
    encoding: 'utf8',
    env: { ...process.env, TZ: 'UTC' },
  });
  expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
  expect(r.stderr).toBe('');
  const times = [...r.stdout.matchAll(/(?:Next elapse|Iter\. #\d+): \w{3} (\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) UTC/g)].map((m) => `${m[1]}T${m[2]}Z`);
  // systemd normalises each line: it must say it read what was written (no "Failed to parse").
  expect(r.stdout.match(/Normalized form:/g)?.length).toBe(lines.length);
  return [...new Set(times)].sort().slice(0, n);
}

describe('the OnCalendar= lines run when cron would (real systemd-analyze calendar)', () => {
  it.each([
    '30 2 * * *',
    '@daily',
    '@hourly',
    '@weekly',
    '@monthly',
    '@yearly',
    '*/15 * * * *',
    '*/7 * * * *',
    '0 */6 * * *',
    '5 4 */3 * *',
    '15 3 * * MON-FRI',
    '0 4 * * 5-7',
    '0 4 * * */2',
    '0 1 1,15 * *',
    '0 0 1 1-3,7 *',
    '0-30/10 0 * * *',
    '0 2 13 * FRI',
    '0 0 29 2 *',
    '0 12 31 * *',
  ])('%s', (expr) => {
    const lines = cronToOnCalendar(expr);
    expect(systemdRuns(lines, BASE, ITERATIONS)).toEqual(cronRuns(expr, BASE, ITERATIONS));
  });
});

describe('backup.schedule in the config', () => {
  it('a cron expression that cannot run is refused with one message naming the field', () => {
    let err: unknown;
    try {
      loadConfig({ set: ['backup.schedule=61 2 * * *'] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OsbError);
    expect((err as OsbError).line).toMatch(/^config key "backup.schedule": not a valid cron expression: minute field: 61 is outside 0-59/);
    expect((err as OsbError).line.split('\n')).toHaveLength(1);
  });

  it('--set backup.schedule=null forgets a remembered schedule (Helm: back to the default)', () => {
    const remembered = { backup: { schedule: '30 2 * * *', pitr: true } };
    const merged = deepMerge(remembered, loadValuesTree({ set: ['backup.schedule=null'] }));
    expect(merged).toEqual({ backup: { pitr: true } });
    expect(loadConfig({ set: ['backup.schedule=null'] }).backup.schedule).toBeUndefined();
  });

  it('backup.verify defaults to false', () => {
    expect(loadConfig({}).backup.verify).toBe(false);
    expect(loadConfig({ set: ['backup.verify=true'] }).backup.verify).toBe(true);
  });
});
