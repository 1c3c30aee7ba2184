import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { alertRuleGroups, renderRuleFile } from '../../src/components/alerts.js';
import { loadConfig } from '../../src/components/index.js';
import type { AlertRule } from '../../src/model/metrics.js';

/**
 * The rendered rule file, checked by Debian's real `promtool check rules`, and every alert
 * exercised by `promtool test rules` on series written here: each one firing (with its labels and
 * expanded summary/description) and not firing.
 */

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

type Labels = Record<string, string>;
interface Case {
  alert: string;
  /** Only for configs with this many replicas (default: both). */
  replicas?: 1 | 3;
  series: { series: string; values: string }[];
  evalTime: string;
  /** Expected alerts: labels of the series the alert keeps, and the $value templates see. */
  fires: { labels: Labels; value: number }[];
  why: string;
}

const sel = (name: string, l: Labels) =>
  `${name}{${Object.entries(l)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}}`;
const node = (job: string, i: number, comp: string): Labels => ({ job, instance: `127.0.0.1:${9000 + i}`, node: `${comp}-${i}`, ordinal: String(i) });
const db = (i: number) => node('osb-mariadb', i, 'mariadb');
const mq = (i: number) => node('osb-rabbitmq', i, 'rabbitmq');
const mqd = (i: number) => node('osb-rabbitmq-detailed', i, 'rabbitmq');
const mc = (i: number) => ({ ...node('osb-memcached', i, 'memcached'), server: `127.0.0.1:${11211 + i}` });
const hap: Labels = { job: 'osb-haproxy', instance: '127.0.0.1:8404', node: 'mariadb-proxy', ordinal: '0' };
const q = { vhost: '/', queue: 'nova' };

const CASES: Case[] = [
  // MariaDB / Galera / HAProxy
  {
    alert: 'MariadbDown',
    why: 'server gone (mysql_up 0)',
    series: [{ series: sel('mysql_up', db(0)), values: '1x3 0x10' }],
    evalTime: '10m',
    fires: [{ labels: db(0), value: 0 }],
  },
  {
    alert: 'MariadbDown',
    why: 'exporter unreachable (up 0)',
    series: [{ series: sel('up', db(0)), values: '0x10' }],
    evalTime: '10m',
    fires: [{ labels: db(0), value: 0 }],
  },
  {
    alert: 'MariadbDown',
    why: 'healthy',
    series: [
      { series: sel('mysql_up', db(0)), values: '1x10' },
      { series: sel('up', db(0)), values: '1x10' },
    ],
    evalTime: '10m',
    fires: [],
  },
  {
    alert: 'MariadbDown',
    why: 'a single failed scrape is not an outage',
    series: [{ series: sel('up', db(0)), values: '1x8 0 1' }],
    evalTime: '9m',
    fires: [],
  },
  {
    alert: 'GaleraNotPrimary',
    replicas: 3,
    why: 'non-Primary',
    series: [{ series: sel('mysql_global_status_wsrep_cluster_status', db(1)), values: '1x3 0x10' }],
    evalTime: '10m',
    fires: [{ labels: db(1), value: 0 }],
  },
  {
    alert: 'GaleraNotPrimary',
    replicas: 3,
    why: 'Primary',
    series: [{ series: sel('mysql_global_status_wsrep_cluster_status', db(1)), values: '1x10' }],
    evalTime: '10m',
    fires: [],
  },
  {
    alert: 'GaleraClusterSizeBelowConfigured',
    replicas: 3,
    why: '2 of 3',
    series: [0, 1].map((i) => ({ series: sel('mysql_global_status_wsrep_cluster_size', db(i)), values: '3x3 2x10' })),
    evalTime: '10m',
    fires: [0, 1].map((i) => ({ labels: db(i), value: 2 })),
  },
  {
    alert: 'GaleraClusterSizeBelowConfigured',
    replicas: 3,
    why: '3 of 3',
    series: [0, 1, 2].map((i) => ({ series: sel('mysql_global_status_wsrep_cluster_size', db(i)), values: '3x10' })),
    evalTime: '10m',
    fires: [],
  },
  {
    alert: 'GaleraNodeNotSynced',
    replicas: 3,
    why: 'Donor/Desynced for long',
    series: [{ series: sel('mysql_global_status_wsrep_local_state', db(2)), values: '4x2 2x10' }],
    evalTime: '10m',
    fires: [{ labels: db(2), value: 2 }],
  },
  {
    alert: 'GaleraNodeNotSynced',
    replicas: 3,
    why: 'a one-minute state transfer',
    series: [{ series: sel('mysql_global_status_wsrep_local_state', db(2)), values: '4x5 1 4x5' }],
    evalTime: '7m',
    fires: [],
  },
  {
    alert: 'GaleraFlowControlPaused',
    replicas: 3,
    why: 'paused half the time',
    series: [{ series: sel('mysql_global_status_wsrep_flow_control_paused_ns', db(0)), values: '0+30000000000x20' }],
    evalTime: '15m',
    fires: [{ labels: db(0), value: 0.5 }],
  },
  {
    alert: 'GaleraFlowControlPaused',
    replicas: 3,
    why: 'paused 10% of the time',
    series: [{ series: sel('mysql_global_status_wsrep_flow_control_paused_ns', db(0)), values: '0+6000000000x20' }],
    evalTime: '15m',
    fires: [],
  },
  {
    alert: 'HaproxyNoHealthyWriter',
    replicas: 3,
    why: 'no server up',
    series: [
      { series: sel('haproxy_backend_active_servers', { ...hap, proxy: 'mariadb' }), values: '1x3 0x10' },
      { series: sel('haproxy_backend_backup_servers', { ...hap, proxy: 'mariadb' }), values: '2x3 0x10' },
    ],
    evalTime: '10m',
    fires: [{ labels: { ...hap, proxy: 'mariadb' }, value: 0 }],
  },
  {
    alert: 'HaproxyNoHealthyWriter',
    replicas: 3,
    why: 'HAProxy itself down',
    series: [{ series: sel('up', hap), values: '0x10' }],
    evalTime: '10m',
    fires: [{ labels: hap, value: 0 }],
  },
  {
    alert: 'HaproxyNoHealthyWriter',
    replicas: 3,
    why: 'writer down, a backup took over',
    series: [
      { series: sel('haproxy_backend_active_servers', { ...hap, proxy: 'mariadb' }), values: '1x3 0x10' },
      { series: sel('haproxy_backend_backup_servers', { ...hap, proxy: 'mariadb' }), values: '2x3 1x10' },
    ],
    evalTime: '10m',
    fires: [],
  },
  // RabbitMQ
  {
    alert: 'RabbitmqNodeDown',
    why: 'not scraped',
    series: [{ series: sel('up', mq(1)), values: '1x3 0x10' }],
    evalTime: '10m',
    fires: [{ labels: mq(1), value: 0 }],
  },
  { alert: 'RabbitmqNodeDown', why: 'up', series: [{ series: sel('up', mq(1)), values: '1x10' }], evalTime: '10m', fires: [] },
  {
    alert: 'RabbitmqMemoryAlarm',
    why: 'alarm',
    series: [{ series: sel('rabbitmq_alarms_memory_used_watermark', mq(0)), values: '0 1' }],
    evalTime: '1m',
    fires: [{ labels: mq(0), value: 1 }],
  },
  {
    alert: 'RabbitmqMemoryAlarm',
    why: 'no alarm',
    series: [{ series: sel('rabbitmq_alarms_memory_used_watermark', mq(0)), values: '0 0' }],
    evalTime: '1m',
    fires: [],
  },
  {
    alert: 'RabbitmqDiskAlarm',
    why: 'alarm',
    series: [{ series: sel('rabbitmq_alarms_free_disk_space_watermark', mq(0)), values: '0 1' }],
    evalTime: '1m',
    fires: [{ labels: mq(0), value: 1 }],
  },
  {
    alert: 'RabbitmqDiskAlarm',
    why: 'no alarm',
    series: [{ series: sel('rabbitmq_alarms_free_disk_space_watermark', mq(0)), values: '0 0' }],
    evalTime: '1m',
    fires: [],
  },
  {
    alert: 'RabbitmqQuorumQueueWithoutLeader',
    why: 'members but no leader',
    series: [0, 1].map((i) => ({ series: sel('rabbitmq_detailed_raft_term_total', { ...mqd(i), ...q }), values: '5+1x10' })),
    evalTime: '10m',
    fires: [{ labels: q, value: 2 }],
  },
  {
    alert: 'RabbitmqQuorumQueueWithoutLeader',
    why: 'a leader reports the queue',
    series: [
      ...[0, 1].map((i) => ({ series: sel('rabbitmq_detailed_raft_term_total', { ...mqd(i), ...q }), values: '5x10' })),
      { series: sel('rabbitmq_detailed_queue_messages', { ...mqd(1), ...q }), values: '0x10' },
    ],
    evalTime: '10m',
    fires: [],
  },
  {
    alert: 'RabbitmqUnroutableMessages',
    why: '1 msg/s dropped',
    series: [
      { series: sel('rabbitmq_global_messages_unroutable_dropped_total', { ...mq(0), protocol: 'amqp091' }), values: '0+60x20' },
      { series: sel('rabbitmq_global_messages_unroutable_returned_total', { ...mq(0), protocol: 'amqp091' }), values: '0x20' },
    ],
    evalTime: '15m',
    fires: [{ labels: { instance: mq(0).instance!, node: 'rabbitmq-0', ordinal: '0' }, value: 1 }],
  },
  {
    alert: 'RabbitmqUnroutableMessages',
    why: 'all routed',
    series: [
      { series: sel('rabbitmq_global_messages_unroutable_dropped_total', { ...mq(0), protocol: 'amqp091' }), values: '0x20' },
      { series: sel('rabbitmq_global_messages_unroutable_returned_total', { ...mq(0), protocol: 'amqp091' }), values: '0x20' },
    ],
    evalTime: '15m',
    fires: [],
  },
  {
    alert: 'RabbitmqPartition',
    replicas: 3,
    why: 'node 0 reaches one peer (a CLI link does not count), node 1 none, all up',
    series: [
      ...[0, 1, 2].map((i) => ({ series: sel('up', mq(i)), values: '1x10' })),
      ...[0, 1, 2].map((i) => ({ series: sel('rabbitmq_identity_info', { ...mq(i), rabbitmq_node: `rabbit-${i}@localhost` }), values: '1x10' })),
      { series: sel('erlang_vm_dist_node_state', { ...mq(0), peer: 'rabbit-2@localhost' }), values: '3x10' },
      { series: sel('erlang_vm_dist_node_state', { ...mq(0), peer: 'rabbitmqcli-77-rabbit-0@localhost' }), values: '3x10' },
      { series: sel('erlang_vm_dist_node_state', { ...mq(2), peer: 'rabbit-0@localhost' }), values: '3x10' },
      { series: sel('erlang_vm_dist_node_state', { ...mq(2), peer: 'rabbit-1@localhost' }), values: '1x10' },
    ],
    evalTime: '10m',
    fires: [
      { labels: { instance: mq(0).instance!, node: 'rabbitmq-0', ordinal: '0' }, value: 1 },
      { labels: { instance: mq(1).instance!, node: 'rabbitmq-1', ordinal: '1' }, value: 0 },
      { labels: { instance: mq(2).instance!, node: 'rabbitmq-2', ordinal: '2' }, value: 1 },
    ],
  },
  {
    alert: 'RabbitmqPartition',
    replicas: 3,
    why: 'fully connected',
    series: [
      ...[0, 1, 2].map((i) => ({ series: sel('up', mq(i)), values: '1x10' })),
      ...[0, 1, 2].flatMap((i) =>
        [0, 1, 2]
          .filter((p) => p !== i)
          .map((p) => ({ series: sel('erlang_vm_dist_node_state', { ...mq(i), peer: `rabbit-${p}@localhost` }), values: '3x10' })),
      ),
    ],
    evalTime: '10m',
    fires: [],
  },
  {
    alert: 'RabbitmqPartition',
    replicas: 3,
    why: 'a stopped node is RabbitmqNodeDown, not a partition',
    series: [
      ...[0, 1].map((i) => ({ series: sel('up', mq(i)), values: '1x10' })),
      { series: sel('up', mq(2)), values: '0x10' },
      ...[0, 1].map((i) => ({ series: sel('erlang_vm_dist_node_state', { ...mq(i), peer: `rabbit-${1 - i}@localhost` }), values: '3x10' })),
    ],
    evalTime: '10m',
    fires: [],
  },
  {
    alert: 'RabbitmqQuorumQueueBelowMajority',
    replicas: 3,
    why: '1 of 3 members',
    series: [{ series: sel('rabbitmq_detailed_raft_term_total', { ...mqd(0), ...q }), values: '5x10' }],
    evalTime: '10m',
    fires: [{ labels: q, value: 1 }],
  },
  {
    alert: 'RabbitmqQuorumQueueBelowMajority',
    replicas: 3,
    why: '2 of 3 members',
    series: [0, 1].map((i) => ({ series: sel('rabbitmq_detailed_raft_term_total', { ...mqd(i), ...q }), values: '5x10' })),
    evalTime: '10m',
    fires: [],
  },
  // memcached
  {
    alert: 'MemcachedDown',
    why: 'stats unreadable',
    series: [{ series: sel('memcached_up', mc(0)), values: '1x3 0x10' }],
    evalTime: '10m',
    fires: [{ labels: mc(0), value: 0 }],
  },
  {
    alert: 'MemcachedDown',
    why: 'exporter unreachable',
    series: [{ series: sel('up', node('osb-memcached', 0, 'memcached')), values: '0x10' }],
    evalTime: '10m',
    fires: [{ labels: node('osb-memcached', 0, 'memcached'), value: 0 }],
  },
  { alert: 'MemcachedDown', why: 'up', series: [{ series: sel('memcached_up', mc(0)), values: '1x10' }], evalTime: '10m', fires: [] },
  {
    alert: 'MemcachedEvictions',
    why: '1 eviction/s',
    series: [{ series: sel('memcached_items_evicted_total', mc(0)), values: '0+60x30' }],
    evalTime: '25m',
    fires: [{ labels: mc(0), value: 1 }],
  },
  { alert: 'MemcachedEvictions', why: 'none', series: [{ series: sel('memcached_items_evicted_total', mc(0)), values: '7x30' }], evalTime: '25m', fires: [] },
  {
    alert: 'MemcachedConnectionSaturation',
    why: '90% of slots',
    series: [
      { series: sel('memcached_current_connections', mc(1)), values: '900x10' },
      { series: sel('memcached_max_connections', mc(1)), values: '1000x10' },
    ],
    evalTime: '10m',
    fires: [{ labels: mc(1), value: 0.9 }],
  },
  {
    alert: 'MemcachedConnectionSaturation',
    why: '50% of slots',
    series: [
      { series: sel('memcached_current_connections', mc(1)), values: '500x10' },
      { series: sel('memcached_max_connections', mc(1)), values: '1000x10' },
    ],
    evalTime: '10m',
    fires: [],
  },
];

/** The few template forms the rules use, expanded as Prometheus does. */
function expand(template: string, labels: Labels, value: number): string {
  const g4 = (v: number) => String(Number(v.toPrecision(4)));
  return template
    .replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, k: string) => labels[k] ?? '')
    .replace(/\{\{ \$value \| humanizePercentage \}\}/g, `${g4(value * 100)}%`)
    .replace(/\{\{ \$value \| humanize \}\}/g, g4(value))
    .replace(/\{\{ \$value \}\}/g, String(value));
}

function configFor(replicas: 1 | 3) {
  return loadConfig({ set: ['rabbitmq.replicas', 'mariadb.replicas', 'memcached.replicas'].map((k) => `${k}=${replicas}`) });
}

describe.each([1, 3] as const)('alert rules of a %i-node tier, with the real promtool', (replicas) => {
  const config = configFor(replicas);
  const rules = new Map<string, AlertRule>(alertRuleGroups(config).flatMap((g) => g.rules.map((r) => [r.alert, r] as [string, AlertRule])));
  const dir = mkdtempSync(join(tmpdir(), 'osb-test-alerts-'));
  dirs.push(dir);
  const ruleFile = join(dir, 'rules.yml');
  writeFileSync(ruleFile, renderRuleFile(config));

  it('promtool check rules accepts the rendered file', () => {
    const out = execFileSync('promtool', ['check', 'rules', ruleFile], { encoding: 'utf8' });
    expect(out).toContain(`SUCCESS: ${rules.size} rules found`);
  });

  it('covers exactly the alerts this tier can raise', () => {
    const always = [
      'RabbitmqNodeDown',
      'RabbitmqMemoryAlarm',
      'RabbitmqDiskAlarm',
      'RabbitmqQuorumQueueWithoutLeader',
      'RabbitmqUnroutableMessages',
      'MariadbDown',
      'MemcachedDown',
      'MemcachedEvictions',
      'MemcachedConnectionSaturation',
    ];
    const clustered = [
      'RabbitmqPartition',
      'RabbitmqQuorumQueueBelowMajority',
      'GaleraNotPrimary',
      'GaleraClusterSizeBelowConfigured',
      'GaleraNodeNotSynced',
      'GaleraFlowControlPaused',
      'HaproxyNoHealthyWriter',
    ];
    expect([...rules.keys()].sort()).toEqual([...always, ...(replicas > 1 ? clustered : [])].sort());
    // Each alert is exercised below both firing and not firing.
    for (const name of rules.keys()) {
      const cases = CASES.filter((c) => c.alert === name && (!c.replicas || c.replicas === replicas));
      expect(
        cases.some((c) => c.fires.length > 0),
        `${name} has a firing case`,
      ).toBe(true);
      expect(
        cases.some((c) => c.fires.length === 0),
        `${name} has a not-firing case`,
      ).toBe(true);
    }
  });

  it('every summary tells the operator what to do with an osb command', () => {
    for (const r of rules.values()) expect(`${r.annotations.summary} ${r.annotations.description}`, r.alert).toMatch(/`osb [a-z]+/);
  });

  if (replicas === 3) {
    it('thresholds follow the config: 3 Galera nodes expected, majority 2 of 3 quorum queue members', () => {
      expect(rules.get('GaleraClusterSizeBelowConfigured')!.expr).toMatch(/< 3$/);
      expect(rules.get('RabbitmqQuorumQueueBelowMajority')!.expr).toMatch(/< 2$/);
      const five = new Map(
        alertRuleGroups(loadConfig({ set: ['mariadb.replicas=5', 'rabbitmq.replicas=5'] })).flatMap((g) =>
          g.rules.map((r) => [r.alert, r.expr] as [string, string]),
        ),
      );
      expect(five.get('GaleraClusterSizeBelowConfigured')).toMatch(/< 5$/);
      expect(five.get('RabbitmqQuorumQueueBelowMajority')).toMatch(/< 3$/);
    });
  }

  it('promtool test rules: every alert fires on its fault and stays silent otherwise', () => {
    const cases = CASES.filter((c) => !c.replicas || c.replicas === replicas);
    const tests = cases.map((c) => {
      const r = rules.get(c.alert)!;
      return {
        name: `${c.alert}: ${c.why}`,
        interval: '1m',
        input_series: c.series,
        alert_rule_test: [
          {
            eval_time: c.evalTime,
            alertname: c.alert,
            exp_alerts: c.fires.map((f) => ({
              exp_labels: { ...f.labels, ...r.labels },
              exp_annotations: { summary: expand(r.annotations.summary, f.labels, f.value), description: expand(r.annotations.description, f.labels, f.value) },
            })),
          },
        ],
      };
    });
    const testFile = join(dir, 'tests.yml');
    writeFileSync(testFile, stringify({ rule_files: [ruleFile], evaluation_interval: '1m', tests }, { lineWidth: 0 }));
    const run = spawnSync('promtool', ['test', 'rules', testFile], { encoding: 'utf8' });
    expect(run.stdout + run.stderr).toContain('SUCCESS');
    expect(run.status).toBe(0);
    expect(parse(renderRuleFile(config)).groups.length).toBe(3);
  });
});
