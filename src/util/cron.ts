/**
 * Cron expressions (5 fields, or @daily and the like) read the way Debian's cron reads them, and turned
 * into systemd `OnCalendar=` expressions that fire at exactly the same minutes. Pure; checked against
 * `systemd-analyze calendar --iterations` in test/unit/cron.test.ts.
 *
 * One rule of cron has no single OnCalendar= form: when both day-of-month and day-of-week are
 * restricted (neither starts with `*`), cron fires on a day that matches EITHER. systemd matches both,
 * so that case becomes two OnCalendar= lines (a timer fires at the union of its lines).
 */

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
/** systemd's weekday names, Monday first (its ranges never wrap past Sunday). */
const SYSTEMD_WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

export const CRON_SHORTCUTS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: string[];
  /** Index of names[0] (months start at 1). */
  namesBase?: number;
}

const FIELDS: FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS, namesBase: 1 },
  // 7 is Sunday too, as in cron.
  { name: 'day-of-week', min: 0, max: 7, names: WEEKDAYS, namesBase: 0 },
];

export class CronError extends Error {}

export interface CronField {
  /** Sorted, distinct. Day-of-week: 0 (Sunday) .. 6. */
  values: number[];
  /** The field starts with `*` (or is `?`): cron's rule for combining day-of-month and day-of-week. */
  star: boolean;
}

export interface ParsedCron {
  minute: CronField;
  hour: CronField;
  dayOfMonth: CronField;
  month: CronField;
  dayOfWeek: CronField;
}

function value(word: string, f: FieldSpec): number {
  const lower = word.toLowerCase();
  const named = f.names?.indexOf(lower) ?? -1;
  if (named >= 0) return named + (f.namesBase ?? 0);
  if (!/^\d+$/.test(word)) {
    const names = f.names ? ` or a name (${f.names.map((n) => n.toUpperCase()).join(', ')})` : '';
    throw new CronError(`${f.name} field: "${word}" is not a number${names}`);
  }
  const n = Number(word);
  if (n < f.min || n > f.max) throw new CronError(`${f.name} field: ${n} is outside ${f.min}-${f.max}`);
  return n;
}

function parseField(text: string, f: FieldSpec): CronField {
  const set = new Set<number>();
  for (const item of text.split(',')) {
    if (item === '') throw new CronError(`${f.name} field "${text}": empty list item`);
    const [range, stepText, extra] = item.split('/');
    if (extra !== undefined) throw new CronError(`${f.name} field: "${item}" has more than one "/"`);
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) < 1)
        throw new CronError(`${f.name} field: step "${stepText}" in "${item}" must be a number of at least 1`);
      step = Number(stepText);
    }
    let lo: number;
    let hi: number;
    if (range === '*' || range === '?') {
      if (range === '?' && f.name !== 'day-of-month' && f.name !== 'day-of-week')
        throw new CronError(`${f.name} field: "?" is only allowed for day-of-month and day-of-week`);
      lo = f.min;
      hi = f.name === 'day-of-week' ? 6 : f.max;
    } else if (range!.includes('-')) {
      const [a, b, more] = range!.split('-');
      if (more !== undefined || !a || !b) throw new CronError(`${f.name} field: "${range}" is not a range like 1-5`);
      lo = value(a, f);
      hi = value(b, f);
      if (lo > hi) throw new CronError(`${f.name} field: range "${range}" runs backwards (cron ranges do not wrap around)`);
    } else {
      lo = value(range!, f);
      // "N/step" means N to the end, as in cron.
      hi = stepText !== undefined ? (f.name === 'day-of-week' ? 6 : f.max) : lo;
    }
    for (let v = lo; v <= hi; v += step) set.add(f.name === 'day-of-week' ? v % 7 : v);
  }
  return { values: [...set].sort((a, b) => a - b), star: text.startsWith('*') || text === '?' };
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Reads a cron expression; throws CronError naming the field that is wrong. */
export function parseCron(expression: string): ParsedCron {
  const trimmed = expression.trim();
  const expanded = trimmed.startsWith('@') ? CRON_SHORTCUTS[trimmed.toLowerCase()] : trimmed;
  if (!expanded) throw new CronError(`unknown shortcut "${trimmed}" (use ${Object.keys(CRON_SHORTCUTS).join(', ')})`);
  const words = expanded.split(/\s+/);
  if (words.length !== 5) throw new CronError(`"${trimmed}" has ${words.length} fields, cron needs 5 (minute hour day-of-month month day-of-week)`);
  const [minute, hour, dayOfMonth, month, dayOfWeek] = words.map((w, i) => parseField(w, FIELDS[i]!)) as [
    CronField,
    CronField,
    CronField,
    CronField,
    CronField,
  ];
  const parsed = { minute, hour, dayOfMonth, month, dayOfWeek };
  // A day of month that no chosen month has (e.g. 30 2): cron would never run it.
  const onlyByDayOfMonth = dayOfWeek.star || dayOfMonth.star;
  if (onlyByDayOfMonth && !month.values.some((m) => dayOfMonth.values.some((d) => d <= DAYS_IN_MONTH[m - 1]!))) {
    throw new CronError(`"${trimmed}" never runs: no chosen month has day ${dayOfMonth.values.join(',')}`);
  }
  return parsed;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** A set of numbers as systemd writes it: `*`, `start/step` (to the end), or a list with `a..b` runs. */
function renderSet(values: number[], min: number, max: number): string {
  if (values.length === max - min + 1) return '*';
  if (values.length >= 3) {
    const step = values[1]! - values[0]!;
    const progression = step > 1 && values.every((v, i) => v === values[0]! + i * step) && values[values.length - 1]! + step > max;
    if (progression) return `${pad(values[0]!)}/${step}`;
  }
  return runs(values, pad);
}

/** Runs of 3 or more consecutive values as `a..b`; the rest listed. */
function runs(values: number[], show: (n: number) => string): string {
  const parts: string[] = [];
  for (let i = 0; i < values.length; ) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === values[j]! + 1) j++;
    if (j - i >= 2) parts.push(`${show(values[i]!)}..${show(values[j]!)}`);
    else for (let k = i; k <= j; k++) parts.push(show(values[k]!));
    i = j + 1;
  }
  return parts.join(',');
}

function renderWeekdays(values: number[]): string {
  // Monday first: 1..6 stay, Sunday (0) becomes 7.
  const iso = values.map((v) => (v === 0 ? 7 : v)).sort((a, b) => a - b);
  return runs(iso, (n) => SYSTEMD_WEEKDAYS[n - 1]!);
}

/**
 * The OnCalendar= lines (one, or two for cron's day-of-month OR day-of-week rule) that fire at the
 * same minutes as the cron expression, in the host's local time like cron. Throws CronError.
 */
export function cronToOnCalendar(expression: string): string[] {
  const c = parseCron(expression);
  const time = `${renderSet(c.hour.values, 0, 23)}:${renderSet(c.minute.values, 0, 59)}:00`;
  const month = renderSet(c.month.values, 1, 12);
  const dom = renderSet(c.dayOfMonth.values, 1, 31);
  const allWeek = c.dayOfWeek.values.length === 7;
  const weekdays = allWeek ? '' : `${renderWeekdays(c.dayOfWeek.values)} `;
  if (c.dayOfMonth.star || c.dayOfWeek.star) return [`${weekdays}*-${month}-${dom} ${time}`];
  // Both restricted: cron runs on either kind of day.
  return [`*-${month}-${dom} ${time}`, `${weekdays}*-${month}-* ${time}`];
}

/** The message of a cron expression that is not valid, or undefined. */
export function cronProblem(expression: string): string | undefined {
  try {
    parseCron(expression);
    return undefined;
  } catch (err) {
    if (err instanceof CronError) return err.message;
    throw err;
  }
}
