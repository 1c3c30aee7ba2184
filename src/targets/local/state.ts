import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OsbError } from '../../util/errors.js';

export interface InstanceRecord {
  /** Hash of everything that defines the running process: files, argv, env. */
  hash: string;
  ports: number[];
  startedAt: string;
  /** Who runs it: systemd (a unit) or nobody (detached). Absent in state files before supervision. */
  supervisor?: 'systemd' | 'none';
}

export interface LocalState {
  version: 1;
  /** What the user gave (values files and --set merged), reused by later commands. */
  userValues: Record<string, unknown>;
  instances: Record<string, InstanceRecord>;
  /**
   * Fingerprint of the last provisioning that completed: services, their passwords, the admin
   * endpoints and the pids of the nodes it ran against. Equal on a no-op deploy: no round trips.
   */
  provisioned?: string;
}

export const stateFile = (stateDir: string) => join(stateDir, 'state.json');

export function readState(stateDir: string): LocalState | undefined {
  const file = stateFile(stateDir);
  if (!existsSync(file)) return undefined;
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as LocalState;
    if (s.version !== 1 || typeof s.instances !== 'object' || typeof s.userValues !== 'object') throw new Error('unexpected content');
    return s;
  } catch (err) {
    throw new OsbError(
      `state file ${file} is damaged (${(err as Error).message})`,
      'restore it, or move it aside and run `osb deploy` again: data dirs are kept and reused',
    );
  }
}

export function writeState(stateDir: string, state: LocalState): void {
  const file = stateFile(stateDir);
  writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  chmodSync(`${file}.tmp`, 0o600);
  renameSync(`${file}.tmp`, file);
}
