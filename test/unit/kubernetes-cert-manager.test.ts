/**
 * tls.certManager on Kubernetes: one cert-manager `Certificate` per component instead of osb's Secrets, writing the
 * same `<component>-tls` Secret the pods mount. Validated against cert-manager's own CRD schema (the
 * `@kubernetes-models/cert-manager` models are generated from cert-manager's CRDs); the field names and values osb
 * relies on are the ones of cert-manager's pkg/apis/certmanager/v1/types_certificate.go (docs/tls.md lists them).
 * Applied to the in-process API stand-in (the only stand-in here: no cert-manager runs; the test plays its part by
 * setting the Ready condition), with and without cert-manager's CRDs.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Certificate } from '@kubernetes-models/cert-manager/cert-manager.io/v1';
import type { ICertificate } from '@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate';
import { StatefulSet } from 'kubernetes-models/apps/v1';
import { afterAll, describe, expect, it } from 'vitest';
import { COMPONENTS } from '../../src/config/schema.js';
import { loadConfig } from '../../src/components/index.js';
import type { K8sObject } from '../../src/k8s/objects.js';
import { connectKubernetes } from '../../src/targets/kubernetes/api.js';
import { openKubernetes } from '../../src/targets/kubernetes/context.js';
import { deployKubernetes } from '../../src/targets/kubernetes/ops.js';
import { renderObjects } from '../../src/targets/kubernetes/render.js';
import { kubernetesTlsMaterial } from '../../src/targets/kubernetes/tls.js';
import { OsbError } from '../../src/util/errors.js';
import { FIXED_SECRETS } from './kubernetes-fixtures.js';
import { ApiStandIn } from './kubernetes-standin.js';

const dir = mkdtempSync(join(tmpdir(), 'osb-unit-cert-manager-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
type Any = any;

/**
 * The fields osb's Certificate sets, typed by the models generated from cert-manager's CRD: tsc (npm run lint) rejects
 * a name the CRD does not have. Upstream they are CertificateSpec's `secretName`, `secretTemplate` (labels), `commonName`,
 * `dnsNames`, `ipAddresses`, `duration`, `privateKey` (algorithm, size, encoding, rotationPolicy), `usages` and
 * `issuerRef` (name, kind, group) in cert-manager's pkg/apis/certmanager/v1/types_certificate.go and pkg/apis/meta/v1.
 */
type Spec = ICertificate['spec'];
const SPEC_FIELDS: (keyof Spec)[] = ['secretName', 'secretTemplate', 'commonName', 'dnsNames', 'ipAddresses', 'duration', 'privateKey', 'usages', 'issuerRef'];
const PRIVATE_KEY_FIELDS: (keyof NonNullable<Spec['privateKey']>)[] = ['algorithm', 'size', 'encoding', 'rotationPolicy'];
const ISSUER_FIELDS: (keyof Spec['issuerRef'])[] = ['name', 'kind', 'group'];
const SECRET_TEMPLATE_FIELDS: (keyof NonNullable<Spec['secretTemplate']>)[] = ['labels'];

const CM = ['tls.enabled=true', 'tls.certManager.issuer.name=osb-ca', 'tls.certManager.issuer.kind=ClusterIssuer', 'mariadb.replicas=3', 'rabbitmq.replicas=3'];

async function render(set: string[], stateDir: string) {
  const config = loadConfig({ set });
  const tls = await kubernetesTlsMaterial(config, stateDir, 'openstack');
  return renderObjects(config, FIXED_SECRETS(), { namespace: 'openstack', tls }) as Any[];
}
const find = (objs: K8sObject[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name) as Any;

describe('tls.certManager: cert-manager Certificates instead of osb-issued Secrets', () => {
  it('one Certificate per component, valid against cert-manager.io/v1, writing the Secret the pods mount; osb issues nothing', async () => {
    const stateDir = join(dir, 'render');
    const objects = await render(CM, stateDir);
    for (const c of COMPONENTS) {
      const cert = find(objects, 'Certificate', `${c}-tls`);
      expect(cert, c).toBeDefined();
      expect(() => new Certificate(cert).validate(), c).not.toThrow();
      expect(cert.apiVersion).toBe('cert-manager.io/v1');
      expect(cert.spec.secretName).toBe(`${c}-tls`);
      expect(cert.spec.issuerRef).toEqual({ name: 'osb-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' });
      expect(cert.spec.dnsNames).toEqual(expect.arrayContaining([`${c}-0.${c}-headless.openstack.svc.cluster.local`, `${c}.openstack.svc`, 'localhost']));
      expect(cert.spec.ipAddresses).toEqual(['127.0.0.1']);
      expect(cert.spec.duration).toBe('8760h');
      expect(cert.spec.usages).toEqual(['digital signature', 'key encipherment', 'server auth', 'client auth']);
      expect(cert.spec.privateKey).toEqual({ algorithm: 'ECDSA', size: 256, encoding: 'PKCS8', rotationPolicy: 'Always' });
      // The Secret is cert-manager's: osb renders none, and the one cert-manager writes lacks osb's managed-by label (never pruned).
      expect(find(objects, 'Secret', `${c}-tls`)).toBeUndefined();
      expect(cert.spec.secretTemplate.labels['app.kubernetes.io/managed-by']).toBeUndefined();
      const sts = find(objects, 'StatefulSet', c);
      expect(() => new StatefulSet(sts).validate()).not.toThrow();
      expect(sts.spec.template.spec.volumes).toContainEqual({ name: 'tls', secret: { secretName: `${c}-tls`, defaultMode: 0o440 } });
    }
    expect(find(objects, 'Certificate', 'mariadb-tls').spec.dnsNames).toContain('mariadb-writer.openstack.svc.cluster.local');
    // Rendering with cert-manager needs no CA: the state dir holds none.
    expect(existsSync(join(stateDir, 'tls'))).toBe(false);
    expect(existsSync(join(stateDir, 'kubernetes-tls'))).toBe(false);
  });

  it("every field osb sets is one cert-manager's CRD defines (the API server would drop an unknown one silently); enums and required fields are checked", async () => {
    const cert = find(await render(CM, join(dir, 'strict')), 'Certificate', 'rabbitmq-tls');
    // A CRD's structural schema prunes unknown fields instead of rejecting them, so a misspelt field would vanish
    // without a word: the names are checked here, against the CRD's own (generated) types at compile time.
    expect(Object.keys(cert.spec).sort()).toEqual([...SPEC_FIELDS].sort());
    expect(Object.keys(cert.spec.privateKey).sort()).toEqual([...PRIVATE_KEY_FIELDS].sort());
    expect(Object.keys(cert.spec.issuerRef).sort()).toEqual([...ISSUER_FIELDS].sort());
    expect(Object.keys(cert.spec.secretTemplate).sort()).toEqual([...SECRET_TEMPLATE_FIELDS].sort());
    // Go's time.ParseDuration form, at least the 1 hour cert-manager accepts.
    expect(cert.spec.duration).toMatch(/^[1-9][0-9]*h$/);
    const broken = (change: (c: Any) => void) => {
      const c = structuredClone(cert);
      change(c);
      return () => new Certificate(c).validate();
    };
    expect(broken(() => {})).not.toThrow();
    expect(broken((c) => (c.spec.privateKey.algorithm = 'EC'))).toThrow();
    expect(broken((c) => (c.spec.privateKey.rotationPolicy = 'Sometimes'))).toThrow();
    expect(broken((c) => (c.spec.usages = ['server authentication']))).toThrow();
    expect(broken((c) => delete c.spec.issuerRef)).toThrow();
    expect(broken((c) => delete c.spec.secretName)).toThrow();
  });

  it('bad combinations are refused with the fix', () => {
    expect(() => loadConfig({ set: ['tls.certManager.issuer.name=x'] })).toThrow(/needs tls.enabled=true/);
    expect(() => loadConfig({ set: ['tls.enabled=true', 'tls.certManager.issuer.name=x', 'tls.certManager.issuer.kind=Vault'] })).toThrow(
      /cert-manager.io has the kinds Issuer and ClusterIssuer, not "Vault"/,
    );
    expect(() => loadConfig({ set: ['tls.enabled=true', 'tls.certManager.issuer.name=x', 'tls.caFile=/a', 'tls.certFile=/b', 'tls.keyFile=/c'] })).toThrow(
      /unset tls.caFile, tls.certFile and tls.keyFile, or unset tls.certManager/,
    );
    // An external issuer names its own group and kind.
    const ext = loadConfig({
      set: [
        'tls.enabled=true',
        'tls.certManager.issuer.name=pca',
        'tls.certManager.issuer.kind=AWSPCAClusterIssuer',
        'tls.certManager.issuer.group=awspca.cert-manager.io',
      ],
    });
    expect(ext.tls.certManager?.issuer).toEqual({ name: 'pca', kind: 'AWSPCAClusterIssuer', group: 'awspca.cert-manager.io' });
  });

  it('applied to the in-process API stand-in: refused without the CRDs (nothing applied); with them deploy waits for issuance, then a second deploy changes nothing', async () => {
    const standin = new ApiStandIn();
    await standin.start();
    const saved = process.env.KUBECONFIG;
    const issuer = setInterval(() => {
      // cert-manager's part, as far as osb sees it: the Ready condition of each Certificate.
      for (const o of standin.all('Certificate'))
        if (!o.status)
          standin.update('Certificate', o.metadata.namespace, o.metadata.name, (x) => (x.status = { conditions: [{ type: 'Ready', status: 'True' }] }));
    }, 20);
    try {
      process.env.KUBECONFIG = standin.writeKubeconfig(dir);
      const api = await connectKubernetes('standin');
      const stateDir = mkdtempSync(join(dir, 'state-'));
      const d = () => openKubernetes({ stateDir, set: ['kubernetes.waitTimeoutSeconds=5', ...CM], resetValues: true });
      let err: unknown;
      try {
        await deployKubernetes(api, d(), { pollMs: 20, report: () => {} });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(OsbError);
      expect((err as OsbError).message).toMatch(/does not serve Certificate \(cert-manager.io\/v1\): cert-manager's CRDs are not installed/);
      expect((err as OsbError).fix).toMatch(/install cert-manager.*or unset tls.certManager/);
      expect(standin.all('StatefulSet')).toEqual([]);
      standin.installCertManagerCrds();
      const first = await deployKubernetes(api, d(), { pollMs: 20, report: () => {} });
      expect(first.created).toEqual(expect.arrayContaining(['Certificate/rabbitmq-tls', 'Certificate/mariadb-tls', 'Certificate/memcached-tls']));
      expect(first.created.filter((k) => k.startsWith('Secret/') && k.endsWith('-tls'))).toEqual([]);
      const second = await deployKubernetes(api, d(), { pollMs: 20, report: () => {} });
      expect(second.changed).toBe(false);
    } finally {
      clearInterval(issuer);
      await standin.stop();
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
  });

  it('deploy says which Certificate is not issued and why, when cert-manager does not issue it', async () => {
    const standin = new ApiStandIn();
    await standin.start();
    standin.installCertManagerCrds();
    const saved = process.env.KUBECONFIG;
    const stuck = setInterval(() => {
      for (const o of standin.all('Certificate'))
        if (!o.status)
          standin.update('Certificate', o.metadata.namespace, o.metadata.name, (x) => {
            x.status = { conditions: [{ type: 'Ready', status: 'False', reason: 'DoesNotExist', message: 'Issuer osb-ca not found' }] };
          });
    }, 20);
    try {
      process.env.KUBECONFIG = standin.writeKubeconfig(dir);
      const api = await connectKubernetes('standin');
      const stateDir = mkdtempSync(join(dir, 'state-'));
      const d = openKubernetes({
        stateDir,
        set: ['kubernetes.waitTimeoutSeconds=1', ...CM, 'rabbitmq.enabled=false', 'mariadb.enabled=false'],
        resetValues: true,
      });
      await expect(deployKubernetes(api, d, { pollMs: 20, report: () => {} })).rejects.toThrow(
        /certificate memcached-tls: not issued \(Issuer osb-ca not found\)/,
      );
    } finally {
      clearInterval(stuck);
      await standin.stop();
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
  });
});
