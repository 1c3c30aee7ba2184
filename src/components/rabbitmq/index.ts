import { fail, ok, warn } from '../../model/doctor.js';
import type { Config } from '../../config/schema.js';
import type { Secrets } from '../../config/secrets.js';
import { rabbitmqBackup } from './backup.js';
import type { ComponentDefinition } from '../../model/component.js';
import { ADMIN_USER, clustered } from '../../model/desired.js';
import type { HostPort } from '../../model/endpoints.js';
import type { LocalInstance } from '../../model/local.js';
import { OsbError } from '../../util/errors.js';
import { formatBytes } from '../../util/format.js';
import { sleep } from '../../util/net.js';
import { runQuiet } from '../../util/exec.js';
import { rabbitmqLogCause } from './log-cause.js';
import {
  partitionLosers,
  quorumQueuesLackingMembers,
  recordedPartitions,
  runningClusterNodes,
  refusedAtOpen,
  vhostsDownReason,
  vhostsNotRunning,
  vhostStates,
  stoppedOn,
  type VhostStates,
} from './health.js';
import { inspectRabbitmq, type RabbitmqNodeInfo } from './inspect.js';
import { rabbitmqKubernetesObjects } from './kubernetes.js';
import { rabbitmqEndpoint, rabbitmqLocalInstance, rabbitNodeName, RABBITMQ_BINARIES, reloadRabbitmqTls } from './local.js';
import { rabbitmqKubernetesPorts, rabbitmqNodePorts } from './ports.js';
import { rabbitmqPorts } from './ports.js';
import { tlsCaFile } from '../../model/endpoints.js';
import { rabbitmqSmokeSteps } from './smoke.js';
import { rabbitmqAlertRules } from './alerts.js';
import { rabbitmqScrapeTargets } from './metrics.js';

const hp = (a: HostPort) => `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;

/** A node back after a restart: running in the cluster and every quorum queue has all its members online. */
async function waitRabbitHealthy(config: Config, secrets: Secrets, inst: LocalInstance, report: (m: string) => void, timeoutMs = 180_000): Promise<void> {
  const ep = rabbitmqEndpoint(config, inst.ordinal, secrets, inst.dir);
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
  throw new OsbError(
    `${inst.name} did not become healthy after restart within ${timeoutMs / 1000}s: ${why}`,
    `see \`osb logs rabbitmq --node ${inst.ordinal}\``,
  );
}

export const rabbitmq: ComponentDefinition = {
  name: 'rabbitmq',
  packages: () => [{ binaries: [RABBITMQ_BINARIES.server, RABBITMQ_BINARIES.epmd], packages: ['rabbitmq-server'] }],
  // Measured: idle RSS ~132 MB; a fresh node's mnesia and logs well under 100 MB.
  sizing: () => ({ memoryMB: 150, diskMB: 100 }),
  ports: rabbitmqPorts,
  // The built-in rabbitmq_prometheus plugin, in each node's own config (no extra process).
  metrics: { targets: rabbitmqScrapeTargets, alerts: rabbitmqAlertRules },
  endpoints(config, secrets, at) {
    const r = config.rabbitmq;
    // TLS on: clients are given the AMQPS port (rabbitmq.port with tls.require, else tlsPort).
    const client = at.kind === 'local' ? rabbitmqNodePorts(config, 0).client : rabbitmqKubernetesPorts(config).client;
    const nodes = Array.from({ length: r.replicas }, (_, i) => at.node('rabbitmq', i, client));
    const management =
      at.kind === 'local' ? Array.from({ length: r.replicas }, (_, i) => at.node('rabbitmq', i, r.managementPort)) : [at.service('rabbitmq', r.managementPort)];
    return {
      rabbitmq: {
        hosts: nodes.map(hp),
        username: ADMIN_USER.rabbitmq,
        password: secrets.rabbitmqAdminPassword,
        managementUrl: `${config.tls.enabled ? 'https' : 'http'}://${hp(management[0]!)}/`,
        nodes,
        management,
        ...tlsCaFile(config, at),
      },
    };
  },
  describeEndpoints: (eps) =>
    eps.rabbitmq &&
    `rabbitmq:  ${eps.rabbitmq.caFile ? 'amqps' : 'amqp'}://${eps.rabbitmq.username}:<password>@${eps.rabbitmq.hosts.join(',')}/   management ${eps.rabbitmq.managementUrl}`,
  local: {
    instance: rabbitmqLocalInstance,
    stopCause: rabbitmqLogCause,
    async stuck(config, secrets, nodes, runtime) {
      // A vhost whose processes do not run on a node (health.ts vhostsNotRunning): RabbitMQ never starts them there
      // by itself; a restart's boot does.
      const out: { node: string; reason: string }[] = [];
      const endpoint = new Map(nodes.map((i) => [i, rabbitmqEndpoint(config, i.ordinal, secrets, i.dir)]));
      const running = nodes.filter((i) => runtime.runningPid(i));
      // Any node's answer covers every node (cluster_state): the first running node that answers.
      let states: VhostStates | undefined;
      for (const inst of running) if ((states = await vhostStates(endpoint.get(inst)!).catch(() => undefined))) break;
      for (const inst of states ? running : []) {
        const down = stoppedOn(states!, rabbitNodeName(config, inst.ordinal));
        if (down.length) out.push({ node: inst.name, reason: vhostsDownReason(down) });
      }
      if (!clustered(config.rabbitmq)) return out;
      // Only when every node runs and answers: a node that is down or paused is systemd's or pause_minority's to handle.
      // Each node is asked for its own record: a node's view of its peers' partitions may be stale.
      if (running.length < nodes.length) return out;
      const views: { node: string; partitions: string[] }[] = [];
      for (const inst of nodes) {
        const self = rabbitNodeName(config, inst.ordinal);
        const partitions = await recordedPartitions(endpoint.get(inst)!, self).catch(() => undefined);
        if (!partitions) return out;
        views.push({ node: self, partitions });
      }
      const byNode = new Map(nodes.map((i) => [rabbitNodeName(config, i.ordinal), i.name]));
      const losers = partitionLosers(views).map((n) => ({
        node: byNode.get(n)!,
        reason: `it recorded a network partition (${views.find((v) => v.node === n)!.partitions.join(', ') || 'named by its peers'}) that pause_minority does not end once every node is back; restarting the losing side ends it`,
      }));
      return [...out, ...losers.filter((l) => !out.some((o) => o.node === l.node))];
    },
    async inspect(config, secrets, inst) {
      const ep = rabbitmqEndpoint(config, inst.ordinal, secrets, inst.dir);
      const info = await inspectRabbitmq(ep).catch(async (err: unknown) => {
        if (!refusedAtOpen(err)) throw err;
        const down = await vhostsNotRunning(ep, rabbitNodeName(config, inst.ordinal)).catch(() => []);
        throw down.length ? new Error(`${vhostsDownReason(down)}: \`osb heal\` restarts it (under systemd its timer does)`) : err;
      });
      const t = info.totals;
      // A resource alarm on this node blocks every publishing connection of the cluster until it clears.
      const self = rabbitNodeName(config, inst.ordinal);
      const disk = info.disk.find((d) => d.node === self);
      // A vhost not running here (RabbitMQ 3.10's races, health.ts): its clients are refused on this node only.
      const stopped = stoppedOn(info.vhosts, self);
      const problems = [
        ...(stopped.length ? [`${vhostsDownReason(stopped)}: \`osb heal\` restarts it (under systemd its timer does)`] : []),
        ...(disk?.alarm
          ? [
              `disk alarm: ${formatBytes(disk.freeBytes)} free, below disk_free_limit ${formatBytes(disk.limitBytes)}: publishers are blocked until space is freed`,
            ]
          : []),
        ...(info.cluster.alarms.some((a) => a.startsWith(`memory alarm on ${self}`)) ? ['memory alarm: publishers are blocked'] : []),
        // A partition recorded while every node is back: pause_minority does not end it (docs/faults.md). Only the
        // losing side is a problem: it is what `osb heal` restarts; the other side serves on (the summary names the partition).
        ...(partitionLosers(info.cluster.recorded).includes(self)
          ? [
              `a network partition is recorded (${info.cluster.partitions.join(', ')}) and this node is on its losing side: the cluster does not end it by itself once every node is back; \`osb heal\` restarts the losing side (under systemd its timer does)`,
            ]
          : []),
      ];
      return {
        version: info.version,
        details: info,
        ...(problems.length ? { problem: problems.join('; ') } : {}),
        numbers: {
          queueMessages: t.messages,
          queueMessagesReady: t.messagesReady,
          queueMessagesUnacknowledged: t.messagesUnacknowledged,
          queues: t.queues,
          connections: t.connections,
        },
      };
    },
    summary(config, nodes) {
      const c = nodes.map((n) => (n.details as RabbitmqNodeInfo | undefined)?.cluster).find(Boolean);
      if (c && !clustered(config.rabbitmq)) return c.alarms.length ? `, ALARMS: ${c.alarms.join(', ')}` : '';
      if (!c) return '';
      return (
        `, cluster ${c.running.length}/${c.members.length} running` +
        (c.partitions.length ? `, PARTITIONS: ${c.partitions.join(', ')}` : '') +
        (c.alarms.length ? `, ALARMS: ${c.alarms.join(', ')}` : '')
      );
    },
    async beforeStop(config, inst, report) {
      if (!clustered(config.rabbitmq)) return;
      // RabbitMQ's own rolling-upgrade steps (what its cluster-operator's preStop runs): wait until stopping this node
      // keeps every quorum queue above its majority, then move its queue leaders and clients away. A successful boot
      // clears the maintenance mode again.
      const run = (...args: string[]) =>
        runQuiet(RABBITMQ_BINARIES.upgrade, ['-n', rabbitNodeName(config, inst.ordinal), ...args], { env: inst.env, timeoutMs: 900_000 });
      report(`${inst.name}: waiting until every quorum queue keeps its majority without it`);
      await run('await_online_quorum_plus_one', '-t', '600');
      report(`${inst.name}: draining (quorum leaders and clients move to the other nodes)`);
      await run('drain', '-t', '120');
    },
    async afterRestart(config, secrets, inst, _runtime, report) {
      if (clustered(config.rabbitmq)) await waitRabbitHealthy(config, secrets, inst, report);
    },
    fdCheck(_config, lim) {
      // The Erlang VM uses the soft limit it is started with; RabbitMQ recommends 65536 for production.
      const name = 'fd limit rabbitmq';
      const raise = `raise it before osb deploy: ulimit -n 65536 (hard limit ${lim.hard}; /etc/security/limits.conf or LimitNOFILE= to raise that)`;
      if (lim.soft < 1024) return fail(name, `open files limit ${lim.soft}: RabbitMQ needs at least 1024 (one per connection, queue segment and file)`, raise);
      if (lim.soft < 65536) return warn(name, `open files limit ${lim.soft}: enough to start, below the 65536 RabbitMQ recommends for production`, raise);
      return ok(name, `open files limit ${lim.soft}`);
    },
    reloadTls: (config, _secrets, inst) => reloadRabbitmqTls(config, inst),
    smoke: (config, secrets, inst) => rabbitmqSmokeSteps(rabbitmqEndpoint(config, inst.ordinal, secrets, inst.dir)),
  },
  kubernetes: {
    objects: rabbitmqKubernetesObjects,
    credentialSecrets: { 'rabbitmq-credentials': { 'admin-password': 'rabbitmqAdminPassword', 'erlang-cookie': 'erlangCookie' } },
    readyMeaning: (config) => (clustered(config.rabbitmq) ? 'cluster nodes running' : 'server answering'),
  },
  backup: rabbitmqBackup,
};
