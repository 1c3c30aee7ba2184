import { REGISTRY } from '../../components/index.js';
import type { ComponentDefinition } from '../../model/component.js';
import { COMPONENTS, type ComponentName } from '../../config/schema.js';
import type { Secrets } from '../../config/secrets.js';
import type { KubeApi } from './api.js';
import { INSTANCE, type K8sObject, LABEL, managedSelector, MANAGED_BY } from '../../k8s/objects.js';
import { isTestHook, type KIND_ORDER } from './render.js';
import { OsbError } from '../../util/errors.js';

/** A kind served only where its CRDs are installed: whose they are, and what to do when they are not. */
interface OptionalKind {
  crds: string;
  fix: string;
}
const PROMETHEUS_OPERATOR: OptionalKind = {
  crds: "the Prometheus Operator's CRDs",
  fix: "install the Prometheus Operator's CRDs, or deploy with --set metrics.prometheusOperator=false (then scrape the pods yourself: osb metrics --target kubernetes)",
};
const CERT_MANAGER: OptionalKind = {
  crds: "cert-manager's CRDs",
  fix: 'install cert-manager (https://cert-manager.io/docs/installation/), or unset tls.certManager to let osb issue the certificates from its own CA',
};

/** Kinds osb applies and may prune, with their API versions (test Pods are created by `osb test` only). */
export const MANAGED_KINDS: { apiVersion: string; kind: (typeof KIND_ORDER)[number]; optional?: OptionalKind }[] = [
  { apiVersion: 'v1', kind: 'ServiceAccount' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding' },
  { apiVersion: 'v1', kind: 'Secret' },
  // cert-manager's (tls.certManager): a cluster without its CRDs has none to prune.
  { apiVersion: 'cert-manager.io/v1', kind: 'Certificate', optional: CERT_MANAGER },
  { apiVersion: 'v1', kind: 'ConfigMap' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' },
  { apiVersion: 'apps/v1', kind: 'StatefulSet' },
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'batch/v1', kind: 'Job' },
  { apiVersion: 'batch/v1', kind: 'CronJob' },
  // The Prometheus Operator's kinds (metrics.prometheusOperator): a cluster without its CRDs has none to prune.
  { apiVersion: 'monitoring.coreos.com/v1', kind: 'PodMonitor', optional: PROMETHEUS_OPERATOR },
  { apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', optional: PROMETHEUS_OPERATOR },
];

export interface ApplyResult {
  created: string[];
  configured: string[];
  unchanged: string[];
  pruned: string[];
  namespaceCreated: boolean;
}

const key = (o: { kind: string; metadata: { name: string } }) => `${o.kind}/${o.metadata.name}`;
const componentOf = (o: K8sObject) => o.metadata.labels?.[LABEL.name] as ComponentName | undefined;

/** Secrets osb renders, and where their values live in `Secrets`. */
const SECRET_FIELDS = Object.assign({}, ...Object.values(REGISTRY).map((d) => d.kubernetes.credentialSecrets ?? {})) as NonNullable<
  ComponentDefinition['kubernetes']['credentialSecrets']
>;

/**
 * Credentials already in the cluster win over the state dir's: a Secret osb applied earlier
 * (maybe from another machine) is reused, never rotated. Returns whether `secrets` changed.
 */
export async function adoptClusterSecrets(api: KubeApi, namespace: string, secrets: Secrets, configuredPasswords: ReadonlySet<string>): Promise<boolean> {
  let changed = false;
  const decode = (v: unknown) => Buffer.from(String(v), 'base64').toString('utf8');
  for (const s of await api.list('v1', 'Secret', namespace, managedSelector)) {
    const data = (s.data ?? {}) as Record<string, string>;
    for (const [k, field] of Object.entries(SECRET_FIELDS[s.metadata.name] ?? {})) {
      if (field && data[k] !== undefined && secrets[field] !== decode(data[k])) {
        secrets[field] = decode(data[k]);
        changed = true;
      }
    }
    if (s.metadata.name.endsWith('-service-credentials')) {
      for (const [k, v] of Object.entries(data)) {
        const service = k.replace(/-password$/, '');
        if (configuredPasswords.has(service)) continue;
        if (secrets.services[service] !== decode(v)) {
          secrets.services[service] = decode(v);
          changed = true;
        }
      }
    }
  }
  return changed;
}

/**
 * Server-side applies `desired` (namespace first when missing), then deletes objects osb
 * applied earlier (labels managed-by=osb, instance=osb) that are no longer desired — only
 * of the components in `scope`.
 */
export async function applyAndPrune(
  api: KubeApi,
  namespace: string,
  desired: K8sObject[],
  scope: readonly ComponentName[] = COMPONENTS,
  report: (m: string) => void = () => {},
): Promise<ApplyResult> {
  const result: ApplyResult = { created: [], configured: [], unchanged: [], pruned: [], namespaceCreated: false };
  // Optional kinds (the Prometheus Operator's, cert-manager's) first: when they are wanted but the cluster does not serve them, nothing is changed.
  const optionalListed = new Map<string, K8sObject[]>();
  for (const { apiVersion, kind, optional } of MANAGED_KINDS.filter((k) => k.optional)) {
    try {
      optionalListed.set(kind, await api.list(apiVersion, kind, namespace, managedSelector));
    } catch (err) {
      if (desired.some((o) => o.kind === kind))
        throw new OsbError(
          `the cluster does not serve ${kind} (${apiVersion}): ${optional!.crds} are not installed (${(err as Error).message.split('\n')[0]})`,
          optional!.fix,
          2,
        );
      optionalListed.set(kind, []);
    }
  }
  if (!(await api.get('v1', 'Namespace', undefined, namespace))) {
    await api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
    result.namespaceCreated = true;
    report(`created namespace ${namespace}`);
  }
  const existing = new Map<string, K8sObject>();
  for (const { apiVersion, kind, optional } of MANAGED_KINDS) {
    const listed = optional ? (optionalListed.get(kind) ?? []) : await api.list(apiVersion, kind, namespace, managedSelector);
    for (const o of listed) existing.set(key({ kind, metadata: o.metadata }), { ...o, apiVersion, kind });
  }
  // A rendered PersistentVolumeClaim (the backups volume) is applied but never pruned: it holds data.
  const claims = new Map<string, K8sObject>();
  if (desired.some((o) => o.kind === 'PersistentVolumeClaim')) {
    for (const o of await api.list('v1', 'PersistentVolumeClaim', namespace, managedSelector))
      claims.set(key({ kind: 'PersistentVolumeClaim', metadata: o.metadata }), o);
  }
  const toApply = desired.filter((o) => !isTestHook(o));
  for (const obj of toApply) {
    const before = existing.get(key(obj)) ?? claims.get(key(obj));
    const after = await api.apply(obj);
    const k = key(obj);
    if (!before) result.created.push(k);
    else if (before.metadata.resourceVersion !== after.metadata.resourceVersion) result.configured.push(k);
    else result.unchanged.push(k);
  }
  report(`applied ${toApply.length} objects: ${result.created.length} created, ${result.configured.length} configured, ${result.unchanged.length} unchanged`);
  const wanted = new Set(toApply.map(key));
  const stale = [...existing.values()].filter(
    (o) => !wanted.has(key(o)) && o.metadata.labels?.[LABEL.managedBy] === MANAGED_BY && o.metadata.labels?.[LABEL.instance] === INSTANCE,
  );
  for (const o of stale.reverse()) {
    const c = componentOf(o);
    if (!c || !scope.includes(c)) continue;
    await api.delete(o.apiVersion, o.kind, namespace, o.metadata.name);
    result.pruned.push(key(o));
    report(`pruned ${key(o)}`);
  }
  return result;
}
