import { describe, expect, it } from 'vitest';
import { checkHistory, longestGap, parseHistory } from '../faults/history.js';

const lines = (text: string) =>
  text
    .trim()
    .split('\n')
    .map((l) => l.trim().split(' '));

describe('the fault history checker', () => {
  const ops = parseHistory(
    lines(`
      S 1 10.0
      A 1 10.1 0.1
      S 2 10.2
      E 2 13.2 3.0 OperationalError lost connection
      S 3 13.3
      A 3 15.3 2.0
      S 4 15.4
      A 4 15.5 0.1
    `),
  );

  it('reads sent, acknowledged and failed operations with their times', () => {
    expect(ops.map((o) => [o.id, o.acked !== undefined, o.failed !== undefined])).toEqual([
      [1, true, false],
      [2, false, true],
      [3, true, false],
      [4, true, false],
    ]);
    expect(ops[1]!.error).toBe('OperationalError lost connection');
  });

  it('a clean history: nothing lost, nothing duplicated, the longest window between acknowledgements', () => {
    const v = checkHistory(ops, { a: [1, 3, 4], b: [1, 3, 4] }, { from: 10, to: 16, t0: 10 });
    expect(v).toMatchObject({ acked: 3, failed: 1, missingAcked: {}, duplicates: {}, divergent: [], indeterminateApplied: 0 });
    expect(v.longestUnavailableS).toBeCloseTo(5.2);
    expect(v.longestUnavailableAtS).toBeCloseTo(0.1);
    expect(v.slowestFailureS).toBe(3);
  });

  it('finds an acknowledged write missing on one node, a duplicate, a divergent id and a failed write that was applied', () => {
    const v = checkHistory(ops, { a: [1, 2, 3, 4, 4], b: [1, 4] }, { from: 10, to: 16, t0: 10 });
    expect(v.missingAcked).toEqual({ b: [3] });
    expect(v.duplicates).toEqual({ a: [4] });
    expect(v.divergent).toEqual([2, 3]);
    expect(v.indeterminateApplied).toBe(1);
  });

  it('the window edges count: no acknowledgement at all is one window as long as the whole period', () => {
    expect(longestGap([], 0, 7)).toEqual({ seconds: 7, at: 0 });
    expect(longestGap([1, 2, 6], 0, 7)).toEqual({ seconds: 4, at: 2 });
  });
});
