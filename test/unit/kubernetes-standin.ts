/**
 * An in-process HTTP stand-in for the Kubernetes API server (node:http): discovery, server-side
 * apply (as a merge that bumps resourceVersion only on change), create, get, list with label
 * selectors, JSON merge patch (with a resourceVersion precondition), delete, pod logs, StorageClasses
 * (put by the test) and SelfSubjectAccessReviews (allowed unless the test denies the verb) — and a
 * toy "controller" that gives StatefulSets and Deployments pods and Jobs completions (or failures, with
 * a pod and its logs) in the way a test asks (per pod: not Ready, being deleted). An apply keeps the
 * `data` keys another manager set, as server-side apply does. Labels others put on pods survive, as they do. It is NOT a real API server: no admission, no defaulting,
 * no field ownership. Tests using it show osb's apply/prune/wait/report logic, nothing more.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';

type Obj = { apiVersion: string; kind: string; metadata: Record<string, any>; [k: string]: any };

const RESOURCES: Record<string, { plural: string; kind: string; namespaced: boolean }[]> = {
  v1: [
    { plural: 'namespaces', kind: 'Namespace', namespaced: false },
    { plural: 'pods', kind: 'Pod', namespaced: true },
    { plural: 'services', kind: 'Service', namespaced: true },
    { plural: 'configmaps', kind: 'ConfigMap', namespaced: true },
    { plural: 'secrets', kind: 'Secret', namespaced: true },
    { plural: 'serviceaccounts', kind: 'ServiceAccount', namespaced: true },
    { plural: 'persistentvolumeclaims', kind: 'PersistentVolumeClaim', namespaced: true },
    { plural: 'events', kind: 'Event', namespaced: true },
  ],
  'apps/v1': [
    { plural: 'statefulsets', kind: 'StatefulSet', namespaced: true },
    { plural: 'deployments', kind: 'Deployment', namespaced: true },
  ],
  'batch/v1': [
    { plural: 'jobs', kind: 'Job', namespaced: true },
    { plural: 'cronjobs', kind: 'CronJob', namespaced: true },
  ],
  'policy/v1': [{ plural: 'poddisruptionbudgets', kind: 'PodDisruptionBudget', namespaced: true }],
  'networking.k8s.io/v1': [{ plural: 'networkpolicies', kind: 'NetworkPolicy', namespaced: true }],
  'authorization.k8s.io/v1': [{ plural: 'selfsubjectaccessreviews', kind: 'SelfSubjectAccessReview', namespaced: false }],
  'storage.k8s.io/v1': [{ plural: 'storageclasses', kind: 'StorageClass', namespaced: false }],
  'rbac.authorization.k8s.io/v1': [
    { plural: 'roles', kind: 'Role', namespaced: true },
    { plural: 'rolebindings', kind: 'RoleBinding', namespaced: true },
  ],
};

/** How the toy kubelet treats the pods of a StatefulSet (by its name). */
export type PodBehaviour = 'ready' | 'imagePullBackOff' | 'unschedulable' | 'crashLoop' | 'unboundClaim';

export class ApiStandIn {
  private server: Server;
  readonly objects = new Map<string, Obj>();
  readonly requests: string[] = [];
  behaviour: Record<string, PodBehaviour> = {};
  /** Per pod name: the toy kubelet reports it not Ready (e.g. its readiness probe fails). */
  notReady = new Set<string>();
  /** Per pod name: the pod has a deletionTimestamp (terminating) but still exists. */
  deleting = new Set<string>();
  logs: Record<string, string> = {};
  /** SelfSubjectAccessReviews answer "denied" for these, as "VERB RESOURCE[/SUBRESOURCE]" (e.g. "delete statefulsets"). */
  denied = new Set<string>();
  /** SelfSubjectAccessReviews seen, as "VERB RESOURCE[/SUBRESOURCE] NAMESPACE". */
  readonly accessReviews: string[] = [];
  /**
   * How the toy Job controller ends Jobs whose name starts with a key: a pod `<job>-standin` (label
   * `job-name`, as the Job controller sets) that Succeeded or Failed, with these container logs. Jobs
   * matching no key just complete, without a pod.
   */
  jobs: Record<string, { fail?: boolean; logs?: Record<string, string> }> = {};
  /** Per applied object: the `data` keys its last server-side apply set (keys others set survive an apply, as with SSA). */
  private appliedData = new Map<string, Set<string>>();
  /** Custom resources the stand-in serves, as an installed CRD would (group/version → kinds); none by default. */
  readonly customResources: Record<string, { plural: string; kind: string; namespaced: boolean }[]> = {};
  private rv = 1;
  private uid = 1;
  port = 0;

  /** As if the Prometheus Operator's CRDs were installed: PodMonitor and PrometheusRule are served. */
  installPrometheusOperatorCrds(): void {
    this.customResources['monitoring.coreos.com/v1'] = [
      { plural: 'podmonitors', kind: 'PodMonitor', namespaced: true },
      { plural: 'prometheusrules', kind: 'PrometheusRule', namespaced: true },
    ];
  }

  /** As if cert-manager's CRDs were installed: Certificate, Issuer, ClusterIssuer are served (no controller: nothing issues, no status is set). */
  installCertManagerCrds(): void {
    this.customResources['cert-manager.io/v1'] = [
      { plural: 'certificates', kind: 'Certificate', namespaced: true },
      { plural: 'issuers', kind: 'Issuer', namespaced: true },
      { plural: 'clusterissuers', kind: 'ClusterIssuer', namespaced: false },
    ];
  }

  constructor() {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
  }

  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }

  /** A kubeconfig pointing at this stand-in, with context `standin`. */
  writeKubeconfig(dir: string): string {
    const file = join(dir, 'kubeconfig');
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `- name: standin`,
        `  cluster: {server: "http://127.0.0.1:${this.port}", insecure-skip-tls-verify: true}`,
        'users:',
        '- name: tester',
        '  user: {token: test-token}',
        'contexts:',
        '- name: standin',
        '  context: {cluster: standin, user: tester, namespace: openstack}',
        'current-context: standin',
        '',
      ].join('\n'),
    );
    return file;
  }

  key(kind: string, ns: string | undefined, name: string): string {
    return `${kind}/${ns ?? ''}/${name}`;
  }

  find(kind: string, ns: string | undefined, name: string): Obj | undefined {
    return this.objects.get(this.key(kind, ns, name));
  }

  all(kind: string): Obj[] {
    return [...this.objects.values()].filter((o) => o.kind === kind);
  }

  put(o: Obj): Obj {
    const k = this.key(o.kind, o.metadata.namespace, o.metadata.name);
    const before = this.objects.get(k);
    const merged: Obj = {
      ...o,
      metadata: {
        ...o.metadata,
        uid: before?.metadata.uid ?? `uid-${this.uid++}`,
        generation: before?.metadata.generation ?? 1,
        resourceVersion: before?.metadata.resourceVersion ?? '',
      },
    };
    if (before?.status) merged.status = before.status;
    const strip = (x: Obj | undefined) =>
      x && JSON.stringify({ ...x, metadata: { ...x.metadata, resourceVersion: undefined, generation: undefined }, status: undefined });
    if (!before || strip(before) !== strip(merged)) {
      merged.metadata.resourceVersion = String(++this.rv);
      if (before && JSON.stringify(before.spec) !== JSON.stringify(merged.spec)) merged.metadata.generation = before.metadata.generation + 1;
    }
    this.objects.set(k, merged);
    return merged;
  }

  /**
   * Changes a stored object in place, as a controller or the kubelet does (e.g. a pod's status or its
   * deletionTimestamp): the object gets a new resourceVersion. Returns it, or undefined if it does not exist.
   */
  update(kind: string, ns: string | undefined, name: string, change: (o: Obj) => void): Obj | undefined {
    const o = this.find(kind, ns, name);
    if (!o) return undefined;
    change(o);
    o.metadata.resourceVersion = String(++this.rv);
    return o;
  }

  /** Removes a stored object (a pod whose containers have all stopped). */
  remove(kind: string, ns: string | undefined, name: string): boolean {
    return this.objects.delete(this.key(kind, ns, name));
  }

  /** The toy controllers: StatefulSet → pods (+ status), Job → complete. */
  private reconcile(): void {
    for (const sts of this.all('StatefulSet')) {
      const ns = sts.metadata.namespace;
      const behaviour = this.behaviour[sts.metadata.name] ?? 'ready';
      const want = sts.spec.replicas as number;
      let ready = 0;
      for (let i = 0; i < want; i++) {
        const name = `${sts.metadata.name}-${i}`;
        const image = sts.spec.template.spec.containers[0].image;
        const ok = behaviour === 'ready' && !this.notReady.has(name);
        const main = sts.spec.template.spec.containers[0].name;
        const status: Record<string, any> = { phase: ok ? 'Running' : 'Pending', conditions: [{ type: 'Ready', status: ok ? 'True' : 'False' }] };
        if (behaviour === 'ready') status.containerStatuses = [{ name: main, image, ready: ok, restartCount: 0, state: { running: {} } }];
        if (behaviour === 'imagePullBackOff')
          status.containerStatuses = [
            {
              name: main,
              image,
              ready: false,
              restartCount: 0,
              state: { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` } },
            },
          ];
        if (behaviour === 'crashLoop') {
          status.phase = 'Running';
          status.containerStatuses = [
            {
              name: main,
              image,
              ready: false,
              restartCount: 4,
              state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s' } },
              lastState: { terminated: { exitCode: 1, reason: 'Error' } },
            },
          ];
        }
        if (behaviour === 'unschedulable')
          status.conditions.push({
            type: 'PodScheduled',
            status: 'False',
            reason: 'Unschedulable',
            message: '0/3 nodes are available: 3 Insufficient memory.',
          });
        const volumes = behaviour === 'unboundClaim' ? [{ name: 'data', persistentVolumeClaim: { claimName: `data-${name}` } }] : [];
        if (behaviour === 'unboundClaim') {
          status.conditions.push({
            type: 'PodScheduled',
            status: 'False',
            reason: 'Unschedulable',
            message: '0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims.',
          });
          if (!this.find('PersistentVolumeClaim', ns, `data-${name}`)) {
            this.put({
              apiVersion: 'v1',
              kind: 'PersistentVolumeClaim',
              metadata: { name: `data-${name}`, namespace: ns, labels: sts.spec.template.metadata.labels },
              spec: { storageClassName: 'fast' },
              status: { phase: 'Pending' },
            });
            this.find('PersistentVolumeClaim', ns, `data-${name}`)!.status = { phase: 'Pending' };
            this.put({
              apiVersion: 'v1',
              kind: 'Event',
              metadata: { name: `ev-${name}`, namespace: ns },
              involvedObject: { kind: 'PersistentVolumeClaim', name: `data-${name}` },
              reason: 'ProvisioningFailed',
              message: 'storageclass.storage.k8s.io "fast" not found',
            });
          }
        }
        if (ok) ready++;
        const before = this.find('Pod', ns, name);
        const metadata: Record<string, any> = { name, namespace: ns, labels: { ...before?.metadata.labels, ...sts.spec.template.metadata.labels } };
        if (this.deleting.has(name)) metadata.deletionTimestamp = before?.metadata.deletionTimestamp ?? '2024-01-01T00:00:00Z';
        const pod = this.put({ apiVersion: 'v1', kind: 'Pod', metadata, spec: { nodeName: 'node-1', volumes } });
        pod.status = status;
      }
      for (const p of this.all('Pod')) {
        const m = p.metadata.name.match(/^(.*)-(\d+)$/);
        if (m && m[1] === sts.metadata.name && Number(m[2]) >= want) this.objects.delete(this.key('Pod', p.metadata.namespace, p.metadata.name));
      }
      sts.status = {
        observedGeneration: sts.metadata.generation,
        replicas: want,
        readyReplicas: ready,
        updatedReplicas: want,
        currentRevision: 'r1',
        updateRevision: 'r1',
      };
    }
    for (const dep of this.all('Deployment')) {
      const name = `${dep.metadata.name}-standin`;
      const pod = this.put({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: dep.metadata.namespace, labels: dep.spec.template.metadata.labels },
        spec: { nodeName: 'node-1' },
      });
      pod.status = {
        phase: 'Running',
        conditions: [{ type: 'Ready', status: 'True' }],
        containerStatuses: [{ name: dep.spec.template.spec.containers[0].name, ready: true, restartCount: 0, state: { running: {} } }],
      };
      dep.status = { observedGeneration: dep.metadata.generation, replicas: 1, readyReplicas: 1, availableReplicas: 1, updatedReplicas: 1 };
    }
    for (const job of this.all('Job')) {
      const b = Object.entries(this.jobs).find(([prefix]) => job.metadata.name.startsWith(prefix))?.[1];
      if (!b) {
        job.status = { succeeded: 1 };
        continue;
      }
      const name = `${job.metadata.name}-standin`;
      const spec = job.spec.template.spec;
      const containers = [...(spec.initContainers ?? []), ...spec.containers].map((c: { name: string }) => c.name);
      const pod = this.put({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: job.metadata.namespace, labels: { ...job.spec.template.metadata?.labels, 'job-name': job.metadata.name } },
        spec: { nodeName: 'node-1' },
      });
      pod.status = {
        phase: b.fail ? 'Failed' : 'Succeeded',
        initContainerStatuses: (spec.initContainers ?? []).map((c: { name: string }) => ({ name: c.name, state: { terminated: { exitCode: 0 } } })),
        containerStatuses: spec.containers.map((c: { name: string }) => ({ name: c.name, state: { terminated: { exitCode: b.fail ? 1 : 0 } } })),
      };
      for (const c of containers) if (b.logs?.[c] !== undefined) this.logs[`${name}/${c}`] = b.logs[c]!;
      job.status = b.fail
        ? {
            failed: 1,
            conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }],
          }
        : { succeeded: 1 };
    }
    for (const pod of this.all('Pod')) {
      if (pod.metadata.labels?.['app.kubernetes.io/component'] === 'test' && !pod.status) pod.status = { phase: 'Succeeded' };
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url!, 'http://x');
    this.requests.push(`${req.method} ${url.pathname}${url.search}`);
    let body = '';
    for await (const chunk of req) body += chunk;
    const send = (code: number, value: unknown, type = 'application/json') => {
      res.writeHead(code, { 'content-type': type });
      res.end(typeof value === 'string' ? value : JSON.stringify(value));
    };
    const notFound = (what: string) =>
      send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `${what} not found` });
    this.reconcile();
    // Discovery.
    const gv = url.pathname.startsWith('/api/v1') ? 'v1' : url.pathname.replace(/^\/apis\/([^/]+\/[^/]+).*/, '$1');
    const rest = url.pathname
      .slice(gv === 'v1' ? '/api/v1'.length : `/apis/${gv}`.length)
      .split('/')
      .filter(Boolean);
    const resources = RESOURCES[gv] ?? this.customResources[gv];
    if (!resources) return notFound(url.pathname);
    if (rest.length === 0) {
      return send(200, {
        kind: 'APIResourceList',
        groupVersion: gv,
        resources: resources.map((r) => ({
          name: r.plural,
          singularName: r.kind.toLowerCase(),
          kind: r.kind,
          namespaced: r.namespaced,
          verbs: ['create', 'delete', 'get', 'list', 'patch'],
        })),
      });
    }
    let ns: string | undefined;
    let plural: string;
    let name: string | undefined;
    let sub: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) [, ns, plural, name, sub] = rest as [string, string, string, string?, string?];
    else [plural, name] = rest as [string, string?];
    const r = resources.find((x) => x.plural === plural);
    if (!r) return notFound(plural);
    if (sub === 'log') {
      const log = this.logs[`${name}/${url.searchParams.get('container')}`];
      return log === undefined ? notFound(`log of ${name}`) : send(200, log, 'text/plain');
    }
    if (req.method === 'GET' && name) {
      const o = this.find(r.kind, ns, name);
      return o ? send(200, o) : notFound(`${r.kind} ${name}`);
    }
    if (req.method === 'GET') {
      const sel = (url.searchParams.get('labelSelector') ?? '')
        .split(',')
        .filter(Boolean)
        .map((s) => s.split('='));
      const fsel = (url.searchParams.get('fieldSelector') ?? '')
        .split(',')
        .filter(Boolean)
        .map((s) => s.split('='));
      const items = this.all(r.kind).filter(
        (o) =>
          (!ns || o.metadata.namespace === ns) &&
          sel.every(([k, v]) => o.metadata.labels?.[k!] === v) &&
          fsel.every(([k, v]) => k!.split('.').reduce((x: any, p) => x?.[p], o) === v),
      );
      return send(200, { kind: `${r.kind}List`, apiVersion: gv, metadata: { resourceVersion: String(this.rv) }, items });
    }
    if (req.method === 'PATCH' && name && String(req.headers['content-type']).startsWith('application/merge-patch+json')) {
      const o = this.find(r.kind, ns, name);
      if (!o) return notFound(`${r.kind} ${name}`);
      const patch = JSON.parse(body) as Obj;
      const want = patch.metadata?.resourceVersion;
      if (want !== undefined && want !== o.metadata.resourceVersion) {
        return send(409, {
          kind: 'Status',
          code: 409,
          reason: 'Conflict',
          message: `the object has been modified (resourceVersion ${o.metadata.resourceVersion}, not ${want})`,
        });
      }
      const merge = (target: any, p: any): any => {
        if (p === null || typeof p !== 'object' || Array.isArray(p)) return p;
        const out = { ...(target && typeof target === 'object' && !Array.isArray(target) ? target : {}) };
        for (const [k, v] of Object.entries(p)) {
          if (v === null) delete out[k];
          else out[k] = merge(out[k], v);
        }
        return out;
      };
      const merged = merge(o, patch) as Obj;
      merged.metadata.resourceVersion = o.metadata.resourceVersion;
      return send(200, this.put(merged));
    }
    if (req.method === 'PATCH') {
      if (!String(req.headers['content-type']).startsWith('application/apply-patch') || url.searchParams.get('fieldManager') !== 'osb') {
        return send(415, { kind: 'Status', code: 415, message: `expected a server-side apply by field manager osb, got ${req.headers['content-type']}` });
      }
      const o = parseYaml(body) as Obj;
      // As server-side apply does for a map: keys set by other managers (a merge patch) stay; keys this
      // manager applied before and omits now go.
      const k = this.key(o.kind, ns ?? o.metadata.namespace, o.metadata.name);
      const before = this.objects.get(k);
      const applied = new Set(Object.keys(o.data ?? {}));
      if (before?.data && typeof before.data === 'object') {
        const owned = this.appliedData.get(k) ?? new Set();
        const kept = Object.entries(before.data as Record<string, unknown>).filter(([key]) => !owned.has(key) && !applied.has(key));
        if (kept.length) o.data = { ...Object.fromEntries(kept), ...(o.data ?? {}) };
      }
      this.appliedData.set(k, applied);
      return send(200, this.put({ ...o, metadata: { ...o.metadata, ...(ns ? { namespace: ns } : {}) } }));
    }
    if (req.method === 'POST' && r.kind === 'SelfSubjectAccessReview') {
      // The authorizer: allowed unless the test denied the verb. Nothing is stored, as on a real server.
      const o = JSON.parse(body) as Obj;
      const a = o.spec?.resourceAttributes ?? {};
      const what = `${a.verb} ${a.resource}${a.subresource ? `/${a.subresource}` : ''}`;
      this.accessReviews.push(`${what} ${a.namespace ?? ''}`.trim());
      const allowed = !this.denied.has(what);
      return send(201, { ...o, status: { allowed, ...(allowed ? {} : { reason: 'denied by the stand-in' }) } });
    }
    if (req.method === 'POST') {
      const o = JSON.parse(body) as Obj;
      if (this.find(r.kind, ns, o.metadata.name))
        return send(409, { kind: 'Status', code: 409, reason: 'AlreadyExists', message: `${o.metadata.name} already exists` });
      return send(201, this.put({ ...o, metadata: { ...o.metadata, namespace: ns } }));
    }
    if (req.method === 'DELETE' && name) {
      const k = this.key(r.kind, ns, name);
      if (!this.objects.delete(k)) return notFound(`${r.kind} ${name}`);
      if (r.kind === 'Deployment') this.objects.delete(this.key('Pod', ns, `${name}-standin`));
      if (r.kind === 'StatefulSet')
        for (const p of this.all('Pod'))
          if (p.metadata.name.startsWith(`${name}-`) && /-\d+$/.test(p.metadata.name)) this.objects.delete(this.key('Pod', ns, p.metadata.name));
      return send(200, { kind: 'Status', status: 'Success' });
    }
    send(405, { kind: 'Status', code: 405, message: `${req.method} not supported by the stand-in` });
  }
}
