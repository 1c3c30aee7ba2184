/**
 * Reading a backup folder and its chain, the one logic every restore uses: `osb restore` and
 * `osb backup verify` on the local target, and the restore pods on Kubernetes, which run this
 * very module (shipped byte for byte as `backup-chain.mjs`, like the Galera decision). So it
 * imports node built-ins only and throws `ChainError` (message + fix), which osb turns into
 * its one-line error. The format is `manifest.json` of src/model/backup.ts; see docs/backup.md.
 */
import { createRequire } from 'node:module';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

// node:crypto on first use: every osb command loads this module, few of them hash (docs/performance.md).
const load = createRequire(import.meta.url);
const createHash = (algorithm: string) => (load('node:crypto') as typeof import('node:crypto')).createHash(algorithm);

export const MANIFEST = 'manifest.json';
const BACKUP_KINDS: readonly ChainManifest['kind'][] = ['full', 'incremental', 'logical'];

/** What is wrong with a backup, and what to do instead. */
export class ChainError extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
    this.name = 'ChainError';
  }
}

/** The fields of a manifest a restore relies on (src/model/backup.ts has the whole shape). */
export interface ChainManifest {
  format: 1;
  id: string;
  /** A chain is a full backup and its incrementals; a logical backup (local target) stands alone. */
  kind: 'full' | 'incremental' | 'logical';
  parent?: string;
  /** Logical backups: the services they hold. */
  services?: string[];
  finishedAt: string;
  components: Record<string, Record<string, unknown> | undefined>;
  files: { path: string; size: number; sha256: string }[];
  totalBytes: number;
}

export function sha256File(file: string): Promise<string> {
  return new Promise((res, rej) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('end', () => res(h.digest('hex')))
      .on('error', rej);
  });
}

/** How the operator lists the backups, for the fixes: `osb backup list` locally. */
export const LIST_HINT = 'osb backup list';

export function readManifest<M extends ChainManifest = ChainManifest>(dir: string, list = LIST_HINT): M {
  const pickAnother = `pick another backup (${list})`;
  const file = join(dir, MANIFEST);
  if (!existsSync(file)) throw new ChainError(`${dir} is not a complete backup: ${MANIFEST} is missing`, pickAnother);
  try {
    const m = JSON.parse(readFileSync(file, 'utf8')) as M;
    if (m.format !== 1 || !Array.isArray(m.files) || !m.id) throw new Error('unexpected content');
    if (!BACKUP_KINDS.includes(m.kind)) throw new Error(`unknown kind "${String(m.kind)}"`);
    if (m.kind === 'logical' && (!Array.isArray(m.services) || !m.services.length)) throw new Error('a logical backup that names no services');
    return m;
  } catch (err) {
    throw new ChainError(`${file} is damaged (${(err as Error).message})`, pickAnother);
  }
}

/** Every file of one backup is present, with its size and SHA-256; names the first that is not. */
export async function checkFiles(dir: string, m: ChainManifest, list = LIST_HINT): Promise<void> {
  const fix = `pick another backup (${list}); this one cannot be restored`;
  for (const f of m.files) {
    const p = join(dir, f.path);
    if (!existsSync(p)) throw new ChainError(`backup ${m.id} is incomplete: ${f.path} is missing`, fix);
    const size = statSync(p).size;
    if (size !== f.size) throw new ChainError(`backup ${m.id} is damaged: ${f.path} has ${size} bytes, the manifest says ${f.size}`, fix);
    if ((await sha256File(p)) !== f.sha256) throw new ChainError(`backup ${m.id} is damaged: ${f.path} does not match its SHA-256 in the manifest`, fix);
  }
}

/**
 * The chain of the backup in `dir`: its parents up to the full backup (siblings in the same
 * folder), full backup first, every file of every member checked against its manifest. A full or
 * logical backup is a chain of one.
 */
export async function resolveChainDir<M extends ChainManifest = ChainManifest>(
  dir: string,
  list = LIST_HINT,
): Promise<{ root: string; manifests: { dir: string; manifest: M }[] }> {
  const root = dirname(dir);
  const out: { dir: string; manifest: M }[] = [];
  for (let d = dir; ; ) {
    const m = readManifest<M>(d, list);
    out.unshift({ dir: d, manifest: m });
    if (m.kind !== 'incremental') break;
    if (!m.parent) throw new ChainError(`backup ${m.id} is an incremental without a parent in its manifest`, 'pick another backup');
    const pd = join(root, m.parent);
    if (!existsSync(join(pd, MANIFEST)))
      throw new ChainError(
        `backup ${m.id} cannot be restored: its parent ${m.parent} is missing from ${root}`,
        `put the parent back, or restore an older complete chain (${list})`,
      );
    if (out.length > 1000) throw new ChainError(`backup chain of ${dir} loops`, 'pick another backup');
    d = pd;
  }
  for (const { dir: d, manifest } of out) await checkFiles(d, manifest, list);
  return { root, manifests: out };
}
