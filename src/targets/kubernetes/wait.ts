import { byCodeUnit } from '../../util/format.js';
import { OsbError } from '../../util/errors.js';
import type { KubeApi } from './api.js';
import { type K8sObject, LABEL, managedSelector } from '../../k8s/objects.js';

/* Minimal shapes of the status fields osb reads. */
interface ContainerStatus {
  name: string;
  image?: string;
  ready?: boolean;
  restartCount?: number;
  state?: { waiting?: { reason?: string; message?: string }; running?: object; terminated?: { exitCode?: number; reason?: string } };
  lastState?: { terminated?: { exitCode?: number; reason?: string } };
}
interface PodLike {
  metadata: { name: string; labels?: Record<string, string>; uid?: string };
  spec?: { volumes?: { name: string; persistentVolumeClaim?: { claimName: string } }[]; nodeName?: string };
  status?: {
    phase?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    containerStatuses?: ContainerStatus[];
    initContainerStatuses?: ContainerStatus[];
  };
}

export const podReady = (p: PodLike) => !!p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
export const restarts = (p: PodLike) => (p.status?.containerStatuses ?? []).reduce((n, c) => n + (c.restartCount ?? 0), 0);

const PULL_ERRORS = new Set(['ImagePullBackOff', 'ErrImagePull', 'InvalidImageName', 'ErrImageNeverPull']);
const CONFIG_ERRORS = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

const indent = (text: string) =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => `      ${l}`)
    .join('\n');

/** Why one pod is not Ready, in words, with the evidence (reason, message, last log lines, PVC state). */
export async function diagnosePod(api: KubeApi, namespace: string, pod: PodLike): Promise<string | undefined> {
  const name = pod.metadata.name;
  if (podReady(pod) || pod.status?.phase === 'Succeeded') return undefined;
  const lines: string[] = [];
  const all = [
    ...(pod.status?.initContainerStatuses ?? []).map((c) => ({ c, init: true })),
    ...(pod.status?.containerStatuses ?? []).map((c) => ({ c, init: false })),
  ];
  for (const { c, init } of all) {
    const what = `${name}: ${init ? 'init container' : 'container'} ${c.name}`;
    const waiting = c.state?.waiting;
    if (waiting?.reason && PULL_ERRORS.has(waiting.reason)) {
      lines.push(`${what}: ${waiting.reason} — cannot pull image ${c.image ?? '?'}${waiting.message ? `: ${waiting.message}` : ''}`);
    } else if (waiting?.reason === 'CrashLoopBackOff' || (c.lastState?.terminated && !c.ready && !c.state?.running)) {
      const t = c.lastState?.terminated;
      const log = await api.logs(namespace, name, c.name, { previous: true, tailLines: 10 });
      lines.push(
        `${what}: ${waiting?.reason ?? 'restarting'}${t ? ` (last exit code ${t.exitCode}${t.reason ? `, ${t.reason}` : ''})` : ''}, ${c.restartCount ?? 0} restarts; last log lines:\n${indent(log || '(empty log)')}`,
      );
    } else if (waiting?.reason && CONFIG_ERRORS.has(waiting.reason)) {
      lines.push(`${what}: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`);
    } else if (init && c.state?.running) {
      // An init container that keeps running is waiting for something (e.g. the Galera coordinator): its last line says what.
      const log = (await api.logs(namespace, name, c.name, { tailLines: 1 })).trim();
      lines.push(`${what} is still running${log ? `: ${log}` : ''}`);
      break;
    } else if (!init && c.state?.running && !c.ready) {
      lines.push(`${what} is running but not Ready (its readiness probe fails)`);
    }
  }
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (pod.status?.phase === 'Pending' && scheduled?.status === 'False') {
    lines.push(`${name}: Pending, not scheduled: ${scheduled.reason ?? ''}${scheduled.message ? ` — ${scheduled.message}` : ''}`);
  }
  for (const v of pod.spec?.volumes ?? []) {
    if (!v.persistentVolumeClaim) continue;
    const claim = v.persistentVolumeClaim.claimName;
    const pvc = await api.get('v1', 'PersistentVolumeClaim', namespace, claim);
    const phase = (pvc?.status as { phase?: string } | undefined)?.phase;
    if (!pvc) lines.push(`${name}: PersistentVolumeClaim ${claim} does not exist yet`);
    else if (phase !== 'Bound') {
      const sc = (pvc.spec as { storageClassName?: string } | undefined)?.storageClassName;
      const events = await api
        .list('v1', 'Event', namespace, undefined, `involvedObject.kind=PersistentVolumeClaim,involvedObject.name=${claim}`)
        .catch(() => []);
      const last = events
        .map((e) => e as unknown as { message?: string; reason?: string })
        .filter((e) => e.message)
        .pop();
      lines.push(
        `${name}: PersistentVolumeClaim ${claim} is ${phase ?? 'not bound'} (storage class ${sc ?? 'default'})${last ? `: ${last.reason ? `${last.reason}: ` : ''}${last.message}` : ''}`,
      );
    }
  }
  if (!lines.length) lines.push(`${name}: ${pod.status?.phase ?? 'unknown phase'}, not Ready`);
  return lines.join('\n');
}

export interface WaitOptions {
  timeoutSeconds: number;
  pollMs?: number;
  report?: (line: string) => void;
}

interface Progress {
  done: boolean;
  line: string;
  failed?: string;
}

async function statefulSetProgress(api: KubeApi, namespace: string, o: K8sObject): Promise<Progress> {
  const want = (o.spec as { replicas: number }).replicas;
  const live = await api.get(o.apiVersion, o.kind, namespace, o.metadata.name);
  const st = (live?.status ?? {}) as {
    readyReplicas?: number;
    updatedReplicas?: number;
    observedGeneration?: number;
    currentRevision?: string;
    updateRevision?: string;
  };
  const gen = (live?.metadata as { generation?: number } | undefined)?.generation ?? 0;
  const ready = st.readyReplicas ?? 0;
  const current = (st.observedGeneration ?? 0) >= gen && (st.updatedReplicas ?? 0) >= want && (!st.updateRevision || st.currentRevision === st.updateRevision);
  return { done: !!live && ready >= want && current, line: `${o.metadata.name}: ${ready}/${want} ready${current ? '' : ' (rolling out)'}` };
}

async function deploymentProgress(api: KubeApi, namespace: string, o: K8sObject): Promise<Progress> {
  const want = (o.spec as { replicas: number }).replicas;
  const live = await api.get(o.apiVersion, o.kind, namespace, o.metadata.name);
  const st = (live?.status ?? {}) as { availableReplicas?: number; updatedReplicas?: number; observedGeneration?: number };
  const gen = (live?.metadata as { generation?: number } | undefined)?.generation ?? 0;
  const available = st.availableReplicas ?? 0;
  const current = (st.observedGeneration ?? 0) >= gen && (st.updatedReplicas ?? 0) >= want;
  return { done: !!live && available >= want && current, line: `${o.metadata.name}: ${available}/${want} available${current ? '' : ' (rolling out)'}` };
}

async function jobProgress(api: KubeApi, namespace: string, o: K8sObject): Promise<Progress> {
  const live = await api.get(o.apiVersion, o.kind, namespace, o.metadata.name);
  const st = (live?.status ?? {}) as {
    succeeded?: number;
    failed?: number;
    active?: number;
    conditions?: { type: string; status: string; message?: string }[];
  };
  const role = o.metadata.labels?.[LABEL.component] ?? 'job';
  if ((st.succeeded ?? 0) > 0) return { done: true, line: `${role}: complete` };
  const failed = st.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
  if (failed) return { done: false, line: `${role}: failed`, failed: `Job ${o.metadata.name} failed: ${failed.message ?? 'backoff limit reached'}` };
  return { done: false, line: `${role}: ${st.active ? 'running' : 'pending'}${st.failed ? `, ${st.failed} failed attempt(s)` : ''}` };
}

/** tls.certManager: cert-manager's verdict on a Certificate (its Ready condition), with its message while it is not issued. */
async function certificateProgress(api: KubeApi, namespace: string, o: K8sObject): Promise<Progress> {
  const live = await api.get(o.apiVersion, o.kind, namespace, o.metadata.name);
  const ready = ((live?.status ?? {}) as { conditions?: { type: string; status: string; reason?: string; message?: string }[] }).conditions?.find(
    (c) => c.type === 'Ready',
  );
  if (ready?.status === 'True') return { done: true, line: `certificate ${o.metadata.name}: issued` };
  const why = ready?.message ?? 'cert-manager has not reported on it yet';
  return { done: false, line: `certificate ${o.metadata.name}: not issued (${why})` };
}

/** Reasons every not-Ready pod of the deployment gives (test pods excluded). */
export async function diagnoseAll(api: KubeApi, namespace: string): Promise<string[]> {
  const pods = (await api.list('v1', 'Pod', namespace, managedSelector)) as unknown as PodLike[];
  const out: string[] = [];
  for (const p of pods.sort((a, b) => byCodeUnit(a.metadata.name, b.metadata.name))) {
    if (p.metadata.labels?.[LABEL.component] === 'test') continue;
    const d = await diagnosePod(api, namespace, p);
    if (d) out.push(d);
  }
  return out;
}

/**
 * Polls until every Certificate is issued (cert-manager), every StatefulSet is fully Ready, every Deployment available and every Job complete. Prints a line whenever
 * progress changes (with the first reason a pod gives); on a failed Job or at the timeout,
 * throws an OsbError saying what was not ready and why.
 */
export async function waitUntilReady(api: KubeApi, namespace: string, desired: K8sObject[], opts: WaitOptions): Promise<void> {
  const report = opts.report ?? (() => {});
  const pollMs = opts.pollMs ?? 2000;
  const deadline = Date.now() + opts.timeoutSeconds * 1000;
  const watched = desired.filter((o) => o.kind === 'Certificate' || o.kind === 'StatefulSet' || o.kind === 'Deployment' || o.kind === 'Job');
  let last = '';
  for (;;) {
    const progress: Progress[] = [];
    for (const o of watched) {
      progress.push(
        o.kind === 'Certificate'
          ? await certificateProgress(api, namespace, o)
          : o.kind === 'StatefulSet'
            ? await statefulSetProgress(api, namespace, o)
            : o.kind === 'Deployment'
              ? await deploymentProgress(api, namespace, o)
              : await jobProgress(api, namespace, o),
      );
    }
    const failed = progress.find((p) => p.failed);
    if (failed) {
      const why = await diagnoseAll(api, namespace);
      throw new OsbError([failed.failed!, ...why].join('\n'), 'fix the cause and run osb deploy --target kubernetes again');
    }
    if (progress.every((p) => p.done)) {
      report(`ready: ${progress.map((p) => p.line).join('; ')}`);
      return;
    }
    const why = await diagnoseAll(api, namespace);
    const line = progress.map((p) => p.line).join('; ') + (why.length ? ` — ${why[0]!.split('\n')[0]}` : '');
    if (line !== last) report(line);
    last = line;
    if (Date.now() >= deadline) {
      const pending = progress.filter((p) => !p.done).map((p) => p.line);
      throw new OsbError(
        [
          `not ready after ${opts.timeoutSeconds}s: ${pending.join('; ')}`,
          ...(why.length ? ['why:', ...why.map((w) => `  ${w}`)] : ['no pod reported a reason']),
        ].join('\n'),
        'raise kubernetes.waitTimeoutSeconds if the cluster is just slow; osb deploy --target kubernetes resumes waiting',
      );
    }
    await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(0, deadline - Date.now()))));
  }
}
