import { writeErr } from '../../util/output.js';
import lockfile from 'proper-lockfile';
import { OsbError } from '../../util/errors.js';

/** How long a command waits for another one on the same deployment (env OSB_LOCK_WAIT_SECONDS). */
export function lockWaitMs(): number {
  const s = Number(process.env.OSB_LOCK_WAIT_SECONDS);
  return Number.isFinite(s) && s >= 0 ? s * 1000 : 120_000;
}

/** Another osb command held the deployment's lock for longer than this one would wait (exit code 5). */
export class StateLocked extends OsbError {}

/**
 * Serialises commands that change one deployment. A second command says that it waits,
 * waits up to `waitMs` and then fails, naming the lock.
 */
export async function withStateLock<T>(stateDir: string, fn: () => Promise<T>, waitMs = lockWaitMs(), onWait?: () => void): Promise<T> {
  const lockPath = `${stateDir}/osb.lock`;
  const deadline = Date.now() + waitMs;
  let release: (() => Promise<void>) | undefined;
  let warned = false;
  while (!release) {
    try {
      release = await lockfile.lock(stateDir, { lockfilePath: lockPath, stale: 15_000, update: 5_000, realpath: false });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
      if (Date.now() >= deadline) {
        throw new StateLocked(
          `another osb command is changing the deployment in ${stateDir} (lock ${lockPath}); gave up after ${Math.round(waitMs / 1000)}s`,
          'wait for it to finish and run this again',
          5,
        );
      }
      if (!warned) {
        warned = true;
        if (onWait) onWait();
        else writeErr(`osb: waiting for another osb command to finish with ${stateDir} (lock ${lockPath})\n`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => {});
  }
}
