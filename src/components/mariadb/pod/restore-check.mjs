// osb: checks a MariaDB backup before a restore on Kubernetes (Job `mariadb-restore-check-*`, and the init
// container `check` of Job `mariadb-restore-*`; see docs/backup.md). Changes nothing: reads
// $OSB_BACKUP_ROOT/$OSB_BACKUP and its parents with the chain logic `osb restore` uses on the local target
// (backup-chain.mjs: every manifest, every file's size and SHA-256, every parent present) and, with
// $OSB_TO_TIME (UTC; TZ=UTC), the archived binlogs that roll it forward (binlog-archive.mjs: from the
// backup's position, contiguous, intact, closed after that time). Whole: writes the plan the restore
// container follows to $OSB_PLAN_FILE (if set) and exits 0. Otherwise prints one line
// `osb restore: REFUSED: <what> — <fix>` (osb shows it) and exits 2.
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChainError, resolveChainDir } from './backup-chain.mjs';
import { binlogsFor, PitrError } from './binlog-archive.mjs';

const LIST = 'the backup folders on the mariadb-backups volume';
const ARCHIVE_HINT = 'the binlog archiver copies closed binlogs every minute: wait a minute and restore again';

const log = (m) => process.stdout.write('osb restore: ' + m + '\n');

function refuse(message, fix) {
  log('REFUSED: ' + message + (fix ? ' — ' + fix : ''));
  process.exit(2);
}

/** The plan of a restore of backup `id` under `root` (to `toTime`, if given): chain folders, binlogs. */
export async function restorePlan({ root, id, toTime }) {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(id)) throw new ChainError(`"${id}" is not a backup id`, `give a folder name of ${LIST}`);
  const dir = join(root, id);
  if (!existsSync(dir)) {
    const ids = existsSync(root)
      ? readdirSync(root)
          .filter((n) => !n.startsWith('.') && n !== 'binlogs')
          .sort()
      : [];
    throw new ChainError(
      `no backup ${id} on the backups volume`,
      ids.length ? `the newest there: ${ids.slice(-5).reverse().join(', ')}` : 'the volume holds no backup yet',
    );
  }
  const chain = await resolveChainDir(dir, LIST);
  const last = chain.manifests[chain.manifests.length - 1];
  const part = last.manifest.components.mariadb;
  if (!part) throw new ChainError(`backup ${id} holds no MariaDB data`, `pick another backup (${LIST})`);
  const links = chain.manifests.filter((m) => m.manifest.components.mariadb).map((m) => join(m.dir, 'mariadb'));
  const binlogs = toTime ? await binlogsFor(root, part, toTime, last.manifest.finishedAt, ARCHIVE_HINT) : [];
  return { id: last.manifest.id, links, binlogs, startPosition: part.binlog?.position, toTime, node: part.node, files: chain.manifests };
}

/** The plan as the restore container reads it: one `key value` per line. */
export function planText(plan) {
  return (
    [
      'backup ' + plan.id,
      ...plan.links.map((l) => 'link ' + l),
      ...(plan.binlogs.length ? ['start-position ' + plan.startPosition, 'stop-datetime ' + plan.toTime, ...plan.binlogs.map((b) => 'binlog ' + b)] : []),
    ].join('\n') + '\n'
  );
}

async function main() {
  const root = process.env.OSB_BACKUP_ROOT || '/backups';
  const id = process.env.OSB_BACKUP || '';
  const toTime = process.env.OSB_TO_TIME || undefined;
  let plan;
  try {
    plan = await restorePlan({ root, id, toTime });
  } catch (err) {
    if (err instanceof ChainError || err instanceof PitrError) refuse(err.message, err.fix);
    throw err;
  }
  const files = plan.files.reduce((n, m) => n + m.manifest.files.length, 0);
  const bytes = plan.files.reduce((n, m) => n + m.manifest.totalBytes, 0);
  log(
    'backup ' +
      plan.id +
      ' is whole: a chain of ' +
      plan.links.length +
      ' backup(s), ' +
      files +
      ' files (' +
      bytes +
      ' bytes) match their SHA-256' +
      (toTime ? '; ' + plan.binlogs.length + ' archived binlog file(s) of ' + plan.node + ' roll it forward to ' + toTime + ' UTC' : ''),
  );
  if (process.env.OSB_PLAN_FILE) writeFileSync(process.env.OSB_PLAN_FILE, planText(plan));
}

if (import.meta.url === 'file://' + process.argv[1]) {
  main().catch((err) => {
    log('FAILED: ' + String(err?.message ?? err));
    process.exit(1);
  });
}
