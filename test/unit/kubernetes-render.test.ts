import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigMap, Namespace, PersistentVolumeClaim, Pod, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { loadConfig } from '../../src/components/index.js';
import { openKubernetes } from '../../src/targets/kubernetes/context.js';
import { LABEL, type K8sObject } from '../../src/k8s/objects.js';
import { renderObjects, toYamlStream } from '../../src/targets/kubernetes/render.js';
import { OsbError } from '../../src/util/errors.js';
import { FIXED_SECRETS } from './kubernetes-fixtures.js';

const HA = ['rabbitmq.replicas=3', 'mariadb.replicas=3', 'memcached.replicas=3'];

const MODELS: Record<string, new (o: never) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'v1/Pod': Pod,
  'v1/Namespace': Namespace,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/StatefulSet': StatefulSet,
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
};

const render = (set: string[] = []) => renderObjects(loadConfig({ set }), FIXED_SECRETS(), {});

describe('kubernetes render: schema', () => {
  for (const [name, set] of [
    ['default', []],
    ['HA (replicas: 3 for all)', HA],
    [
      'volumes off, storage class, custom resources',
      ['mariadb.volume.enabled=false', 'rabbitmq.volume.storageClass=fast', 'rabbitmq.volume.size=20Gi', 'memcached.resources.memoryLimit=2Gi'],
    ],
  ] as const) {
    it(`every object of the ${name} config validates against the Kubernetes OpenAPI schema (kubernetes-models)`, () => {
      const objects = render([...set]);
      expect(objects.length).toBeGreaterThan(20);
      for (const o of objects) {
        const Model = MODELS[`${o.apiVersion}/${o.kind}`];
        expect(Model, `${o.apiVersion}/${o.kind} has a model`).toBeDefined();
        expect(() => new Model!(o as never).validate(), `${o.kind}/${o.metadata.name}`).not.toThrow();
        for (const t of (o.spec as { volumeClaimTemplates?: K8sObject[] } | undefined)?.volumeClaimTemplates ?? [])
          expect(() => new PersistentVolumeClaim(t as never).validate()).not.toThrow();
      }
    });
  }

  it('the validator does catch a broken object (so a pass means something)', () => {
    const sts = render().find((o) => o.kind === 'StatefulSet')! as K8sObject & { spec: { replicas: unknown } };
    sts.spec.replicas = 'three';
    expect(() => new StatefulSet(sts as never).validate()).toThrow();
  });

  it('every object carries the four app.kubernetes.io labels and the namespace', () => {
    for (const o of render(HA)) {
      expect(o.metadata.namespace).toBe('openstack');
      expect(o.metadata.labels?.[LABEL.managedBy]).toBe('osb');
      expect(o.metadata.labels?.[LABEL.instance]).toBe('osb');
      expect(['rabbitmq', 'mariadb', 'memcached']).toContain(o.metadata.labels?.[LABEL.name]);
      expect(o.metadata.labels?.[LABEL.component]).toBeTruthy();
    }
  });

  it('has, per backend, StatefulSet, headless and client Services, PDB, NetworkPolicy and a test Pod; RBAC for RabbitMQ discovery and Galera', () => {
    const names = render(HA).map((o) => `${o.kind}/${o.metadata.name}`);
    for (const c of ['rabbitmq', 'mariadb', 'memcached']) {
      for (const n of [`StatefulSet/${c}`, `Service/${c}`, `Service/${c}-headless`, `PodDisruptionBudget/${c}`, `NetworkPolicy/${c}`, `Pod/${c}-test`])
        expect(names).toContain(n);
    }
    for (const n of [
      'Service/mariadb-writer',
      'Deployment/mariadb-writer-controller',
      'ServiceAccount/mariadb-writer-controller',
      'Role/mariadb-writer-controller',
      'RoleBinding/mariadb-writer-controller',
      'ConfigMap/mariadb-writer-controller',
      'NetworkPolicy/mariadb-writer-controller',
    ])
      expect(names).toContain(n);
    for (const n of [
      'ServiceAccount/rabbitmq',
      'Role/rabbitmq-peer-discovery',
      'RoleBinding/rabbitmq-peer-discovery',
      'Role/mariadb-galera',
      'ConfigMap/mariadb-galera-state',
      'Secret/rabbitmq-credentials',
      'Secret/mariadb-credentials',
    ])
      expect(names).toContain(n);
    expect(names.some((n) => /^Job\/mariadb-db-init-[0-9a-f]{8}$/.test(n))).toBe(true);
    expect(names.some((n) => /^Job\/rabbitmq-rabbit-init-[0-9a-f]{8}$/.test(n))).toBe(true);
  });

  it('NetworkPolicies open only the ports each peer needs', () => {
    const np = Object.fromEntries(
      render(HA)
        .filter((o) => o.kind === 'NetworkPolicy')
        .map((o) => [
          o.metadata.name,
          ((o.spec as { ingress?: { from: { podSelector: { matchLabels?: object } }[]; ports: { port: number }[] }[] }).ingress ?? []).map((r) => [
            r.from[0]!.podSelector.matchLabels ? 'peers' : 'namespace',
            r.ports.map((p) => p.port),
          ]),
        ]),
    );
    // The metrics ports (rabbitmq_prometheus 15692, mysqld-exporter 9104, memcached exporter 9150) from the namespace, like the client ports.
    expect(np).toEqual({
      rabbitmq: [
        ['namespace', [5672, 15672, 15692]],
        ['peers', [4369, 25672]],
      ],
      mariadb: [
        ['namespace', [3306, 9104]],
        ['peers', [4567, 4568, 4444]],
      ],
      // The writer controller only calls the API server: no ingress at all.
      'mariadb-writer-controller': [],
      memcached: [['namespace', [11211, 9150]]],
    });
  });

  it('images, volumes, resources and replicas come from the config keys', () => {
    const objs = render([
      'mariadb.image=registry.example/mariadb:11.4',
      'mariadb.volume.size=50Gi',
      'mariadb.volume.storageClass=ceph',
      'mariadb.resources.memoryLimit=4Gi',
      'mariadb.replicas=5',
    ]);
    const sts = objs.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'mariadb') as any;
    expect(sts.spec.replicas).toBe(5);
    expect(sts.spec.template.spec.containers[0].image).toBe('registry.example/mariadb:11.4');
    expect(sts.spec.template.spec.containers[0].resources.limits.memory).toBe('4Gi');
    expect(sts.spec.volumeClaimTemplates[0].spec).toEqual({
      accessModes: ['ReadWriteOnce'],
      storageClassName: 'ceph',
      resources: { requests: { storage: '50Gi' } },
    });
    expect(sts.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 999 });
  });

  it('renders only the components asked for, in the namespace asked for', () => {
    const objs = renderObjects(loadConfig({}), FIXED_SECRETS(), { components: ['memcached'], namespace: 'cloud-1' });
    expect(new Set(objs.map((o) => o.metadata.labels?.[LABEL.name]))).toEqual(new Set(['memcached']));
    expect(new Set(objs.map((o) => o.metadata.namespace))).toEqual(new Set(['cloud-1']));
  });
});

describe('kubernetes render: golden files', () => {
  for (const [file, set] of [
    ['kubernetes-default.yaml', []],
    ['kubernetes-ha.yaml', HA],
  ] as const) {
    it(`${file}: the rendered stream is byte-identical across runs and equals the golden file`, () => {
      const a = toYamlStream(render([...set]));
      const b = toYamlStream(render([...set]));
      expect(a).toBe(b);
      const golden = join(__dirname, '..', 'golden', file);
      if (process.env.UPDATE_GOLDEN || !existsSync(golden)) writeFileSync(golden, a);
      expect(a).toBe(readFileSync(golden, 'utf8'));
      const docs = parseAllDocuments(a);
      expect(docs.every((d) => d.errors.length === 0)).toBe(true);
      expect(docs.map((d) => d.toJS())).toEqual(render([...set]));
    });
  }

  it('the built CLI prints the same stream twice (osb render --target kubernetes)', () => {
    const bin = join(__dirname, '..', '..', 'bin', 'osb');
    const state = mkdtempSync(join(tmpdir(), 'osb-render-'));
    try {
      const run = () =>
        execFileSync(process.execPath, [bin, 'render', '--target', 'kubernetes', '--set', 'mariadb.replicas=3'], {
          env: { ...process.env, OSB_STATE_DIR: state },
          encoding: 'utf8',
        });
      const first = run();
      expect(first.startsWith('---\napiVersion: v1\nkind: ServiceAccount\n')).toBe(true);
      expect(run()).toBe(first);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });
});

describe('kubernetes bad input fails clearly before anything is sent', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const open = (set: string[], namespace?: string) => () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'osb-bad-'));
    dirs.push(stateDir);
    return openKubernetes({ stateDir, set, namespace, resetValues: true });
  };
  const line = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      expect(err).toBeInstanceOf(OsbError);
      return (err as OsbError).line;
    }
    throw new Error('did not fail');
  };
  it('a --namespace that is not a DNS label', () => {
    expect(line(open([], 'OpenStack_prod'))).toBe(
      'namespace "OpenStack_prod" is not a DNS label (lowercase letters, digits and "-", at most 63 characters, starting and ending with a letter or digit) — choose e.g. --namespace openstack',
    );
  });
  it('a kubernetes.namespace key that is not a DNS label', () => {
    expect(line(open(['kubernetes.namespace=-bad-']))).toMatch(
      /^config key "kubernetes.namespace": must be a DNS label \(lowercase letters, digits and "-", at most 63 characters\)/,
    );
  });
  it('replicas < 1', () => {
    expect(line(open(['rabbitmq.replicas=0']))).toMatch(/^config key "rabbitmq.replicas": .*\b1\b/);
  });
  it('a PVC size that is not a quantity', () => {
    expect(line(open(['mariadb.volume.size=lots']))).toMatch(/^config key "mariadb.volume.size": must be a Kubernetes quantity such as 8Gi or 500Mi/);
  });
  // The unknown-context case is in kubernetes-apply.test.ts (it needs a kubeconfig).
});
