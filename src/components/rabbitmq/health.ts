import { OsbError } from '../../util/errors.js';
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

/**
 * An AMQP connection refused at `connection.open` (after authentication): the vhost is missing, not permitted, or
 * "down" on that node. amqplib's message drops the server's reason text, so this is all the client can tell.
 */
export function refusedAtOpen(err: unknown): boolean {
  return /Expected ConnectionOpenOk; got <ConnectionClose/.test(err instanceof Error ? err.message : String(err));
}

/**
 * Vhosts whose processes are not running on `node` although the cluster knows them (cluster_state "stopped").
 * RabbitMQ 3.10 starts a new vhost's processes only on the nodes that have finished booting at that moment, and a
 * node's boot starts only the vhosts it knows when its recovery step runs. When the nodes of a new cluster boot
 * together and import the same definitions, a node can fall between the two and refuse the vhost ("vhost '/' is
 * down") until restarted. RabbitMQ 3.13 reconciles this by itself (rabbitmq-server#11363).
 */
export async function vhostsNotRunning(ep: RabbitmqEndpoint, node: string): Promise<string[]> {
  return stoppedOn(await vhostStates(ep), node);
}

export type VhostStates = { name: string; cluster_state?: Record<string, string> }[];

/** Every vhost's state on every node of the cluster (`cluster_state`): any node's management API answers for all. */
export function vhostStates(ep: RabbitmqEndpoint): Promise<VhostStates> {
  return managementApi<VhostStates>(ep, 'GET', '/vhosts?columns=name,cluster_state', undefined, 3000);
}

/** The vhosts that `vhostStates` lists as not running on `node`. Pure. */
export function stoppedOn(states: VhostStates, node: string): string[] {
  return states.filter((v) => v.cluster_state?.[node] === 'stopped').map((v) => v.name);
}

/** Starts one vhost's processes on `node` (the management API's own repair, `rabbitmqctl restart_vhost`). */
function startVhost(ep: RabbitmqEndpoint, vhost: string, node: string): Promise<unknown> {
  return managementApi(ep, 'POST', `/vhosts/${encodeURIComponent(vhost)}/start/${encodeURIComponent(node)}`, undefined, 30_000);
}

/** Starts those vhosts on `node`. Returns the ones started. */
export async function startVhostsNotRunning(ep: RabbitmqEndpoint, node: string): Promise<string[]> {
  const down = await vhostsNotRunning(ep, node);
  for (const v of down) await startVhost(ep, v, node);
  return down;
}

/**
 * Starts every vhost that the cluster lists as stopped on some node (`cluster_state` "stopped"; "nodedown" is left
 * alone). RabbitMQ 3.10 starts a vhost created through the API only on the nodes that it counts as booted at that
 * moment: a node whose AMQP listener is already up (so osb's readiness probe passed) but whose boot has not finished
 * misses it for good, and its clients of that vhost are refused. Returns what it started, as "'vhost' on node".
 */
export async function startStoppedVhosts(ep: RabbitmqEndpoint): Promise<{ vhost: string; node: string }[]> {
  const started: { vhost: string; node: string }[] = [];
  for (const v of await vhostStates(ep))
    for (const [node, state] of Object.entries(v.cluster_state ?? {}))
      if (state === 'stopped') {
        // A node that is finishing its boot may refuse once: try again a moment later.
        for (let attempt = 1; ; attempt++) {
          try {
            await startVhost(ep, v.name, node);
            break;
          } catch (err) {
            if (attempt >= 3)
              throw new OsbError(
                `vhost '${v.name}' is not running on ${node} and starting it there failed: ${(err as Error).message}`,
                `run \`osb heal\` (it restarts that node, whose boot starts every vhost), then \`osb provision\``,
              );
            await new Promise((r) => setTimeout(r, 1000 * attempt));
          }
        }
        started.push({ vhost: v.name, node });
      }
  return started;
}

export function vhostsDownReason(vhosts: string[]): string {
  return `vhost ${vhosts.map((v) => `'${v}'`).join(', ')} is not running on this node: RabbitMQ refuses its clients here and does not start it again by itself`;
}
