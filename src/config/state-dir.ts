import { accessSync, constants, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { OsbError } from '../util/errors.js';

export function resolveStateDir(explicit?: string): string {
  if (explicit) return resolve(explicit);
  if (process.env.OSB_STATE_DIR) return resolve(process.env.OSB_STATE_DIR);
  const base = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(base, 'osb');
}

/** Creates the state dir (0700) if needed and proves it is writable, without changing anything else. */
export function ensureStateDir(dir: string): void {
  try {
    // Not mkdirSync({recursive}): on Node 20 it loops forever where mkdir says ENOENT under an
    // existing parent (e.g. /proc/osb). Create each missing level ourselves.
    const missing: string[] = [];
    for (let d = dir; !existsSync(d) && dirname(d) !== d; d = dirname(d)) missing.unshift(d);
    for (const d of missing) mkdirSync(d, { mode: 0o700 });
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    accessSync(dir, constants.W_OK);
    const probe = join(dir, `.write-test-${process.pid}`);
    writeFileSync(probe, '');
    rmSync(probe);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new OsbError(`state dir ${dir} is not writable (${code})`, 'choose another with --state-dir DIR (or OSB_STATE_DIR) or fix its permissions');
  }
}

export const componentDir = (stateDir: string, component: string) => join(stateDir, component);
export const nodeDir = (stateDir: string, component: string, nodeName: string) => join(stateDir, component, nodeName);
