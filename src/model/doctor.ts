import { accessSync, constants, existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** One finding of `osb doctor`: what was checked, what was found, and the fix when it is not ok. */
export interface DoctorCheck {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  fix?: string;
}

export const ok = (name: string, detail: string): DoctorCheck => ({ name, status: 'ok', detail });
export const warn = (name: string, detail: string, fix?: string): DoctorCheck => ({ name, status: 'warn', detail, ...(fix ? { fix } : {}) });
export const fail = (name: string, detail: string, fix: string): DoctorCheck => ({ name, status: 'fail', detail, fix });

/**
 * Whether osb could use `dir` as its state dir: an existing directory must take a file (probed by
 * writing and removing one, so a read-only mount is caught even for root); a missing one must have
 * a writable nearest existing parent. Changes nothing.
 */
export function stateDirCheck(dir: string): DoctorCheck {
  const name = 'state dir';
  const fix = 'choose another with --state-dir DIR (or OSB_STATE_DIR), or fix its permissions/mount';
  let existing = dir;
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  try {
    if (!statSync(existing).isDirectory()) return fail(name, `${existing} is not a directory`, fix);
  } catch (err) {
    return fail(name, `${existing} cannot be read (${(err as NodeJS.ErrnoException).code})`, fix);
  }
  try {
    if (existing === dir) {
      const probe = join(dir, `.osb-doctor-${process.pid}`);
      writeFileSync(probe, '');
      rmSync(probe);
      return ok(name, `${dir} is writable`);
    }
    accessSync(existing, constants.W_OK);
    return ok(name, `${dir} does not exist yet; osb deploy will create it under ${existing} (writable)`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const why =
      code === 'EROFS' ? 'is on a read-only file system' : code === 'EACCES' || code === 'EPERM' ? 'is not writable by this user' : `is not writable (${code})`;
    return fail(name, `${existing === dir ? dir : `${existing} (parent of ${dir})`} ${why} (${code})`, fix);
  }
}
