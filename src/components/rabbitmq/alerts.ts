import type { Config } from '../../config/schema.js';
import { type AlertOptions, type RuleGroup, majority, rule } from '../../model/metrics.js';
import { RABBITMQ_DETAILED_JOB, RABBITMQ_JOB } from './metrics.js';

const j = `job="${RABBITMQ_JOB}"`;
const d = `job="${RABBITMQ_DETAILED_JOB}"`;
const labels = (severity: 'critical' | 'warning') => ({ severity, component: 'rabbitmq' as const });

/** Alert rules of RabbitMQ (rabbitmq_prometheus). Thresholds follow rabbitmq.replicas. */
export function rabbitmqAlertRules(config: Config, opts: AlertOptions = {}): RuleGroup[] {
  const r = config.rabbitmq;
  if (!r.enabled) return [];
  const n = r.replicas;
  const rules = [
    rule(
      {
        alert: 'RabbitmqNodeDown',
        expr: `up{${j}} == 0`,
        forSeconds: 60,
        labels: labels('critical'),
        annotations: {
          summary: 'RabbitMQ {{ $labels.node }} is down or paused: run `osb status`, then `osb deploy rabbitmq` to start it again',
          description:
            'Its Prometheus endpoint does not answer: the node is stopped, crashed, or paused (pause_minority stops a node that sees only a minority). ' +
            'Read `osb logs rabbitmq --node {{ $labels.ordinal }}`; `osb deploy rabbitmq` starts a dead node and it rejoins the cluster by itself.',
        },
      },
      opts,
    ),
    rule(
      {
        alert: 'RabbitmqMemoryAlarm',
        expr: `rabbitmq_alarms_memory_used_watermark{${j}} == 1`,
        labels: labels('critical'),
        annotations: {
          summary: 'RabbitMQ {{ $labels.node }} raised its memory alarm and blocks every publisher: drain queues or raise rabbitmq.memoryHighWatermark',
          description:
            'The node uses more memory than vm_memory_high_watermark (rabbitmq.memoryHighWatermark=' +
            `${r.memoryHighWatermark}), so publishing connections are blocked cluster-wide. ` +
            'Find the queues that grow (consumers of an OpenStack service stopped?) with `osb status --json`; if the host has room, ' +
            '`osb deploy --set rabbitmq.memoryHighWatermark=0.6` raises the limit (changed config restarts the nodes).',
        },
      },
      opts,
    ),
    rule(
      {
        alert: 'RabbitmqDiskAlarm',
        expr: `rabbitmq_alarms_free_disk_space_watermark{${j}} == 1`,
        labels: labels('critical'),
        annotations: {
          summary: 'RabbitMQ {{ $labels.node }} raised its disk alarm and blocks every publisher: free disk space under the osb state dir',
          description:
            'Free disk space fell below disk_free_limit (50 MB). Publishers are blocked cluster-wide until space is freed. ' +
            'Free space on the file system of the state dir (`osb status` shows data sizes); deep queues are the usual cause.',
        },
      },
      opts,
    ),
    rule(
      {
        alert: 'RabbitmqQuorumQueueWithoutLeader',
        // Only the leader of a quorum queue reports its queue_coarse_metrics (rabbit_quorum_queue:handle_tick);
        // its members report Raft metrics. Members but no leader: the queue accepts nothing.
        expr: `count by (vhost, queue) (rabbitmq_detailed_raft_term_total{${d}}) unless count by (vhost, queue) (rabbitmq_detailed_queue_messages{${d}})`,
        forSeconds: 60,
        labels: labels('critical'),
        annotations: {
          summary: 'Quorum queue {{ $labels.queue }} (vhost {{ $labels.vhost }}) has no leader and accepts no messages: run `osb status`',
          description:
            'Its members cannot elect a leader, usually because a majority of them is down. `osb status` shows the stopped nodes; ' +
            '`osb deploy rabbitmq` starts them and the queue elects a leader again.',
        },
      },
      opts,
    ),
    rule(
      {
        alert: 'RabbitmqUnroutableMessages',
        expr: `sum by (instance, node, ordinal) (rate(rabbitmq_global_messages_unroutable_dropped_total{${j}}[5m]) + rate(rabbitmq_global_messages_unroutable_returned_total{${j}}[5m])) > 0`,
        forSeconds: 300,
        labels: labels('warning'),
        annotations: {
          summary: 'RabbitMQ {{ $labels.node }} drops or returns {{ $value | humanize }} unroutable messages/s: a publisher sends where no queue is bound',
          description:
            'Messages reach an exchange that routes them to no queue, and are lost (or returned to the publisher). ' +
            'Usually the consuming OpenStack service is not running, or its vhost/transport_url is wrong: compare `osb endpoints --service NAME` with the service config.',
        },
      },
      opts,
    ),
  ];
  if (n > 1) {
    rules.push(
      rule(
        {
          alert: 'RabbitmqPartition',
          // Established Erlang distribution links to the other cluster nodes (CLI connections excluded);
          // an isolated node has no links at all, hence the `or ... * 0`. Silent while a node is simply
          // down: RabbitmqNodeDown says that.
          expr:
            `(count by (instance, node, ordinal) (erlang_vm_dist_node_state{${j},peer!~"rabbitmqcli.*"} == 3) or count by (instance, node, ordinal) (rabbitmq_identity_info{${j}}) * 0) < ${n - 1}` +
            ` unless on() (up{${j}} == 0)`,
          forSeconds: 60,
          labels: labels('critical'),
          annotations: {
            summary: `RabbitMQ {{ $labels.node }} is connected to {{ $value }} of its ${n - 1} peers: a network partition; run \`osb status\``,
            description:
              `Every node of the ${n}-node cluster should hold a distribution link to each other node. ` +
              `With partition handling ${r.partitionHandling} a minority side pauses itself. Repair the network between the nodes, ` +
              'then `osb restart rabbitmq --rolling` if a node does not rejoin by itself.',
          },
        },
        opts,
      ),
      rule(
        {
          alert: 'RabbitmqQuorumQueueBelowMajority',
          expr: `count by (vhost, queue) (rabbitmq_detailed_raft_term_total{${d}}) < ${majority(n)}`,
          forSeconds: 60,
          labels: labels('critical'),
          annotations: {
            summary: `Quorum queue {{ $labels.queue }} (vhost {{ $labels.vhost }}) has {{ $value }} running members, fewer than the majority of ${majority(n)}: run \`osb status\``,
            description:
              `A quorum queue on ${n} nodes needs ${majority(n)} running members to elect a leader and confirm publishes. ` +
              'Start the stopped nodes with `osb deploy rabbitmq`; the members rejoin by themselves.',
          },
        },
        opts,
      ),
    );
  }
  return [{ name: 'osb-rabbitmq', rules }];
}
