/**
 * Issue 14 wiring without daemons: the exporter password is added to an older secrets file,
 * `osb metrics` prints targets / scrape_configs / rules from the config, the exporters are extras
 * whose argv hold no secret, and metrics.enabled=false removes them.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig, scrapeTargets } from '../../src/components/index.js';
import { ensureSecrets, type Secrets } from '../../src/config/secrets.js';
import { localExtras } from '../../src/targets/local/instances.js';
import { localPlacement } from '../../src/targets/local/endpoints.js';
import { osb } from '../helpers/osb.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'osb-metrics-wiring-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const secrets: Secrets = {
  mariadbAdminPassword: 'a'.repeat(40),
  rabbitmqAdminPassword: 'b'.repeat(40),
  erlangCookie: 'C'.repeat(48),
  mariadbExporterPassword: 'E'.repeat(40),
  services: {},
};

describe('exporter password', () => {
  it('a secrets file written before the exporters gets one on first use, kept 0600 and reused', () => {
    const dir = tmp();
    const old = {
      mariadbAdminPassword: 'x'.repeat(40),
      rabbitmqAdminPassword: 'y'.repeat(40),
      erlangCookie: 'Z'.repeat(48),
      services: { nova: 'n'.repeat(40) },
    };
    writeFileSync(join(dir, 'secrets.json'), JSON.stringify(old), { mode: 0o600 });
    const s = ensureSecrets(dir);
    expect(s.mariadbExporterPassword).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(s.mariadbAdminPassword).toBe(old.mariadbAdminPassword);
    expect(s.services).toEqual(old.services);
    expect(statSync(join(dir, 'secrets.json')).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(dir, 'secrets.json'), 'utf8')).mariadbExporterPassword).toBe(s.mariadbExporterPassword);
    expect(ensureSecrets(dir).mariadbExporterPassword).toBe(s.mariadbExporterPassword);
  });
});

describe('exporters are extras of their components', () => {
  const config = loadConfig({ set: ['mariadb.replicas=3', 'memcached.replicas=3', 'rabbitmq.replicas=3'] });
  it('one mysqld-exporter and one memcached exporter per node, the proxy for Galera; no secret in any argv', () => {
    const m = localExtras(config, '/state', secrets, 'mariadb');
    expect(m.map((i) => i.name)).toEqual(['mariadb-proxy', 'mariadb-exporter-0', 'mariadb-exporter-1', 'mariadb-exporter-2']);
    const c = localExtras(config, '/state', secrets, 'memcached');
    expect(c.map((i) => i.name)).toEqual(['memcached-exporter-0', 'memcached-exporter-1', 'memcached-exporter-2']);
    expect(c[1]!.args.slice(1)).toEqual(['exporter', 'memcached', '--listen', '127.0.0.1:9151', '--server', '127.0.0.1:11212']);
    for (const i of [...m, ...c]) {
      const argv = [i.command, ...i.args].join(' ');
      for (const v of Object.values(secrets).filter((x) => typeof x === 'string')) expect(argv).not.toContain(v);
    }
    const cnf = m[1]!.files.find((f) => f.path.endsWith('exporter.cnf'))!;
    expect(cnf.mode).toBe(0o600);
    expect(cnf.content).toContain(`password = ${secrets.mariadbExporterPassword}`);
    // The proxy's haproxy.cfg carries the metrics frontend.
    expect(m[0]!.files[0]!.content).toContain('http-request use-service prometheus-exporter if { path /metrics }');
    expect(m[0]!.ports.map((p) => p.key)).toContain('mariadb.proxyMetricsPort');
  });

  it('metrics.enabled=false: no exporter, no target; with `all` the exporters are still found (to be stopped)', () => {
    const off = loadConfig({ set: ['mariadb.replicas=3', 'memcached.replicas=3', 'metrics.enabled=false'] });
    expect(localExtras(off, '/state', secrets, 'mariadb').map((i) => i.name)).toEqual(['mariadb-proxy']);
    expect(localExtras(off, '/state', secrets, 'memcached')).toEqual([]);
    expect(localExtras(off, '/state', secrets, 'memcached', true)).toHaveLength(3);
    expect(scrapeTargets(off, localPlacement(off, '/state'))).toEqual([]);
    expect(localExtras(off, '/state', secrets, 'mariadb')[0]!.files[0]!.content).not.toContain('prometheus-exporter');
  });
});

describe('osb metrics (reads the config, contacts nothing)', () => {
  const sets = ['--set', 'mariadb.replicas=3', '--set', 'memcached.replicas=3', '--set', 'rabbitmq.replicas=3'];
  it('--format prometheus: one job per exporter kind, every node a target with its labels', async () => {
    const r = await osb(['metrics', '--format', 'prometheus', ...sets], { stateDir: tmp() });
    expect(r.code, r.stderr).toBe(0);
    const jobs = (
      parse(r.stdout) as {
        scrape_configs: { job_name: string; metrics_path: string; static_configs: { targets: string[]; labels: Record<string, string> }[] }[];
      }
    ).scrape_configs;
    expect(jobs.map((j) => j.job_name)).toEqual(['osb-rabbitmq', 'osb-rabbitmq-detailed', 'osb-mariadb', 'osb-haproxy', 'osb-memcached']);
    const mariadb = jobs.find((j) => j.job_name === 'osb-mariadb')!;
    expect(mariadb.static_configs.map((s) => s.targets[0])).toEqual(['127.0.0.1:9104', '127.0.0.1:9105', '127.0.0.1:9106']);
    expect(mariadb.static_configs[2]!.labels).toEqual({ component: 'mariadb', node: 'mariadb-2', ordinal: '2' });
  });

  it('--rules: the rule file, thresholds from the config', async () => {
    const r = await osb(['metrics', '--rules', ...sets], { stateDir: tmp() });
    expect(r.code, r.stderr).toBe(0);
    const rules = (parse(r.stdout) as { groups: { rules: { alert: string; expr: string }[] }[] }).groups.flatMap((g) => g.rules);
    expect(rules.find((x) => x.alert === 'GaleraClusterSizeBelowConfigured')!.expr).toContain('< 3');
  });

  it('metrics.enabled=false: one clear error, exit 2', async () => {
    const r = await osb(['metrics', '--set', 'metrics.enabled=false'], { stateDir: tmp() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/metrics are disabled \(metrics\.enabled=false\)/);
    expect(r.stdout).toBe('');
  });
});
