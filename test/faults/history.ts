/**
 * The history checker of the fault suite (issue 17). A client writes a history (test/openstack/
 * fault_db_history.py: S sent, A acknowledged, E failed, each with its time); after the fault heals the
 * test reads what every node holds, and this module says what an operator would ask:
 * - acknowledged writes that are missing (anywhere);
 * - duplicates where exactly-once was expected (one client id stored twice);
 * - writes visible on some nodes only (the sides diverged);
 * - the longest window without a successful operation, and where it was;
 * - failed operations that were in fact applied (indeterminate, allowed: the client was told "failed").
 */

export interface Op {
  id: number;
  sent: number;
  acked?: number;
  failed?: number;
  seconds?: number;
  error?: string;
}

/** Parses the history lines (already split on spaces) of fault_db_history.py and friends. */
export function parseHistory(lines: string[][]): Op[] {
  const ops = new Map<number, Op>();
  for (const l of lines) {
    const id = Number(l[1]);
    const t = Number(l[2]);
    if (l[0] === 'S') ops.set(id, { id, sent: t });
    else if (l[0] === 'A') Object.assign(ops.get(id) ?? ops.set(id, { id, sent: t }).get(id)!, { acked: t, seconds: Number(l[3]) });
    else if (l[0] === 'E')
      Object.assign(ops.get(id) ?? ops.set(id, { id, sent: t }).get(id)!, { failed: t, seconds: Number(l[3]), error: l.slice(4).join(' ') });
  }
  return [...ops.values()].sort((a, b) => a.id - b.id);
}

export interface Verdict {
  sent: number;
  acked: number;
  failed: number;
  /** Acknowledged ids missing on at least one node, by node. */
  missingAcked: Record<string, number[]>;
  /** Ids stored more than once, by node. */
  duplicates: Record<string, number[]>;
  /** Ids some nodes hold and others do not. */
  divergent: number[];
  /** Failed ids that were applied after all (the client could not know). */
  indeterminateApplied: number;
  /** Longest stretch without an acknowledged write, in seconds, and when it started (seconds after `t0`). */
  longestUnavailableS: number;
  longestUnavailableAtS: number;
  /** Slowest failed attempt: a client must fail fast, not hang. */
  slowestFailureS: number;
}

const round = (s: number) => Math.round(s * 1000) / 1000;

/** Longest gap between consecutive acknowledgements within [from, to] (the edges count as acknowledgements). */
export function longestGap(ackTimes: number[], from: number, to: number): { seconds: number; at: number } {
  const ts = [from, ...ackTimes.filter((t) => t > from && t < to).sort((a, b) => a - b), to];
  let best = { seconds: 0, at: from };
  for (let i = 1; i < ts.length; i++) if (ts[i]! - ts[i - 1]! > best.seconds) best = { seconds: ts[i]! - ts[i - 1]!, at: ts[i - 1]! };
  return best;
}

/**
 * `stored`: node name -> every client id that node holds (one entry per row, so duplicates show).
 * `t0`: the start of the fault, for reporting where the longest window fell.
 */
export function checkHistory(ops: Op[], stored: Record<string, number[]>, window: { from: number; to: number; t0: number }): Verdict {
  const acked = ops.filter((o) => o.acked !== undefined);
  const failed = ops.filter((o) => o.failed !== undefined);
  const missingAcked: Record<string, number[]> = {};
  const duplicates: Record<string, number[]> = {};
  const sets = Object.entries(stored).map(([node, ids]) => {
    const seen = new Set<number>();
    const dup = new Set<number>();
    for (const id of ids) (seen.has(id) ? dup : seen).add(id);
    const miss = acked.filter((o) => !seen.has(o.id)).map((o) => o.id);
    if (miss.length) missingAcked[node] = miss;
    if (dup.size) duplicates[node] = [...dup].sort((a, b) => a - b);
    return seen;
  });
  const union = new Set(sets.flatMap((s) => [...s]));
  const divergent = [...union].filter((id) => !sets.every((s) => s.has(id))).sort((a, b) => a - b);
  const gap = longestGap(
    acked.map((o) => o.acked!),
    window.from,
    window.to,
  );
  return {
    sent: ops.length,
    acked: acked.length,
    failed: failed.length,
    missingAcked,
    duplicates,
    divergent,
    indeterminateApplied: failed.filter((o) => union.has(o.id)).length,
    longestUnavailableS: round(gap.seconds),
    longestUnavailableAtS: round(gap.at - window.t0),
    slowestFailureS: round(Math.max(0, ...failed.map((o) => o.seconds ?? 0))),
  };
}

/** One line for the log: what was lost, duplicated, diverged, and the longest window. */
export function describeVerdict(v: Verdict): string {
  const lost = Object.entries(v.missingAcked).map(([n, ids]) => `${n} misses ${ids.length} acked (${ids.slice(0, 5).join(',')})`);
  const dup = Object.entries(v.duplicates).map(([n, ids]) => `${n} holds ${ids.length} twice`);
  return (
    `${v.sent} sent, ${v.acked} acknowledged, ${v.failed} failed (${v.indeterminateApplied} of them applied); ` +
    `lost: ${lost.length ? lost.join('; ') : 'none'}; duplicates: ${dup.length ? dup.join('; ') : 'none'}; ` +
    `on some nodes only: ${v.divergent.length}; longest window without an acknowledged write ${v.longestUnavailableS}s ` +
    `(from +${v.longestUnavailableAtS}s); slowest failure ${v.slowestFailureS}s`
  );
}
