/**
 * TLS material of the local target: the CA and one certificate per node, issued before the
 * daemons start (osb deploy) and re-issued by `osb certs rotate` or automatically past 2/3 of a
 * certificate's lifetime; running daemons then reload them through their component's `reloadTls`.
 */
import { existsSync } from 'node:fs';
import { definition } from '../../components/index.js';
import type { ComponentName, Config } from '../../config/schema.js';
import type { Secrets } from '../../config/secrets.js';
import { daysLeft, ensureCa, EXPIRY_WARNING_DAYS, issueNodeCert, localSans, nodeTlsFiles, readCert, renewalReason } from '../../config/tls.js';
import type { LocalInstance } from '../../model/local.js';
import { OsbError } from '../../util/errors.js';
import type { Progress } from '../../util/progress.js';
import { deployedComponents, openDeployment, type DeploymentSources } from './context.js';
import { localInstances } from './instances.js';
import { withStateLock } from './lock.js';
import { runningPid } from './runner.js';

export interface IssuedCert {
  node: string;
  serial: string;
  notAfter: string;
  reason: string;
}

/** Issues the node certificates that are missing, stale or (force) all of them. Returns the nodes that got a new one. */
export async function ensureLocalCerts(
  config: Config,
  stateDir: string,
  instances: LocalInstance[],
  force?: string,
): Promise<{ inst: LocalInstance; cert: IssuedCert }[]> {
  if (!config.tls.enabled) return [];
  await ensureCa(stateDir, config.tls);
  const sans = localSans(config);
  const out: { inst: LocalInstance; cert: IssuedCert }[] = [];
  for (const inst of instances) {
    const files = nodeTlsFiles(inst.dir);
    const reason = force ?? renewalReason(files, stateDir, sans);
    if (!reason) continue;
    const info = await issueNodeCert(stateDir, config.tls, inst.name, files, sans);
    out.push({ inst, cert: { node: inst.name, serial: info.serial, notAfter: info.notAfter.toISOString(), reason } });
  }
  return out;
}

/** Makes running daemons load their (new) certificate files without a restart. */
export async function reloadCerts(config: Config, secrets: Secrets, instances: LocalInstance[], report: (m: string) => void): Promise<string[]> {
  // Independent per node (each its own daemon and files): in parallel.
  const done = await Promise.all(
    instances.map(async (inst) => {
      if (!runningPid(inst)) return undefined;
      const reload = definition(inst.component).local.reloadTls;
      if (!reload) throw new OsbError(`${inst.component} cannot reload certificates`, `restart it: osb restart ${inst.component} --rolling`);
      await reload(config, secrets, inst);
      report(`${inst.name}: certificate reloaded`);
      return inst.name;
    }),
  );
  return done.filter((n): n is string => !!n);
}

export interface RotateResult {
  issued: IssuedCert[];
  reloaded: string[];
}

/** `osb certs rotate`: a new certificate for every node of the deployed components, loaded without restarting anything. */
export async function rotateLocalCerts(opts: DeploymentSources & { components?: ComponentName[]; progress: Progress }): Promise<RotateResult> {
  const d = openDeployment(opts);
  if (!d.config.tls.enabled)
    throw new OsbError('TLS is not enabled in this deployment', 'turn it on with `osb deploy --set tls.enabled=true` (see docs/tls.md)', 2);
  const components = deployedComponents(d, opts.components);
  return withStateLock(d.stateDir, async () => {
    const instances = [...localInstances(d.config, d.stateDir, d.secrets, components).values()].flat();
    const [result] = await opts.progress.run([
      {
        title: `certificates: ${instances.length} node${instances.length === 1 ? '' : 's'}`,
        task: async (report: (m: string) => void): Promise<RotateResult> => {
          const issued = await ensureLocalCerts(d.config, d.stateDir, instances, 'rotation requested');
          report(`issued ${issued.length} certificates`);
          const reloaded = await reloadCerts(
            d.config,
            d.secrets,
            issued.map((i) => i.inst),
            report,
          );
          return { issued: issued.map((i) => i.cert), reloaded };
        },
      },
    ]);
    return result!;
  });
}

/** A node's certificate as `osb status` shows it. */
export interface NodeCertStatus {
  serial: string;
  notAfter: string;
  daysLeft: number;
  /** Within EXPIRY_WARNING_DAYS of expiry, or expired. */
  warning?: string;
}

export function nodeCertStatus(config: Config, inst: LocalInstance): NodeCertStatus | undefined {
  if (!config.tls.enabled) return undefined;
  const f = nodeTlsFiles(inst.dir);
  if (!existsSync(f.cert)) return undefined;
  const info = readCert(f.cert);
  const left = daysLeft(info);
  const warning = left < 0 ? 'certificate EXPIRED' : left <= EXPIRY_WARNING_DAYS ? `certificate expires in ${left} days: run \`osb certs rotate\`` : undefined;
  return { serial: info.serial, notAfter: info.notAfter.toISOString(), daysLeft: left, ...(warning ? { warning } : {}) };
}
