import type { NodePlan, NodeResult } from './deploy.js';
import type { LocalState } from './state.js';
import { recordNode } from './deploy.js';
import { startInstance, stopInstance } from './runner.js';

/** Placeholder replaced by the cluster issue's formation/recovery logic. */
export async function deployGalera(plans: NodePlan[], report: (m: string) => void, stateDir: string, state: LocalState): Promise<NodeResult[]> {
  const out: NodeResult[] = [];
  const anyRunning = plans.some((p) => p.pid);
  for (const [i, p] of plans.entries()) {
    if (p.action === 'unchanged') {
      out.push({ name: p.inst.name, address: `${p.inst.host}:${p.inst.port}`, action: 'unchanged', pid: p.pid! });
      continue;
    }
    if (p.pid) await stopInstance(p.inst);
    const pid = await startInstance(p.inst, { onProgress: report, extraArgs: !anyRunning && i === 0 ? ['--wsrep-new-cluster'] : [] });
    recordNode(state, p, stateDir);
    out.push({ name: p.inst.name, address: `${p.inst.host}:${p.inst.port}`, action: p.action, reason: p.reason, pid });
  }
  return out;
}
