/**
 * `osb backup`, `osb restore`, `osb backup verify|list|archive-binlogs` on the local target. Generic:
 * it loops over the components whose definition has `backup` hooks (src/model/backup.ts); what
 * a backup of one backend is lives in its component folder. See docs/backup.md.
 */
import { byCodeUnit } from '../../util/format.js';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import pkg from '../../../package.json' with { type: 'json' };
import { resolveConfig } from '../../components/index.js';
import { loadValuesTree } from '../../config/load.js';
import { COMPONENTS, type ComponentName, type Config } from '../../config/schema.js';
import { readSecrets, secretsPath, writeSecrets, type Secrets } from '../../config/secrets.js';
import { deepMerge } from '../../config/set.js';
import { ensureStateDir, resolveStateDir } from '../../config/state-dir.js';
import type { BackupChainLink, BackupManifest, RestoredCheck } from '../../model/backup.js';
import { OsbError } from '../../util/errors.js';
import type { Progress } from '../../util/progress.js';
import { type ChainManifest, resolveChainDir } from '../../components/backup-chain.js';
import {
  asOsbError,
  backupComponents,
  backupRoot,
  hashFiles,
  hooks,
  listManifests,
  MANIFEST,
  SECRETS,
  scratchPort,
  VERIFY,
  writeJson,
} from './backup-files.js';
import { type DeploymentSources, deployedComponents, openDeployment } from './context.js';
import { deployLocal } from './deploy.js';
import { destroyLocal } from './destroy.js';
import { localInstances } from './instances.js';
import { withStateLock } from './lock.js';
import { preflightFreshPorts } from './preflight.js';
import { type LogicalRestoreResult, restoreLogical, verifyLogical } from './logical.js';
import { localRuntime } from './runtime.js';
import { readState, writeState, type LocalState } from './state.js';

export interface ResolvedChain {
  root: string;
  /** Full backup first, the requested backup last. */
  manifests: { dir: string; manifest: BackupManifest }[];
}

/** A backup by folder path or by id under the root; its chain of parents, every file checked. */
export async function resolveChain(ref: string, defaultRoot: string): Promise<ResolvedChain> {
  const dir = existsSync(ref) && statSync(ref).isDirectory() ? resolve(ref) : join(defaultRoot, ref);
  if (!existsSync(dir)) throw new OsbError(`no backup ${ref} (looked for ${dir})`, 'list them with `osb backup list`', 2);
  return asOsbError(() => resolveChainDir<BackupManifest & ChainManifest>(dir));
}

function chainLinks(chain: ResolvedChain, c: ComponentName): BackupChainLink[] {
  const links = chain.manifests
    .filter((x) => x.manifest.components[c])
    .map((x) => ({ dir: join(x.dir, c), part: x.manifest.components[c]!, manifest: x.manifest }));
  // Components without incrementals hold a full copy in every backup: only the newest counts.
  return hooks(c)?.incremental ? links : links.slice(-1);
}

/** Restores the chain into scratch servers on free ports, checks them, removes them; writes verify.json. */
async function verifyChain(chain: ResolvedChain, config: Config, secrets: Secrets, report: (m: string) => void): Promise<Record<string, RestoredCheck>> {
  const last = chain.manifests[chain.manifests.length - 1]!;
  const results: Record<string, RestoredCheck> = {};
  for (const c of COMPONENTS) {
    const h = hooks(c);
    if (!h?.verifyScratch || !last.manifest.components[c]) continue;
    const workDir = join(chain.root, `.verify-${last.manifest.id}-${process.pid}`);
    rmSync(workDir, { recursive: true, force: true });
    mkdirSync(workDir, { recursive: true, mode: 0o700 });
    try {
      results[c] = await h.verifyScratch({ config, secrets, chain: chainLinks(chain, c), workDir, port: await scratchPort(config), host: '127.0.0.1', report });
    } catch (err) {
      results[c] = { ok: false, problems: [(err as Error).message], facts: {} };
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
  }
  return results;
}

// ---------- osb backup ----------

export interface BackupOptions extends DeploymentSources {
  incremental?: boolean;
  to?: string;
  progress: Progress;
}

export interface BackupResult {
  id: string;
  dir: string;
  kind: 'full' | 'incremental';
  parent?: string;
  totalBytes: number;
  seconds: number;
  verified: boolean;
  problems: string[];
  removed: string[];
  binlogsArchived: number;
}

export async function takeBackup(opts: BackupOptions): Promise<BackupResult> {
  const d = openDeployment(opts);
  const comps = backupComponents(deployedComponents(d));
  if (!comps.length) throw new OsbError(`nothing to back up in ${d.stateDir}`, 'deploy mariadb or rabbitmq first', 3);
  const root = backupRoot(d.config, d.stateDir, opts.to);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  return withStateLock(root, async () => {
    const t0 = Date.now();
    const existing = listManifests(root).filter((b) => b.manifest.kind !== 'logical');
    const parent = opts.incremental ? existing[existing.length - 1] : undefined;
    if (opts.incremental && !parent) throw new OsbError(`no backup in ${root} to build an incremental on`, 'take a full backup first: osb backup', 2);
    if (parent) await resolveChain(parent.dir, root); // the chain it extends must be intact
    const startedAt = new Date();
    const id = `${startedAt.toISOString().replace(/[-:.]/g, '')}-${parent ? 'incr' : 'full'}`;
    const partial = join(root, `.${id}.partial`);
    const final = join(root, id);
    mkdirSync(partial, { recursive: true, mode: 0o700 });
    try {
      const parts: BackupManifest['components'] = {};
      let archived = 0;
      await opts.progress.run(
        comps.map((c) => ({
          title: `${c}: ${parent && hooks(c)!.incremental ? 'incremental' : 'full'} backup`,
          task: async (report: (m: string) => void) => {
            const dir = join(partial, c);
            mkdirSync(dir, { recursive: true, mode: 0o700 });
            const nodes = localInstances(d.config, d.stateDir, d.secrets, [c]).get(c) ?? [];
            const h = hooks(c)!;
            const parentPart = parent && h.incremental ? parent.manifest.components[c] : undefined;
            parts[c] = await h.take({
              config: d.config,
              secrets: d.secrets,
              stateDir: d.stateDir,
              dir,
              nodes,
              report,
              ...(parentPart ? { parentDir: join(parent!.dir, c), parentPart } : {}),
            });
            if (h.archiveLogs) archived += (await h.archiveLogs({ config: d.config, nodes, backupRoot: root, stateDir: d.stateDir, report })).copied.length;
          },
        })),
        { concurrent: true },
      );
      // The service passwords: a restore re-creates the same users, so the printed URLs keep working.
      copyFileSync(secretsPath(d.stateDir), join(partial, SECRETS));
      const files = await hashFiles(partial);
      const manifest: BackupManifest & { kind: 'full' | 'incremental' } = {
        format: 1,
        id,
        kind: parent ? 'incremental' : 'full',
        ...(parent ? { parent: parent.manifest.id } : {}),
        startedAt: startedAt.toISOString(),
        finishedAt: new Date().toISOString(),
        osbVersion: pkg.version,
        userValues: d.state.userValues,
        components: parts,
        files,
        totalBytes: files.reduce((s, f) => s + f.size, 0),
      };
      // Table checksums of exactly what was backed up: the chain, prepared and started in a scratch server.
      writeJson(join(partial, MANIFEST), manifest);
      const chain: ResolvedChain = { root, manifests: [...(parent ? (await resolveChain(parent.dir, root)).manifests : []), { dir: partial, manifest }] };
      const [checks] = await opts.progress.run([
        { title: 'checking the backup in a scratch server', task: (report) => verifyChain(chain, d.config, d.secrets, report) },
      ]);
      for (const [c, r] of Object.entries(checks)) {
        const part = manifest.components[c as ComponentName]!;
        if (r.facts.tableChecksums) part.tableChecksums = r.facts.tableChecksums;
        if (r.facts.newestRowTime !== undefined) part.newestRowTime = r.facts.newestRowTime;
      }
      writeJson(join(partial, MANIFEST), manifest);
      const problems = Object.entries(checks).flatMap(([c, r]) => r.problems.map((p) => `${c}: ${p}`));
      writeJson(join(partial, VERIFY), { at: new Date().toISOString(), ok: problems.length === 0, problems, when: 'backup' });
      renameSync(partial, final);
      const removed = problems.length ? [] : applyRetention(root, d.config);
      return {
        id,
        dir: final,
        kind: manifest.kind,
        parent: manifest.parent,
        totalBytes: manifest.totalBytes,
        seconds: (Date.now() - t0) / 1000,
        verified: problems.length === 0,
        problems,
        removed,
        binlogsArchived: archived,
      };
    } catch (err) {
      rmSync(partial, { recursive: true, force: true });
      throw err;
    }
  });
}

/** Whole chains only, oldest first; never the newest chain. Logical backups are not part of any chain (see applyLogicalRetention). */
export function applyRetention(root: string, config: Config, now = Date.now()): string[] {
  const { count, maxAgeDays } = config.backup.keep;
  if (count === undefined && maxAgeDays === undefined) return [];
  const all = listManifests(root).filter((b) => b.manifest.kind !== 'logical');
  const chains: { full: string; members: typeof all }[] = [];
  const byId = new Map(all.map((b) => [b.manifest.id, b]));
  const rootOf = (b: (typeof all)[number]): string => {
    let cur = b;
    for (let i = 0; cur.manifest.kind !== 'full' && i < 1000; i++) {
      const p = cur.manifest.parent && byId.get(cur.manifest.parent);
      if (!p) return cur.manifest.id;
      cur = p;
    }
    return cur.manifest.id;
  };
  for (const b of all) {
    const r = rootOf(b);
    let ch = chains.find((c) => c.full === r);
    if (!ch) chains.push((ch = { full: r, members: [] }));
    ch.members.push(b);
  }
  chains.sort((a, b) => byCodeUnit(a.full, b.full));
  const newest = chains[chains.length - 1];
  const removed: string[] = [];
  chains.forEach((ch, i) => {
    if (ch === newest) return;
    const tooMany = count !== undefined && chains.length - i > count;
    const last = ch.members[ch.members.length - 1]!.manifest.finishedAt;
    const tooOld = maxAgeDays !== undefined && now - new Date(last).getTime() > maxAgeDays * 86400_000;
    if (!tooMany && !tooOld) return;
    // Newest first, so a chain interrupted half-way never leaves an incremental without its parent.
    for (const m of [...ch.members].reverse()) {
      rmSync(m.dir, { recursive: true, force: true });
      removed.push(m.manifest.id);
    }
  });
  return removed;
}

/** How long `osb backup archive-binlogs` waits for a backup that holds the backups folder before it leaves the work to it. */
const ARCHIVE_LOCK_WAIT_MS = 10_000;

export async function archiveBinlogs(opts: DeploymentSources & { to?: string }): Promise<{ copied: string[]; root: string; skipped?: string }> {
  const d = openDeployment(opts);
  const root = backupRoot(d.config, d.stateDir, opts.to);
  if (!d.config.backup.pitr) throw new OsbError('binary logs are off (backup.pitr=false)', 'turn them on with --set backup.pitr=true and osb deploy', 2);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const archive = async () => {
    const copied: string[] = [];
    for (const c of backupComponents(deployedComponents(d))) {
      const h = hooks(c)!;
      if (!h.archiveLogs) continue;
      const nodes = localInstances(d.config, d.stateDir, d.secrets, [c]).get(c) ?? [];
      copied.push(...(await h.archiveLogs({ config: d.config, nodes, backupRoot: root, stateDir: d.stateDir, report: () => {} })).copied);
    }
    return { copied, root };
  };
  // One archiver at a time per folder (the minutely timer and `osb backup`, which archives too, write the
  // same index). A backup holds the folder for minutes: this run leaves the work to it and to the next run.
  try {
    return await withStateLock(root, archive, ARCHIVE_LOCK_WAIT_MS, () => {});
  } catch (err) {
    if (err instanceof OsbError && err.exitCode === 5)
      return { copied: [], root, skipped: 'a backup is running in this folder: it archives the binlogs itself' };
    throw err;
  }
}

// ---------- osb backup verify / list ----------

export interface VerifyResult {
  id: string;
  ok: boolean;
  problems: string[];
  facts: Record<string, unknown>;
}

function configOfBackup(m: BackupManifest, stateDir: string): Config {
  // The backed-up deployment's config decides the services and the scratch port; this deployment's values may move the port.
  const here = readState(stateDir)?.userValues ?? {};
  return resolveConfig(deepMerge(m.userValues, { backup: (here as { backup?: unknown }).backup ?? {} }));
}

export async function verifyBackup(opts: DeploymentSources & { backup?: string; to?: string; report: (m: string) => void }): Promise<VerifyResult> {
  const stateDir = resolveStateDir(opts.stateDir);
  const root = opts.to ? resolve(opts.to) : backupRoot(resolveConfig(readState(stateDir)?.userValues ?? {}), stateDir);
  const ref = opts.backup ?? listManifests(root).pop()?.manifest.id;
  if (!ref) throw new OsbError(`no backup in ${root}`, 'take one with `osb backup`', 2);
  const id = basename(ref);
  let chain: ResolvedChain;
  try {
    chain = await resolveChain(ref, root);
  } catch (err) {
    const r = { id, ok: false, problems: [(err as OsbError).message], facts: {} };
    const dir = existsSync(ref) ? ref : join(root, ref);
    if (existsSync(dir)) writeJson(join(dir, VERIFY), { at: new Date().toISOString(), ...r, when: 'verify' });
    return r;
  }
  const last = chain.manifests[chain.manifests.length - 1]!;
  const logical = last.manifest.kind === 'logical';
  const config = configOfBackup(last.manifest, stateDir);
  const checks = logical
    ? await verifyLogical(last.dir, last.manifest, config, chain.root, opts.report)
    : await verifyChain(chain, config, JSON.parse(readFileSync(join(last.dir, SECRETS), 'utf8')) as Secrets, opts.report);
  const problems = Object.entries(checks).flatMap(([c, r]) => r.problems.map((p) => `${c}: ${p}`));
  const facts = Object.fromEntries(
    Object.entries(checks).map(([c, r]) => [c, logical ? { tables: r.facts.tables } : { tables: r.facts.tables, newestRowTime: r.facts.newestRowTime }]),
  );
  const r = { id: last.manifest.id, ok: problems.length === 0, problems, facts };
  writeJson(join(last.dir, VERIFY), { at: new Date().toISOString(), ...r, when: 'verify' });
  return r;
}

export interface ListedBackup {
  id: string;
  kind: string;
  parent?: string;
  /** The full backup a physical backup builds on; `-` for a logical backup. */
  chain: string;
  /** Logical backups: the services it holds. */
  services?: string[];
  /** What it holds: the components (physical) or the services (logical). */
  contents: string[];
  finishedAt: string;
  bytes: number;
  verified: 'ok' | 'FAILED' | 'no';
  verifiedAt?: string;
}

export function listBackups(opts: DeploymentSources & { to?: string }): {
  root: string;
  backups: ListedBackup[];
  pitr: { history: string; from: string; to?: string }[];
} {
  const stateDir = resolveStateDir(opts.stateDir);
  const config = resolveConfig(readState(stateDir)?.userValues ?? {});
  const root = backupRoot(config, stateDir, opts.to);
  const all = listManifests(root);
  const byId = new Map(all.map((b) => [b.manifest.id, b.manifest]));
  const chainOf = (m: BackupManifest): string => {
    let cur: BackupManifest | undefined = m;
    for (let i = 0; cur && cur.kind !== 'full' && i < 1000; i++) cur = cur.parent ? byId.get(cur.parent) : undefined;
    return cur?.id ?? `(broken: ${m.parent} missing)`;
  };
  const backups = all.map(({ dir, manifest: m }) => {
    const v = existsSync(join(dir, VERIFY)) ? (JSON.parse(readFileSync(join(dir, VERIFY), 'utf8')) as { ok: boolean; at: string }) : undefined;
    return {
      id: m.id,
      kind: m.kind,
      parent: m.parent,
      chain: m.kind === 'logical' ? '-' : chainOf(m),
      ...(m.kind === 'logical' ? { services: m.services } : {}),
      contents: m.kind === 'logical' ? (m.services ?? []) : Object.keys(m.components),
      finishedAt: m.finishedAt,
      bytes: m.totalBytes,
      verified: v ? (v.ok ? 'ok' : 'FAILED') : 'no',
      verifiedAt: v?.at,
    } as ListedBackup;
  });
  // PITR window per binlog history: from its oldest backup to where its archived binlogs reach.
  const pitr: { history: string; from: string; to?: string }[] = [];
  for (const c of COMPONENTS) {
    for (const { manifest: m } of all) {
      const h = m.components[c]?.binlogHistory as string | undefined;
      if (!h || pitr.some((p) => p.history === h)) continue;
      const idx = join(root, 'binlogs', h);
      const ends = existsSync(idx)
        ? readdirSync(idx)
            .flatMap((n) =>
              existsSync(join(idx, n, 'index.json'))
                ? (JSON.parse(readFileSync(join(idx, n, 'index.json'), 'utf8')) as { closedBy: string }[]).map((e) => e.closedBy)
                : [],
            )
            .sort()
        : [];
      pitr.push({ history: h, from: m.finishedAt, to: ends[ends.length - 1] });
    }
  }
  return { root, backups, pitr };
}

// ---------- osb restore ----------

export interface RestoreOptions extends DeploymentSources {
  backup: string;
  toTime?: string;
  /** Logical backups: only these services. */
  services?: string[];
  /** Logical backups: drop and reload databases that already hold data. */
  replace?: boolean;
  progress: Progress;
  report: (m: string) => void;
}

export type RestoreResult = { stateDir: string; id: string; kind: 'full' | 'incremental'; components: ComponentName[]; seconds: number } | LogicalRestoreResult;

export async function restoreBackup(opts: RestoreOptions): Promise<RestoreResult> {
  const t0 = Date.now();
  const stateDir = resolveStateDir(opts.stateDir);
  const state = readState(stateDir);
  const defaultRoot = backupRoot(resolveConfig(state?.userValues ?? {}), stateDir);
  // 1. Nothing changes until the backup, its chain and the target are known to be fine.
  const chain = await resolveChain(opts.backup, defaultRoot);
  const last = chain.manifests[chain.manifests.length - 1]!;
  if (last.manifest.kind === 'logical') {
    if (opts.toTime)
      throw new OsbError(
        `${last.manifest.id} is a logical backup: it has no point in time to roll forward to`,
        'drop --to-time (it needs a physical backup)',
        2,
      );
    return restoreLogical(opts, last);
  }
  if (opts.services?.length || opts.replace)
    throw new OsbError(
      `${last.manifest.id} is a physical backup: it restores the whole deployment into a fresh one`,
      '--service and --replace are for logical backups (osb backup --logical); drop them',
      2,
    );
  const kind = last.manifest.kind;
  if (state && Object.keys(state.instances).length) {
    throw new OsbError(
      `${stateDir} already holds a deployment (${Object.keys(state.instances).join(', ')})`,
      'restore into a fresh deployment: `osb destroy` first, or use another --state-dir',
      2,
    );
  }
  const comps = backupComponents(COMPONENTS.filter((c) => last.manifest.components[c]));
  for (const c of comps) {
    if (existsSync(join(stateDir, c)))
      throw new OsbError(
        `${join(stateDir, c)} exists (data of an earlier deployment)`,
        'restore into a fresh deployment: `osb destroy` first, or use another --state-dir',
        2,
      );
  }
  const userValues = deepMerge(state?.userValues ?? last.manifest.userValues, loadValuesTree(opts));
  const config = resolveConfig(userValues);
  for (const c of comps)
    if (!config[c].enabled) throw new OsbError(`the backup holds ${c}, but ${c}.enabled=false here`, `enable it with --set ${c}.enabled=true`, 2);
  const secrets = JSON.parse(readFileSync(join(last.dir, SECRETS), 'utf8')) as Secrets;
  const existingSecrets = readSecrets(stateDir);
  if (existingSecrets && JSON.stringify(existingSecrets) !== JSON.stringify(secrets)) {
    throw new OsbError(
      `${secretsPath(stateDir)} holds other passwords than the backup`,
      'restore into a fresh state dir (osb destroy removes it), so the restored users keep their passwords',
      2,
    );
  }
  for (const c of comps) await hooks(c)!.restorePreflight?.({ chain: chainLinks(chain, c), toTime: opts.toTime, backupRoot: chain.root });
  await preflightFreshPorts(config);

  // 2. Data in place (stopped), then a normal deploy that bootstraps from it, then imports.
  ensureStateDir(stateDir);
  writeSecrets(stateDir, secrets);
  const newState: LocalState = { version: 1, userValues, instances: {} };
  writeState(stateDir, newState);
  const workDir = join(stateDir, '.restore-work');
  let step = 'placing the data';
  try {
    rmSync(workDir, { recursive: true, force: true });
    mkdirSync(workDir, { recursive: true, mode: 0o700 });
    let forceBootstrap: string | undefined;
    const runtime = localRuntime(stateDir, newState);
    for (const c of comps) {
      const h = hooks(c)!;
      if (!h.restoreData) continue;
      const [r] = await opts.progress.run([
        {
          title: `${c}: restoring ${last.manifest.id}${opts.toTime ? ` to ${opts.toTime}` : ''}`,
          task: (report) =>
            h.restoreData!({
              config,
              secrets,
              runtime,
              chain: chainLinks(chain, c),
              nodes: localInstances(config, stateDir, secrets, [c]).get(c) ?? [],
              toTime: opts.toTime,
              backupRoot: chain.root,
              workDir,
              report,
            }),
        },
      ]);
      forceBootstrap ??= r.forceBootstrap;
    }
    rmSync(workDir, { recursive: true, force: true });
    step = 'starting the deployment';
    await deployLocal({ stateDir, progress: opts.progress, forceBootstrap });
    step = 'importing';
    for (const c of comps) {
      const h = hooks(c)!;
      if (!h.restoreAfterStart) continue;
      const link = chainLinks(chain, c).pop()!;
      await h.restoreAfterStart({
        config,
        secrets,
        part: link.part,
        dir: link.dir,
        nodes: localInstances(config, stateDir, secrets, [c]).get(c) ?? [],
        report: opts.report,
      });
    }
  } catch (err) {
    await destroyLocal({ stateDir, keepData: true, progress: opts.progress }).catch(() => {});
    const why = err instanceof OsbError ? err.line : (err as Error).message;
    throw new OsbError(
      `restore of ${last.manifest.id} failed while ${step}: ${why}. The deployment in ${stateDir} is STOPPED (nothing serves half-restored data)`,
      'fix the cause, then `osb destroy` and run the restore again',
      1,
    );
  }
  return { stateDir, id: last.manifest.id, kind, components: comps, seconds: (Date.now() - t0) / 1000 };
}
