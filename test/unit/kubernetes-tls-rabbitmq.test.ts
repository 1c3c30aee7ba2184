/**
 * tls.enabled on Kubernetes, RabbitMQ: the `rabbitmq-tls` Secret (osb's CA, openssl-issued; every SAN checked with
 * `openssl verify -verify_hostname` against the CA), the listeners and the distribution over TLS rendered by the local
 * target's own functions with the mounted Secret's paths (parsed by Erlang's file:consult), the pod, Services and
 * NetworkPolicy, the Jobs with the CA only, schema-valid (kubernetes-models); what `osb endpoints --target kubernetes`
 * prints for a service. The daemon itself runs in test/integration/kubernetes-tls-rabbitmq.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Pod, Secret, Service } from 'kubernetes-models/v1';
import { StatefulSet } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { NetworkPolicy as NetPol } from 'kubernetes-models/networking.k8s.io/v1';
import { loadConfig } from '../../src/components/index.js';
import { rabbitTlsEntries, renderSslDistOptfile } from '../../src/components/rabbitmq/tls.js';
import type { K8sObject } from '../../src/k8s/objects.js';
import { renderObjects } from '../../src/targets/kubernetes/render.js';
import { kubernetesTlsMaterial } from '../../src/targets/kubernetes/tls.js';
import { osb } from '../helpers/osb.js';
import { FIXED_SECRETS } from './kubernetes-fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'osb-unit-k8s-tls-rabbit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
type Any = any;

async function render(set: string[], name: string) {
  const config = loadConfig({ set: ['tls.enabled=true', 'rabbitmq.replicas=3', ...set] });
  const tls = await kubernetesTlsMaterial(config, join(dir, name), 'openstack', ['rabbitmq']);
  return { config, objects: renderObjects(config, FIXED_SECRETS(), { namespace: 'openstack', components: ['rabbitmq'], tls }) as Any[] };
}
const find = (objs: K8sObject[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name) as Any;
const decode = (s: Any, key: string) => Buffer.from(s.data[key], 'base64').toString();
const FQDN = (i: number) => `rabbitmq-${i}.rabbitmq-headless.openstack.svc.cluster.local`;

describe('kubernetes render with tls.enabled: RabbitMQ', () => {
  it('the rabbitmq-tls Secret: openssl verifies the certificate against the CA for every pod name, Service name and 127.0.0.1', async () => {
    const { objects } = await render(['tls.require=true', 'tls.extraSans={amqp.example.org}'], 'sans');
    const s = find(objects, 'Secret', 'rabbitmq-tls');
    expect(() => new Secret(s).validate()).not.toThrow();
    expect(s.type).toBe('kubernetes.io/tls');
    writeFileSync(join(dir, 'ca.crt'), decode(s, 'ca.crt'));
    writeFileSync(join(dir, 'tls.crt'), decode(s, 'tls.crt'));
    const names = [
      ...[0, 1, 2].flatMap((i) => [FQDN(i), `rabbitmq-${i}.rabbitmq-headless`]),
      ...['rabbitmq', 'rabbitmq-headless'].flatMap((svc) => [svc, `${svc}.openstack`, `${svc}.openstack.svc`, `${svc}.openstack.svc.cluster.local`]),
      'localhost',
      'amqp.example.org',
    ];
    const verify = (...how: string[]) =>
      execFileSync('openssl', ['verify', '-CAfile', join(dir, 'ca.crt'), '-purpose', 'sslserver', ...how, join(dir, 'tls.crt')], { encoding: 'utf8' });
    for (const n of names) expect(verify('-verify_hostname', n), n).toMatch(/: OK/);
    expect(verify('-verify_ip', '127.0.0.1')).toMatch(/: OK/);
    // A name no client dials is not in it, and openssl says so.
    expect(() => verify('-verify_hostname', 'rabbitmq-3.rabbitmq-headless.openstack.svc.cluster.local')).toThrow();
    // The same certificate authenticates a node to its peers (the distribution over TLS demands a client certificate).
    expect(new X509Certificate(decode(s, 'tls.crt')).toLegacyObject().ext_key_usage).toEqual(
      expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']),
    );
    expect(verify('-purpose', 'sslclient')).toMatch(/: OK/);
  });

  it('advanced.config and ssl_dist.config are the local renderers with the mounted paths, on every interface; Erlang parses both', async () => {
    const { config, objects } = await render(['tls.require=true'], 'conf');
    const data = find(objects, 'ConfigMap', 'rabbitmq-config').data;
    const pod = { dir: '/etc/osb-tls', ca: '/etc/osb-tls/ca.crt', cert: '/etc/osb-tls/tls.crt', key: '/etc/osb-tls/tls.key' };
    expect(data['advanced.config']).toContain(`{rabbit, [${rabbitTlsEntries(config, pod, { amqp: config.rabbitmq.port, amqps: 5671 }, null).join(', ')}]}`);
    expect(data['advanced.config']).toContain('{tcp_listeners, []}, {ssl_listeners, [5671]}');
    expect(data['advanced.config']).toMatch(
      /\{rabbitmq_management, \[\{listener, \[\{port, 15672\}, \{ssl, true\}, \{ssl_opts, \[\{cacertfile, "\/etc\/osb-tls\/ca.crt"\}/,
    );
    expect(data['ssl_dist.config']).toBe(renderSslDistOptfile(pod));
    // A management.tcp.* or listeners.tcp.* line would open a second, plain listener beside advanced.config's.
    expect(data['30-kubernetes.conf']).not.toMatch(/^(listeners\.tcp|management\.tcp)/m);
    for (const f of ['advanced.config', 'ssl_dist.config']) {
      writeFileSync(join(dir, f), data[f]);
      const out = execFileSync('erl', ['-noshell', '-eval', `{ok, [_]} = file:consult("${join(dir, f)}"), io:format("parsed~n"), halt().`], {
        encoding: 'utf8',
      });
      expect(out.trim(), f).toBe('parsed');
    }
    const optional = await render([], 'optional');
    expect(find(optional.objects, 'ConfigMap', 'rabbitmq-config').data['advanced.config']).toContain(
      `{tcp_listeners, [${config.rabbitmq.port}]}, {ssl_listeners, [5671]}`,
    );
  });

  it('the StatefulSet mounts the Secret, starts the server and every CLI tool with -proto_dist inet_tls, exposes 5671; plain AMQP only without tls.require', async () => {
    const { config, objects } = await render(['tls.require=true'], 'sts');
    const sts = find(objects, 'StatefulSet', 'rabbitmq');
    expect(() => new StatefulSet(sts).validate()).not.toThrow();
    const spec = sts.spec.template.spec;
    expect(spec.volumes).toContainEqual({ name: 'tls', secret: { secretName: 'rabbitmq-tls', defaultMode: 0o440 } });
    const server = spec.containers[0];
    expect(server.volumeMounts).toContainEqual({ name: 'tls', mountPath: '/etc/osb-tls', readOnly: true });
    const env = Object.fromEntries(server.env.filter((e: Any) => e.value).map((e: Any) => [e.name, e.value]));
    expect(env.RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS).toBe('-proto_dist inet_tls -ssl_dist_optfile /etc/rabbitmq/ssl_dist.config -ssl ssl_pem_cache_clean 30000');
    // the CLI tools join the same TLS distribution; the PEM cache check is the server's only
    expect(env.RABBITMQ_CTL_ERL_ARGS).toBe('-proto_dist inet_tls -ssl_dist_optfile /etc/rabbitmq/ssl_dist.config');
    expect(server.ports.map((p: Any) => p.name)).toEqual(['amqps', 'management', 'epmd', 'dist', 'metrics']);
    expect(server.ports[0].containerPort).toBe(5671);
    expect(spec.initContainers[0].command[2]).toContain('cp /osb/config/advanced.config /osb/config/ssl_dist.config /etc/rabbitmq/');
    // The probes are the same commands: the container's env makes rabbitmq-diagnostics use the TLS distribution.
    expect(server.readinessProbe.exec.command[2]).toContain('rabbitmq-diagnostics -q check_port_connectivity');
    for (const svc of ['rabbitmq', 'rabbitmq-headless']) {
      const s = find(objects, 'Service', svc);
      expect(() => new Service(s).validate()).not.toThrow();
      expect(s.spec.ports.map((p: Any) => p.port)).toContain(5671);
      expect(s.spec.ports.map((p: Any) => p.port)).not.toContain(config.rabbitmq.port);
    }
    const np = find(objects, 'NetworkPolicy', 'rabbitmq');
    expect(() => new NetPol(np).validate()).not.toThrow();
    expect(np.spec.ingress[0].ports.map((p: Any) => p.port)).toEqual([5671, 15672, 15692]);
    const optional = await render([], 'sts-optional');
    const s2 = find(optional.objects, 'Service', 'rabbitmq');
    expect(s2.spec.ports.map((p: Any) => `${p.name}:${p.port}`)).toEqual(['amqp:5672', 'amqps:5671', 'management:15672']);
  });

  it('rabbit-init and the test pod use HTTPS with the CA only (never the key); the test pod checks AMQPS on every pod and the closed plain port', async () => {
    const { objects } = await render(['tls.require=true'], 'jobs');
    const job = objects.find((o) => o.kind === 'Job');
    const test = find(objects, 'Pod', 'rabbitmq-test');
    expect(() => new Job(job).validate()).not.toThrow();
    expect(() => new Pod(test).validate()).not.toThrow();
    for (const spec of [job.spec.template.spec, test.spec]) {
      expect(spec.volumes).toContainEqual({
        name: 'tls-ca',
        secret: { secretName: 'rabbitmq-tls', defaultMode: 0o444, items: [{ key: 'ca.crt', path: 'ca.crt' }] },
      });
      const c = spec.containers[0];
      expect(c.volumeMounts).toContainEqual({ name: 'tls-ca', mountPath: '/etc/osb-tls', readOnly: true });
      const env = Object.fromEntries(c.env.filter((e: Any) => e.value).map((e: Any) => [e.name, e.value]));
      expect(env.OSB_RABBITMQ_API).toBe('https://rabbitmq.openstack.svc.cluster.local:15672/api');
      expect(env.OSB_CA_FILE).toBe('/etc/osb-tls/ca.crt');
    }
    const env = Object.fromEntries(test.spec.containers[0].env.filter((e: Any) => e.value).map((e: Any) => [e.name, e.value]));
    expect(JSON.parse(env.OSB_AMQPS_NODES)).toEqual([0, 1, 2].map((i) => `${FQDN(i)}:5671`));
    expect(JSON.parse(env.OSB_AMQP_CLOSED)).toEqual([0, 1, 2].map((i) => `${FQDN(i)}:5672`));
  });

  it('a plain listener on the AMQPS port is refused with the fix', async () => {
    await expect(render(['rabbitmq.tlsPort=5672'], 'clash')).rejects.toThrow(/rabbitmq.tlsPort 5672 is rabbitmq.port too/);
  });

  it('osb endpoints --target kubernetes --format oslo: AMQPS on every pod, ssl and the CA path for all three components', async () => {
    const stateDir = join(dir, 'endpoints');
    const r = await osb(
      [
        'endpoints',
        '--target',
        'kubernetes',
        '--service',
        'nova',
        '--format',
        'oslo',
        '--set',
        'tls.enabled=true',
        '--set',
        'rabbitmq.replicas=3',
        '--set',
        'memcached.replicas=2',
      ],
      { stateDir, env: { KUBECONFIG: join(dir, 'no-such-kubeconfig') } },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(`transport_url = rabbit://${[0, 1, 2].map((i) => `nova:[^@]+@${FQDN(i).replaceAll('.', '\\.')}:5671`).join(',')}/nova`),
    );
    expect(r.stdout).toMatch(/\[oslo_messaging_rabbit\]\nssl = true\nssl_ca_file = \/etc\/osb-ca\/ca\.crt/);
    expect(r.stdout).toMatch(
      /connection = mysql\+pymysql:\/\/nova:[^@]+@mariadb\.openstack\.svc\.cluster\.local:3306\/nova\?charset=utf8&ssl_ca=\/etc\/osb-ca\/ca\.crt/,
    );
    expect(r.stdout).toContain('backend = dogpile.cache.pymemcache\ntls_enabled = true\ntls_cafile = /etc/osb-ca/ca.crt');
    // Endpoints only read: no CA or certificate was issued for it.
    expect(existsSync(join(stateDir, 'tls'))).toBe(false);
  });
});
