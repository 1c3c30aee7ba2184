import { Listr } from 'listr2';
import type { Progress } from '../util/progress.js';
import { plainProgress } from '../util/progress.js';

export type Verbosity = 'quiet' | 'normal' | 'verbose';

/** Live task lists on a terminal; plain lines when output is piped or logged. */
export function cliProgress(verbosity: Verbosity): Progress {
  if (verbosity === 'quiet') return plainProgress(() => {});
  if (!process.stderr.isTTY || verbosity === 'verbose') return plainProgress((l) => process.stderr.write(l + '\n'));
  return {
    async run(tasks, opts) {
      const results: unknown[] = [];
      const list = new Listr(
        tasks.map((t, i) => ({
          title: t.title,
          task: async (_ctx: unknown, task: { output: string; title: string }) => {
            results[i] = await t.task((m) => (task.output = m));
          },
          rendererOptions: { persistentOutput: true },
        })),
        // Same contract as plainProgress: a sequential list stops at its first failure.
        { concurrent: opts?.concurrent ?? false, exitOnError: !opts?.concurrent, renderer: 'default', rendererOptions: { collapseErrors: false, formatOutput: 'wrap' }, registerSignalListeners: false },
      );
      try {
        await list.run();
      } catch (err) {
        throw list.errors[0]?.error ?? err;
      }
      if (list.errors.length) throw list.errors[0]!.error;
      return results as never;
    },
    info: (m) => process.stderr.write(m + '\n'),
  };
}

/** Progress lines outside task lists (the Kubernetes target's waits), on stderr unless quiet. */
export function cliLog(verbosity: Verbosity): (line: string) => void {
  return verbosity === 'quiet' ? () => {} : (line) => process.stderr.write(`  ${line}\n`);
}
