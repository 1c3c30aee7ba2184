/**
 * The backups folder and its backup folders, shared by the physical (`./backup.ts`) and the
 * logical (`./logical.ts`) backups of the local target: manifests, file checksums, listing.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { definition } from '../../components/index.js';
import type { ComponentName, Config } from '../../config/schema.js';
import type { BackupFile, BackupHooks, BackupManifest } from '../../model/backup.js';
import { OsbError } from '../../util/errors.js';
import { portIsFree } from '../../util/net.js';

const BACKUP_KINDS: readonly BackupManifest['kind'][] = ['full', 'incremental', 'logical'];
export const MANIFEST = 'manifest.json';
export const VERIFY = 'verify.json';
export const SECRETS = 'secrets.json';

export const hooks = (c: ComponentName): BackupHooks | undefined => definition(c).backup;
export const backupComponents = (cs: ComponentName[]) => cs.filter((c) => hooks(c));

/** Where backups land (one definition, in the deployment context: the schedules use it too). */
export { backupRoot } from './context.js';

export function sha256(file: string): Promise<string> {
  return new Promise((res, rej) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('end', () => res(h.digest('hex')))
      .on('error', rej);
  });
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

export async function hashFiles(dir: string): Promise<BackupFile[]> {
  const files = walk(dir)
    .map((f) => relative(dir, f))
    .filter((f) => f !== MANIFEST && f !== VERIFY)
    .sort();
  const out: BackupFile[] = [];
  for (const f of files) out.push({ path: f, size: statSync(join(dir, f)).size, sha256: await sha256(join(dir, f)) });
  return out;
}

export function writeJson(file: string, value: unknown): void {
  writeFileSync(`${file}.tmp`, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

export function readManifest(dir: string): BackupManifest {
  const file = join(dir, MANIFEST);
  if (!existsSync(file)) throw new OsbError(`${dir} is not a complete backup: ${MANIFEST} is missing`, 'pick another backup (osb backup list)', 2);
  try {
    const m = JSON.parse(readFileSync(file, 'utf8')) as BackupManifest;
    if (m.format !== 1 || !Array.isArray(m.files) || !m.id) throw new Error('unexpected content');
    if (!BACKUP_KINDS.includes(m.kind)) throw new Error(`unknown kind "${String(m.kind)}"`);
    if (m.kind === 'logical' && (!Array.isArray(m.services) || !m.services.length)) throw new Error('a logical backup that names no services');
    return m;
  } catch (err) {
    throw new OsbError(`${file} is damaged (${(err as Error).message})`, 'pick another backup (osb backup list)', 2);
  }
}

/** Every file of one backup is present, with its size and SHA-256; names the first that is not. */
export async function checkFiles(dir: string, m: BackupManifest): Promise<void> {
  for (const f of m.files) {
    const p = join(dir, f.path);
    if (!existsSync(p))
      throw new OsbError(`backup ${m.id} is incomplete: ${f.path} is missing`, 'pick another backup (osb backup list); this one cannot be restored', 2);
    const size = statSync(p).size;
    if (size !== f.size)
      throw new OsbError(
        `backup ${m.id} is damaged: ${f.path} has ${size} bytes, the manifest says ${f.size}`,
        'pick another backup (osb backup list); this one cannot be restored',
        2,
      );
    if ((await sha256(p)) !== f.sha256)
      throw new OsbError(
        `backup ${m.id} is damaged: ${f.path} does not match its SHA-256 in the manifest`,
        'pick another backup (osb backup list); this one cannot be restored',
        2,
      );
  }
}

/** Backups under a root, oldest first (folders with a manifest; partial ones are skipped). */
export function listManifests(root: string): { dir: string; manifest: BackupManifest }[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((n) => !n.startsWith('.') && n !== 'binlogs' && existsSync(join(root, n, MANIFEST)))
    .sort()
    .flatMap((n) => {
      try {
        return [{ dir: join(root, n), manifest: readManifest(join(root, n)) }];
      } catch {
        return [];
      }
    });
}

export async function scratchPort(config: Config): Promise<number> {
  if (config.backup.verifyPort) return config.backup.verifyPort;
  for (let p = config.mariadb.port + 90; p < Math.min(config.mariadb.port + 190, 32768); p++) if (await portIsFree(config.bindAddress, p)) return p;
  throw new OsbError(`no free port for the scratch server from ${config.mariadb.port + 90}`, 'set backup.verifyPort to a free port below 32768', 2);
}
