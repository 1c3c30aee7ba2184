/**
 * The certificate-expiry alert: `osb metrics --textfile` (built CLI) publishes the expiry of real
 * certificates made by openssl in a state dir, and Debian's real `promtool` checks the rule and runs
 * it on those values (firing within 30 days, silent before, firing once expired).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { osb } from '../helpers/osb.js';

const dir = mkdtempSync(join(tmpdir(), 'osb-cert-expiry-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const stateDir = join(dir, 'state');

/** A self-signed certificate valid `days` days, where the node's daemon would read it. */
function cert(component: string, node: string, days: number): number {
  const d = join(stateDir, component, node, 'tls');
  mkdirSync(d, { recursive: true });
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      join(d, 'key.pem'),
      '-out',
      join(d, 'cert.pem'),
      '-days',
      String(days),
      '-subj',
      `/CN=${node}`,
    ],
    { stdio: 'ignore' },
  );
  const end = execFileSync('openssl', ['x509', '-in', join(d, 'cert.pem'), '-noout', '-enddate'], { encoding: 'utf8' })
    .trim()
    .replace(/^notAfter=/, '');
  return Math.floor(Date.parse(end) / 1000);
}

describe('certificate expiry: osb metrics --textfile and its rule, with the real openssl and promtool', () => {
  const tls = ['--set', 'tls.enabled=true'];

  it('the textfile carries every node certificate in the state dir, with the dates openssl reports', async () => {
    const mariadb = cert('mariadb', 'mariadb-0', 10);
    const memcached = cert('memcached', 'memcached-0', 90);
    const r = await osb(['metrics', '--textfile', ...tls], { stateDir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('# TYPE osb_tls_certificate_expiry_timestamp_seconds gauge');
    expect(r.stdout).toContain(`osb_tls_certificate_expiry_timestamp_seconds{component="mariadb",node="mariadb-0"} ${mariadb}`);
    expect(r.stdout).toContain(`osb_tls_certificate_expiry_timestamp_seconds{component="memcached",node="memcached-0"} ${memcached}`);
    // rabbitmq-0 has no certificate file: left out, not invented.
    expect(r.stdout).not.toContain('rabbitmq');
    const off = await osb(['metrics', '--textfile'], { stateDir });
    expect(off.code).toBe(2);
    expect(off.stderr).toMatch(/TLS is off/);
  });

  it('promtool: the rule exists only with TLS, passes check rules, fires within 30 days and once expired, and is silent before', async () => {
    const withTls = await osb(['metrics', '--rules', ...tls], { stateDir });
    const without = await osb(['metrics', '--rules'], { stateDir });
    const k8s = await osb(['metrics', '--rules', '--target', 'kubernetes', ...tls], { stateDir: join(dir, 'k8s') });
    const alerts = (out: string) => (parse(out).groups as { rules: { alert: string }[] }[]).flatMap((g) => g.rules.map((x) => x.alert));
    expect(alerts(withTls.stdout)).toContain('OsbCertificateExpiresSoon');
    expect(alerts(without.stdout)).not.toContain('OsbCertificateExpiresSoon');
    expect(alerts(k8s.stdout)).not.toContain('OsbCertificateExpiresSoon');
    const rules = join(dir, 'rules.yml');
    writeFileSync(rules, withTls.stdout);
    expect(execFileSync('promtool', ['check', 'rules', rules], { encoding: 'utf8' })).toMatch(/SUCCESS/);
    // promtool's clock starts at 0: expiry values are seconds from then. mariadb-0 expires in 10 days, memcached-0 in 90.
    const day = 86400;
    const series = (c: string, n: string, at: number) => ({
      series: `osb_tls_certificate_expiry_timestamp_seconds{component="${c}",node="${n}"}`,
      values: `${at}+0x100`,
    });
    const description = (parse(withTls.stdout).groups as { rules: { alert: string; annotations: { description: string } }[] }[])
      .flatMap((g) => g.rules)
      .find((x) => x.alert === 'OsbCertificateExpiresSoon')!.annotations.description;
    const fired = (c: string, n: string, left: string) => ({
      exp_labels: { severity: 'warning', component: c, node: n },
      exp_annotations: { summary: `The TLS certificate of ${n} has ${left} left (negative: expired): run \`osb certs rotate\``, description },
    });
    const test = {
      rule_files: [rules],
      evaluation_interval: '1h',
      tests: [
        {
          interval: '1d',
          input_series: [series('mariadb', 'mariadb-0', 10 * day), series('memcached', 'memcached-0', 90 * day)],
          alert_rule_test: [
            // memcached-0 (90 days left) stays silent; mariadb-0 (10 days) fires.
            { eval_time: '0s', alertname: 'OsbCertificateExpiresSoon', exp_alerts: [fired('mariadb', 'mariadb-0', '10d 0h 0m 0s')] },
            { eval_time: '59d', alertname: 'OsbCertificateExpiresSoon', exp_alerts: [fired('mariadb', 'mariadb-0', '-49d 0h 0m 0s')] },
            {
              eval_time: '61d',
              alertname: 'OsbCertificateExpiresSoon',
              exp_alerts: [fired('mariadb', 'mariadb-0', '-51d 0h 0m 0s'), fired('memcached', 'memcached-0', '29d 0h 0m 0s')],
            },
          ],
        },
      ],
    };
    const file = join(dir, 'test.yml');
    writeFileSync(file, stringify(test));
    const run = spawnSync('promtool', ['test', 'rules', file], { encoding: 'utf8' });
    expect(run.status, run.stdout + run.stderr).toBe(0);
  });
});
