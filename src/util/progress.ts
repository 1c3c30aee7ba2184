import { writeErr } from './output.js';

/** A unit of long work whose progress a caller may show. */
export interface ProgressTask<T> {
  title: string;
  task: (report: (message: string) => void) => Promise<T>;
}

/**
 * How long-running work is shown. The CLI shows live task lists on a terminal and
 * plain lines otherwise; library users may pass their own or `plainProgress()`.
 */
export interface Progress {
  /**
   * Runs tasks and resolves with their results. Sequential: the first failure stops the list and
   * rejects. Concurrent: every task runs to its end, then the first failure rejects.
   */
  run<T>(tasks: ProgressTask<T>[], opts?: { concurrent?: boolean }): Promise<T[]>;
  info(message: string): void;
}

export function plainProgress(write: (line: string) => void = (l) => writeErr(l + '\n')): Progress {
  return {
    async run(tasks, opts) {
      const runOne = async (t: ProgressTask<unknown>) => {
        write(`→ ${t.title}`);
        const r = await t.task((m) => write(`  ${t.title}: ${m}`));
        write(`✔ ${t.title}`);
        return r;
      };
      if (!opts?.concurrent) {
        const out = [];
        for (const t of tasks) out.push(await runOne(t));
        return out as never;
      }
      const settled = await Promise.allSettled(tasks.map(runOne));
      const failed = settled.find((s) => s.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
      return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as never;
    },
    info: write,
  };
}
