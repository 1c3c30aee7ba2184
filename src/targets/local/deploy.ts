import type { ComponentName, Config } from '../../config/schema.js';
import { ensureSecrets, type Secrets } from '../../config/secrets.js';
import { OsbError } from '../../util/errors.js';
import type { Progress } from '../../util/progress.js';
import { deployGalera, type GaleraOptions } from './galera.js';
import type { LocalInstance } from '../../model/local.js';
import { localInstances } from './instances.js';
import { withStateLock } from './lock.js';
import { ensurePackages, missingPackages } from './packages.js';
import { ensureStateDir } from '../../config/state-dir.js';
import { preflightFreshPorts } from './preflight.js';
import { instanceHash, runningPid, startInstance, stopInstance, takenPorts } from './runner.js';
import { readState, writeState, type LocalState } from './state.js';
import { resolveDeployConfig, type DeploymentSources } from './context.js';
import { provisionServices, type ProvisionResult } from '../../openstack/provision.js';
import { planServices } from '../../model/services.js';
import { localAdminAccess } from './admin.js';
import { ensureProxy } from './proxy.js';

export type NodeAction = 'unchanged' | 'started' | 'restarted' | 'recovered';

export interface NodeResult {
  name: string;
  address: string;
  action: NodeAction;
  reason?: string;
  pid: number;
}

export interface ComponentResult {
  component: ComponentName;
  nodes: NodeResult[];
  changed: boolean;
}

export interface DeployResult {
  stateDir: string;
  config: Config;
  components: ComponentResult[];
  changed: boolean;
  /** Per OpenStack service, when provisioning ran. */
  provisioning?: { service: string; changed: boolean }[];
}

export interface DeployOptions extends DeploymentSources {
  components?: ComponentName[];
  progress: Progress;
  /** Galera recovery override (`osb recover --force-bootstrap NODE`). */
  galera?: GaleraOptions;
}

/** What must happen to one node, decided before anything changes. */
export interface NodePlan {
  inst: LocalInstance;
  hash: string;
  pid: number | undefined;
  action: NodeAction;
  reason?: string;
}

export function planNode(inst: LocalInstance, state: LocalState | undefined): NodePlan {
  const hash = instanceHash(inst);
  const pid = runningPid(inst);
  const rec = state?.instances[inst.name];
  if (pid && rec?.hash === hash) return { inst, hash, pid, action: 'unchanged' };
  if (pid) return { inst, hash, pid, action: 'restarted', reason: 'config changed' };
  if (rec) return { inst, hash, pid, action: 'recovered', reason: 'was not running' };
  return { inst, hash, pid, action: 'started' };
}

/** Port clashes for every node that will bind anew; checked before anything changes. */
async function preflightPorts(plans: NodePlan[], state: LocalState | undefined, bindAddress: string): Promise<void> {
  for (const p of plans) {
    if (p.action === 'unchanged') continue;
    const heldByUs = new Set(p.pid ? (state?.instances[p.inst.name]?.ports ?? []) : []);
    const taken = (await takenPorts(p.inst, bindAddress)).filter((t) => !heldByUs.has(t.port));
    if (taken.length) {
      const t = taken[0]!;
      throw new OsbError(
        `port ${t.port} (${t.key}) on ${bindAddress} is already in use by another process`,
        `stop that process or choose another port, e.g. --set ${t.key.split(' ')[0]}=${t.port + 100}`,
      );
    }
  }
}

async function applyNode(p: NodePlan, report: (m: string) => void, stateDir: string, state: LocalState): Promise<NodeResult> {
  if (p.action === 'unchanged') {
    return { name: p.inst.name, address: `${p.inst.host}:${p.inst.port}`, action: p.action, pid: p.pid! };
  }
  if (p.pid) {
    report(`${p.inst.name}: stopping (${p.reason})`);
    await stopInstance(p.inst);
  }
  const pid = await startInstance(p.inst, { onProgress: report });
  recordNode(state, p, stateDir);
  return { name: p.inst.name, address: `${p.inst.host}:${p.inst.port}`, action: p.action, reason: p.reason, pid };
}

export function recordNode(state: LocalState, p: NodePlan, stateDir: string): void {
  state.instances[p.inst.name] = { hash: p.hash, ports: p.inst.ports.map((x) => x.port), startedAt: new Date().toISOString() };
  writeState(stateDir, state);
}

export async function deployLocal(opts: DeployOptions): Promise<DeployResult> {
  // Everything that can be wrong with the input is found before the first change.
  const resolved = resolveDeployConfig(opts);
  const { stateDir, config, userValues } = resolved;
  planServices(config); // unknown/duplicate services, shared databases: refused before anything is written
  const requested = opts.components?.length ? opts.components : undefined;
  for (const c of requested ?? []) {
    if (!config[c].enabled) throw new OsbError(`${c} is disabled in the config (${c}.enabled=false)`, `enable it with --set ${c}.enabled=true`);
  }
  if (!resolved.state) await preflightFreshPorts(config, requested);
  ensureStateDir(stateDir);
  return withStateLock(stateDir, async () => {
    const state: LocalState = readState(stateDir) ?? { version: 1, userValues: {}, instances: {} };
    state.userValues = userValues;
    const missing = missingPackages(
      (requested ?? (['rabbitmq', 'mariadb', 'memcached'] as ComponentName[])).filter((c) => config[c].enabled),
      config.mariadb.replicas > 1,
    );
    if (missing.length) {
      await opts.progress.run([{ title: `Installing packages: ${missing.join(', ')}`, task: (report) => ensurePackages(missing, report) }]);
    }
    const secrets: Secrets = ensureSecrets(stateDir);
    const instances = localInstances(config, stateDir, secrets, requested);
    const plans = new Map<ComponentName, NodePlan[]>();
    for (const [c, list] of instances) plans.set(c, list.map((i) => planNode(i, state)));
    await preflightPorts([...plans.values()].flat(), state, config.bindAddress);

    const results = await opts.progress.run(
      [...plans].map(([component, nodePlans]) => ({
        title: `${component}: ${nodePlans.length} node${nodePlans.length > 1 ? 's' : ''}`,
        task: async (report: (m: string) => void): Promise<ComponentResult> => {
          const nodes =
            component === 'mariadb' && config.mariadb.replicas > 1
              ? await deployGalera(nodePlans, report, stateDir, state, opts.galera).then(async (nodes) => [...nodes, await ensureProxy(config, stateDir, secrets, state, report)])
              : await Promise.all(nodePlans.map((p) => applyNode(p, report, stateDir, state)));
          const changed = nodes.some((n) => n.action !== 'unchanged');
          report(changed ? nodes.map((n) => `${n.name} ${n.action}`).join(', ') : 'unchanged');
          return { component, nodes, changed };
        },
      })),
      { concurrent: true },
    );
    writeState(stateDir, state);
    let provisioning: ProvisionResult[] | undefined;
    if (config.openstack.provision && (config.mariadb.enabled || config.rabbitmq.enabled) && config.openstack.services.length) {
      const touched = (c: ComponentName) => config[c].enabled && (!requested || requested.includes(c));
      if (touched('mariadb') || touched('rabbitmq')) {
        [provisioning] = await opts.progress.run([
          {
            title: `OpenStack services: databases, users, vhosts`,
            task: async (report) => {
              // Only what is deployed here: `osb deploy mariadb` on a fresh state dir has no broker yet.
              const admin = localAdminAccess(config, secrets, stateDir);
              const deployed = (c: ComponentName) => Object.keys(state.instances).some((n) => n.startsWith(`${c}-`));
              if (!deployed('mariadb')) delete admin.mariadb;
              if (!deployed('rabbitmq')) delete admin.rabbitmq;
              const r = await provisionServices(config, admin, secrets, stateDir);
              report(r.map((x) => `${x.service}${x.changed ? ' provisioned' : ''}`).join(', '));
              return r;
            },
          },
        ]);
      }
    }
    const changed = results.some((r) => r.changed) || !!provisioning?.some((p) => p.changed);
    return { stateDir, config, components: results, changed, provisioning };
  });
}
