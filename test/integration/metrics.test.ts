/**
 * Issue 14, the pieces before `osb deploy` wires them: Debian's real Prometheus scrapes a
 * MariaDB deployed by `osb deploy` through Debian's prometheus-mysqld-exporter (least-privilege
 * account, 0600 my.cnf) and an osb-deployed memcached through `osb exporter memcached`, with
 * osb's rendered rule file loaded. Killing memcached fires MemcachedDown in Prometheus'
 * /api/v1/alerts; `osb deploy memcached` clears it. Port block 70.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { renderRuleFile } from '../../src/components/alerts.js';
import { exporterAccountStatements, mariadbScrapeTargets, MYSQLD_EXPORTER_BINARY, mysqldExporterArgs, renderExporterMyCnf } from '../../src/components/mariadb/metrics.js';
import { memcachedExporterArgs, memcachedScrapeTargets } from '../../src/components/memcached/metrics.js';
import { loadConfig } from '../../src/components/index.js';
import { generatePassword } from '../../src/config/secrets.js';
import { renderScrapeConfigs } from '../../src/model/metrics.js';
import { allArgs, endpoints, ok, pids, waitFor } from '../helpers/local.js';
import { cleanup, OSB, osb, portBlock, tempStateDir } from '../helpers/osb.js';

const BLOCK = 70;
const base = 20000 + BLOCK * 100;
const PROMETHEUS_PORT = base + 92; // rabbitmq.prometheusPort of node 2: free, RabbitMQ is not deployed here
const SCRAPE_S = 1;
const EVAL_S = 2;
const setArgs = portBlock(BLOCK);
const config = loadConfig({ set: setArgs.filter((a) => a !== '--set') });
const stateDir = tempStateDir('metrics');
const work = mkdtempSync(join(tmpdir(), 'osb-test-metrics-work-'));
const exporterPassword = generatePassword();
const children: ChildProcess[] = [];
const prom = `http://127.0.0.1:${PROMETHEUS_PORT}`;

function start(command: string, args: string[], log: string): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d: Buffer) => out.push(d));
  child.on('exit', () => writeFileSync(join(work, log), Buffer.concat(out)));
  children.push(child);
  return child;
}

async function query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const r = (await (await fetch(`${prom}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  return r.data.result;
}

async function firing(): Promise<{ labels: Record<string, string>; state: string }[]> {
  const r = (await (await fetch(`${prom}/api/v1/alerts`)).json()) as { data: { alerts: { labels: Record<string, string>; state: string }[] } };
  return r.data.alerts.filter((a) => a.state === 'firing');
}

beforeAll(async () => {
  ok(await osb(['deploy', 'mariadb', 'memcached', ...setArgs], { stateDir }));
  // The exporter's account, created over the admin connection (password in the protocol only).
  const eps = await endpoints(stateDir);
  const conn = await mysql.createConnection({ socketPath: eps.mariadb.socket, user: eps.mariadb.username, password: eps.mariadb.password });
  for (const s of exporterAccountStatements(exporterPassword)) await conn.query(s.sql, s.params);
  await conn.end();
  const myCnf = join(work, 'exporter.cnf');
  writeFileSync(myCnf, renderExporterMyCnf(exporterPassword, eps.mariadb.socket), { mode: 0o600 });
  start(MYSQLD_EXPORTER_BINARY, mysqldExporterArgs(config, 0, myCnf), 'mysqld-exporter.log');
  start(process.execPath, [OSB, ...memcachedExporterArgs(config, 0, '127.0.0.1')], 'memcached-exporter.log');

  const rules = join(work, 'rules.yml');
  // Pending periods dropped: the fault must show within two evaluation intervals.
  writeFileSync(rules, renderRuleFile(config, { pendingFactor: 0 }));
  const promCfg = join(work, 'prometheus.yml');
  const targets = [...mariadbScrapeTargets(config, '127.0.0.1'), ...memcachedScrapeTargets(config, '127.0.0.1')];
  writeFileSync(promCfg, stringify({ global: { scrape_interval: `${SCRAPE_S}s`, scrape_timeout: '900ms', evaluation_interval: `${EVAL_S}s` }, rule_files: [rules], scrape_configs: renderScrapeConfigs(targets) }));
  start('prometheus', [`--config.file=${promCfg}`, `--storage.tsdb.path=${join(work, 'tsdb')}`, `--web.listen-address=127.0.0.1:${PROMETHEUS_PORT}`, '--log.level=warn'], 'prometheus.log');
  await waitFor(async () => (await fetch(`${prom}/-/ready`).then((r) => r.ok).catch(() => false)), 30_000, 'Prometheus ready');
});

const running = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;

afterAll(async () => {
  try {
    for (const c of children) if (running(c) && c.pid) process.kill(c.pid, 'SIGTERM');
    await Promise.all(children.map((c) => (running(c) ? new Promise((r) => c.once('exit', r)) : undefined)));
  } finally {
    await cleanup(stateDir);
    rmSync(work, { recursive: true, force: true });
  }
});

describe('a real Prometheus scrapes the exporters', () => {
  it('every target is up', async () => {
    await waitFor(async () => (await query('up')).length === 2 && (await query('up == 1')).length === 2, 30_000, 'both targets up');
    const up = await query('up');
    expect(up.map((s) => s.metric.job).sort()).toEqual(['osb-mariadb', 'osb-memcached']);
    expect(up.map((s) => s.metric.node).sort()).toEqual(['mariadb-0', 'memcached-0']);
  });

  it('mysqld-exporter reaches MariaDB with its own account: mysql_up 1, no scrape error', async () => {
    await waitFor(async () => (await query('mysql_up == 1')).length === 1, 15_000, 'mysql_up 1');
    const [maxConn] = await query('mysql_global_variables_max_connections');
    expect(Number(maxConn!.value[1])).toBe(config.mariadb.maxConnections);
    expect(await query('mysql_exporter_last_scrape_error == 1')).toEqual([]);
  });

  it('the exporter account has only its grants, and its my.cnf is 0600', async () => {
    const eps = await endpoints(stateDir);
    const conn = await mysql.createConnection({ socketPath: eps.mariadb.socket, user: eps.mariadb.username, password: eps.mariadb.password });
    const [rows] = await conn.query("SHOW GRANTS FOR 'osb_exporter'@'localhost'");
    await conn.end();
    const grants = (rows as Record<string, string>[]).map((r) => Object.values(r)[0]!.replace(/ IDENTIFIED BY PASSWORD '[^']+'/, ''));
    expect(grants.sort()).toEqual([
      'GRANT PROCESS, BINLOG MONITOR ON *.* TO `osb_exporter`@`localhost` WITH MAX_USER_CONNECTIONS 3',
      'GRANT SELECT ON `performance_schema`.* TO `osb_exporter`@`localhost`',
    ]);
    expect(statSync(join(work, 'exporter.cnf')).mode & 0o777).toBe(0o600);
    const ex = await mysql.createConnection({ socketPath: eps.mariadb.socket, user: 'osb_exporter', password: exporterPassword });
    await expect(ex.query('SELECT User FROM mysql.user')).rejects.toThrow(/denied/);
    await ex.end();
  });

  it('no exporter password in any command line', () => {
    const args = allArgs();
    expect(args).toContain('prometheus-mysqld-exporter');
    expect(args.includes(exporterPassword)).toBe(false);
  });

  it('memcached counters arrive under the community exporter names', async () => {
    const ep = config.memcached.port;
    await waitFor(async () => (await query('memcached_up == 1')).length === 1, 15_000, 'memcached_up 1');
    const val = async (m: string) => Number((await query(m))[0]?.value[1]);
    expect(await val('memcached_max_connections')).toBe(config.memcached.maxConnections);
    expect(await val('memcached_limit_bytes')).toBe(config.memcached.memoryMB * 1024 * 1024);
    expect(await val('memcached_current_connections')).toBeGreaterThanOrEqual(1);
    expect(await val('memcached_uptime_seconds')).toBeGreaterThan(0);
    for (const m of ['memcached_items_evicted_total', 'memcached_current_items', 'memcached_current_bytes', 'memcached_commands_total{command="get",status="hit"}', 'memcached_commands_total{command="get",status="miss"}']) {
      expect(Number.isFinite(await val(m)), m).toBe(true);
    }
    expect((await query('memcached_up'))[0]!.metric.server).toBe(`127.0.0.1:${ep}`);
  });

  it('no alert fires on a healthy tier', async () => {
    await new Promise((r) => setTimeout(r, 2 * EVAL_S * 1000));
    expect(await firing()).toEqual([]);
  });
});

describe('an injected fault fires the right alert, and recovery clears it', () => {
  it('kill -9 memcached: MemcachedDown fires; `osb deploy memcached` clears it', async () => {
    const pid = (await pids(stateDir)).memcached!;
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGKILL');
    const t0 = Date.now();
    await waitFor(async () => (await firing()).some((a) => a.labels.alertname === 'MemcachedDown'), 60_000, 'MemcachedDown firing');
    const took = (Date.now() - t0) / 1000;
    const alerts = await firing();
    expect(alerts.map((a) => a.labels.alertname)).toEqual(['MemcachedDown']);
    expect(alerts[0]!.labels).toMatchObject({ node: 'memcached-0', severity: 'critical', component: 'memcached' });
    // One scrape to see the fault, then at most two evaluations.
    console.log(`MemcachedDown firing ${took.toFixed(1)} s after kill -9 (scrape ${SCRAPE_S} s, evaluation ${EVAL_S} s)`);
    expect(took).toBeLessThanOrEqual(SCRAPE_S + 2 * EVAL_S + 1);

    ok(await osb(['deploy', 'memcached'], { stateDir }));
    await waitFor(async () => (await firing()).length === 0, 60_000, 'MemcachedDown cleared');
    expect(await query('memcached_up == 1')).toHaveLength(1);
  });

  it('kill -9 MariaDB: MariadbDown fires (mysql_up 0); `osb deploy mariadb` clears it', async () => {
    const pid = (await pids(stateDir)).mariadb!;
    process.kill(pid, 'SIGKILL');
    await waitFor(async () => (await firing()).some((a) => a.labels.alertname === 'MariadbDown'), 60_000, 'MariadbDown firing');
    expect(await query('mysql_up == 0')).toHaveLength(1);
    expect((await firing()).map((a) => a.labels.alertname)).toEqual(['MariadbDown']);
    ok(await osb(['deploy', 'mariadb'], { stateDir }));
    await waitFor(async () => (await firing()).length === 0, 60_000, 'MariadbDown cleared');
  });
});

describe('cleanup', () => {
  it('the exporters stop on SIGTERM', async () => {
    const exited = children.map((c) => (running(c) ? new Promise((r) => c.once('exit', r)) : undefined));
    for (const c of children) if (running(c)) process.kill(c.pid!, 'SIGTERM');
    await Promise.all(exited);
    expect(readFileSync(join(work, 'memcached-exporter.log'), 'utf8')).toContain('serving http://');
    // osb's exporter closes its listener and exits 0 on SIGTERM.
    expect(children[1]!.exitCode).toBe(0);
    expect(children.some(running)).toBe(false);
  });
});
