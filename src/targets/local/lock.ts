import lockfile from 'proper-lockfile';
import { OsbError } from '../../util/errors.js';

/**
 * Serialises commands that change one deployment. A second command waits up to
 * `waitMs` and then fails, naming the lock.
 */
export async function withStateLock<T>(stateDir: string, fn: () => Promise<T>, waitMs = 120_000, onWait?: () => void): Promise<T> {
  const lockPath = `${stateDir}/osb.lock`;
  const deadline = Date.now() + waitMs;
  let release: (() => Promise<void>) | undefined;
  let warned = false;
  while (!release) {
    try {
      release = await lockfile.lock(stateDir, { lockfilePath: lockPath, stale: 15_000, update: 5_000, realpath: false });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
      if (Date.now() > deadline) {
        throw new OsbError(`another osb command is changing the deployment in ${stateDir} (lock ${lockPath})`, 'wait for it to finish and run this again');
      }
      if (!warned) {
        warned = true;
        onWait?.();
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
