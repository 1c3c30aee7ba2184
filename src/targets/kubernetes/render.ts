import { COMPONENTS, type ComponentName, type Config } from '../../config/schema.js';
import type { Secrets } from '../../config/secrets.js';
import { generatePassword } from '../../config/secrets.js';
import { definitions } from '../../components/index.js';
import { serviceSpecs } from '../../model/services.js';
import { OsbError } from '../../util/errors.js';
import { HOOK_ANNOTATION, type K8sObject, LABEL, type RenderContext } from '../../k8s/objects.js';
import { toYaml } from '../../k8s/yaml.js';

/** Apply order: identities and data before the workloads that use them. */
export const KIND_ORDER = [
  'ServiceAccount',
  'Role',
  'RoleBinding',
  'Secret',
  // cert-manager's (tls.certManager): it writes the <component>-tls Secrets the pods mount.
  'Certificate',
  'ConfigMap',
  'PersistentVolumeClaim',
  'Service',
  'PodDisruptionBudget',
  'NetworkPolicy',
  'StatefulSet',
  'Deployment',
  'Job',
  'CronJob',
  'PodMonitor',
  'PrometheusRule',
  'Pod',
] as const;

export interface RenderOptions {
  namespace?: string;
  /** Only these components (default: every enabled one). */
  components?: readonly ComponentName[];
  /** tls.enabled: the certificates, from kubernetesTlsMaterial. */
  tls?: RenderContext['tls'];
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Namespace from --namespace, else `kubernetes.namespace`; a clear error when it is not a DNS label. */
export function resolveNamespace(config: Config, flag?: string): string {
  const ns = flag ?? config.kubernetes.namespace;
  if (!DNS_LABEL.test(ns)) {
    throw new OsbError(
      `namespace "${ns}" is not a DNS label (lowercase letters, digits and "-", at most 63 characters, starting and ending with a letter or digit)`,
      'choose e.g. --namespace openstack',
      2,
    );
  }
  return ns;
}

/** Passwords of the OpenStack services: configured, else kept in `secrets.services`, else generated into it (the caller persists). */
export function servicePasswords(config: Config, secrets: Secrets): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of serviceSpecs(config)) {
    if (s.configuredPassword) out[s.name] = s.configuredPassword;
    else out[s.name] = secrets.services[s.name] ??= generatePassword();
  }
  return out;
}

function order(a: K8sObject, b: K8sObject): number {
  const k = KIND_ORDER.indexOf(a.kind as (typeof KIND_ORDER)[number]) - KIND_ORDER.indexOf(b.kind as (typeof KIND_ORDER)[number]);
  if (k) return k;
  const c = COMPONENTS.indexOf(a.metadata.labels?.[LABEL.name] as ComponentName) - COMPONENTS.indexOf(b.metadata.labels?.[LABEL.name] as ComponentName);
  if (c) return c;
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}

/**
 * Every object of the desired state, in a stable order. Pure apart from generating service
 * passwords missing from `secrets.services` (added there; the caller saves them).
 */
export function renderObjects(config: Config, secrets: Secrets, opts: RenderOptions = {}): K8sObject[] {
  // TLS: the certificates are issued beforehand (kubernetesTlsMaterial, src/targets/kubernetes/tls.ts; none with cert-manager).
  if (config.tls.enabled && !opts.tls)
    throw new OsbError('tls.enabled: the certificates must be issued before rendering', 'this is a bug in osb: render through `osb render`', 2);
  const ctx: RenderContext = {
    config,
    namespace: resolveNamespace(config, opts.namespace),
    clusterDomain: config.kubernetes.clusterDomain,
    ...(opts.tls ? { tls: opts.tls } : {}),
  };
  const passwords = servicePasswords(config, secrets);
  const out: K8sObject[] = [];
  for (const def of definitions(config, opts.components?.length ? opts.components : undefined)) out.push(...def.kubernetes.objects(ctx, secrets, passwords));
  return out.sort(order);
}

export const isTestHook = (o: K8sObject) => o.metadata.annotations?.[HOOK_ANNOTATION] === 'test';

/**
 * A `---` separated YAML stream that `kubectl apply -f -`, Argo CD and Flux accept. js-yaml quotes every
 * string a YAML 1.1 reader would take for something else (`on`, `yes`, `12:30`), as kubectl's reader is
 * YAML 1.1 (the `yaml` package, YAML 1.2, leaves them bare); k8s/yaml.ts writes what js-yaml would, faster.
 */
export function toYamlStream(objects: K8sObject[]): string {
  return objects.map((o) => '---\n' + toYaml(o)).join('');
}
