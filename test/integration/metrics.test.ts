/**
 * Issue 14 acceptance: Debian's real Prometheus scrapes what `osb metrics --format prometheus`
 * prints for a 3-node tier deployed by `osb deploy` (RabbitMQ, Galera, memcached: 3 nodes each,
 * port block 70), with the rule file `osb metrics --rules` prints. Injected faults fire the right
 * alert (read from Prometheus' /api/v1/alerts) within two evaluation intervals of being visible,
 * and recovery clears it:
 * - kill -9 one memcached node → MemcachedDown; `osb deploy memcached` clears it;
 * - stop one Galera node → MariadbDown and GaleraClusterSizeBelowConfigured; `osb deploy mariadb`;
 * - a RabbitMQ node's memory watermark set so low it raises its alarm (rabbitmqctl
 *   set_vm_memory_high_watermark 0.0001) → RabbitmqMemoryAlarm; the configured watermark back;
 * - HAProxy's writer backend down: every server of backend `mariadb` put in maintenance through the
 *   admin stats socket (`disable server`) → HaproxyNoHealthyWriter; `enable server` clears it.
 *   Why this fault: it is exactly the state the alert is about (the proxy has no server to send
 *   writes to) while the Galera cluster itself stays healthy, so the test proves this rule and not
 *   MariadbDown/GaleraNotPrimary, which stopping every node would fire as well.
 * Pending periods (`for:`) are dropped from the printed rules so that a fault shows within two
 * evaluation intervals; promtool tests (test/unit/alerts-promtool.test.ts) cover them.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { loadConfig } from '../../src/components/index.js';
import { rabbitmqEnv } from '../../src/components/rabbitmq/local.js';
import { nodeDir } from '../../src/config/state-dir.js';
import { allArgs, endpoints, listeningInBlock, ok, statusJson, waitFor } from '../helpers/local.js';
import { cleanup, osb, portBlock, tempStateDir } from '../helpers/osb.js';

const BLOCK = 70;
const base = 20000 + BLOCK * 100;
const PROMETHEUS_PORT = base + 5; // free in the block: RabbitMQ uses base+0..2
const SCRAPE_S = 1;
const EVAL_S = 2;
const REPLICAS = ['rabbitmq', 'mariadb', 'memcached'].flatMap((c) => ['--set', `${c}.replicas=3`]);
const setArgs = [...portBlock(BLOCK), ...REPLICAS, '--set', 'openstack.provision=false'];
const config = loadConfig({ set: setArgs.filter((a) => a !== '--set') });
const stateDir = tempStateDir('metrics');
const work = mkdtempSync(join(tmpdir(), 'osb-test-metrics-work-'));
const prom = `http://127.0.0.1:${PROMETHEUS_PORT}`;
let prometheus: ChildProcess | undefined;
/** Scrape targets in the printed scrape_configs. */
let targetCount = 0;

type Sample = { metric: Record<string, string>; value: [number, string] };
async function query(expr: string): Promise<Sample[]> {
  const r = (await (await fetch(`${prom}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as { data: { result: Sample[] } };
  return r.data.result;
}

type Alert = { labels: Record<string, string>; state: string };
async function firing(): Promise<Alert[]> {
  const r = (await (await fetch(`${prom}/api/v1/alerts`)).json()) as { data: { alerts: Alert[] } };
  return r.data.alerts.filter((a) => a.state === 'firing');
}
const names = (as: Alert[]) => [...new Set(as.map((a) => a.labels.alertname))].sort();

/** Waits until `alert` fires for `node`; returns seconds since `t0`. */
async function firesWithin(alert: string, node: string, t0: number): Promise<number> {
  await waitFor(async () => (await firing()).some((a) => a.labels.alertname === alert && a.labels.node === node), 60_000, `${alert} firing for ${node}`);
  const took = (Date.now() - t0) / 1000;
  console.log(`${alert} (${node}) firing ${took.toFixed(1)} s after the fault was visible (scrape ${SCRAPE_S} s, evaluation ${EVAL_S} s)`);
  return took;
}
/** One scrape to see the fault, then at most two evaluation intervals (and one second of slack for the HTTP polls). */
const BOUND_S = SCRAPE_S + 2 * EVAL_S + 1;

function haproxy(command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createConnection(join(stateDir, 'mariadb', 'proxy', 'haproxy.sock'));
    let out = '';
    s.on('connect', () => s.end(`${command}\n`));
    s.on('data', (d) => (out += d.toString()));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
}

function rabbitmqctl(ordinal: number, args: string[]): string {
  const r = spawnSync('/usr/lib/rabbitmq/bin/rabbitmqctl', args, {
    env: rabbitmqEnv(config, ordinal, nodeDir(stateDir, 'rabbitmq', `rabbitmq-${ordinal}`)),
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(r.status, `rabbitmqctl ${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(0);
  return r.stdout;
}

async function nodePid(component: string, ordinal: number): Promise<number> {
  const { status } = await statusJson(stateDir);
  return status.components.find((c) => c.component === component)!.nodes[ordinal]!.pid!;
}

beforeAll(async () => {
  ok(await osb(['deploy', ...setArgs], { stateDir, timeoutMs: 600_000 }));
  const scrape = ok(await osb(['metrics', '--format', 'prometheus'], { stateDir }));
  const scrapeConfigs = (parse(scrape.stdout) as { scrape_configs: { static_configs: { targets: string[] }[] }[] }).scrape_configs;
  targetCount = scrapeConfigs.flatMap((j) => j.static_configs.flatMap((s) => s.targets)).length;
  const rules = parse(ok(await osb(['metrics', '--rules'], { stateDir })).stdout) as { groups: { rules: { for?: string }[] }[] };
  for (const g of rules.groups) for (const r of g.rules) delete r.for;
  const ruleFile = join(work, 'rules.yml');
  writeFileSync(ruleFile, stringify(rules));
  const promCfg = join(work, 'prometheus.yml');
  writeFileSync(
    promCfg,
    stringify({
      global: { scrape_interval: `${SCRAPE_S}s`, scrape_timeout: '900ms', evaluation_interval: `${EVAL_S}s` },
      rule_files: [ruleFile],
      scrape_configs: scrapeConfigs,
    }),
  );
  prometheus = spawn(
    'prometheus',
    [`--config.file=${promCfg}`, `--storage.tsdb.path=${join(work, 'tsdb')}`, `--web.listen-address=127.0.0.1:${PROMETHEUS_PORT}`, '--log.level=warn'],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  await waitFor(
    async () =>
      fetch(`${prom}/-/ready`)
        .then((r) => r.ok)
        .catch(() => false),
    30_000,
    'Prometheus ready',
  );
}, 700_000);

afterAll(async () => {
  try {
    if (prometheus && prometheus.exitCode === null && prometheus.signalCode === null) {
      const gone = new Promise((r) => prometheus!.once('exit', r));
      prometheus.kill('SIGTERM');
      await gone;
    }
  } finally {
    await cleanup(stateDir);
    rmSync(work, { recursive: true, force: true });
  }
}, 180_000);

describe('a real Prometheus scrapes every node of a 3-node tier through `osb metrics --format prometheus`', () => {
  it('every target is up: 3 RabbitMQ (aggregated and detailed), 3 mysqld-exporters, HAProxy, 3 memcached exporters', async () => {
    expect(targetCount).toBe(3 + 3 + 3 + 1 + 3);
    await waitFor(async () => (await query('up == 1')).length === targetCount, 60_000, 'every target up');
    const up = await query('up');
    expect(up.every((s) => s.value[1] === '1')).toBe(true);
    const byJob = (job: string) =>
      up
        .filter((s) => s.metric.job === job)
        .map((s) => s.metric.node)
        .sort();
    expect(byJob('osb-rabbitmq')).toEqual(['rabbitmq-0', 'rabbitmq-1', 'rabbitmq-2']);
    expect(byJob('osb-rabbitmq-detailed')).toEqual(['rabbitmq-0', 'rabbitmq-1', 'rabbitmq-2']);
    expect(byJob('osb-mariadb')).toEqual(['mariadb-0', 'mariadb-1', 'mariadb-2']);
    expect(byJob('osb-haproxy')).toEqual(['mariadb-proxy']);
    expect(byJob('osb-memcached')).toEqual(['memcached-0', 'memcached-1', 'memcached-2']);
  });

  it('every Galera node: mysql_up 1 and wsrep_cluster_size 3, no scrape error', async () => {
    await waitFor(async () => (await query('mysql_up == 1')).length === 3, 30_000, 'mysql_up 1 on 3 nodes');
    const size = await query('mysql_global_status_wsrep_cluster_size');
    expect(size.map((s) => [s.metric.node, s.value[1]]).sort()).toEqual([
      ['mariadb-0', '3'],
      ['mariadb-1', '3'],
      ['mariadb-2', '3'],
    ]);
    expect(await query('mysql_exporter_last_scrape_error == 1')).toEqual([]);
    expect((await query('mysql_global_status_wsrep_local_state == 4')).length).toBe(3);
  });

  it('every RabbitMQ node: rabbitmq_identity_info', async () => {
    const id = await query('rabbitmq_identity_info{job="osb-rabbitmq"}');
    expect(id.map((s) => s.metric.node).sort()).toEqual(['rabbitmq-0', 'rabbitmq-1', 'rabbitmq-2']);
    expect(id.map((s) => s.metric.rabbitmq_node).sort()).toEqual([0, 1, 2].map((i) => `rabbit-${config.rabbitmq.port + i}@localhost`));
  });

  it('HAProxy: the mariadb backend has one active writer and two backups', async () => {
    expect(Number((await query('haproxy_backend_active_servers{proxy="mariadb"}'))[0]?.value[1])).toBe(1);
    expect(Number((await query('haproxy_backend_backup_servers{proxy="mariadb"}'))[0]?.value[1])).toBe(2);
  });

  it('every memcached node: its counters under the community exporter names', async () => {
    await waitFor(async () => (await query('memcached_up == 1')).length === 3, 15_000, 'memcached_up 1 on 3 nodes');
    const per = async (m: string) => (await query(m)).map((s) => Number(s.value[1]));
    expect(await per('memcached_max_connections')).toEqual([1, 2, 3].map(() => config.memcached.maxConnections));
    expect(await per('memcached_limit_bytes')).toEqual([1, 2, 3].map(() => config.memcached.memoryMB * 1024 * 1024));
    for (const m of [
      'memcached_current_connections',
      'memcached_uptime_seconds',
      'memcached_items_evicted_total',
      'memcached_current_items',
      'memcached_commands_total{command="get",status="hit"}',
    ]) {
      const v = await per(m);
      expect(v.length, m).toBe(3);
      expect(v.every(Number.isFinite), m).toBe(true);
    }
    expect((await query('memcached_up')).map((s) => s.metric.server).sort()).toEqual([0, 1, 2].map((i) => `127.0.0.1:${config.memcached.port + i}`));
  });

  it('no alert fires on a healthy tier', async () => {
    await new Promise((r) => setTimeout(r, 2 * EVAL_S * 1000 + 500));
    expect(names(await firing())).toEqual([]);
  });
});

describe('exporter accounts and secrets', () => {
  it('the mysqld-exporter account has only its grants, and its my.cnf is 0600', async () => {
    const eps = await endpoints(stateDir);
    const conn = await mysql.createConnection({ host: eps.mariadb.host, port: eps.mariadb.port, user: eps.mariadb.username, password: eps.mariadb.password });
    const [rows] = await conn.query("SHOW GRANTS FOR 'osb_exporter'@'localhost'");
    const [hosts] = await conn.query("SELECT Host FROM mysql.user WHERE User = 'osb_exporter'");
    await conn.end();
    const grants = (rows as Record<string, string>[]).map((r) => Object.values(r)[0]!.replace(/ IDENTIFIED BY PASSWORD '[^']+'/, ''));
    expect(grants.sort()).toEqual([
      'GRANT PROCESS, BINLOG MONITOR ON *.* TO `osb_exporter`@`localhost` WITH MAX_USER_CONNECTIONS 3',
      'GRANT SELECT ON `performance_schema`.* TO `osb_exporter`@`localhost`',
    ]);
    // localhost only: no TCP client elsewhere can use it.
    expect(hosts).toEqual([{ Host: 'localhost' }]);
    const secrets = JSON.parse(readFileSync(join(stateDir, 'secrets.json'), 'utf8')) as Record<string, string>;
    for (let i = 0; i < 3; i++) {
      const cnf = join(nodeDir(stateDir, 'mariadb', `mariadb-${i}`), 'exporter.cnf');
      expect(statSync(cnf).mode & 0o777).toBe(0o600);
      const socketPath = join(nodeDir(stateDir, 'mariadb', `mariadb-${i}`), 'run', 'mysqld.sock');
      const ex = await mysql.createConnection({ socketPath, user: 'osb_exporter', password: secrets.mariadbExporterPassword });
      await expect(ex.query('SELECT User FROM mysql.user')).rejects.toThrow(/denied/);
      await expect(ex.query('CREATE DATABASE osb_exporter_may_not')).rejects.toThrow(/denied/);
      await ex.end();
    }
  });

  it('no password or cookie in any command line', () => {
    const args = allArgs();
    expect(args).toContain('prometheus-mysqld-exporter');
    expect(args).toContain('exporter memcached --listen');
    const secrets = JSON.parse(readFileSync(join(stateDir, 'secrets.json'), 'utf8')) as Record<string, string>;
    expect(statSync(join(stateDir, 'secrets.json')).mode & 0o777).toBe(0o600);
    for (const key of ['mariadbAdminPassword', 'rabbitmqAdminPassword', 'erlangCookie', 'mariadbExporterPassword']) {
      expect(secrets[key]?.length, key).toBeGreaterThan(20);
      expect(args.includes(secrets[key]!), key).toBe(false);
    }
  });

  it('osb status --json: the exporters beside the nodes, and the numbers an operator checks first', async () => {
    const { run, status } = await statusJson(stateDir);
    ok(run);
    const s = status as unknown as {
      extras: { name: string; healthy: boolean }[];
      components: { component: string; nodes: { numbers: Record<string, number | null> }[] }[];
    };
    expect(
      s.extras
        .filter((e) => e.healthy)
        .map((e) => e.name)
        .sort(),
    ).toEqual(
      [
        'mariadb-exporter-0',
        'mariadb-exporter-1',
        'mariadb-exporter-2',
        'mariadb-proxy',
        'memcached-exporter-0',
        'memcached-exporter-1',
        'memcached-exporter-2',
      ].sort(),
    );
    const numbers = (c: string) => s.components.find((x) => x.component === c)!.nodes.map((n) => n.numbers);
    for (const n of numbers('mariadb')) {
      expect(n.connectionsMax).toBe(config.mariadb.maxConnections);
      expect(n.connectionsUsed).toBeGreaterThanOrEqual(1);
      expect(n.flowControlPausedFraction).toBeGreaterThanOrEqual(0);
    }
    for (const n of numbers('rabbitmq')) expect(n.queueMessages).toBe(0);
    for (const n of numbers('memcached')) {
      expect(n.connectionsMax).toBe(config.memcached.maxConnections);
      expect(n).toHaveProperty('hitRatio');
    }
  });
});

describe('injected faults fire the right alert within two evaluation intervals; recovery clears it', () => {
  it('kill -9 one memcached node: MemcachedDown; `osb deploy memcached` clears it', async () => {
    process.kill(await nodePid('memcached', 1), 'SIGKILL');
    const took = await firesWithin('MemcachedDown', 'memcached-1', Date.now());
    expect(took).toBeLessThanOrEqual(BOUND_S);
    expect(names(await firing())).toEqual(['MemcachedDown']);
    expect((await firing())[0]!.labels).toMatchObject({ severity: 'critical', component: 'memcached', ordinal: '1' });
    ok(await osb(['deploy', 'memcached'], { stateDir }));
    await waitFor(async () => (await firing()).length === 0, 30_000, 'MemcachedDown cleared');
  });

  it('stop one Galera node: MariadbDown and GaleraClusterSizeBelowConfigured; `osb deploy mariadb` clears them', async () => {
    const pid = await nodePid('mariadb', 2);
    process.kill(pid, 'SIGTERM');
    await waitFor(() => !existsPid(pid), 60_000, 'mariadb-2 stopped');
    const t0 = Date.now();
    expect(await firesWithin('MariadbDown', 'mariadb-2', t0)).toBeLessThanOrEqual(BOUND_S);
    // The surviving members see a cluster of 2 where 3 are configured.
    expect(await firesWithin('GaleraClusterSizeBelowConfigured', 'mariadb-0', t0)).toBeLessThanOrEqual(BOUND_S);
    expect(names(await firing())).toEqual(['GaleraClusterSizeBelowConfigured', 'MariadbDown']);
    ok(await osb(['deploy', 'mariadb'], { stateDir, timeoutMs: 300_000 }));
    await waitFor(async () => (await firing()).length === 0, 60_000, 'Galera alerts cleared');
    expect((await query('mysql_global_status_wsrep_cluster_size == 3')).length).toBe(3);
  });

  it("a RabbitMQ node's memory watermark so low it raises its alarm: RabbitmqMemoryAlarm; the configured watermark clears it", async () => {
    const restore = () => rabbitmqctl(1, ['set_vm_memory_high_watermark', String(config.rabbitmq.memoryHighWatermark)]);
    try {
      rabbitmqctl(1, ['set_vm_memory_high_watermark', '0.0001']);
      // RabbitMQ's memory monitor raises the alarm on its next check; the fault is visible once the node's own endpoint reports it.
      const own = `http://127.0.0.1:${config.rabbitmq.prometheusPort + 1}/metrics`;
      await waitFor(async () => /^rabbitmq_alarms_memory_used_watermark 1$/m.test(await (await fetch(own)).text()), 30_000, 'rabbitmq-1 reports its alarm');
      const took = await firesWithin('RabbitmqMemoryAlarm', 'rabbitmq-1', Date.now());
      expect(took).toBeLessThanOrEqual(BOUND_S);
      expect(names(await firing())).toEqual(['RabbitmqMemoryAlarm']);
      // osb status names it too (from the management API, whose node stats refresh every few seconds).
      await waitFor(async () => /memory alarm/.test((await statusJson(stateDir)).run.stdout), 30_000, 'osb status shows the memory alarm');
    } finally {
      restore();
    }
    await waitFor(async () => (await firing()).length === 0, 60_000, 'RabbitmqMemoryAlarm cleared');
    // The management API's view lags the node's own endpoint by up to its stats interval: osb status clears after it.
    await waitFor(async () => (await statusJson(stateDir)).run.code === 0, 30_000, 'osb status healthy again once the alarm cleared');
  });

  it('every server of the HAProxy writer backend in maintenance: HaproxyNoHealthyWriter; enabling them clears it', async () => {
    try {
      for (let i = 0; i < 3; i++) await haproxy(`disable server mariadb/mariadb-${i}`);
      const took = await firesWithin('HaproxyNoHealthyWriter', 'mariadb-proxy', Date.now());
      expect(took).toBeLessThanOrEqual(BOUND_S);
      expect(names(await firing())).toEqual(['HaproxyNoHealthyWriter']);
    } finally {
      for (let i = 0; i < 3; i++) await haproxy(`enable server mariadb/mariadb-${i}`);
    }
    await waitFor(async () => (await firing()).length === 0, 60_000, 'HaproxyNoHealthyWriter cleared');
    ok((await statusJson(stateDir)).run);
  });
});

describe('destroy', () => {
  it('stops every exporter with the nodes: nothing listens in the port block afterwards', async () => {
    const gone = new Promise((r) => prometheus!.once('exit', r));
    prometheus!.kill('SIGTERM');
    await gone;
    ok(await osb(['destroy'], { stateDir, timeoutMs: 180_000 }));
    await waitFor(() => listeningInBlock(BLOCK).length === 0, 10_000, 'port block free');
    expect(allArgs()).not.toContain(`--listen 127.0.0.1:${config.memcached.exporterPort}`);
  }, 200_000);
});

function existsPid(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}
