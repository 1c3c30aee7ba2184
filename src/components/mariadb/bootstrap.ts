/**
 * The Galera start decision: which node may bootstrap, and when to refuse. Pure, so that
 * the local target and the Kubernetes target (its start script's inputs) decide alike.
 */

/** What is known of one node before anything starts. */
export interface GaleraNodeView {
  name: string;
  /** The server process is alive. */
  running: boolean;
  /** Running and in the Primary component (wsrep_cluster_status = Primary). */
  primary: boolean;
  /** The data dir holds an initialised server (grastate.dat or system tables exist). */
  hasData: boolean;
  /** Cluster state UUID from grastate.dat or `--wsrep-recover`. */
  uuid?: string;
  /** Last committed seqno; -1 or undefined when unknown. */
  seqno?: number;
  /** grastate.dat `safe_to_bootstrap: 1` (the last node to leave a cluster gracefully). */
  safeToBootstrap?: boolean;
}

export type GaleraDecision =
  /** Every node runs in the Primary component: nothing to do. */
  | { kind: 'healthy' }
  /** A Primary component exists: start the missing nodes, they rejoin by IST/SST. */
  | { kind: 'join'; start: string[]; reason: string }
  /** No node has data: a new cluster, bootstrapped from `bootstrap`. */
  | { kind: 'form'; bootstrap: string; then: string[]; reason: string }
  /** All nodes down with data: bootstrap from the most advanced, then start the others. */
  | { kind: 'recover'; bootstrap: string; uuid: string; seqno: number; then: string[]; reason: string }
  /** Unsafe to choose: the operator must decide (e.g. `osb recover --force-bootstrap NODE`). */
  | { kind: 'refuse'; reason: string };

export interface DecideOptions {
  /** Operator's override: bootstrap this node whatever the positions say. */
  forceBootstrap?: string;
}

const known = (n: GaleraNodeView) => n.seqno !== undefined && n.seqno >= 0 && !!n.uuid;

function describe(n: GaleraNodeView): string {
  if (!n.hasData) return `${n.name}: no data`;
  if (n.running) return `${n.name}: running, not Primary`;
  return `${n.name}: ${n.uuid ?? 'uuid unknown'}:${n.seqno ?? -1}${n.safeToBootstrap ? ' (safe_to_bootstrap)' : ''}`;
}

export function decideGaleraStart(nodes: GaleraNodeView[], opts: DecideOptions = {}): GaleraDecision {
  if (nodes.length === 0) return { kind: 'refuse', reason: 'no Galera nodes configured' };
  const names = nodes.map((n) => n.name);
  const others = (chosen: string) => names.filter((n) => n !== chosen);

  if (opts.forceBootstrap) {
    const chosen = nodes.find((n) => n.name === opts.forceBootstrap);
    if (!chosen) return { kind: 'refuse', reason: `--force-bootstrap ${opts.forceBootstrap}: no such node (nodes: ${names.join(', ')})` };
    if (nodes.some((n) => n.running)) {
      return {
        kind: 'refuse',
        reason: `--force-bootstrap needs every node stopped, but ${nodes
          .filter((n) => n.running)
          .map((n) => n.name)
          .join(', ')} still run(s)`,
      };
    }
    if (!chosen.hasData) return { kind: 'refuse', reason: `--force-bootstrap ${chosen.name}: it has no data to bootstrap from` };
    return {
      kind: 'recover',
      bootstrap: chosen.name,
      uuid: chosen.uuid ?? '',
      seqno: chosen.seqno ?? -1,
      then: others(chosen.name),
      reason: `forced by the operator: ${nodes.map(describe).join('; ')}`,
    };
  }

  const primary = nodes.filter((n) => n.running && n.primary);
  if (primary.length === nodes.length) return { kind: 'healthy' };
  if (primary.length > 0) {
    const start = nodes.filter((n) => !n.running).map((n) => n.name);
    const stuck = nodes.filter((n) => n.running && !n.primary);
    if (start.length === 0)
      return { kind: 'refuse', reason: `${stuck.map((n) => n.name).join(', ')} run(s) outside the Primary component; restart it: osb restart mariadb` };
    return { kind: 'join', start, reason: `Primary component on ${primary.map((n) => n.name).join(', ')}` };
  }

  const running = nodes.filter((n) => n.running);
  if (running.length > 0) {
    return {
      kind: 'refuse',
      reason: `no Primary component, but ${running.map((n) => n.name).join(', ')} still run(s) (non-Primary). Stop them (osb destroy mariadb --keep-data) and run osb deploy to recover from the most advanced node`,
    };
  }

  const withData = nodes.filter((n) => n.hasData);
  if (withData.length === 0) return { kind: 'form', bootstrap: names[0]!, then: others(names[0]!), reason: 'new cluster' };
  if (withData.length < nodes.length) {
    const best = withData.filter(known).sort((a, b) => b.seqno! - a.seqno!)[0];
    return {
      kind: 'refuse',
      reason:
        `all nodes are down and ${nodes
          .filter((n) => !n.hasData)
          .map((n) => n.name)
          .join(', ')} lost its data, so the most advanced node cannot be known ` +
        `(found ${nodes.map(describe).join('; ')}). If that data is truly gone, choose: osb recover --force-bootstrap ${best?.name ?? withData[0]!.name}`,
    };
  }
  const unknown = nodes.filter((n) => !known(n));
  if (unknown.length) {
    return {
      kind: 'refuse',
      reason: `all nodes are down and the position of ${unknown.map((n) => n.name).join(', ')} could not be recovered (found ${nodes.map(describe).join('; ')}); inspect their error logs, then osb recover --force-bootstrap NODE`,
    };
  }
  const uuids = new Set(nodes.map((n) => n.uuid));
  if (uuids.size > 1) {
    return {
      kind: 'refuse',
      reason: `nodes belong to different cluster histories (${nodes.map(describe).join('; ')}): bootstrapping any would discard another's writes; choose with osb recover --force-bootstrap NODE`,
    };
  }
  const maxSeqno = Math.max(...nodes.map((n) => n.seqno!));
  const best = nodes.filter((n) => n.seqno === maxSeqno).sort((a, b) => Number(!!b.safeToBootstrap) - Number(!!a.safeToBootstrap))[0]!;
  return {
    kind: 'recover',
    bootstrap: best.name,
    uuid: best.uuid!,
    seqno: maxSeqno,
    then: others(best.name),
    reason: `all nodes down; most advanced is ${best.name} at seqno ${maxSeqno} (${nodes.map(describe).join('; ')})`,
  };
}
