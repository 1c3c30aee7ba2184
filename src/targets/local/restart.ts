import type { ComponentName } from '../../config/schema.js';
import { quorumQueuesLackingMembers, runningClusterNodes } from '../../components/rabbitmq/health.js';
import { rabbitmqEndpoint, rabbitNodeName } from '../../components/rabbitmq/local.js';
import { OsbError } from '../../util/errors.js';
import { sleep } from '../../util/net.js';
import type { Progress } from '../../util/progress.js';
import { deployedComponents, openDeployment, type Deployment, type DeploymentSources } from './context.js';
import { deployLocal } from './deploy.js';
import { waitSynced } from './galera.js';
import type { LocalInstance } from '../../model/local.js';
import { localInstances } from './instances.js';
import { withStateLock } from './lock.js';
import { startInstance, stopInstance } from './runner.js';

export interface RestartOptions extends DeploymentSources {
  components?: ComponentName[];
  rolling?: boolean;
  progress: Progress;
}

/** RabbitMQ node back: running in the cluster and every quorum queue has all its members online. */
async function waitRabbitHealthy(d: Deployment, inst: LocalInstance, report: (m: string) => void, timeoutMs = 180_000): Promise<void> {
  const ep = rabbitmqEndpoint(d.config, inst.ordinal, d.secrets);
  const me = rabbitNodeName(d.config, inst.ordinal);
  const t0 = Date.now();
  let why = '';
  while (Date.now() - t0 < timeoutMs) {
    try {
      const running = await runningClusterNodes(ep);
      const lacking = running.includes(me) ? await quorumQueuesLackingMembers(ep) : ['(node not running in cluster yet)'];
      if (lacking.length === 0) return;
      why = lacking.slice(0, 3).join(', ');
    } catch (err) {
      why = (err as Error).message;
    }
    await sleep(250);
  }
  report(`${inst.name}: still waiting: ${why}`);
  throw new OsbError(`${inst.name} did not become healthy after restart within ${timeoutMs / 1000}s: ${why}`, `see \`osb logs rabbitmq --node ${inst.ordinal}\``);
}

async function restartNode(d: Deployment, inst: LocalInstance, report: (m: string) => void): Promise<void> {
  report(`${inst.name}: stopping`);
  await stopInstance(inst);
  await startInstance(inst, { onProgress: report });
  if (inst.component === 'mariadb' && d.config.mariadb.replicas > 1) await waitSynced(inst, report);
  if (inst.component === 'rabbitmq' && d.config.rabbitmq.replicas > 1) await waitRabbitHealthy(d, inst, report);
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
  if (!opts.rolling) {
    await withStateLock(d.stateDir, async () => {
      for (const list of localInstances(d.config, d.stateDir, d.secrets, components).values()) {
        await Promise.all(list.map((i) => stopInstance(i)));
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
              await restartNode(d, inst, report);
              restarted.push(inst.name);
            }
          },
        },
      ]);
    }
  });
  return restarted;
}
