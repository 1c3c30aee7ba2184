/** An error meant for the operator: one line saying what is wrong and how to fix it. */
export class OsbError extends Error {
  constructor(
    message: string,
    readonly fix?: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'OsbError';
  }

  /** The single line shown to the operator. */
  get line(): string {
    return this.fix ? `${this.message} — ${this.fix}` : this.message;
  }
}

/** Damerau-free Levenshtein distance; small inputs only (config keys). */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}
