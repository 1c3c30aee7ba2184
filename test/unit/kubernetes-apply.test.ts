import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connectKubernetes, type KubeApi } from '../../src/targets/kubernetes/api.js';
import { openKubernetes } from '../../src/targets/kubernetes/context.js';
import { deployKubernetes, destroyKubernetes, statusKubernetes, testKubernetes } from '../../src/targets/kubernetes/ops.js';
import { isTestHook, renderObjects } from '../../src/targets/kubernetes/render.js';
import { readSecrets } from '../../src/config/secrets.js';
import { OsbError } from '../../src/util/errors.js';
import { ApiStandIn } from './kubernetes-standin.js';

let standin: ApiStandIn;
let dir: string;
let api: KubeApi;
let stateDir: string;
const saved = process.env.KUBECONFIG;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'osb-k8s-standin-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  if (saved === undefined) delete process.env.KUBECONFIG;
  else process.env.KUBECONFIG = saved;
});
beforeEach(async () => {
  standin = new ApiStandIn();
  await standin.start();
  process.env.KUBECONFIG = standin.writeKubeconfig(dir);
  stateDir = mkdtempSync(join(dir, 'state-'));
  api = await connectKubernetes('standin');
});
afterEach(async () => {
  await standin.stop();
});

const deployment = (set: string[] = [], resetValues = true) => openKubernetes({ stateDir, set: ['kubernetes.waitTimeoutSeconds=2', ...set], resetValues });
const deploy = (set: string[] = [], lines: string[] = []) => deployKubernetes(api, deployment(set), { pollMs: 20, report: (l) => lines.push(l) });

describe('kubernetes apply/prune/wait against an in-process API stand-in', () => {
  it('first apply: creates the namespace and every rendered object by server-side apply (field manager osb), then waits until ready', async () => {
    const lines: string[] = [];
    const r = await deploy([], lines);
    const d = deployment();
    const expected = renderObjects(d.config, d.secrets, { namespace: 'openstack' }).filter((o) => !isTestHook(o));
    expect(r.namespaceCreated).toBe(true);
    expect(r.created).toHaveLength(expected.length);
    expect(r.changed).toBe(true);
    expect(standin.find('StatefulSet', 'openstack', 'mariadb')).toBeDefined();
    expect(standin.requests.filter((q) => q.startsWith('PATCH')).every((q) => /fieldManager=osb/.test(q) && /force=true/.test(q))).toBe(true);
    expect(standin.all('Pod').filter((p) => p.metadata.labels['app.kubernetes.io/component'] === 'test')).toHaveLength(0);
    expect(lines.some((l) => l.startsWith('ready: '))).toBe(true);
  });

  it('no-op re-apply: a second deploy changes nothing and says so', async () => {
    await deploy();
    const r = await deploy();
    expect(r.changed).toBe(false);
    expect(r.created).toEqual([]);
    expect(r.configured).toEqual([]);
    expect(r.pruned).toEqual([]);
    expect(r.unchanged.length).toBeGreaterThan(20);
  });

  it('a changed setting reconfigures only what it touches', async () => {
    await deploy();
    const r = await deploy(['memcached.memoryMB=128']);
    expect(r.configured).toEqual(['StatefulSet/memcached']);
  });

  it('a removed component is pruned (and only osb-labelled objects are touched)', async () => {
    await deploy();
    standin.put({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'someone-elses', namespace: 'openstack', labels: { 'app.kubernetes.io/name': 'memcached' } },
    });
    const r = await deploy(['memcached.enabled=false']);
    expect(r.pruned.sort()).toEqual([
      'NetworkPolicy/memcached',
      'PodDisruptionBudget/memcached',
      'Service/memcached',
      'Service/memcached-headless',
      'StatefulSet/memcached',
    ]);
    expect(standin.find('StatefulSet', 'openstack', 'memcached')).toBeUndefined();
    expect(standin.find('ConfigMap', 'openstack', 'someone-elses')).toBeDefined();
    expect(standin.find('StatefulSet', 'openstack', 'mariadb')).toBeDefined();
  });

  it('a replaced provisioning Job (new service) is created under a new name and the old one pruned', async () => {
    const first = await deploy();
    const oldJob = first.created.find((k) => k.startsWith('Job/mariadb-db-init-'))!;
    const r = await deploy(['openstack.services={keystone,glance,placement,nova,neutron,cinder,heat}']);
    expect(r.pruned).toContain(oldJob);
    expect(r.created.some((k) => k.startsWith('Job/mariadb-db-init-') && k !== oldJob)).toBe(true);
  });

  it('a pod stuck in ImagePullBackOff is reported with its reason and image', async () => {
    standin.behaviour.memcached = 'imagePullBackOff';
    const lines: string[] = [];
    const err = await deploy(['memcached.image=registry.invalid/memcached:nope'], lines).catch((e) => e);
    expect(err).toBeInstanceOf(OsbError);
    expect(err.message).toMatch(/not ready after 2s: memcached: 0\/1 ready/);
    expect(err.message).toContain(
      'memcached-0: container memcached: ImagePullBackOff — cannot pull image registry.invalid/memcached:nope: Back-off pulling image "registry.invalid/memcached:nope"',
    );
    expect(lines.some((l) => l.includes('ImagePullBackOff'))).toBe(true);
  });

  it("a timeout names what is not ready and the scheduler's reason", async () => {
    standin.behaviour.mariadb = 'unschedulable';
    const t0 = Date.now();
    const err = await deploy().catch((e) => e);
    expect(Date.now() - t0).toBeLessThan(6000);
    expect(err).toBeInstanceOf(OsbError);
    expect(err.message).toMatch(/^not ready after 2s: mariadb: 0\/1 ready/);
    expect(err.message).toContain('mariadb-0: Pending, not scheduled: Unschedulable — 0/3 nodes are available: 3 Insufficient memory.');
    expect(err.line).toContain('raise kubernetes.waitTimeoutSeconds');
  });

  it('a crash loop is reported with the last log lines', async () => {
    standin.behaviour.rabbitmq = 'crashLoop';
    standin.logs['rabbitmq-0/rabbitmq'] = 'booting\nerror: cookie file /var/lib/rabbitmq/.erlang.cookie must be accessible by owner only\n';
    const err = await deploy().catch((e) => e);
    expect(err.message).toContain('rabbitmq-0: container rabbitmq: CrashLoopBackOff (last exit code 1, Error), 4 restarts; last log lines:');
    expect(err.message).toContain('must be accessible by owner only');
  });

  it("an unbound PersistentVolumeClaim is reported with the provisioner's event", async () => {
    standin.behaviour.mariadb = 'unboundClaim';
    const err = await deploy().catch((e) => e);
    expect(err.message).toContain(
      'mariadb-0: PersistentVolumeClaim data-mariadb-0 is Pending (storage class fast): ProvisioningFailed: storageclass.storage.k8s.io "fast" not found',
    );
  });

  it('credentials already in the cluster are reused, never rotated', async () => {
    await deploy();
    const applied = standin.find('Secret', 'openstack', 'mariadb-credentials')!;
    const other = 'ClusterSidePassword0123456789abcdefghijkl';
    applied.data['admin-password'] = Buffer.from(other).toString('base64');
    rmSync(join(stateDir, 'secrets.json'));
    const r = await deploy();
    expect(Buffer.from(standin.find('Secret', 'openstack', 'mariadb-credentials')!.data['admin-password'], 'base64').toString()).toBe(other);
    expect(readSecrets(stateDir)!.mariadbAdminPassword).toBe(other);
    expect(r.configured.filter((k) => k.startsWith('Secret/'))).not.toContain('Secret/mariadb-credentials');
  });

  it('status, test and destroy (PVCs kept unless --delete-data)', async () => {
    await deploy();
    const d = deployment();
    const s = await statusKubernetes(api, d);
    expect(s.healthy).toBe(true);
    expect(s.components.map((c) => c.summary)).toEqual([
      expect.stringMatching(/^1\/1 server answering; rabbitmq-rabbit-init complete$/),
      expect.stringMatching(/^1\/1 server answering; mariadb-db-init complete$/),
      '1/1 servers answering',
    ]);
    for (const c of ['rabbitmq', 'mariadb', 'memcached']) standin.logs[`${c}-test/test`] = `ok: ${c}\n`;
    const results = await testKubernetes(api, d, undefined, { pollMs: 20, timeoutSeconds: 2 });
    expect(results.map((r) => [r.pod, r.ok, r.log])).toEqual([
      ['rabbitmq-test', true, 'ok: rabbitmq\n'],
      ['mariadb-test', true, 'ok: mariadb\n'],
      ['memcached-test', true, 'ok: memcached\n'],
    ]);
    standin.put({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {
        name: 'data-mariadb-0',
        namespace: 'openstack',
        labels: { 'app.kubernetes.io/name': 'mariadb', 'app.kubernetes.io/instance': 'osb', 'app.kubernetes.io/managed-by': 'osb' },
      },
    });
    const kept = await destroyKubernetes(api, d);
    expect(kept.keptClaims).toEqual(['data-mariadb-0']);
    expect(standin.all('StatefulSet')).toHaveLength(0);
    expect(standin.all('Secret')).toHaveLength(0);
    const gone = await destroyKubernetes(api, d, undefined, true);
    expect(gone.deletedClaims).toEqual(['data-mariadb-0']);
  });
});

describe('kubernetes bad input fails before anything is sent', () => {
  it('an unknown context', async () => {
    const before = standin.requests.length;
    const err = await connectKubernetes('prod-typo').catch((e) => e);
    expect(err).toBeInstanceOf(OsbError);
    expect(err.line).toBe('unknown kubeconfig context "prod-typo" — known contexts: standin');
    expect(standin.requests.length).toBe(before);
  });
});
