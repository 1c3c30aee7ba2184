import { definition } from '../../components/index.js';
import type { ComponentName } from '../../config/schema.js';
import type { LocalInstance } from '../../model/local.js';
import { OsbError } from '../../util/errors.js';
import type { Progress } from '../../util/progress.js';
import { deployedComponents, openDeployment, type Deployment, type DeploymentSources } from './context.js';
import { deployLocal } from './deploy.js';
import { localInstances } from './instances.js';
import { withStateLock } from './lock.js';
import { runningPid } from './runner.js';
import { supervisorFor, type Supervisor } from './supervisor.js';

export interface RestartOptions extends DeploymentSources {
  components?: ComponentName[];
  rolling?: boolean;
  progress: Progress;
}

/** One node stopped and started again, healthy before it returns. `handOver: false` (osb heal): a stuck node has no work to hand to its peers. */
export async function restartNode(d: Deployment, inst: LocalInstance, supervisor: Supervisor, report: (m: string) => void, handOver = true): Promise<void> {
  if (handOver) await definition(inst.component).local.beforeStop?.(d.config, inst, report);
  report(`${inst.name}: stopping`);
  await supervisor.stop(inst);
  await supervisor.start(inst, { onProgress: report });
  await definition(inst.component).local.afterRestart?.(d.config, d.secrets, inst, { runningPid }, report);
  report(`${inst.name}: back and healthy`);
}

/**
 * `osb restart`: rolling = one node at a time, each healthy (Galera Synced, RabbitMQ running
 * with its quorum queue members back) before the next; otherwise stop all, then deploy.
 */
export async function restartLocal(opts: RestartOptions): Promise<string[]> {
  const d = openDeployment(opts);
  const components = deployedComponents(d, opts.components?.length ? opts.components : undefined);
  if (components.length === 0) throw new OsbError('nothing to restart: no such component deployed', 'see `osb status`');
  const restarted: string[] = [];
  const supervisor = supervisorFor(d.stateDir);
  if (!opts.rolling) {
    await withStateLock(d.stateDir, async () => {
      for (const list of localInstances(d.config, d.stateDir, d.secrets, components).values()) {
        await Promise.all(list.map((i) => supervisor.stop(i)));
        restarted.push(...list.map((i) => i.name));
      }
    });
    await deployLocal({ ...opts, components, progress: opts.progress });
    return restarted;
  }
  await withStateLock(d.stateDir, async () => {
    for (const [component, list] of localInstances(d.config, d.stateDir, d.secrets, components)) {
      await opts.progress.run([
        {
          title: `${component}: rolling restart of ${list.length} node(s)`,
          task: async (report) => {
            for (const inst of list) {
              await restartNode(d, inst, supervisor, report);
              restarted.push(inst.name);
            }
          },
        },
      ]);
    }
  });
  return restarted;
}
