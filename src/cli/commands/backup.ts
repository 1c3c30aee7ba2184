import { archiveBinlogs, listBackups, takeBackup, verifyBackup } from '../../targets/local/backup.js';
import { formatBytes, table } from '../../util/format.js';
import { cliLog, cliProgress } from '../progress.js';
import { type GlobalOptions, sources, verbosity } from '../options.js';
import { emit, openTarget, print } from './target.js';

type BackupCliOptions = GlobalOptions & { incremental?: boolean; to?: string };

export async function backupCommand(o: BackupCliOptions): Promise<number> {
  const r = await takeBackup({ ...sources(o), incremental: o.incremental, to: o.to, progress: cliProgress(verbosity(o)) });
  if (o.json) print(JSON.stringify(r, null, 2));
  else {
    print(`${r.kind} backup ${r.id}${r.parent ? ` (on ${r.parent})` : ''}: ${formatBytes(r.totalBytes)} in ${r.seconds.toFixed(1)}s → ${r.dir}`);
    if (r.binlogsArchived) print(`archived ${r.binlogsArchived} binlog file(s)`);
    if (r.removed.length) print(`retention removed: ${r.removed.join(', ')}`);
    print(r.verified ? 'checked: restored into a scratch server, table checksums recorded' : `CHECK FAILED: ${r.problems.join('; ')}`);
  }
  return r.verified ? 0 : 1;
}

export async function archiveCommand(o: BackupCliOptions): Promise<number> {
  const r = await archiveBinlogs({ ...sources(o), to: o.to });
  print(o.json ? JSON.stringify(r, null, 2) : `archived ${r.copied.length} binlog file(s) into ${r.root}`);
  return 0;
}

export async function verifyCommand(backup: string | undefined, o: BackupCliOptions): Promise<number> {
  const r = await verifyBackup({ ...sources(o), backup, to: o.to, report: cliLog(verbosity(o)) });
  if (o.json) print(JSON.stringify(r, null, 2));
  else {
    print(`${r.id}: ${r.ok ? 'verified' : 'FAILED'}`);
    for (const p of r.problems) print(`  ${p}`);
    for (const [c, f] of Object.entries(r.facts)) print(`  ${c}: ${JSON.stringify(f)}`);
  }
  return r.ok ? 0 : 1;
}

export async function listCommand(o: BackupCliOptions): Promise<number> {
  const r = listBackups({ ...sources(o), to: o.to });
  if (o.json) {
    print(JSON.stringify(r, null, 2));
    return 0;
  }
  const rows = [['BACKUP', 'KIND', 'CHAIN', 'FINISHED', 'SIZE', 'VERIFIED']];
  for (const b of r.backups) rows.push([b.id, b.kind, b.chain, b.finishedAt, formatBytes(b.bytes), b.verified + (b.verifiedAt ? ` (${b.verifiedAt})` : '')]);
  print(r.backups.length ? table(rows) : `no backups in ${r.root}`);
  for (const p of r.pitr) print(`point-in-time window (binlog history ${p.history}): ${p.from} .. ${p.to ?? 'no binlogs archived yet'}`);
  return 0;
}

/** `osb restore`: through the chosen target (local, or --target kubernetes). */
export async function restoreCommand(backup: string, o: GlobalOptions & { toTime?: string; replace?: boolean }): Promise<number> {
  const target = await openTarget(o);
  const out = await target.restore({ backup, toTime: o.toTime, replace: o.replace, progress: cliProgress(verbosity(o)), log: cliLog(verbosity(o)) });
  return emit(out, o);
}
