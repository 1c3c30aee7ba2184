/**
 * `osb heal` (docs/supervision.md "Healing"): restarts running nodes that are stuck in a state their daemon
 * never leaves by itself — a Galera node Disconnected from every group, RabbitMQ nodes holding a recorded
 * partition once every node is back. systemd restarts what dies; this restarts what lives but is stuck.
 * Under systemd a timer of the deployment runs it every 15 s. Each component says which nodes are stuck
 * (its `stuck` hook); a node is restarted only when it is still stuck, with the same pid, HEAL_CONFIRM_MS
 * later, one node at a time, each healthy again before the next. Never waits for another osb command:
 * when one holds the deployment's lock, it changes nothing and says so.
 */
import { definition } from '../../components/index.js';
import { sleep } from '../../util/net.js';
import { deployedComponents, openDeployment, type DeploymentSources } from './context.js';
import { localInstances } from './instances.js';
import { restartNode } from './restart.js';
import { StateLocked, withStateLock } from './lock.js';
import { runningPid } from './runner.js';
import { supervisorFor } from './supervisor.js';

/** How long a node must stay stuck (same pid) before it is restarted: transient states pass within it. */
export const HEAL_CONFIRM_MS = 10_000;

export interface HealResult {
  /** Nodes restarted, with why. */
  healed: { node: string; reason: string }[];
  /** Set when another osb command held the lock: nothing was looked at. */
  skipped?: string;
}

interface Stuck {
  node: string;
  reason: string;
  pid: number;
}

export async function healLocal(opts: DeploymentSources & { log: (line: string) => void; confirmMs?: number }): Promise<HealResult> {
  const d = openDeployment(opts);
  const components = deployedComponents(d).filter((c) => definition(c).local.stuck);
  if (!components.length) return { healed: [] };
  const instances = localInstances(d.config, d.stateDir, d.secrets, components);
  const look = async (): Promise<Stuck[]> => {
    const out: Stuck[] = [];
    for (const [component, list] of instances) {
      for (const s of await definition(component).local.stuck!(d.config, d.secrets, list, { runningPid })) {
        const pid = runningPid(list.find((i) => i.name === s.node)!);
        if (pid) out.push({ ...s, pid });
      }
    }
    return out;
  };
  try {
    return await withStateLock(
      d.stateDir,
      async () => {
        const first = await look();
        if (!first.length) return { healed: [] };
        for (const s of first) opts.log(`${s.node} (pid ${s.pid}) looks stuck: ${s.reason}; checking again in ${(opts.confirmMs ?? HEAL_CONFIRM_MS) / 1000}s`);
        await sleep(opts.confirmMs ?? HEAL_CONFIRM_MS);
        const again = await look();
        const confirmed = again.filter((s) => first.some((f) => f.node === s.node && f.pid === s.pid));
        const supervisor = supervisorFor(d.stateDir);
        const healed: HealResult['healed'] = [];
        for (const s of confirmed) {
          const inst = [...instances.values()].flat().find((i) => i.name === s.node)!;
          opts.log(`${s.node}: restarting: ${s.reason}`);
          await restartNode(d, inst, supervisor, opts.log, false);
          healed.push({ node: s.node, reason: s.reason });
        }
        for (const f of first.filter((f) => !confirmed.some((c) => c.node === f.node))) opts.log(`${f.node}: no longer stuck; left alone`);
        return { healed };
      },
      0,
      () => {},
    );
  } catch (err) {
    if (err instanceof StateLocked) return { healed: [], skipped: 'another osb command holds the deployment: it is left to that command' };
    throw err;
  }
}
