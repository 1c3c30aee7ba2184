import { existsSync, readFileSync, statSync, writeFileSync, chownSync } from 'node:fs';

export interface GraState {
  uuid?: string;
  seqno?: number;
  safeToBootstrap?: boolean;
}

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

export function parseGrastate(text: string): GraState {
  const get = (k: string) => new RegExp(`^${k}:\\s*(\\S+)`, 'm').exec(text)?.[1];
  const uuid = get('uuid');
  const seqno = get('seqno');
  return {
    uuid: uuid && uuid !== ZERO_UUID ? uuid : undefined,
    seqno: seqno !== undefined ? Number(seqno) : undefined,
    safeToBootstrap: get('safe_to_bootstrap') === '1',
  };
}

export function readGrastate(file: string): GraState | undefined {
  return existsSync(file) ? parseGrastate(readFileSync(file, 'utf8')) : undefined;
}

/** Records a recovered position and marks the node safe to bootstrap (keeps the file's owner). */
export function markBootstrap(file: string, uuid: string, seqno: number): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# GALERA saved state\nversion: 2.1\nuuid: x\nseqno: -1\nsafe_to_bootstrap: 0\n';
  const out = text
    .replace(/^uuid:.*$/m, `uuid:    ${uuid}`)
    .replace(/^seqno:.*$/m, `seqno:   ${seqno}`)
    .replace(/^safe_to_bootstrap:.*$/m, 'safe_to_bootstrap: 1');
  const st = existsSync(file) ? statSync(file) : undefined;
  writeFileSync(file, out);
  if (st) chownSync(file, st.uid, st.gid);
}

/** Parses `mariadbd --wsrep-recover` output: "WSREP: Recovered position: UUID:SEQNO". */
export function parseRecoveredPosition(log: string): { uuid: string; seqno: number } | undefined {
  const matches = [...log.matchAll(/Recovered position:\s*([0-9a-f-]{36}):(-?\d+)/g)];
  const m = matches[matches.length - 1];
  if (!m || m[1] === ZERO_UUID) return undefined;
  return { uuid: m[1]!, seqno: Number(m[2]) };
}
