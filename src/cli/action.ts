import { OsbError } from '../util/errors.js';
import { writeErr } from '../util/output.js';

/** Wraps a command's action: OsbErrors become one clear line and their exit code. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number | undefined>) {
  return async (...args: A) => {
    try {
      const code = await fn(...args);
      process.exitCode = code ?? 0;
    } catch (err) {
      if (err instanceof OsbError) {
        writeErr(`osb: error: ${err.line}\n`);
        process.exitCode = err.exitCode;
      } else {
        writeErr(`osb: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
        process.exitCode = 1;
      }
    }
  };
}

export type ActionWrapper = typeof action;
