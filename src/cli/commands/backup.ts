import { archiveBinlogs, listBackups, takeBackup, verifyBackup } from '../../targets/local/backup.js';
import { takeLogicalBackup } from '../../targets/local/logical.js';
import { OsbError } from '../../util/errors.js';
import { formatBytes, table } from '../../util/format.js';
import { cliLog, cliProgress } from '../progress.js';
import { type GlobalOptions, sources, verbosity } from '../options.js';
import { emit, openTarget, print } from './target.js';

type BackupCliOptions = GlobalOptions & { incremental?: boolean; logical?: boolean; to?: string; verify?: boolean };

export async function backupCommand(services: string[], o: BackupCliOptions): Promise<number> {
  if (services.length && !o.logical)
    throw new OsbError(`osb backup takes service names only with --logical (got: ${services.join(' ')})`, `osb backup --logical ${services.join(' ')}`, 2);
  if (o.logical) {
    if (o.incremental) throw new OsbError('--logical and --incremental do not go together', 'a logical backup is always whole: drop --incremental', 2);
    const r = await takeLogicalBackup({ ...sources(o), services, to: o.to, progress: cliProgress(verbosity(o)) });
    if (o.json) print(JSON.stringify(r, null, 2));
    else {
      print(`logical backup ${r.id} of ${r.services.join(', ')}: ${formatBytes(r.totalBytes)} in ${r.seconds.toFixed(1)}s → ${r.dir}`);
      if (r.removed.length) print(`retention removed: ${r.removed.join(', ')}`);
      print(r.verified ? 'checked: loaded into a scratch server, tables and row counts match' : `CHECK FAILED: ${r.problems.join('; ')}`);
    }
    return r.verified ? 0 : 1;
  }
  const r = await takeBackup({ ...sources(o), incremental: o.incremental, to: o.to, progress: cliProgress(verbosity(o)) });
  const log = cliLog(verbosity(o));
  // --verify (backup.verify on the scheduled ones): the backup as it now lies on disk, restored once more.
  const v = o.verify && r.verified ? await verifyBackup({ ...sources(o), backup: r.dir, report: (m) => log(`verify: ${m}`) }) : undefined;
  if (o.json) print(JSON.stringify(v ? { ...r, verify: v } : r, null, 2));
  else {
    print(`${r.kind} backup ${r.id}${r.parent ? ` (on ${r.parent})` : ''}: ${formatBytes(r.totalBytes)} in ${r.seconds.toFixed(1)}s → ${r.dir}`);
    if (r.binlogsArchived) print(`archived ${r.binlogsArchived} binlog file(s)`);
    if (r.removed.length) print(`retention removed: ${r.removed.join(', ')}`);
    print(r.verified ? 'checked: restored into a scratch server, table checksums recorded' : `CHECK FAILED: ${r.problems.join('; ')}`);
    if (v)
      print(v.ok ? `verified: ${v.id} restored again from its files, every table checksum equal to the manifest` : `VERIFY FAILED: ${v.problems.join('; ')}`);
  }
  return r.verified && (!v || v.ok) ? 0 : 1;
}

export async function archiveCommand(o: BackupCliOptions): Promise<number> {
  const r = await archiveBinlogs({ ...sources(o), to: o.to });
  print(o.json ? JSON.stringify(r, null, 2) : r.skipped ? `archived nothing: ${r.skipped}` : `archived ${r.copied.length} binlog file(s) into ${r.root}`);
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
  const rows = [['BACKUP', 'KIND', 'CHAIN', 'CONTENTS', 'FINISHED', 'SIZE', 'VERIFIED']];
  for (const b of r.backups)
    rows.push([b.id, b.kind, b.chain, b.contents.join(','), b.finishedAt, formatBytes(b.bytes), b.verified + (b.verifiedAt ? ` (${b.verifiedAt})` : '')]);
  print(r.backups.length ? table(rows) : `no backups in ${r.root}`);
  for (const p of r.pitr) print(`point-in-time window (binlog history ${p.history}): ${p.from} .. ${p.to ?? 'no binlogs archived yet'}`);
  return 0;
}

/** `osb restore`: through the chosen target (local, or --target kubernetes; docs/backup.md). */
export async function restoreCommand(backup: string, o: GlobalOptions & { toTime?: string; service?: string[]; replace?: boolean }): Promise<number> {
  const target = await openTarget(o);
  const out = await target.restore({
    backup,
    toTime: o.toTime,
    services: o.service,
    replace: o.replace,
    progress: cliProgress(verbosity(o)),
    log: cliLog(verbosity(o)),
  });
  return emit(out, o);
}
