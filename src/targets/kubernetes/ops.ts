import { byCodeUnit } from '../../util/format.js';
import { COMPONENTS, type ComponentName } from '../../config/schema.js';
import { writeSecrets } from '../../config/secrets.js';
import { definitions } from '../../components/index.js';
import { serviceSpecs } from '../../model/services.js';
import { OsbError } from '../../util/errors.js';
import type { KubeApi } from './api.js';
import { adoptClusterSecrets, applyAndPrune, type ApplyResult, MANAGED_KINDS } from './apply.js';
import { type KubernetesDeployment, rememberValues } from './context.js';
import { type K8sObject, LABEL, managedSelector } from '../../k8s/objects.js';
import { kubernetesTlsMaterial } from './tls.js';
import { isTestHook, renderObjects } from './render.js';
import { diagnosePod, podReady, restarts, waitUntilReady } from './wait.js';

export interface KubernetesDeployOptions {
  components?: readonly ComponentName[];
  report?: (line: string) => void;
  pollMs?: number;
}

export interface KubernetesDeployResult extends ApplyResult {
  namespace: string;
  context: string;
  changed: boolean;
}

const scopeOf = (components?: readonly ComponentName[]) => (components?.length ? components : COMPONENTS);

/** Adopt the cluster's credentials, render, apply, prune, wait. */
export async function deployKubernetes(api: KubeApi, d: KubernetesDeployment, opts: KubernetesDeployOptions = {}): Promise<KubernetesDeployResult> {
  const report = opts.report ?? (() => {});
  const configured = new Set(
    serviceSpecs(d.config)
      .filter((s) => s.configuredPassword)
      .map((s) => s.name),
  );
  if (await adoptClusterSecrets(api, d.namespace, d.secrets, configured)) {
    report('reusing the credentials already stored in the cluster');
    writeSecrets(d.stateDir, d.secrets);
  }
  const tls = await kubernetesTlsMaterial(d.config, d.stateDir, d.namespace, opts.components);
  const desired = renderObjects(d.config, d.secrets, { namespace: d.namespace, components: opts.components, tls });
  const applied = await applyAndPrune(api, d.namespace, desired, scopeOf(opts.components), report);
  rememberValues(d.stateDir, d.userValues);
  await waitUntilReady(api, d.namespace, desired, { timeoutSeconds: d.config.kubernetes.waitTimeoutSeconds, pollMs: opts.pollMs, report });
  const changed = applied.created.length + applied.configured.length + applied.pruned.length > 0 || applied.namespaceCreated;
  return { ...applied, namespace: d.namespace, context: api.context, changed };
}

export interface PodStatus {
  name: string;
  phase: string;
  ready: boolean;
  restarts: number;
  node?: string;
  problem?: string;
}

export interface ComponentStatus {
  component: ComponentName;
  replicas: number;
  ready: number;
  /** Ready pods; for RabbitMQ and Galera their readiness probes check cluster membership. */
  members: string[];
  pods: PodStatus[];
  jobs: { name: string; state: string }[];
  /** Component-specific fields (Galera: `writer`, the pod behind the `mariadb-writer` Service, and `writerController`). */
  [field: string]: unknown;
  healthy: boolean;
  summary: string;
}

export async function statusKubernetes(
  api: KubeApi,
  d: KubernetesDeployment,
  components?: readonly ComponentName[],
): Promise<{ namespace: string; context: string; healthy: boolean; components: ComponentStatus[] }> {
  const pods = await api.list('v1', 'Pod', d.namespace, managedSelector);
  const jobs = await api.list('batch/v1', 'Job', d.namespace, managedSelector);
  const out: ComponentStatus[] = [];
  const view = (p: K8sObject) => ({ name: p.metadata.name, ready: podReady(p as never), labels: p.metadata.labels ?? {} });
  for (const def of definitions(d.config, components?.length ? components : undefined)) {
    const c = def.name;
    const mine = pods
      .filter((p) => p.metadata.labels?.[LABEL.name] === c && p.metadata.labels?.[LABEL.component] === 'server')
      .sort((a, b) => byCodeUnit(a.metadata.name, b.metadata.name));
    const ps: PodStatus[] = [];
    for (const p of mine) {
      const pod = p as unknown as Parameters<typeof diagnosePod>[2];
      ps.push({
        name: p.metadata.name,
        phase: pod.status?.phase ?? 'Unknown',
        ready: podReady(pod),
        restarts: restarts(pod),
        node: pod.spec?.nodeName,
        problem: (await diagnosePod(api, d.namespace, pod))?.split('\n')[0],
      });
    }
    const js = jobs
      .filter((j) => j.metadata.labels?.[LABEL.name] === c)
      .map((j) => {
        const st = (j.status ?? {}) as { succeeded?: number; conditions?: { type: string; status: string }[] };
        return {
          name: j.metadata.name,
          state: (st.succeeded ?? 0) > 0 ? 'complete' : st.conditions?.some((x) => x.type === 'Failed' && x.status === 'True') ? 'failed' : 'running',
        };
      });
    const replicas = d.config[c].replicas;
    const members = ps.filter((p) => p.ready).map((p) => p.name);
    const extra = def.kubernetes.status?.(d.config, mine.map(view), pods.filter((p) => p.metadata.labels?.[LABEL.name] === c).map(view)) ?? {
      healthy: true,
      summary: '',
      fields: {},
    };
    let summary = `${members.length}/${replicas} ${def.kubernetes.readyMeaning(d.config)}${extra.summary}`;
    const healthy = members.length === replicas && extra.healthy && js.every((j) => j.state === 'complete');
    if (js.length) summary += `; ${js.map((j) => `${j.name.replace(/-[0-9a-f]{8}$/, '')} ${j.state}`).join(', ')}`;
    out.push({ component: c, replicas, ready: members.length, members, pods: ps, jobs: js, ...extra.fields, healthy, summary });
  }
  return { namespace: d.namespace, context: api.context, healthy: out.length > 0 && out.every((c) => c.healthy), components: out };
}

export interface TestPodResult {
  component: ComponentName;
  pod: string;
  ok: boolean;
  phase: string;
  log: string;
}

/** `helm test`: (re)creates each component's test pod, waits for it to finish, returns its verdict and log. */
export async function testKubernetes(
  api: KubeApi,
  d: KubernetesDeployment,
  components?: readonly ComponentName[],
  opts: { pollMs?: number; timeoutSeconds?: number; report?: (l: string) => void } = {},
): Promise<TestPodResult[]> {
  const pollMs = opts.pollMs ?? 2000;
  const timeout = (opts.timeoutSeconds ?? d.config.kubernetes.waitTimeoutSeconds) * 1000;
  const tls = await kubernetesTlsMaterial(d.config, d.stateDir, d.namespace, components);
  const hooks = renderObjects(d.config, d.secrets, { namespace: d.namespace, components, tls }).filter(isTestHook);
  if (!hooks.length) throw new OsbError('no component is enabled, nothing to test', undefined, 2);
  const sleep = () => new Promise((r) => setTimeout(r, pollMs));
  for (const pod of hooks) {
    if (await api.delete('v1', 'Pod', d.namespace, pod.metadata.name)) {
      const until = Date.now() + 120_000;
      while (await api.get('v1', 'Pod', d.namespace, pod.metadata.name)) {
        if (Date.now() > until)
          throw new OsbError(`old test pod ${pod.metadata.name} is not going away`, `kubectl -n ${d.namespace} delete pod ${pod.metadata.name} --force`);
        await sleep();
      }
    }
    await api.create(pod);
    opts.report?.(`started ${pod.metadata.name}`);
  }
  const results: TestPodResult[] = [];
  const deadline = Date.now() + timeout;
  for (const pod of hooks) {
    const c = pod.metadata.labels![LABEL.name] as ComponentName;
    let phase = 'Pending';
    let problem: string | undefined;
    for (;;) {
      const live = await api.get('v1', 'Pod', d.namespace, pod.metadata.name);
      phase = (live?.status as { phase?: string } | undefined)?.phase ?? 'Unknown';
      if (phase === 'Succeeded' || phase === 'Failed') break;
      if (Date.now() >= deadline) {
        problem = live ? await diagnosePod(api, d.namespace, live as never) : 'pod disappeared';
        break;
      }
      await sleep();
    }
    const log = await api.logs(d.namespace, pod.metadata.name, 'test');
    results.push({ component: c, pod: pod.metadata.name, ok: phase === 'Succeeded', phase: problem ? `timed out (${problem})` : phase, log });
  }
  return results;
}

export interface DestroyResult {
  deleted: string[];
  keptClaims: string[];
  deletedClaims: string[];
}

/** Deletes what osb owns (of the given components); PersistentVolumeClaims only with deleteData. */
export async function destroyKubernetes(
  api: KubeApi,
  d: KubernetesDeployment,
  components?: readonly ComponentName[],
  deleteData = false,
): Promise<DestroyResult> {
  const scope = scopeOf(components);
  const inScope = (o: K8sObject) => scope.includes(o.metadata.labels?.[LABEL.name] as ComponentName);
  const res: DestroyResult = { deleted: [], keptClaims: [], deletedClaims: [] };
  const kinds: { apiVersion: string; kind: string; optional?: unknown }[] = [...MANAGED_KINDS, { apiVersion: 'v1', kind: 'Pod' as const }].reverse();
  for (const { apiVersion, kind, optional } of kinds) {
    // A cluster without the Prometheus Operator's CRDs has no PodMonitor/PrometheusRule to delete.
    const listed = await api.list(apiVersion, kind, d.namespace, managedSelector).catch((err: unknown) => {
      if (optional) return [];
      throw err;
    });
    for (const o of listed) {
      if (!inScope(o)) continue;
      // Server pods go with their StatefulSet; only standalone (test) pods are deleted here.
      if (kind === 'Pod' && o.metadata.labels?.[LABEL.component] !== 'test') continue;
      if (await api.delete(apiVersion, kind, d.namespace, o.metadata.name)) res.deleted.push(`${kind}/${o.metadata.name}`);
    }
  }
  for (const pvc of await api.list('v1', 'PersistentVolumeClaim', d.namespace, managedSelector)) {
    if (!inScope(pvc)) continue;
    if (deleteData) {
      await api.delete('v1', 'PersistentVolumeClaim', d.namespace, pvc.metadata.name);
      res.deletedClaims.push(pvc.metadata.name);
    } else res.keptClaims.push(pvc.metadata.name);
  }
  return res;
}
