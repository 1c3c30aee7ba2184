import type { LocalInstance, LocalRuntime, NodePlan, NodeResult } from '../../model/local.js';
import { instanceHash, runningPid } from './runner.js';
import { detachedSupervisor, type Supervisor } from './supervisor.js';
import { writeState, type LocalState } from './state.js';

/** What must happen to one process, decided before anything changes. */
export function planNode(inst: LocalInstance, state: LocalState | undefined, supervisor: Supervisor['choice']['kind'] = 'none'): NodePlan {
  const hash = instanceHash(inst);
  const pid = runningPid(inst);
  const rec = state?.instances[inst.name];
  const sameSupervisor = (rec?.supervisor ?? 'none') === supervisor;
  if (pid && rec?.hash === hash && sameSupervisor) return { inst, hash, pid, action: 'unchanged' };
  if (pid && rec?.hash === hash)
    return { inst, hash, pid, action: 'restarted', reason: supervisor === 'systemd' ? 'now supervised by systemd' : 'no longer supervised' };
  if (pid) return { inst, hash, pid, action: 'restarted', reason: 'config changed' };
  if (rec) return { inst, hash, pid, action: 'recovered', reason: 'was not running' };
  return { inst, hash, pid, action: 'started' };
}

export const addressOf = (inst: LocalInstance) => `${inst.host}:${inst.port}`;

/** The shared per-node reconcile step, lent to components that orchestrate their own nodes. */
export function localRuntime(stateDir: string, state: LocalState, supervisor: Supervisor = detachedSupervisor()): LocalRuntime {
  const rt: LocalRuntime = {
    stateDir,
    plan: (inst) => planNode(inst, state, supervisor.choice.kind),
    start: (inst, opts) => supervisor.start(inst, opts),
    stop: (inst) => supervisor.stop(inst),
    runningPid,
    known: (name) => !!state.instances[name],
    record(p) {
      state.instances[p.inst.name] = {
        hash: p.hash,
        ports: p.inst.ports.map((x) => x.port),
        startedAt: new Date().toISOString(),
        supervisor: supervisor.choice.kind,
      };
      writeState(stateDir, state);
    },
    async apply(p, report): Promise<NodeResult> {
      if (p.action === 'unchanged') return { name: p.inst.name, address: addressOf(p.inst), action: p.action, pid: p.pid! };
      if (p.pid) {
        report(`${p.inst.name}: stopping (${p.reason})`);
        await supervisor.stop(p.inst);
      }
      const pid = await supervisor.start(p.inst, { onProgress: report });
      rt.record(p);
      return { name: p.inst.name, address: addressOf(p.inst), action: p.action, reason: p.reason, pid };
    },
  };
  return rt;
}
