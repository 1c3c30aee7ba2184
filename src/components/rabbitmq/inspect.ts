import { managementApi, withAmqp, type RabbitmqEndpoint } from './client.js';
import { type VhostStates, vhostStates } from './health.js';

export interface RabbitmqNodeInfo {
  version: string;
  /** Cluster-wide totals of the management API's /overview (the numbers rabbitmq_queue_messages* sums). */
  totals: { messages: number; messagesReady: number; messagesUnacknowledged: number; queues: number; connections: number };
  /** `partitions`: every node named in a recorded partition; `recorded`: which peers each node lists (health.ts partitionLosers). */
  cluster: { name: string; members: string[]; running: string[]; partitions: string[]; recorded: { node: string; partitions: string[] }[]; alarms: string[] };
  /** Every vhost's state on every node (health.ts vhostStates). */
  vhosts: VhostStates;
  /** Each node's free disk space as RabbitMQ measures it (the filesystem of its data dir) against its disk_free_limit. */
  disk: { node: string; freeBytes: number; limitBytes: number; alarm: boolean }[];
}

interface ApiNode {
  name: string;
  running: boolean;
  partitions?: string[];
  mem_alarm?: boolean;
  disk_free_alarm?: boolean;
  disk_free?: number;
  disk_free_limit?: number;
}

/** A live look at one node: an AMQP connection opens, and the management API's cluster view. */
export async function inspectRabbitmq(ep: RabbitmqEndpoint): Promise<RabbitmqNodeInfo> {
  const [version, overview, nodes, vhosts] = await Promise.all([
    withAmqp(ep, async (c) => String((c.connection as unknown as { serverProperties: { version: string } }).serverProperties.version), 2000),
    managementApi<{ cluster_name: string; queue_totals?: Record<string, number>; object_totals?: Record<string, number> }>(
      ep,
      'GET',
      '/overview?columns=cluster_name,queue_totals,object_totals',
      undefined,
      2000,
    ),
    managementApi<ApiNode[]>(ep, 'GET', '/nodes?columns=name,running,partitions,mem_alarm,disk_free_alarm,disk_free,disk_free_limit', undefined, 2000),
    vhostStates(ep),
  ]);
  const alarms: string[] = [];
  for (const n of nodes) {
    if (n.mem_alarm) alarms.push(`memory alarm on ${n.name}`);
    if (n.disk_free_alarm) alarms.push(`disk alarm on ${n.name} (publishers blocked)`);
  }
  const q = overview.queue_totals ?? {};
  const o = overview.object_totals ?? {};
  return {
    version,
    totals: {
      messages: q.messages ?? 0,
      messagesReady: q.messages_ready ?? 0,
      messagesUnacknowledged: q.messages_unacknowledged ?? 0,
      queues: o.queues ?? 0,
      connections: o.connections ?? 0,
    },
    cluster: {
      name: overview.cluster_name,
      members: nodes.map((n) => n.name),
      running: nodes.filter((n) => n.running).map((n) => n.name),
      partitions: [...new Set(nodes.flatMap((n) => n.partitions ?? []))],
      recorded: nodes.map((n) => ({ node: n.name, partitions: n.partitions ?? [] })),
      alarms,
    },
    vhosts,
    disk: nodes
      .filter((n) => n.disk_free !== undefined)
      .map((n) => ({ node: n.name, freeBytes: n.disk_free!, limitBytes: n.disk_free_limit ?? 0, alarm: !!n.disk_free_alarm })),
  };
}
