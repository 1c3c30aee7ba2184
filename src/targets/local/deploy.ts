import { createHash } from 'node:crypto';
import type { DeployedSchedule } from './schedules.js';
import { definition, missingPackages } from '../../components/index.js';
import { COMPONENTS, type ComponentName, type Config } from '../../config/schema.js';
import { ensureSecrets, type Secrets } from '../../config/secrets.js';
import { ensureStateDir } from '../../config/state-dir.js';
import type { LocalInstance, LocalRuntime, NodePlan, NodeResult } from '../../model/local.js';
import { accountName, planServices } from '../../model/services.js';
import { adminAccess, provisionServices, type ProvisionResult } from '../../openstack/provision.js';
import { OsbError } from '../../util/errors.js';
import type { Progress } from '../../util/progress.js';
import { resolveDeployConfig, type DeploymentSources } from './context.js';
import { localEndpoints } from './endpoints.js';
import { localExtras, localInstances } from './instances.js';
import { entrypoint, type ScheduleChange, supervisorFor, type SupervisorChoice } from './supervisor.js';
import { cronHint, cronLine, scheduledJobs } from './schedules.js';
import { jobTimerName } from './systemd.js';
import { userInfo } from 'node:os';
import { withStateLock } from './lock.js';
import { ensurePackages } from './packages.js';
import { preflightFreshPorts } from './preflight.js';
import { takenPorts } from './runner.js';
import { localRuntime, planNode } from './runtime.js';
import { readState, writeState, type LocalState } from './state.js';
import { ensureLocalCerts, reloadCerts } from './tls.js';

export type { NodeAction, NodeResult } from '../../model/local.js';

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
  /** Who restarts the daemons between osb commands. */
  supervision: SupervisorChoice;
  /** Scheduled day-2 jobs (backups, binlog archiving, certificate renewal): systemd timers, or crontab lines to add. */
  schedules: DeployedSchedule[];
  /** Under systemd: the jobs whose units this deploy installed or changed, and removed. */
  scheduleChange?: ScheduleChange;
}

export interface DeployOptions extends DeploymentSources {
  components?: ComponentName[];
  progress: Progress;
  /** Galera recovery override (`osb recover --force-bootstrap NODE`). */
  forceBootstrap?: string;
}

/** Step 1, before any change: the config, the services, the requested components, and (fresh deployments) every port. */
async function planDeploy(opts: DeployOptions) {
  const resolved = resolveDeployConfig(opts);
  const { config } = resolved;
  planServices(config); // unknown/duplicate services, shared databases: refused before anything is written
  const requested = opts.components?.length ? opts.components : undefined;
  for (const c of requested ?? []) {
    if (!config[c].enabled) throw new OsbError(`${c} is disabled in the config (${c}.enabled=false)`, `enable it with --set ${c}.enabled=true`);
  }
  if (!resolved.state) await preflightFreshPorts(config, requested);
  return { ...resolved, requested };
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

/** Extras a changed config no longer wants (e.g. `metrics.enabled=false`): stopped and forgotten. */
async function stopUnwanted(possible: LocalInstance[], wanted: NodePlan[], state: LocalState, runtime: LocalRuntime): Promise<void> {
  const keep = new Set(wanted.map((p) => p.inst.name));
  for (const inst of possible) {
    if (keep.has(inst.name)) continue;
    await runtime.stop(inst);
    delete state.instances[inst.name];
  }
}

/** Step 3, when anything is deployed: databases, users and vhosts of the OpenStack services. */
async function provisionDeployed(
  config: Config,
  secrets: Secrets,
  stateDir: string,
  state: LocalState,
  requested: ComponentName[] | undefined,
  progress: Progress,
  nodes: ComponentResult[],
): Promise<ProvisionResult[] | undefined> {
  if (!config.openstack.provision || !config.openstack.services.length) return undefined;
  const deployed = COMPONENTS.filter((c) => config[c].enabled && Object.keys(state.instances).some((n) => n.startsWith(`${c}-`)));
  // Only what this command touched triggers it, and only what is deployed here is provisioned:
  // `osb deploy mariadb` on a fresh state dir has no broker yet.
  const holdsAccounts = (c: ComponentName) => Object.keys(adminAccess(localEndpoints(config, secrets, stateDir, [c]))).length > 0;
  if (!deployed.some((c) => holdsAccounts(c) && (!requested || requested.includes(c)))) return undefined;
  const admin = adminAccess(localEndpoints(config, secrets, stateDir, deployed));
  // Nothing changed since the last complete provisioning (same services, passwords, endpoints, same daemons):
  // its result stands, with no round trip. `osb provision` always checks against the servers.
  const pids = nodes.flatMap((c) => c.nodes.map((n) => `${n.name}:${n.pid}`)).sort();
  const fingerprint = createHash('sha256')
    .update(JSON.stringify({ services: planServices(config), passwords: secrets.services, admin, pids }))
    .digest('hex')
    .slice(0, 16);
  if (state.provisioned === fingerprint) {
    return planServices(config).map((s) => ({
      service: s.name,
      changed: false,
      databases: Object.keys(s.databases),
      ...(s.messaging && admin.rabbitmq ? { vhost: accountName(s.name) } : {}),
    }));
  }
  const [results] = await progress.run([
    {
      title: 'OpenStack services: databases, users, vhosts',
      task: async (report) => {
        const r = await provisionServices(config, admin, secrets, stateDir);
        report(r.map((x) => `${x.service}${x.changed ? ' provisioned' : ''}${x.repaired ? ` (${x.repaired})` : ''}`).join(', '));
        return r;
      },
    },
  ]);
  state.provisioned = fingerprint;
  writeState(stateDir, state);
  return results;
}

export async function deployLocal(opts: DeployOptions): Promise<DeployResult> {
  const { stateDir, config, userValues, requested } = await planDeploy(opts);
  ensureStateDir(stateDir);
  return withStateLock(stateDir, async () => {
    const state: LocalState = readState(stateDir) ?? { version: 1, userValues: {}, instances: {} };
    state.userValues = userValues;
    const missing = missingPackages(config, requested ?? COMPONENTS);
    if (missing.length) {
      await opts.progress.run([{ title: `Installing packages: ${missing.join(', ')}`, task: (report) => ensurePackages(missing, report) }]);
    }
    const secrets = ensureSecrets(stateDir);
    const plans = new Map<ComponentName, NodePlan[]>();
    const instances = localInstances(config, stateDir, secrets, requested);
    const supervisor = supervisorFor(stateDir);
    const extraPlans = new Map<ComponentName, NodePlan[]>();
    for (const [c, list] of instances) {
      plans.set(
        c,
        list.map((i) => planNode(i, state, supervisor.choice.kind)),
      );
      extraPlans.set(
        c,
        localExtras(config, stateDir, secrets, c).map((i) => planNode(i, state, supervisor.choice.kind)),
      );
    }
    // TLS on: certificates exist before any daemon starts; stale ones (2/3 of their life) are renewed.
    const newCerts = await ensureLocalCerts(config, stateDir, [...instances.values()].flat());
    await preflightPorts([...plans.values(), ...extraPlans.values()].flat(), state, config.bindAddress);

    // The target (and the scheduled jobs) must keep every component this deployment runs, not only those
    // of this command (`osb deploy mariadb` must not drop RabbitMQ's units from the boot).
    const kept = COMPONENTS.filter(
      (c) => config[c].enabled && (!requested || requested.includes(c) || Object.keys(state.instances).some((n) => n.startsWith(`${c}-`))),
    );
    // Under systemd: a unit per node, extra and helper, grouped by the deployment's target, before anything starts.
    if (supervisor.choice.kind === 'systemd') {
      // The units' prepare step reads the deployment (config, secrets) from the state dir.
      writeState(stateDir, state);
      const all = [...localInstances(config, stateDir, secrets, kept)].flatMap(([c, list]) => [...list, ...localExtras(config, stateDir, secrets, c)]);
      await supervisor.install(all);
    }
    // Step 2: every component in parallel; each brings its nodes (and extras) to the desired state.
    const runtime = localRuntime(stateDir, state, supervisor);
    const results = await opts.progress.run(
      [...plans].map(([component, nodePlans]) => ({
        title: `${component}: ${nodePlans.length} node${nodePlans.length > 1 ? 's' : ''}`,
        task: async (report: (m: string) => void): Promise<ComponentResult> => {
          const ctx = { config, secrets, runtime, report, forceBootstrap: opts.forceBootstrap };
          const local = definition(component).local;
          const nodes = local.reconcile ? await local.reconcile(nodePlans, ctx) : await Promise.all(nodePlans.map((p) => runtime.apply(p, report)));
          // Then the processes beside the nodes (proxy, exporters), through the same plan/apply.
          const wanted = extraPlans.get(component) ?? [];
          await stopUnwanted(localExtras(config, stateDir, secrets, component, true), wanted, state, runtime);
          // What the extras need from the nodes (an exporter's account) was ensured when one of them last
          // started: with every node and extra running unchanged (same config hash, same pid), no round trip.
          const settled = nodes.every((n) => n.action === 'unchanged') && wanted.every((p) => p.action === 'unchanged');
          if (wanted.length && !settled) await local.beforeExtras?.(ctx);
          nodes.push(...(await Promise.all(wanted.map((p) => runtime.apply(p, report)))));
          await local.afterExtras?.(ctx);
          const changed = nodes.some((n) => n.action !== 'unchanged');
          report(changed ? nodes.map((n) => `${n.name} ${n.action}`).join(', ') : 'unchanged');
          return { component, nodes, changed };
        },
      })),
      { concurrent: true },
    );
    writeState(stateDir, state);
    // Nodes left running with a renewed certificate load it without a restart.
    const untouched = new Set(results.flatMap((r) => r.nodes.filter((n) => n.action === 'unchanged').map((n) => n.name)));
    await reloadCerts(
      config,
      secrets,
      newCerts.map((c) => c.inst).filter((i) => untouched.has(i.name)),
      () => {},
    );
    const provisioning = await provisionDeployed(config, secrets, stateDir, state, requested, opts.progress, results);
    // Day-2 jobs once the deployment runs: timers under systemd, else one crontab line each to add.
    const jobs = scheduledJobs(config, stateDir, kept, supervisor.choice.kind === 'systemd');
    const entry = entrypoint();
    let scheduleChange: ScheduleChange | undefined;
    if (supervisor.choice.kind === 'systemd') scheduleChange = await supervisor.schedule(jobs);
    else for (const j of jobs) opts.progress.info(cronHint(j, entry, userInfo().username));
    const schedules: DeployedSchedule[] = jobs.map((j) => ({
      job: j.name,
      key: j.key,
      title: j.title,
      onCalendar: j.onCalendar,
      cron: j.cron,
      ...(scheduleChange ? { timer: jobTimerName(stateDir, j.name) } : { crontab: cronLine(j, entry) }),
    }));
    const changed =
      results.some((r) => r.changed) || !!provisioning?.some((p) => p.changed) || !!scheduleChange?.installed.length || !!scheduleChange?.removed.length;
    // Said once, when this deploy started something that nothing will restart.
    if (supervisor.choice.kind === 'none' && results.some((r) => r.changed)) opts.progress.info(`osb: note: ${supervisor.choice.reason}`);
    return {
      stateDir,
      config,
      components: results,
      changed,
      provisioning,
      supervision: supervisor.choice,
      schedules,
      ...(scheduleChange ? { scheduleChange } : {}),
    };
  });
}
