/**
 * TLS material of the local target: the CA and one certificate per node, issued before the
 * daemons start (osb deploy) and re-issued by `osb certs rotate` or automatically past 2/3 of a
 * certificate's lifetime; running daemons then reload them through their component's `reloadTls`.
 */
import { existsSync } from 'node:fs';
import { definition } from '../../components/index.js';
import type { ComponentName, Config } from '../../config/schema.js';
import type { Secrets } from '../../config/secrets.js';
import {
  daysLeft,
  dropRetiredCa,
  ensureCa,
  EXPIRY_WARNING_DAYS,
  issueNodeCert,
  localSans,
  nodeBundleStale,
  nodeTlsFiles,
  readCert,
  refreshNodeBundle,
  renewalDueAt,
  renewalReason,
  rotateCa,
} from '../../config/tls.js';
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

/**
 * Issues the node certificates that are missing, stale or (force) all of them, and copies a changed
 * CA bundle to the nodes that keep their certificate. Returns the nodes whose files changed (`cert`
 * set when a certificate was issued) — the ones a running daemon must reload. `everyNode` (default
 * `instances`) are all nodes of the deployment: the retired CA leaves the bundle only once every one
 * of them carries a certificate from the new CA.
 */
export async function ensureLocalCerts(
  config: Config,
  stateDir: string,
  instances: LocalInstance[],
  force?: string,
  everyNode: LocalInstance[] = instances,
): Promise<{ inst: LocalInstance; cert?: IssuedCert }[]> {
  if (!config.tls.enabled) return [];
  await ensureCa(stateDir, config.tls);
  dropRetiredCa(
    stateDir,
    everyNode.map((i) => nodeTlsFiles(i.dir).cert),
  );
  const sans = localSans(config);
  const out: { inst: LocalInstance; cert?: IssuedCert }[] = [];
  for (const inst of instances) {
    const files = nodeTlsFiles(inst.dir);
    const reason = force ?? renewalReason(files, stateDir, sans);
    if (!reason) {
      if (nodeBundleStale(files, stateDir)) {
        refreshNodeBundle(files, stateDir);
        out.push({ inst });
      }
      continue;
    }
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
  /** With --ca: the new CA's serial and the nodes that reloaded the bundle trusting old and new CA. */
  ca?: { serial: string; notAfter: string; bundleReloaded: string[] };
  issued: IssuedCert[];
  reloaded: string[];
}

/**
 * `osb certs rotate`: a new certificate for every node of the deployed components, loaded without
 * restarting anything. With `ca`: first a new CA, whose bundle (old + new CA) every node of the
 * deployment loads before any node presents a certificate from the new CA.
 */
export async function rotateLocalCerts(opts: DeploymentSources & { components?: ComponentName[]; ca?: boolean; progress: Progress }): Promise<RotateResult> {
  const d = openDeployment(opts);
  if (!d.config.tls.enabled)
    throw new OsbError('TLS is not enabled in this deployment', 'turn it on with `osb deploy --set tls.enabled=true` (see docs/tls.md)', 2);
  const components = deployedComponents(d, opts.components);
  return withStateLock(d.stateDir, async () => {
    const everyNode = [...localInstances(d.config, d.stateDir, d.secrets, deployedComponents(d)).values()].flat();
    const instances = [...localInstances(d.config, d.stateDir, d.secrets, components).values()].flat();
    const steps = [];
    let ca: RotateResult['ca'];
    if (opts.ca)
      steps.push({
        title: `new CA, trusted beside the old one by ${everyNode.length} node${everyNode.length === 1 ? '' : 's'}`,
        task: async (report: (m: string) => void): Promise<void> => {
          const info = await rotateCa(d.stateDir, d.config.tls);
          const changed = everyNode.filter((i) => nodeBundleStale(nodeTlsFiles(i.dir), d.stateDir));
          for (const i of changed) refreshNodeBundle(nodeTlsFiles(i.dir), d.stateDir);
          const bundleReloaded = await reloadCerts(d.config, d.secrets, changed, report);
          ca = { serial: info.serial, notAfter: info.notAfter.toISOString(), bundleReloaded };
        },
      });
    steps.push({
      title: `certificates: ${instances.length} node${instances.length === 1 ? '' : 's'}`,
      task: async (report: (m: string) => void): Promise<void> => {
        const issued = await ensureLocalCerts(d.config, d.stateDir, instances, 'rotation requested', everyNode);
        report(`issued ${issued.length} certificates`);
        const reloaded = await reloadCerts(
          d.config,
          d.secrets,
          issued.map((i) => i.inst),
          report,
        );
        result = { ...(ca ? { ca } : {}), issued: issued.flatMap((i) => (i.cert ? [i.cert] : [])), reloaded };
      },
    });
    let result: RotateResult = { issued: [], reloaded: [] };
    await opts.progress.run(steps);
    return result;
  });
}

export interface RenewResult {
  /** Certificates issued because they were due (past 2/3 of their lifetime, a SAN missing, another CA...). */
  issued: IssuedCert[];
  /** Nodes that only got the deployment's current CA bundle (a retired CA dropped). */
  bundleRefreshed: string[];
  /** Running daemons that loaded their new files (no restart). */
  reloaded: string[];
  /** Nothing was due: the node due first, and when. */
  nextDue?: { node: string; at: string };
}

/**
 * `osb certs renew` (what the daily certs timer runs): renews only the node certificates that are due,
 * on every node of the deployment, and makes running daemons load them without a restart, as
 * `osb certs rotate` does. Nothing due: changes nothing and says when the first one will be.
 */
export async function renewDueLocalCerts(opts: DeploymentSources & { report: (m: string) => void }): Promise<RenewResult> {
  const d = openDeployment(opts);
  if (!d.config.tls.enabled)
    throw new OsbError('TLS is not enabled in this deployment', 'turn it on with `osb deploy --set tls.enabled=true` (see docs/tls.md)', 2);
  return withStateLock(d.stateDir, async () => {
    const nodes = [...localInstances(d.config, d.stateDir, d.secrets, deployedComponents(d)).values()].flat();
    const changed = await ensureLocalCerts(d.config, d.stateDir, nodes);
    for (const c of changed) opts.report(c.cert ? `${c.inst.name}: renewing (${c.cert.reason})` : `${c.inst.name}: new CA bundle`);
    const reloaded = await reloadCerts(
      d.config,
      d.secrets,
      changed.map((c) => c.inst),
      opts.report,
    );
    const issued = changed.flatMap((c) => (c.cert ? [c.cert] : []));
    const bundleRefreshed = changed.filter((c) => !c.cert).map((c) => c.inst.name);
    let nextDue: RenewResult['nextDue'];
    if (!changed.length) {
      for (const inst of nodes) {
        const f = nodeTlsFiles(inst.dir).cert;
        if (!existsSync(f)) continue;
        const at = renewalDueAt(readCert(f));
        if (!nextDue || at.toISOString() < nextDue.at) nextDue = { node: inst.name, at: at.toISOString() };
      }
    }
    return { issued, bundleRefreshed, reloaded, ...(nextDue ? { nextDue } : {}) };
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
