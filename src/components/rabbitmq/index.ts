import type { Config } from '../../config/schema.js';
import type { Secrets } from '../../config/secrets.js';
import type { ComponentDefinition } from '../../model/component.js';
import { ADMIN_USER, clustered } from '../../model/desired.js';
import type { HostPort } from '../../model/endpoints.js';
import type { LocalInstance } from '../../model/local.js';
import { OsbError } from '../../util/errors.js';
import { sleep } from '../../util/net.js';
import { quorumQueuesLackingMembers, runningClusterNodes } from './health.js';
import { inspectRabbitmq, type RabbitmqNodeInfo } from './inspect.js';
import { rabbitmqKubernetesObjects } from './kubernetes.js';
import { rabbitmqEndpoint, rabbitmqLocalInstance, rabbitNodeName, RABBITMQ_BINARIES } from './local.js';
import { rabbitmqPorts } from './ports.js';
import { rabbitmqSmokeSteps } from './smoke.js';
import { rabbitmqAlertRules } from './alerts.js';
import { rabbitmqScrapeTargets } from './metrics.js';

const hp = (a: HostPort) => `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;

/** A node back after a restart: running in the cluster and every quorum queue has all its members online. */
async function waitRabbitHealthy(config: Config, secrets: Secrets, inst: LocalInstance, report: (m: string) => void, timeoutMs = 180_000): Promise<void> {
  const ep = rabbitmqEndpoint(config, inst.ordinal, secrets);
  const me = rabbitNodeName(config, inst.ordinal);
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

export const rabbitmq: ComponentDefinition = {
  name: 'rabbitmq',
  packages: () => [{ binaries: [RABBITMQ_BINARIES.server, RABBITMQ_BINARIES.epmd], packages: ['rabbitmq-server'] }],
  ports: rabbitmqPorts,
  // The built-in rabbitmq_prometheus plugin, in each node's own config (no extra process).
  metrics: { targets: rabbitmqScrapeTargets, alerts: rabbitmqAlertRules },
  endpoints(config, secrets, at) {
    const r = config.rabbitmq;
    const nodes = Array.from({ length: r.replicas }, (_, i) => at.node('rabbitmq', i, r.port));
    const management = at.kind === 'local' ? Array.from({ length: r.replicas }, (_, i) => at.node('rabbitmq', i, r.managementPort)) : [at.service('rabbitmq', r.managementPort)];
    return {
      rabbitmq: { hosts: nodes.map(hp), username: ADMIN_USER.rabbitmq, password: secrets.rabbitmqAdminPassword, managementUrl: `http://${hp(management[0]!)}/`, nodes, management },
    };
  },
  describeEndpoints: (eps) => eps.rabbitmq && `rabbitmq:  amqp://${eps.rabbitmq.username}:<password>@${eps.rabbitmq.hosts.join(',')}/   management ${eps.rabbitmq.managementUrl}`,
  local: {
    instance: rabbitmqLocalInstance,
    async inspect(config, secrets, inst) {
      const info = await inspectRabbitmq(rabbitmqEndpoint(config, inst.ordinal, secrets));
      const t = info.totals;
      return { version: info.version, details: info, numbers: { queueMessages: t.messages, queueMessagesReady: t.messagesReady, queueMessagesUnacknowledged: t.messagesUnacknowledged, queues: t.queues, connections: t.connections } };
    },
    summary(config, nodes) {
      const c = nodes.map((n) => (n.details as RabbitmqNodeInfo | undefined)?.cluster).find(Boolean);
      if (!c || !clustered(config.rabbitmq)) return '';
      return `, cluster ${c.running.length}/${c.members.length} running` + (c.partitions.length ? `, PARTITIONS: ${c.partitions.join(', ')}` : '') + (c.alarms.length ? `, ALARMS: ${c.alarms.join(', ')}` : '');
    },
    async afterRestart(config, secrets, inst, _runtime, report) {
      if (clustered(config.rabbitmq)) await waitRabbitHealthy(config, secrets, inst, report);
    },
    smoke: (config, secrets, inst) => rabbitmqSmokeSteps(rabbitmqEndpoint(config, inst.ordinal, secrets)),
  },
  kubernetes: {
    objects: rabbitmqKubernetesObjects,
    credentialSecrets: { 'rabbitmq-credentials': { 'admin-password': 'rabbitmqAdminPassword', 'erlang-cookie': 'erlangCookie' } },
    readyMeaning: (config) => (clustered(config.rabbitmq) ? 'cluster nodes running' : 'server answering'),
  },
};
