/**
 * The backups folder and its backup folders, shared by the physical (`./backup.ts`) and the
 * logical (`./logical.ts`) backups of the local target: manifests, file checksums, listing.
 */
import { existsSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ChainError, type ChainManifest, checkFiles as checkChainFiles, readManifest as readChainManifest, sha256File } from '../../components/backup-chain.js';
import { definition } from '../../components/index.js';
import type { ComponentName, Config } from '../../config/schema.js';
import type { BackupFile, BackupHooks, BackupManifest } from '../../model/backup.js';
import { OsbError } from '../../util/errors.js';
import { portIsFree } from '../../util/net.js';

export const MANIFEST = 'manifest.json';
export const VERIFY = 'verify.json';
export const SECRETS = 'secrets.json';

export const hooks = (c: ComponentName): BackupHooks | undefined => definition(c).backup;
export const backupComponents = (cs: ComponentName[]) => cs.filter((c) => hooks(c));

/** Where backups land (one definition, in the deployment context: the schedules use it too). */
export { backupRoot } from './context.js';

export const sha256 = sha256File;

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

/** The shared reading of a backup folder (components/backup-chain.ts, the Kubernetes restore pods run it too) with osb's one-line errors (exit 2). */
export async function asOsbError<T>(f: () => T | Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (err instanceof ChainError) throw new OsbError(err.message, err.fix, 2);
    throw err;
  }
}

export function readManifest(dir: string): BackupManifest {
  try {
    return readChainManifest<BackupManifest & ChainManifest>(dir);
  } catch (err) {
    if (err instanceof ChainError) throw new OsbError(err.message, err.fix, 2);
    throw err;
  }
}

/** Every file of one backup is present, with its size and SHA-256; names the first that is not. */
export const checkFiles = (dir: string, m: BackupManifest) => asOsbError(() => checkChainFiles(dir, m as BackupManifest & ChainManifest));

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
