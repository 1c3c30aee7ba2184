/**
 * Per-service logical backups on the local target: `osb backup --logical [service ...]`, their
 * restore into a running deployment (`osb restore <logical backup> [--service X] [--replace]`),
 * their verification in a scratch server, and their retention. Generic: it loops over the
 * components whose backup hooks have `logical` (src/model/backup.ts). See docs/backup.md.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pkg from '../../../package.json' with { type: 'json' };
import { COMPONENTS, type ComponentName, type Config } from '../../config/schema.js';
import { writeSecrets } from '../../config/secrets.js';
import type { BackupManifest, RestoredCheck } from '../../model/backup.js';
import { planServices } from '../../model/services.js';
import { servicePassword } from '../../openstack/credentials.js';
import { didYouMean, OsbError } from '../../util/errors.js';
import type { Progress } from '../../util/progress.js';
import { backupRoot, hashFiles, hooks, listManifests, MANIFEST, scratchPort, VERIFY, writeJson } from './backup-files.js';
import { type DeploymentSources, deployedComponents, openDeployment } from './context.js';
import { localEndpoints } from './endpoints.js';
import { localInstances } from './instances.js';
import { withStateLock } from './lock.js';

/** The services' passwords (0600): the target keeps printing the URL the restored accounts accept. */
export const PASSWORDS = 'service-passwords.json';

const logicalComponents = (cs: readonly ComponentName[]) => cs.filter((c) => hooks(c)?.logical);

export interface LogicalBackupOptions extends DeploymentSources {
  /** Services to dump (default: every provisioned one in openstack.services). */
  services: string[];
  to?: string;
  progress: Progress;
}

export interface LogicalBackupResult {
  id: string;
  dir: string;
  kind: 'logical';
  services: string[];
  totalBytes: number;
  seconds: number;
  verified: boolean;
  problems: string[];
  removed: string[];
}

export async function takeLogicalBackup(opts: LogicalBackupOptions): Promise<LogicalBackupResult> {
  const d = openDeployment(opts);
  const comps = logicalComponents(deployedComponents(d));
  if (!comps.length) throw new OsbError(`nothing to dump in ${d.stateDir}: MariaDB is not deployed there`, 'deploy it first: osb deploy mariadb', 3);
  const specs = planServices(d.config);
  for (const name of opts.services) {
    if (specs.some((s) => s.name === name)) continue;
    const hint = didYouMean(
      name,
      specs.map((s) => s.name),
    );
    throw new OsbError(
      `service "${name}" is not in openstack.services of ${d.stateDir}`,
      hint ? `did you mean "${hint}"? (configured: ${specs.map((s) => s.name).join(', ')})` : `configured services: ${specs.map((s) => s.name).join(', ')}`,
      2,
    );
  }
  const chosen = opts.services.length ? specs.filter((s) => opts.services.includes(s.name)) : specs;
  const root = backupRoot(d.config, d.stateDir, opts.to);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  return withStateLock(root, async () => {
    const t0 = Date.now();
    const startedAt = new Date();
    const id = `${startedAt.toISOString().replace(/[-:.]/g, '')}-logical`;
    const partial = join(root, `.${id}.partial`);
    const final = join(root, id);
    mkdirSync(partial, { recursive: true, mode: 0o700 });
    try {
      const parts: BackupManifest['components'] = {};
      const services = new Set<string>();
      await opts.progress.run(
        comps.map((c) => ({
          title: `${c}: logical dump of ${opts.services.length ? opts.services.join(', ') : 'every provisioned service'}`,
          task: async (report: (m: string) => void) => {
            const dir = join(partial, c);
            mkdirSync(dir, { recursive: true, mode: 0o700 });
            const r = await hooks(c)!.logical!.take({
              config: d.config,
              secrets: d.secrets,
              stateDir: d.stateDir,
              dir,
              nodes: localInstances(d.config, d.stateDir, d.secrets, [c]).get(c) ?? [],
              services: chosen,
              explicit: opts.services.length > 0,
              report,
            });
            parts[c] = r.part;
            for (const s of r.services) services.add(s);
          },
        })),
      );
      const names = chosen.map((s) => s.name).filter((n) => services.has(n));
      const passwords = Object.fromEntries(chosen.filter((s) => services.has(s.name)).map((s) => [s.name, servicePassword(d.stateDir, d.secrets, s, false)]));
      writeJson(join(partial, PASSWORDS), passwords);
      const files = await hashFiles(partial);
      const manifest: BackupManifest = {
        format: 1,
        id,
        kind: 'logical',
        services: names,
        startedAt: startedAt.toISOString(),
        finishedAt: new Date().toISOString(),
        osbVersion: pkg.version,
        userValues: d.state.userValues,
        components: parts,
        files,
        totalBytes: files.reduce((s, f) => s + f.size, 0),
      };
      writeJson(join(partial, MANIFEST), manifest);
      // Like a physical backup: loaded into a scratch server before it is called done; its checksums are recorded.
      const [checks] = await opts.progress.run([
        { title: 'checking the dump in a scratch server', task: (report) => verifyLogical(partial, manifest, d.config, root, report) },
      ]);
      for (const [c, r] of Object.entries(checks)) {
        if (r.facts.tableChecksums) manifest.components[c as ComponentName]!.tableChecksums = r.facts.tableChecksums;
      }
      writeJson(join(partial, MANIFEST), manifest);
      const problems = Object.entries(checks).flatMap(([c, r]) => r.problems.map((p) => `${c}: ${p}`));
      writeJson(join(partial, VERIFY), { at: new Date().toISOString(), ok: problems.length === 0, problems, when: 'backup' });
      renameSync(partial, final);
      const removed = problems.length ? [] : applyLogicalRetention(root, d.config);
      return {
        id,
        dir: final,
        kind: 'logical',
        services: names,
        totalBytes: manifest.totalBytes,
        seconds: (Date.now() - t0) / 1000,
        verified: problems.length === 0,
        problems,
        removed,
      };
    } catch (err) {
      rmSync(partial, { recursive: true, force: true });
      throw err;
    }
  });
}

/**
 * Retention of logical backups, apart from the physical chains: `backup.keep` applies to each set
 * of services on its own (all `--logical keystone` backups, all `--logical` of every service, ...):
 * the newest `count` of a set stay, older ones past `maxAgeDays` go, and the newest of a set always stays.
 */
export function applyLogicalRetention(root: string, config: Config, now = Date.now()): string[] {
  const { count, maxAgeDays } = config.backup.keep;
  if (count === undefined && maxAgeDays === undefined) return [];
  const groups = new Map<string, { dir: string; manifest: BackupManifest }[]>();
  for (const b of listManifests(root)) {
    if (b.manifest.kind !== 'logical') continue;
    const key = [...(b.manifest.services ?? [])].sort().join(',');
    groups.set(key, [...(groups.get(key) ?? []), b]);
  }
  const removed: string[] = [];
  for (const members of groups.values()) {
    // listManifests sorts by id (the UTC start time): oldest first, the newest last and always kept.
    members.slice(0, -1).forEach((b, i) => {
      const tooMany = count !== undefined && members.length - i > count;
      const tooOld = maxAgeDays !== undefined && now - new Date(b.manifest.finishedAt).getTime() > maxAgeDays * 86400_000;
      if (!tooMany && !tooOld) return;
      rmSync(b.dir, { recursive: true, force: true });
      removed.push(b.manifest.id);
    });
  }
  return removed;
}

function readPasswords(dir: string): Record<string, string> {
  const f = join(dir, PASSWORDS);
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as Record<string, string>) : {};
}

/** Loads a logical backup into a scratch server per component and checks it (files were checked before). */
export async function verifyLogical(
  dir: string,
  m: BackupManifest,
  config: Config,
  root: string,
  report: (m: string) => void,
): Promise<Record<string, RestoredCheck>> {
  const results: Record<string, RestoredCheck> = {};
  for (const c of logicalComponents(COMPONENTS)) {
    const part = m.components[c];
    if (!part) continue;
    const workDir = join(root, `.verify-${m.id}-${process.pid}`);
    rmSync(workDir, { recursive: true, force: true });
    mkdirSync(workDir, { recursive: true, mode: 0o700 });
    try {
      results[c] = await hooks(c)!.logical!.verifyScratch({
        dir: join(dir, c),
        part,
        passwords: readPasswords(dir),
        workDir,
        port: await scratchPort(config),
        host: '127.0.0.1',
        report,
      });
    } catch (err) {
      results[c] = { ok: false, problems: [(err as Error).message], facts: {} };
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
  }
  return results;
}

export interface LogicalRestoreOptions extends DeploymentSources {
  /** Only these services of the backup (default: all of them). */
  services?: string[];
  /** Drop and reload databases that already hold data. */
  replace?: boolean;
  progress: Progress;
}

export interface LogicalRestoreResult {
  stateDir: string;
  id: string;
  kind: 'logical';
  services: string[];
  components: ComponentName[];
  seconds: number;
  ok: boolean;
  problems: string[];
}

/**
 * Loads a logical backup (its files already checked) into the running deployment of opts.stateDir:
 * every check first (services known there, passwords not contradicting its config, databases
 * empty unless --replace), then per service its accounts, databases and a check of what loaded.
 */
export async function restoreLogical(opts: LogicalRestoreOptions, backup: { dir: string; manifest: BackupManifest }): Promise<LogicalRestoreResult> {
  const t0 = Date.now();
  const m = backup.manifest;
  if (opts.set?.length || opts.values?.length)
    throw new OsbError(
      `${m.id} is a logical backup: it is loaded into the running deployment as it is configured, so --set/-f are not used`,
      'drop --set/-f (change the deployment with osb deploy first, if needed)',
      2,
    );
  const d = openDeployment({ stateDir: opts.stateDir });
  const inBackup = m.services ?? [];
  for (const s of opts.services ?? [])
    if (!inBackup.includes(s)) throw new OsbError(`backup ${m.id} holds ${inBackup.join(', ')}, not ${s}`, `pick --service from: ${inBackup.join(', ')}`, 2);
  const services = opts.services?.length ? inBackup.filter((s) => opts.services!.includes(s)) : inBackup;
  const comps = logicalComponents(COMPONENTS.filter((c) => m.components[c]));
  const deployed = deployedComponents(d);
  for (const c of comps)
    if (!deployed.includes(c))
      throw new OsbError(`the backup holds ${c} data, but ${c} is not deployed in ${d.stateDir}`, `deploy it first: osb deploy ${c}`, 3);
  const specs = planServices(d.config);
  const passwords = readPasswords(backup.dir);
  for (const s of services) {
    const spec = specs.find((x) => x.name === s);
    if (!spec)
      throw new OsbError(
        `service ${s} is not in openstack.services of ${d.stateDir}`,
        `add it (e.g. --set 'openstack.services={${[...specs.map((x) => x.name), s].join(',')}}') and run osb deploy, then restore`,
        2,
      );
    if (spec.configuredPassword !== undefined && passwords[s] !== undefined && spec.configuredPassword !== passwords[s])
      throw new OsbError(
        `openstack.services gives ${s} another password than the backup's account has`,
        `remove the password of ${s} from the config (or set the backup's), so its printed URL matches the restored account`,
        2,
      );
  }
  return withStateLock(d.stateDir, async () => {
    const endpoints = localEndpoints(d.config, d.secrets, d.stateDir, comps);
    const workDir = join(d.stateDir, `.restore-logical-${process.pid}`);
    rmSync(workDir, { recursive: true, force: true });
    mkdirSync(workDir, { recursive: true, mode: 0o700 });
    const ctx = (c: ComponentName, report: (msg: string) => void) => ({
      config: d.config,
      secrets: d.secrets,
      endpoints,
      dir: join(backup.dir, c),
      part: m.components[c]!,
      services,
      replace: !!opts.replace,
      workDir,
      report,
    });
    try {
      for (const c of comps) await hooks(c)!.logical!.restorePreflight(ctx(c, () => {}));
      // From here on the target changes. The passwords first: should a load fail half-way, the next
      // `osb deploy` / `osb provision` converges the accounts on what the target's secrets say.
      for (const s of services) {
        const spec = specs.find((x) => x.name === s)!;
        if (spec.configuredPassword === undefined && passwords[s] !== undefined) d.secrets.services[s] = passwords[s];
      }
      writeSecrets(d.stateDir, d.secrets);
      const problems: string[] = [];
      for (const c of comps) {
        const [r] = await opts.progress.run([
          {
            title: `${c}: loading ${services.join(', ')} from ${m.id}${opts.replace ? ' (--replace)' : ''}`,
            task: (report) =>
              hooks(c)!
                .logical!.restore(ctx(c, report))
                .catch((err: Error) => {
                  const why = err instanceof OsbError ? err.line : err.message;
                  throw new OsbError(
                    `restore of ${m.id} into ${d.stateDir} failed while loading: ${why}. The databases of ${services.join(', ')} may be partly loaded`,
                    'fix the cause, then run the same restore again with --replace',
                    1,
                  );
                }),
          },
        ]);
        problems.push(...r.problems.map((p) => `${c}: ${p}`));
      }
      return {
        stateDir: d.stateDir,
        id: m.id,
        kind: 'logical' as const,
        services,
        components: comps,
        seconds: (Date.now() - t0) / 1000,
        ok: !problems.length,
        problems,
      };
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
  });
}
