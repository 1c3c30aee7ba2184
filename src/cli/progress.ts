import type { Progress } from '../util/progress.js';
import { plainProgress } from '../util/progress.js';
import { isTerminal, writeErr } from '../util/output.js';

export type Verbosity = 'quiet' | 'normal' | 'verbose';

/** Live task lists on a terminal; plain lines when output is piped or logged. */
export function cliProgress(verbosity: Verbosity): Progress {
  if (verbosity === 'quiet') return plainProgress(() => {});
  if (!isTerminal(2) || process.env.NO_COLOR || verbosity === 'verbose') return plainProgress((l) => writeErr(l + '\n'));
  return listrProgress();
}

/** The terminal renderer (listr2); same contract as plainProgress. */
export function listrProgress(): Progress {
  return {
    async run(tasks, opts) {
      // Loaded here, on a terminal only: piped and quiet runs (scripts, CI, the bench) never parse listr2.
      const { Listr } = await import('listr2');
      const results: unknown[] = [];
      // listr2 keeps no errors unless told (collectErrors); record the first failure ourselves.
      let failure: { error: unknown } | undefined;
      const list = new Listr(
        tasks.map((t, i) => ({
          title: t.title,
          task: async (_ctx: unknown, task: { output: string; title: string }) => {
            try {
              results[i] = await t.task((m) => (task.output = m));
            } catch (error) {
              failure ??= { error };
              throw error;
            }
          },
          rendererOptions: { persistentOutput: true },
        })),
        // Same contract as plainProgress: a sequential list stops at its first failure.
        {
          concurrent: opts?.concurrent ?? false,
          exitOnError: !opts?.concurrent,
          renderer: 'default',
          rendererOptions: { collapseErrors: false, formatOutput: 'wrap' },
          registerSignalListeners: false,
        },
      );
      await list.run().catch((err: unknown) => {
        failure ??= { error: err };
      });
      if (failure) throw failure.error;
      return results as never;
    },
    info: (m) => writeErr(m + '\n'),
  };
}

/** Progress lines outside task lists (the Kubernetes target's waits), on stderr unless quiet. */
export function cliLog(verbosity: Verbosity): (line: string) => void {
  return verbosity === 'quiet' ? () => {} : (line) => writeErr(`  ${line}\n`);
}
