/**
 * `osb restore BACKUP --target kubernetes [--to-time T] [--replace]` (docs/backup.md, "Restore on
 * Kubernetes"). Generic: each component with `kubernetes.restore` gives a plan (src/model/component.ts);
 * this runs it. Nothing that holds data changes before the backup is checked inside the cluster.
 */
import { definitions } from '../../components/index.js';
import type { ComponentName } from '../../config/schema.js';
import { writeSecrets } from '../../config/secrets.js';
import type { KubernetesRestorePlan, ObjectRef } from '../../model/component.js';
import { serviceSpecs } from '../../model/services.js';
import type { K8sObject } from '../../k8s/objects.js';
import { OsbError } from '../../util/errors.js';
import type { KubeApi } from './api.js';
import { adoptClusterSecrets } from './apply.js';
import { type KubernetesDeployment, renderContext } from './context.js';
import { deployKubernetes } from './ops.js';
import { renderObjects } from './render.js';
import { kubernetesTlsMaterial } from './tls.js';
import { diagnosePod } from './wait.js';

export interface KubernetesRestoreOptions {
  backup: string;
  /** The operator's local time 'YYYY-MM-DD HH:MM:SS' (converted to UTC for the pods). */
  toTime?: string;
  /** Stop the running workload and delete its data claims (after the check passed). */
  replace?: boolean;
  report?: (line: string) => void;
  pollMs?: number;
}

export interface KubernetesRestoreResult {
  namespace: string;
  context: string;
  backup: string;
  component: ComponentName;
  /** The point in time in UTC, when one was asked. */
  toTimeUtc?: string;
  /** What the check said (the backup is whole, binlogs to roll forward). */
  checked: string;
  /** Workload and claims removed (--replace). */
  replaced: string[];
  seconds: number;
}

/** 'YYYY-MM-DD HH:MM:SS' in this host's zone → the same instant as UTC 'YYYY-MM-DD HH:MM:SS'. */
export function localTimeToUtc(t: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(t);
  const d = m && new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  if (!d || Number.isNaN(d.getTime())) throw new OsbError(`--to-time "${t}" is not a time`, "give this host's local time as 'YYYY-MM-DD HH:MM:SS'", 2);
  return d.toISOString().slice(0, 19).replace('T', ' ');
}

const ref = (o: ObjectRef) => `${o.kind}/${o.name}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface JobOutcome {
  ok: boolean;
  log: string;
  problem?: string;
}

/**
 * Creates a Job (replacing a finished one of the same name) and waits until it succeeds or fails. A pod
 * that does not start within `startSeconds` fails it with the pod's reason; once running there is no
 * limit (preparing a big backup takes long): its newest log line is reported as progress.
 */
async function runJob(
  api: KubeApi,
  ns: string,
  job: K8sObject,
  opts: { startSeconds: number; pollMs: number; report: (l: string) => void; container: string },
): Promise<JobOutcome> {
  const name = job.metadata.name;
  if (await api.delete('batch/v1', 'Job', ns, name)) {
    for (let i = 0; (await api.get('batch/v1', 'Job', ns, name)) && i < 600; i++) await sleep(opts.pollMs);
  }
  await api.create(job);
  const startBy = Date.now() + opts.startSeconds * 1000;
  let lastLine = '';
  let started = false;
  for (;;) {
    await sleep(opts.pollMs);
    const live = await api.get('batch/v1', 'Job', ns, name);
    const st = (live?.status ?? {}) as { succeeded?: number; failed?: number; conditions?: { type: string; status: string; message?: string }[] };
    const pod = (await api.list('v1', 'Pod', ns, `job-name=${name}`))[0] as
      | (K8sObject & { status?: { phase?: string; initContainerStatuses?: { name: string }[] } })
      | undefined;
    const containers = [...(pod?.status?.initContainerStatuses ?? []).map((c) => c.name), opts.container];
    const logs = async () => {
      if (!pod) return '';
      const parts = await Promise.all([...new Set(containers)].map((c) => api.logs(ns, pod.metadata.name, c)));
      return parts.filter((p) => p && !p.startsWith('(no log')).join('\n');
    };
    if ((st.succeeded ?? 0) > 0) return { ok: true, log: await logs() };
    const failed = (st.failed ?? 0) > 0 || st.conditions?.some((c) => c.type === 'Failed' && c.status === 'True');
    if (failed) return { ok: false, log: await logs() };
    if (pod && (pod.status?.phase === 'Running' || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed')) started = true;
    if (started && pod) {
      const line = (await logs()).trim().split('\n').pop() ?? '';
      if (line && line !== lastLine) opts.report(line);
      lastLine = line;
    } else if (Date.now() > startBy) {
      const why = pod ? await diagnosePod(api, ns, pod as never) : `no pod was created for Job ${name}`;
      return { ok: false, log: await logs(), problem: `Job ${name} did not start within ${opts.startSeconds}s: ${why ?? 'pending'}` };
    }
  }
}

const refusalOf = (log: string) => log.split('\n').find((l) => l.includes('REFUSED: '));
const lastLines = (log: string, n = 5) => log.trim().split('\n').filter(Boolean).slice(-n).join(' | ');

async function waitGone(api: KubeApi, ns: string, items: ObjectRef[], seconds: number, pollMs: number): Promise<void> {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    const left: string[] = [];
    for (const o of items) if (await api.get(o.apiVersion, o.kind, ns, o.name)) left.push(ref(o));
    if (!left.length) return;
    if (Date.now() > end)
      throw new OsbError(
        `${left.join(', ')} still exist(s) ${seconds}s after deletion (finalizers, a stuck pod?)`,
        'see kubectl describe; nothing holding data was changed beyond the deletions',
      );
    await sleep(pollMs);
  }
}

export async function restoreKubernetes(api: KubeApi, d: KubernetesDeployment, opts: KubernetesRestoreOptions): Promise<KubernetesRestoreResult> {
  const t0 = Date.now();
  const report = opts.report ?? (() => {});
  const pollMs = opts.pollMs ?? 2000;
  const ns = d.namespace;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(opts.backup))
    throw new OsbError(`"${opts.backup}" is not a backup id`, 'give the name of a backup folder on the backups volume (e.g. 20261127T023000123Z-full)', 2);
  const toTimeUtc = opts.toTime ? localTimeToUtc(opts.toTime) : undefined;
  const defs = definitions(d.config).filter((def) => def.kubernetes.restore);
  if (!defs.length) throw new OsbError('no enabled component restores on Kubernetes', 'enable mariadb (mariadb.enabled=true)', 2);
  // One component restores today (MariaDB); the plan is generic.
  const def = defs[0]!;
  const ctx = renderContext(d);
  const plan: KubernetesRestorePlan = def.kubernetes.restore!(ctx, { backup: opts.backup, toTime: toTimeUtc });

  // 1. Nothing changes until the cluster is known to allow it and the backup is checked.
  const configured = new Set(
    serviceSpecs(d.config)
      .filter((s) => s.configuredPassword)
      .map((s) => s.name),
  );
  if (await adoptClusterSecrets(api, ns, d.secrets, configured)) writeSecrets(d.stateDir, d.secrets);
  for (const r of plan.requires)
    if (!(await api.get(r.apiVersion, r.kind, ns, r.name))) throw new OsbError(`${r.what} (${ref(r)}) does not exist in namespace ${ns}`, r.fix, 2);
  const running: ObjectRef[] = [];
  // A workload scaled to 0 without pods runs nothing: the deploy that follows scales it up again.
  const workload = await api.get(plan.workload.apiVersion, plan.workload.kind, ns, plan.workload.name);
  if (workload && ((workload.spec as { replicas?: number } | undefined)?.replicas ?? 1) > 0) running.push(plan.workload);
  for (const p of plan.workload.pods) if (await api.get('v1', 'Pod', ns, p)) running.push({ apiVersion: 'v1', kind: 'Pod', name: p });
  const claims: ObjectRef[] = [];
  for (const c of plan.claims)
    if (await api.get('v1', 'PersistentVolumeClaim', ns, c)) claims.push({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', name: c });
  if ((running.length || claims.length) && !opts.replace) {
    const what = [...running, ...claims].map(ref).join(', ');
    throw new OsbError(
      `${what} exist(s) in namespace ${ns}: a restore goes into a fresh ${ref(plan.workload)}, never over a running one or old data`,
      `pass --replace to stop it and delete its data claims (${plan.claims.join(', ')}) once the backup is checked; nothing was changed`,
      2,
    );
  }
  report(`checking backup ${opts.backup}${toTimeUtc ? ` and the binlogs up to ${toTimeUtc} UTC` : ''} inside the cluster (Job ${plan.checkJob.metadata.name})`);
  for (const o of plan.checkObjects) await api.apply(o);
  const start = d.config.kubernetes.waitTimeoutSeconds;
  const check = await runJob(api, ns, plan.checkJob, { startSeconds: start, pollMs, report, container: 'check' });
  if (!check.ok) {
    const refusal = refusalOf(check.log);
    if (refusal) {
      const [what, fix] = refusal.slice(refusal.indexOf('REFUSED: ') + 'REFUSED: '.length).split(' — ');
      throw new OsbError(`restore refused: ${what}`, `${fix ? `${fix}; ` : ''}nothing was changed`, 2);
    }
    throw new OsbError(
      `the check of backup ${opts.backup} failed: ${check.problem ?? lastLines(check.log)}`,
      'nothing was changed; fix the cause and run the restore again',
      1,
    );
  }
  const checked = check.log.split('\n').find((l) => l.includes(' is whole')) ?? `backup ${opts.backup} checked`;
  report(checked.replace(/^osb restore: /, ''));

  // 2. The workload stopped and its old data gone (--replace), then the data restored into a fresh claim.
  const replaced: string[] = [];
  if (running.length || claims.length) {
    report(`--replace: deleting ${[...running, ...claims].map(ref).join(', ')}`);
    if (running.some((r) => r.kind === plan.workload.kind)) await api.delete(plan.workload.apiVersion, plan.workload.kind, ns, plan.workload.name);
    for (const p of running.filter((r) => r.kind === 'Pod')) await api.delete('v1', 'Pod', ns, p.name);
    await waitGone(api, ns, running, Math.max(start, 300), pollMs);
    for (const c of claims) await api.delete('v1', 'PersistentVolumeClaim', ns, c.name);
    await waitGone(api, ns, claims, Math.max(start, 300), pollMs);
    replaced.push(...[...running, ...claims].map(ref));
  }
  const stopped = (why: string) =>
    new OsbError(
      `restore of ${opts.backup} failed while ${why}. ${ref(plan.workload)} is STOPPED (not running; nothing serves half-restored data)`,
      `fix the cause, then run the same osb restore with --replace (it starts over on a fresh ${plan.claims[0]})`,
      1,
    );
  const tls = await kubernetesTlsMaterial(d.config, d.stateDir, ns, [def.name]);
  const rendered = renderObjects(d.config, d.secrets, { namespace: ns, components: [def.name], tls });
  for (const n of plan.needs) {
    const o = rendered.find((x) => x.kind === n.kind && x.metadata.name === n.name);
    if (o) await api.apply(o);
  }
  for (const o of plan.restoreObjects) {
    if (await api.get(o.apiVersion, o.kind, ns, o.metadata.name)) throw stopped(`creating ${o.kind}/${o.metadata.name}: it exists already`);
    await api.create(o);
  }
  report(`restoring ${opts.backup} into ${plan.claims[0]} (Job ${plan.restoreJob.metadata.name})`);
  const restored = await runJob(api, ns, plan.restoreJob, { startSeconds: start, pollMs, report, container: 'restore' });
  if (!restored.ok) {
    const refusal = refusalOf(restored.log);
    throw stopped(`restoring the data: ${restored.problem ?? (refusal ? refusal.replace(/^.*REFUSED: /, '') : lastLines(restored.log))}`);
  }

  // 3. The workload starts on the restored data (the mark says who bootstraps), then the mark goes.
  if (plan.mark) await api.mergePatch(plan.mark.apiVersion, plan.mark.kind, ns, plan.mark.name, plan.mark.set);
  report(`starting ${ref(plan.workload)} on the restored data`);
  try {
    await deployKubernetes(api, d, { components: [def.name], report, pollMs: opts.pollMs });
  } catch (err) {
    const why = err instanceof OsbError ? err.line : (err as Error).message;
    const mark = plan.mark
      ? `; once it is Ready, remove the bootstrap mark: kubectl -n ${ns} patch ${plan.mark.kind.toLowerCase()} ${plan.mark.name} --type merge -p '${JSON.stringify(plan.mark.clear)}'`
      : '';
    throw new OsbError(
      `restore of ${opts.backup}: the data is restored, but ${ref(plan.workload)} did not become Ready: ${why}`,
      `see osb status --target kubernetes and osb deploy --target kubernetes${mark}`,
      1,
    );
  }
  if (plan.mark) await api.mergePatch(plan.mark.apiVersion, plan.mark.kind, ns, plan.mark.name, plan.mark.clear);
  return {
    namespace: ns,
    context: api.context,
    backup: opts.backup,
    component: def.name,
    ...(toTimeUtc ? { toTimeUtc } : {}),
    checked: checked.replace(/^osb restore: /, ''),
    replaced,
    seconds: (Date.now() - t0) / 1000,
  };
}
