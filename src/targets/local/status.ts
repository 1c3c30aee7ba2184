import { readdirSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import type { ComponentName } from '../../config/schema.js';
import { inspectMariadb, type MariadbNodeInfo } from '../../components/mariadb/inspect.js';
import { inspectMemcached, type MemcachedNodeInfo } from '../../components/memcached/inspect.js';
import { inspectRabbitmq, type RabbitmqNodeInfo } from '../../components/rabbitmq/inspect.js';
import { rabbitmqEndpoint } from '../../components/rabbitmq/local.js';
import { ADMIN_USER } from '../../model/desired.js';
import { deployedComponents, type Deployment } from './context.js';
import type { LocalInstance } from '../../model/local.js';
import { localInstances } from './instances.js';
import { processRssBytes, processUptimeSeconds } from './process.js';
import { runningPid } from './runner.js';
import { needsProxy, proxyStatus, type ProxyStatus } from './proxy.js';

export interface NodeStatus {
  name: string;
  address: string;
  running: boolean;
  pid?: number;
  uptimeSeconds?: number;
  rssBytes?: number;
  dataBytes: number;
  healthy: boolean;
  version?: string;
  error?: string;
  /** Component-specific live view (Galera state, RabbitMQ cluster, memcached stats). */
  details?: MariadbNodeInfo | RabbitmqNodeInfo | MemcachedNodeInfo;
}

export interface ComponentStatus {
  component: ComponentName;
  healthy: boolean;
  nodes: NodeStatus[];
  summary: string;
}

export interface StatusReport {
  stateDir: string;
  healthy: boolean;
  components: ComponentStatus[];
  /** The single-writer proxy in front of Galera (replicas > 1). */
  proxy?: ProxyStatus;
}

/** Bytes under a directory, without following symlinks (like `du -sb`). */
export function dirBytes(dir: string): number {
  let total = 0;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e);
    try {
      const st = lstatSync(p);
      total += st.isDirectory() ? dirBytes(p) : st.size;
    } catch {
      /* vanished while walking */
    }
  }
  return total;
}

async function inspectNode(d: Deployment, inst: LocalInstance): Promise<Pick<NodeStatus, 'version' | 'details'>> {
  switch (inst.component) {
    case 'mariadb': {
      const info = await inspectMariadb({ host: inst.host, port: inst.port, user: ADMIN_USER.mariadb, password: d.secrets.mariadbAdminPassword });
      return { version: info.version, details: info };
    }
    case 'rabbitmq': {
      const info = await inspectRabbitmq(rabbitmqEndpoint(d.config, inst.ordinal, d.secrets));
      return { version: info.version, details: info };
    }
    case 'memcached': {
      const info = await inspectMemcached({ host: inst.host, port: inst.port });
      return { version: info.version, details: info };
    }
  }
}

async function nodeStatus(d: Deployment, inst: LocalInstance): Promise<NodeStatus> {
  const pid = runningPid(inst);
  const base: NodeStatus = { name: inst.name, address: `${inst.host}:${inst.port}`, running: !!pid, dataBytes: dirBytes(inst.dir), healthy: false };
  if (!pid) return { ...base, error: 'not running' };
  base.pid = pid;
  base.uptimeSeconds = processUptimeSeconds(pid);
  base.rssBytes = processRssBytes(pid);
  try {
    const live = await inspectNode(d, inst);
    const healthy = !(live.details && 'galera' in live.details && live.details.galera && !(live.details.galera.state === 'Synced' && live.details.galera.clusterStatus === 'Primary'));
    return { ...base, ...live, healthy, ...(healthy ? {} : { error: 'not Synced/Primary' }) };
  } catch (err) {
    return { ...base, error: `protocol check failed: ${(err as Error).message}` };
  }
}

function summarise(component: ComponentName, nodes: NodeStatus[]): string {
  const up = nodes.filter((n) => n.healthy).length;
  let s = `${up}/${nodes.length} healthy`;
  if (component === 'mariadb') {
    const g = nodes.map((n) => (n.details as MariadbNodeInfo | undefined)?.galera).find(Boolean);
    if (g) s += `, Galera cluster size ${g.clusterSize} (${g.clusterStatus})`;
  }
  if (component === 'rabbitmq') {
    const c = nodes.map((n) => (n.details as RabbitmqNodeInfo | undefined)?.cluster).find(Boolean);
    if (c && nodes.length > 1) s += `, cluster ${c.running.length}/${c.members.length} running` + (c.partitions.length ? `, PARTITIONS: ${c.partitions.join(', ')}` : '') + (c.alarms.length ? `, ALARMS: ${c.alarms.join(', ')}` : '');
  }
  return s;
}

export async function localStatus(d: Deployment, components?: ComponentName[]): Promise<StatusReport> {
  const instances = localInstances(d.config, d.stateDir, d.secrets, deployedComponents(d, components));
  const out = await Promise.all(
    [...instances].map(async ([component, list]): Promise<ComponentStatus> => {
      const nodes = await Promise.all(list.map((i) => nodeStatus(d, i)));
      return { component, nodes, healthy: nodes.every((n) => n.healthy), summary: summarise(component, nodes) };
    }),
  );
  const proxy = out.some((c) => c.component === 'mariadb') && needsProxy(d.config) ? await proxyStatus(d.config, d.stateDir, d.secrets) : undefined;
  const proxyHealthy = !proxy || (proxy.running && !!proxy.writer);
  return { stateDir: d.stateDir, healthy: out.every((c) => c.healthy) && proxyHealthy, components: out, ...(proxy ? { proxy } : {}) };
}
