/**
 * tls.enabled on Kubernetes (MariaDB and memcached; RabbitMQ in kubernetes-tls-rabbitmq.test.ts, cert-manager in kubernetes-cert-manager.test.ts): certificates issued with the openssl CLI into
 * the state dir, carried by Secrets, mounted into the pods with the local target's daemon settings;
 * schema-valid (kubernetes-models); applied to the in-process API stand-in (the only stand-in).
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Pod, Secret } from 'kubernetes-models/v1';
import { StatefulSet as AppsStatefulSet } from 'kubernetes-models/apps/v1';
import { loadConfig } from '../../src/components/index.js';
import { memcachedTlsTestScript } from '../../src/components/memcached/kubernetes.js';
import type { K8sObject } from '../../src/k8s/objects.js';
import { openKubernetes } from '../../src/targets/kubernetes/context.js';
import { connectKubernetes } from '../../src/targets/kubernetes/api.js';
import { deployKubernetes } from '../../src/targets/kubernetes/ops.js';
import { renderObjects } from '../../src/targets/kubernetes/render.js';
import { kubernetesTlsMaterial } from '../../src/targets/kubernetes/tls.js';
import { OsbError } from '../../src/util/errors.js';
import { FIXED_SECRETS } from './kubernetes-fixtures.js';
import { ApiStandIn } from './kubernetes-standin.js';

const dir = mkdtempSync(join(tmpdir(), 'osb-unit-k8s-tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TLS = ['tls.enabled=true', 'tls.require=true', 'mariadb.replicas=3', 'memcached.replicas=2'];
const COMPONENTS = ['mariadb', 'memcached'] as const;

async function renderTls(stateDir: string, set: string[] = TLS) {
  const config = loadConfig({ set });
  const tls = await kubernetesTlsMaterial(config, stateDir, 'openstack', COMPONENTS);
  return { config, tls, objects: renderObjects(config, FIXED_SECRETS(), { namespace: 'openstack', components: COMPONENTS, tls }) };
}
const find = (objs: K8sObject[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name)!;
const decode = (s: K8sObject, key: string) => Buffer.from((s as unknown as { data: Record<string, string> }).data[key]!, 'base64').toString();
type Any = any;

describe('kubernetes render with tls.enabled (MariaDB, memcached)', () => {
  it('a Secret per component whose certificate names every pod and Service, signed by the deployment CA; stable across renders', async () => {
    const stateDir = join(dir, 'a');
    const { objects } = await renderTls(stateDir);
    for (const c of COMPONENTS) {
      const s = find(objects, 'Secret', `${c}-tls`);
      expect(s, c).toBeDefined();
      expect(() => new Secret(s as never).validate()).not.toThrow();
      expect((s as Any).type).toBe('kubernetes.io/tls');
      const cert = new X509Certificate(decode(s, 'tls.crt'));
      const ca = new X509Certificate(decode(s, 'ca.crt'));
      expect(cert.verify(ca.publicKey)).toBe(true);
      expect(decode(s, 'tls.key')).toMatch(/PRIVATE KEY/);
      const sans = cert.subjectAltName!;
      expect(sans).toContain(`DNS:${c}-0.${c}-headless.openstack.svc.cluster.local`);
      expect(sans).toContain(`DNS:${c}-1.${c}-headless.openstack.svc.cluster.local`);
      expect(sans).toContain(`DNS:${c}.openstack.svc.cluster.local`);
      expect(sans).toContain(`DNS:${c}.openstack.svc`);
    }
    expect(new X509Certificate(decode(find(objects, 'Secret', 'mariadb-tls'), 'tls.crt')).subjectAltName).toContain(
      'DNS:mariadb-writer.openstack.svc.cluster.local',
    );
    const again = await renderTls(stateDir);
    expect(decode(find(again.objects, 'Secret', 'mariadb-tls'), 'tls.crt')).toBe(decode(find(objects, 'Secret', 'mariadb-tls'), 'tls.crt'));
  });

  it('the MariaDB pods get the Secret volume and the local settings: server TLS, require_secure_transport, Galera socket.ssl, SST encrypt=3; clients verify', async () => {
    const { objects } = await renderTls(join(dir, 'b'));
    const sts = find(objects, 'StatefulSet', 'mariadb') as Any;
    expect(() => new AppsStatefulSet(sts).validate()).not.toThrow();
    const pod = sts.spec.template.spec;
    expect(pod.volumes).toContainEqual({ name: 'tls', secret: { secretName: 'mariadb-tls', defaultMode: 0o440 } });
    // Every container that speaks to MariaDB over the network (the exporter sidecar uses the unix socket).
    for (const c of [...pod.containers.filter((x: Any) => x.name !== 'mysqld-exporter'), ...pod.initContainers.filter((i: Any) => i.name === 'galera-recover')])
      expect(c.volumeMounts, c.name).toContainEqual({ name: 'tls', mountPath: '/etc/osb-tls', readOnly: true });
    const start = (find(objects, 'ConfigMap', 'mariadb-scripts') as Any).data['start.sh'] as string;
    expect(start).toContain('ssl_ca = /etc/osb-tls/ca.crt');
    expect(start).toContain('ssl_cert = /etc/osb-tls/tls.crt');
    expect(start).toContain('ssl_key = /etc/osb-tls/tls.key');
    expect(start).toContain('require_secure_transport = ON');
    expect(start).toMatch(
      /wsrep_provider_options = ".*;socket\.ssl=YES;socket\.ssl_ca=\/etc\/osb-tls\/ca\.crt;socket\.ssl_cert=\/etc\/osb-tls\/tls\.crt;socket\.ssl_key=\/etc\/osb-tls\/tls\.key"/,
    );
    expect(start).toMatch(/\[sst\]\nencrypt = 3\ntca = \/etc\/osb-tls\/ca\.crt\ntcert = \/etc\/osb-tls\/tls\.crt\ntkey = \/etc\/osb-tls\/tls\.key\nEOF/);
    const test = find(objects, 'Pod', 'mariadb-test') as Any;
    expect(() => new Pod(test).validate()).not.toThrow();
    expect(test.spec.containers[0].command[2]).toContain('--ssl --ssl-ca=/etc/osb-tls/ca.crt --ssl-verify-server-cert');
    expect(test.spec.volumes).toContainEqual({ name: 'tls', secret: { secretName: 'mariadb-tls', defaultMode: 0o440 } });
    const job = objects.find((o) => o.kind === 'Job') as Any;
    expect(job.spec.template.spec.containers[0].command[2]).toContain('--ssl-verify-server-cert');
  });

  it('memcached: TLS-only network listener (-Z with the mounted files), probes on a loopback-only plain listener, a TLS test pod', async () => {
    const { config, objects } = await renderTls(join(dir, 'c'));
    const sts = find(objects, 'StatefulSet', 'memcached') as Any;
    expect(() => new AppsStatefulSet(sts).validate()).not.toThrow();
    const c = sts.spec.template.spec.containers[0];
    const port = config.memcached.port;
    expect(c.args).toEqual(
      expect.arrayContaining([
        '-l',
        `notls:127.0.0.1:${port + 1},0.0.0.0:${port}`,
        '-Z',
        '-o',
        'ssl_chain_cert=/etc/osb-tls/tls.crt,ssl_key=/etc/osb-tls/tls.key,ssl_ca_cert=/etc/osb-tls/ca.crt',
      ]),
    );
    expect(c.readinessProbe.exec.command[2]).toContain(`/dev/tcp/127.0.0.1/${port + 1}`);
    expect(c.volumeMounts).toEqual([{ name: 'tls', mountPath: '/etc/osb-tls', readOnly: true }]);
    const test = find(objects, 'Pod', 'memcached-test') as Any;
    expect(() => new Pod(test).validate()).not.toThrow();
    expect(test.spec.containers[0].command.slice(0, 2)).toEqual(['node', '-e']);
    // The program parses (node --check reads stdin).
    const { execFileSync } = await import('node:child_process');
    expect(() =>
      execFileSync(process.execPath, ['--check'], { input: memcachedTlsTestScript({ config, namespace: 'openstack', clusterDomain: 'cluster.local' }) }),
    ).not.toThrow();
  });

  it('every component renders with tls.enabled (RabbitMQ too: test/unit/kubernetes-tls-rabbitmq.test.ts), each with its own Secret', async () => {
    const config = loadConfig({ set: ['tls.enabled=true'] });
    const tls = await kubernetesTlsMaterial(config, join(dir, 'd'), 'openstack');
    const objects = renderObjects(config, FIXED_SECRETS(), { namespace: 'openstack', tls });
    expect(objects.filter((o) => o.kind === 'Secret' && o.metadata.name.endsWith('-tls')).map((o) => o.metadata.name)).toEqual([
      'rabbitmq-tls',
      'mariadb-tls',
      'memcached-tls',
    ]);
    // Rendering without the issued certificates is a bug, said as such.
    let err: unknown;
    try {
      renderObjects(config, FIXED_SECRETS(), { namespace: 'openstack' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OsbError);
    expect((err as OsbError).message).toMatch(/certificates must be issued before rendering/);
  });

  it('applied to the in-process Kubernetes API stand-in: the Secrets exist and a second deploy changes nothing', async () => {
    const standin = new ApiStandIn();
    await standin.start();
    const saved = process.env.KUBECONFIG;
    try {
      process.env.KUBECONFIG = standin.writeKubeconfig(dir);
      const api = await connectKubernetes('standin');
      const stateDir = mkdtempSync(join(dir, 'state-'));
      const d = () =>
        openKubernetes({
          stateDir,
          set: ['kubernetes.waitTimeoutSeconds=2', 'tls.enabled=true', 'tls.require=true'],
          resetValues: true,
        });
      const first = await deployKubernetes(api, d(), { pollMs: 20, report: () => {} });
      expect(first.created).toEqual(expect.arrayContaining(['Secret/rabbitmq-tls', 'Secret/mariadb-tls', 'Secret/memcached-tls']));
      expect(standin.find('Secret', 'openstack', 'mariadb-tls')).toBeDefined();
      const second = await deployKubernetes(api, d(), { pollMs: 20, report: () => {} });
      expect(second.changed).toBe(false);
    } finally {
      await standin.stop();
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
  });
});
