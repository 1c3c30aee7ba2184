// Figures: each one pairs osb samples with baseline samples taken in the same run; the ratio
// is computed pair by pair (osb_i / baseline_i), then summarised like the two sides.
import { summary } from './util.mjs';

export class Figures {
  constructor() {
    this.list = [];
  }

  /** section: '1 cold deploy' ...; better: 'lower' | 'higher' (for the reader). */
  add(section, name, { unit, baseline, better = 'lower', note } = {}) {
    const f = { section, name, unit, baseline, better, note, osb: [], base: [], ratio: [], errors: [], skipped: undefined };
    this.list.push(f);
    const api = {
      figure: f,
      pair(osbValue, baseValue) {
        const ok = (x) => typeof x === 'number' && Number.isFinite(x);
        if (ok(osbValue)) f.osb.push(osbValue);
        if (ok(baseValue)) f.base.push(baseValue);
        if (ok(osbValue) && ok(baseValue) && baseValue !== 0) f.ratio.push(osbValue / baseValue);
      },
      error(msg) {
        if (!f.errors.includes(msg)) f.errors.push(msg);
      },
      skip(reason) {
        f.skipped = reason;
      },
    };
    return api;
  }

  skipped(section, name, reason, baseline) {
    this.add(section, name, { baseline }).skip(reason);
  }

  toJSON() {
    return sorted(this).map((f) => ({
      section: f.section,
      name: f.name,
      unit: f.unit,
      better: f.better,
      baseline: f.baseline,
      note: f.note,
      skipped: f.skipped,
      errors: f.errors.length ? f.errors : undefined,
      osb: { samples: f.osb, ...summary(f.osb) },
      baseline_samples: { samples: f.base, ...summary(f.base) },
      ratio: { samples: f.ratio, ...summary(f.ratio) },
    }));
  }
}

function num(x, unit) {
  if (x === undefined) return '–';
  const a = Math.abs(x);
  if (unit === 'ratio' || a < 10) return x.toFixed(a < 0.1 ? 3 : 2);
  if (a < 100) return x.toFixed(1);
  return Math.round(x).toLocaleString('en-US');
}

function cell(xs, unit) {
  const s = summary(xs);
  if (!s) return '–';
  if (s.n === 1) return num(s.median, unit);
  return `${num(s.median, unit)} (${num(s.min, unit)}–${num(s.max, unit)})`;
}

/** Figures in section order (stable within a section). */
export function sorted(figures) {
  return [...figures.list].sort((a, b) => Number.parseInt(a.section, 10) - Number.parseInt(b.section, 10));
}

/** A Markdown table (readable in a terminal too). */
export function renderTable(figures) {
  const rows = [['#', 'figure', 'osb median (min–max)', 'baseline', 'baseline median (min–max)', 'osb ÷ baseline', 'n']];
  for (const f of sorted(figures)) {
    const label = `${f.name}${f.unit ? ` [${f.unit}]` : ''}${f.better ? (f.better === 'lower' ? ' ↓' : ' ↑') : ''}`;
    if (f.skipped) {
      rows.push([f.section, label, `skipped: ${f.skipped}`, f.baseline ?? '', '', '', '0']);
      continue;
    }
    const err = f.errors.length ? ` ⚠ ${f.errors.length} error(s)` : '';
    rows.push([
      f.section,
      label + err,
      cell(f.osb, f.unit),
      f.baseline ?? '',
      cell(f.base, f.unit),
      cell(f.ratio, 'ratio'),
      String(Math.max(f.osb.length, f.base.length)),
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => [...r[i]].length)));
  const line = (r) => '| ' + r.map((c, i) => c + ' '.repeat(widths[i] - [...c].length)).join(' | ') + ' |';
  const out = [line(rows[0]), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...rows.slice(1).map(line)];
  const errs = sorted(figures).filter((f) => f.errors.length && !f.skipped);
  if (errs.length) {
    out.push('', 'errors (samples that failed were left out; the bench does not fail on them):');
    for (const f of errs) for (const e of f.errors) out.push(`  - ${f.section} ${f.name}: ${e}`);
  }
  return out.join('\n');
}
