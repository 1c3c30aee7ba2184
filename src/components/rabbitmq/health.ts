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
