import type { ComponentName, Config } from '../config/schema.js';
import { crypto } from '../util/builtin.js';

/** A Kubernetes object as osb renders it: plain data, no client library types (rendering stays fast). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export const MANAGED_BY = 'osb';
/** One osb deployment per namespace; the instance label scopes pruning to it. */
export const INSTANCE = 'osb';
export const FIELD_MANAGER = 'osb';

export const LABEL = {
  name: 'app.kubernetes.io/name',
  instance: 'app.kubernetes.io/instance',
  component: 'app.kubernetes.io/component',
  managedBy: 'app.kubernetes.io/managed-by',
  partOf: 'app.kubernetes.io/part-of',
} as const;

/** Objects osb creates only on `osb test` (helm test hooks), never on deploy. */
export const HOOK_ANNOTATION = 'osb.openstack.org/hook';

/** What a component's objects play: its servers, its provisioning job, its test pod, ... */
export type Role =
  | 'server'
  | 'config'
  | 'credentials'
  | 'discovery'
  | 'db-init'
  | 'rabbit-init'
  | 'test'
  | 'galera-state'
  | 'writer-controller'
  | 'backup'
  | 'binlog-archiver'
  | 'restore'
  | 'metrics';

export function labels(component: ComponentName, role: Role): Record<string, string> {
  return {
    [LABEL.name]: component,
    [LABEL.instance]: INSTANCE,
    [LABEL.component]: role,
    [LABEL.managedBy]: MANAGED_BY,
    [LABEL.partOf]: 'openstack',
  };
}

/** The labels a Service/PDB/NetworkPolicy selects a component's server pods by (immutable in a StatefulSet). */
export function selector(component: ComponentName): Record<string, string> {
  return { [LABEL.name]: component, [LABEL.instance]: INSTANCE, [LABEL.component]: 'server' };
}

export const managedSelector = `${LABEL.managedBy}=${MANAGED_BY},${LABEL.instance}=${INSTANCE}`;

export interface RenderContext {
  config: Config;
  namespace: string;
  clusterDomain: string;
  /** tls.enabled: each component's certificate, key and CA (src/k8s/tls.ts), issued before rendering. */
  tls?: Partial<Record<ComponentName, { cert: string; key: string; ca: string }>>;
}

export function meta(ctx: RenderContext, name: string, component: ComponentName, role: Role, annotations?: Record<string, string>): K8sObject['metadata'] {
  return { name, namespace: ctx.namespace, labels: labels(component, role), ...(annotations ? { annotations } : {}) };
}

export const headlessName = (c: ComponentName) => `${c}-headless`;

/** `<pod>.<headless svc>.<ns>.svc.<domain>`: the stable DNS name of one StatefulSet pod. */
export function podFqdn(ctx: RenderContext, c: ComponentName, ordinal: number): string {
  return `${c}-${ordinal}.${headlessName(c)}.${ctx.namespace}.svc.${ctx.clusterDomain}`;
}

export function serviceFqdn(ctx: RenderContext, service: string): string {
  return `${service}.${ctx.namespace}.svc.${ctx.clusterDomain}`;
}

export const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

export function shortHash(value: unknown): string {
  return crypto()
    .createHash('sha256')
    .update(typeof value === 'string' ? value : JSON.stringify(value))
    .digest('hex')
    .slice(0, 8);
}

/** Restricted-profile container security context (the images' own non-root users). */
export function containerSecurity(readOnlyRoot = false): Record<string, unknown> {
  return {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    readOnlyRootFilesystem: readOnlyRoot,
    runAsNonRoot: true,
  };
}

export function podSecurity(uid: number): Record<string, unknown> {
  return { runAsNonRoot: true, runAsUser: uid, runAsGroup: uid, fsGroup: uid, seccompProfile: { type: 'RuntimeDefault' } };
}

/**
 * The image of the small programs pods run (Galera coordinator, writer controller, rabbit-init, the
 * RabbitMQ test pod): plain Node.js built-ins only. Node 24 is an upstream LTS line until 2028-04.
 */
export const NODE_IMAGE = 'docker.io/library/node:24-alpine';
/** uid of the `node` user in the node image. */
export const NODE_UID = 1000;

/** A component's image reference: `image`, or `image@sha256:...` when `imageDigest` pins it. */
export function imageRef(cfg: { image: string; imageDigest?: string | undefined }): string {
  if (!cfg.imageDigest) return cfg.image;
  // A digest replaces any digest already in the reference; a tag may stay (the digest wins).
  return `${cfg.image.replace(/@sha256:[0-9a-f]{64}$/, '')}@${cfg.imageDigest}`;
}

const QUANTITY_UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** Bytes of a Kubernetes memory quantity such as `1Gi`, `512Mi` or `1.5G` (the schema's quantity syntax). */
export function quantityBytes(q: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/.exec(q);
  if (!m) throw new Error(`not a Kubernetes quantity: ${q}`);
  return Math.floor(Number(m[1]) * QUANTITY_UNITS[m[2] ?? '']!);
}

export function resources(cfg: Config['mariadb']['resources']): Record<string, unknown> {
  return {
    requests: { cpu: cfg.cpuRequest, memory: cfg.memoryRequest },
    limits: { cpu: cfg.cpuLimit, memory: cfg.memoryLimit },
  };
}

/** Spread pods of one component over nodes (soft: a one-node test cluster still works). */
export function antiAffinity(component: ComponentName): Record<string, unknown> {
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        { weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selector(component) } } },
      ],
    },
  };
}

export function pvcTemplate(component: ComponentName, vol: Config['mariadb']['volume']): K8sObject {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'data', labels: { ...labels(component, 'server') } },
    spec: {
      accessModes: ['ReadWriteOnce'],
      ...(vol.storageClass ? { storageClassName: vol.storageClass } : {}),
      resources: { requests: { storage: vol.size } },
    },
  };
}

export function podDisruptionBudget(ctx: RenderContext, c: ComponentName): K8sObject {
  const replicas = ctx.config[c].replicas;
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(ctx, c, c, 'server'),
    // A quorum-based cluster keeps a majority; a single node may still be drained.
    spec: { ...(replicas > 1 ? { minAvailable: Math.floor(replicas / 2) + 1 } : { maxUnavailable: 1 }), selector: { matchLabels: selector(c) } },
  };
}

export interface PortRule {
  port: number;
  /** Who may connect: every pod of the namespace (clients) or only this component's own pods (peers). */
  from: 'namespace' | 'peers';
}

export function networkPolicy(ctx: RenderContext, c: ComponentName, rules: PortRule[]): K8sObject {
  const group = (from: PortRule['from']) => rules.filter((r) => r.from === from).map((r) => ({ protocol: 'TCP', port: r.port }));
  const ingress: unknown[] = [];
  if (group('namespace').length) ingress.push({ from: [{ podSelector: {} }], ports: group('namespace') });
  if (group('peers').length) ingress.push({ from: [{ podSelector: { matchLabels: selector(c) } }], ports: group('peers') });
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: meta(ctx, c, c, 'server'),
    spec: { podSelector: { matchLabels: selector(c) }, policyTypes: ['Ingress'], ingress },
  };
}

export interface ServicePort {
  name: string;
  port: number;
}

export function services(ctx: RenderContext, c: ComponentName, clientPorts: ServicePort[], peerPorts: ServicePort[]): K8sObject[] {
  const ports = (ps: ServicePort[]) => ps.map((p) => ({ name: p.name, port: p.port, targetPort: p.port, protocol: 'TCP' }));
  return [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(ctx, headlessName(c), c, 'server'),
      // Peers must resolve each other before they are Ready (cluster formation).
      spec: { clusterIP: 'None', publishNotReadyAddresses: true, selector: selector(c), ports: ports([...clientPorts, ...peerPorts]) },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(ctx, c, c, 'server'),
      spec: { type: 'ClusterIP', selector: selector(c), ports: ports(clientPorts) },
    },
  ];
}

/** A ServiceAccount named after the component (its server pods'), or `name` with role `role`. */
export function serviceAccount(ctx: RenderContext, c: ComponentName, name: string = c, role: Role = 'discovery'): K8sObject {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(ctx, name, c, role), automountServiceAccountToken: true };
}

export function roleAndBinding(
  ctx: RenderContext,
  c: ComponentName,
  name: string,
  rules: unknown[],
  account: string = c,
  role: Role = 'discovery',
): K8sObject[] {
  return [
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: meta(ctx, name, c, role), rules },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta(ctx, name, c, role),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name: account, namespace: ctx.namespace }],
    },
  ];
}

export function configMap(ctx: RenderContext, name: string, c: ComponentName, role: Role, data: Record<string, string>): K8sObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(ctx, name, c, role), data };
}

export function secret(ctx: RenderContext, name: string, c: ComponentName, role: Role, data: Record<string, string>): K8sObject {
  const encoded = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)]));
  return { apiVersion: 'v1', kind: 'Secret', metadata: meta(ctx, name, c, role), type: 'Opaque', data: encoded };
}

/** `valueFrom.secretKeyRef` env entry: passwords reach containers as env, never as argv. */
export const secretEnv = (name: string, secretName: string, key: string) => ({ name, valueFrom: { secretKeyRef: { name: secretName, key } } });
export const fieldEnv = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { fieldPath } } });

/** Env var name holding a service's password in init jobs. */
export const servicePasswordEnv = (service: string) => `OSB_PW_${service.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
export const servicePasswordKey = (service: string) => `${service}-password`;

/** Waits for a TCP port from a shell (bash /dev/tcp), for init jobs and test pods. */
export const WAIT_FOR_TCP = `wait_tcp() { # host port seconds
  local end=$(( $(date +%s) + $3 ))
  until (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; do
    if [ "$(date +%s)" -ge "$end" ]; then echo "osb: $1:$2 did not answer within $3s" >&2; return 1; fi
    sleep 2
  done
}`;
