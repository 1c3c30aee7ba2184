/**
 * The archive of closed MariaDB binlogs for point-in-time restore, one format for both targets:
 * `<backups>/binlogs/<history>/<node>/` holds the files and `index.json` (size, SHA-256 and the time
 * by which each file was closed). The local target's `osb backup archive-binlogs`, the Kubernetes
 * archiver (`binlog-archiver.mjs`) and every restore (`osb restore`, the Kubernetes restore pod)
 * use this module; the pods run it shipped byte for byte as `binlog-archive.mjs`, so it imports
 * node built-ins only and throws `PitrError` (message + fix). See docs/backup.md.
 */
import { createRequire } from 'node:module';
import { createReadStream, existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// node:crypto on first use: every osb command loads this module, few of them hash (docs/performance.md).
const load = createRequire(import.meta.url);
const createHash = (algorithm: string) => (load('node:crypto') as typeof import('node:crypto')).createHash(algorithm);

export interface ArchivedBinlog {
  file: string;
  size: number;
  sha256: string;
  /** Every event in this file happened before this time (the log was closed then). */
  closedBy: string;
}

/** Where the server's binlog position was when a physical backup ended (mariadb-backup's binlog_info). */
export interface BinlogPosition {
  file: string;
  position: number;
  gtid?: string;
}

/** A point-in-time restore that cannot be done, and what to do instead. */
export class PitrError extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
    this.name = 'PitrError';
  }
}

export const archiveDir = (root: string, history: string, node: string) => join(root, 'binlogs', history, node);

export const readIndex = (dir: string): ArchivedBinlog[] =>
  existsSync(join(dir, 'index.json')) ? (JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as ArchivedBinlog[]) : [];

/** index.json, replaced atomically (0600). */
export function writeIndex(dir: string, index: ArchivedBinlog[]): void {
  writeFileSync(join(dir, 'index.json.tmp'), JSON.stringify(index, null, 2) + '\n', { mode: 0o600 });
  renameSync(join(dir, 'index.json.tmp'), join(dir, 'index.json'));
}

export function sha256Of(file: string): Promise<string> {
  return new Promise((res, rej) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('end', () => res(h.digest('hex')))
      .on('error', rej);
  });
}

/** Until when the archived binlogs of a history reach (the newest closing time over its nodes). */
export function pitrWindow(root: string, history: string): { to?: string } {
  const base = join(root, 'binlogs', history);
  if (!existsSync(base)) return {};
  const ends = readdirSync(base)
    .flatMap((n) => readIndex(join(base, n)).map((e) => e.closedBy))
    .sort();
  return ends.length ? { to: ends[ends.length - 1] } : {};
}

/** Local 'YYYY-MM-DD HH:MM:SS' (what mariadb-binlog --stop-datetime reads) → Date. */
export function parseLocalTime(t: string): Date | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(t);
  if (!m) return undefined;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** How the operator archives the newest binlogs, for the fixes (the local command, or the Kubernetes archiver). */
export const LOCAL_ARCHIVE_HINT = 'run `osb backup archive-binlogs` on the deployment (if it still runs)';

/**
 * The archived binlog files a point-in-time restore replays, checked: from the backup's binlog
 * position, contiguous, checksums intact, and closed after `toTime`. Throws naming what is missing.
 */
export async function binlogsFor(
  root: string,
  part: Record<string, unknown>,
  toTime: string,
  backupEnd: string,
  archiveHint = LOCAL_ARCHIVE_HINT,
): Promise<string[]> {
  const pos = part.binlog as BinlogPosition | undefined;
  const history = part.binlogHistory as string | undefined;
  if (!pos || !history)
    throw new PitrError(
      'this backup was taken without binary logs (backup.pitr was off), so it cannot be rolled forward to a time',
      'restore it without --to-time, or turn on backup.pitr for later backups',
    );
  const to = parseLocalTime(toTime);
  if (!to) throw new PitrError(`--to-time "${toTime}" is not a time`, "give local time as 'YYYY-MM-DD HH:MM:SS'");
  if (to.getTime() < new Date(backupEnd).getTime() - 1000)
    throw new PitrError(`--to-time ${toTime} is before the backup finished (${backupEnd})`, 'restore an older backup, or pick a later time');
  const dir = archiveDir(root, history, part.node as string);
  const index = readIndex(dir);
  const from = index.findIndex((e) => e.file === pos.file);
  if (from < 0)
    throw new PitrError(`the archived binlogs in ${dir} do not contain ${pos.file}, where the backup ends`, `${archiveHint}, or restore without --to-time`);
  const files = index.slice(from);
  for (let i = 1; i < files.length; i++) {
    const a = Number(files[i - 1]!.file.split('.').pop());
    const b = Number(files[i]!.file.split('.').pop());
    if (b !== a + 1)
      throw new PitrError(
        `archived binlogs in ${dir} have a gap between ${files[i - 1]!.file} and ${files[i]!.file}`,
        'restore without --to-time, or to a time before the gap',
      );
  }
  const last = files[files.length - 1]!;
  if (new Date(last.closedBy).getTime() < to.getTime())
    throw new PitrError(`the archived binlogs only reach ${last.closedBy} (--to-time ${toTime} is later)`, `${archiveHint} first, or pick an earlier time`);
  for (const f of files) {
    const p = join(dir, f.file);
    if (!existsSync(p)) throw new PitrError(`archived binlog ${p} is missing`, 'the point-in-time window is broken at this file; restore without --to-time');
    if ((await sha256Of(p)) !== f.sha256)
      throw new PitrError(`archived binlog ${p} is damaged (SHA-256 differs from its index)`, 'restore without --to-time, or to a time before this file');
  }
  return files.map((f) => join(dir, f.file));
}
