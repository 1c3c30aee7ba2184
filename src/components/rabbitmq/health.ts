import { managementApi, type RabbitmqEndpoint } from './client.js';

interface ApiQueue {
  name: string;
  vhost: string;
  type?: string;
  members?: string[];
  online?: string[];
}

/** Quorum queues that miss members (a restarted node not yet back in their Raft group). */
export async function quorumQueuesLackingMembers(ep: RabbitmqEndpoint): Promise<string[]> {
  const queues = await managementApi<ApiQueue[]>(ep, 'GET', '/queues?columns=name,vhost,type,members,online', undefined, 3000);
  return queues
    .filter((q) => q.type === 'quorum' && (q.online?.length ?? 0) < (q.members?.length ?? 0))
    .map((q) => `${q.vhost}/${q.name} (${q.online?.length ?? 0}/${q.members?.length ?? 0} online)`);
}

/** Nodes the cluster sees running, from any node's management API. */
export async function runningClusterNodes(ep: RabbitmqEndpoint): Promise<string[]> {
  const nodes = await managementApi<{ name: string; running: boolean }[]>(ep, 'GET', '/nodes?columns=name,running', undefined, 3000);
  return nodes.filter((n) => n.running).map((n) => n.name);
}

/** The partitions one node has recorded (Mnesia's "inconsistent database" peers), from its own management API. */
export async function recordedPartitions(ep: RabbitmqEndpoint, self: string): Promise<string[]> {
  const nodes = await managementApi<{ name: string; partitions?: string[] }[]>(ep, 'GET', '/nodes?columns=name,partitions', undefined, 3000);
  return nodes.find((n) => n.name === self)?.partitions ?? [];
}

/**
 * Which nodes to restart to end a recorded partition once every node runs again (RabbitMQ's manual repair,
 * what `autoheal` does by itself): the nodes on the losing side. A node's score is the number of peers it
 * disagrees with (it lists them, or they list it); nodes that disagree with a majority of their peers lose.
 * When every node does (each cut from all others), the first keeps running and the rest restart. Pure.
 */
export function partitionLosers(views: { node: string; partitions: string[] }[]): string[] {
  const n = views.length;
  const disagree = (a: { node: string; partitions: string[] }, b: { node: string; partitions: string[] }) =>
    a.partitions.includes(b.node) || b.partitions.includes(a.node);
  const scored = views.map((v) => ({ node: v.node, score: views.filter((o) => o !== v && disagree(v, o)).length }));
  if (scored.every((s) => s.score === 0)) return [];
  const losers = scored.filter((s) => s.score > (n - 1) / 2).map((s) => s.node);
  if (losers.length === n) return losers.slice(1);
  if (losers.length) return losers;
  // A 1–1 disagreement inside a larger cluster: restart the side named most by the others (the later one on a tie).
  const named = scored.filter((s) => s.score > 0);
  return [named[named.length - 1]!.node];
}
