import { COMPONENTS } from '../../config/schema.js';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../config/schema.js';
import { type DoctorCheck, fail, ok, stateDirCheck, warn } from '../../model/doctor.js';
import { MANAGED_KINDS } from './apply.js';
import { importExternal } from '../../util/entry.js';

export interface KubernetesDoctorOptions {
  config: Config;
  namespace: string;
  /** --context, else `kubernetes.context`, else the kubeconfig's current context. */
  context?: string;
  stateDir: string;
}

/** One permission osb needs: verb on a resource (in the namespace unless cluster-scoped). */
interface Need {
  group: string;
  resource: string;
  subresource?: string;
  verb: string;
  clusterScoped?: boolean;
}

const plural = (kind: string) => {
  const k = kind.toLowerCase();
  return k.endsWith('y') ? `${k.slice(0, -1)}ies` : `${k}s`;
};
const groupOf = (apiVersion: string) => (apiVersion.includes('/') ? apiVersion.split('/')[0]! : '');

/** tls.certManager: osb applies cert-manager Certificates. */
const wantsCertManager = (config?: Config) => !!(config?.tls.enabled && config.tls.certManager);

/** The API verbs deploy, status, test, logs and destroy use — from the kinds osb manages. */
export function requiredPermissions(namespaceExists: boolean, config?: Config): Need[] {
  const needs: Need[] = [];
  // The optional kinds (the Prometheus Operator's; cert-manager's unless tls.certManager asks for them) are not required here.
  for (const { apiVersion, kind } of MANAGED_KINDS.filter((k) => !k.optional || (k.kind === 'Certificate' && wantsCertManager(config)))) {
    for (const verb of ['get', 'list', 'create', 'patch', 'delete']) needs.push({ group: groupOf(apiVersion), resource: plural(kind), verb });
  }
  for (const verb of ['get', 'list', 'create', 'delete']) needs.push({ group: '', resource: 'pods', verb });
  needs.push({ group: '', resource: 'pods', subresource: 'log', verb: 'get' });
  needs.push({ group: '', resource: 'events', verb: 'list' });
  for (const verb of ['get', 'list', 'delete']) needs.push({ group: '', resource: 'persistentvolumeclaims', verb });
  needs.push({ group: '', resource: 'namespaces', verb: 'get', clusterScoped: true });
  if (!namespaceExists) needs.push({ group: '', resource: 'namespaces', verb: 'create', clusterScoped: true });
  return needs;
}

const label = (n: Need) => `${n.verb} ${n.resource}${n.subresource ? `/${n.subresource}` : ''}${n.group ? `.${n.group}` : ''}`;

interface ApiError {
  code?: number;
  body?: unknown;
  message?: string;
}
const codeOf = (e: unknown) => (typeof (e as ApiError)?.code === 'number' ? (e as ApiError).code : undefined);
const reasonOf = (e: unknown) => {
  const err = e as ApiError & { cause?: { code?: string } };
  const body = typeof err?.body === 'string' ? err.body : JSON.stringify(err?.body ?? '');
  const m = body.match(/"message":"([^"]*)"/);
  return m?.[1] ?? err?.cause?.code ?? (err?.message ?? String(e)).split('\n')[0]!;
};

/** The kubeconfig files client-node reads (KUBECONFIG, else ~/.kube/config). */
function kubeconfigFiles(): string[] {
  const env = process.env.KUBECONFIG;
  if (env) return env.split(':').filter(Boolean);
  return [join(homedir(), '.kube', 'config')];
}

/**
 * The checks for `osb doctor --target kubernetes`: kubeconfig readable, context known, API and
 * namespace reachable, RBAC (SelfSubjectAccessReview per verb osb uses), a StorageClass for the
 * volumes, and the state dir (credentials live there). Creates nothing but the access reviews.
 */
export async function kubernetesChecks(o: KubernetesDoctorOptions): Promise<DoctorCheck[]> {
  const out: DoctorCheck[] = [];
  const files = kubeconfigFiles();
  const present = files.filter((f) => existsSync(f));
  const inCluster = !!process.env.KUBERNETES_SERVICE_HOST && existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token');
  if (present.length === 0 && !inCluster) {
    out.push(
      fail(
        'kubeconfig',
        `no kubeconfig: ${files.join(', ')} ${files.length > 1 ? 'do' : 'does'} not exist`,
        'set KUBECONFIG=FILE, or write ~/.kube/config (e.g. from your cluster admin or `kind get kubeconfig`)',
      ),
    );
    return [...out, stateDirCheck(o.stateDir)];
  }
  for (const f of present) {
    try {
      accessSync(f, constants.R_OK);
      readFileSync(f);
    } catch (err) {
      out.push(
        fail(
          'kubeconfig',
          `${f} is not readable (${(err as NodeJS.ErrnoException).code})`,
          `fix its permissions (chmod 600 ${f}, owned by you) or set KUBECONFIG`,
        ),
      );
      return [...out, stateDirCheck(o.stateDir)];
    }
  }
  const k8s = await importExternal<typeof import('@kubernetes/client-node')>('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  try {
    kc.loadFromDefault();
  } catch (err) {
    out.push(
      fail(
        'kubeconfig',
        `cannot parse ${present.join(', ')}: ${(err as Error).message.split('\n')[0]}`,
        'fix the kubeconfig (kubectl config view shows what it reads)',
      ),
    );
    return [...out, stateDirCheck(o.stateDir)];
  }
  out.push(ok('kubeconfig', present.length ? `read ${present.join(', ')}` : 'in-cluster service account'));

  const names = kc.getContexts().map((c) => c.name);
  if (o.context && !names.includes(o.context)) {
    out.push(
      fail(
        'context',
        `unknown kubeconfig context "${o.context}"`,
        names.length ? `use one of: ${names.join(', ')} (--context NAME or --set kubernetes.context=NAME)` : 'the kubeconfig has no contexts; set KUBECONFIG',
      ),
    );
    return [...out, stateDirCheck(o.stateDir)];
  }
  if (o.context) kc.setCurrentContext(o.context);
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    out.push(fail('context', 'the kubeconfig has no current context', names.length ? `pass --context NAME (known: ${names.join(', ')})` : 'set KUBECONFIG'));
    return [...out, stateDirCheck(o.stateDir)];
  }
  out.push(ok('context', `${kc.getCurrentContext()} → ${cluster.server}`));

  const core = kc.makeApiClient(k8s.CoreV1Api);
  let namespaceExists = true;
  try {
    await core.readNamespace({ name: o.namespace });
    out.push(ok('namespace', `${o.namespace} exists`));
  } catch (err) {
    const code = codeOf(err);
    if (code === 404) {
      namespaceExists = false;
      out.push(ok('namespace', `${o.namespace} does not exist yet; osb deploy creates it`));
    } else if (code === 401) {
      out.push(
        fail(
          'namespace',
          `the API server at ${cluster.server} refused the credentials (HTTP 401): ${reasonOf(err)}`,
          'renew the kubeconfig credentials (token or client certificate)',
        ),
      );
      return [...out, stateDirCheck(o.stateDir)];
    } else if (code === 403) {
      out.push(
        fail(
          'namespace',
          `not allowed to read namespace ${o.namespace} (HTTP 403): ${reasonOf(err)}`,
          `ask for get on namespaces, or a Role in ${o.namespace} (see the rbac check)`,
        ),
      );
    } else {
      out.push(
        fail(
          'namespace',
          `the API server at ${cluster.server} cannot be reached: ${reasonOf(err)}`,
          'check that the cluster is up and the kubeconfig server address and network path to it',
        ),
      );
      return [...out, stateDirCheck(o.stateDir)];
    }
  }

  const authz = kc.makeApiClient(k8s.AuthorizationV1Api);
  const denied: string[] = [];
  let reviewError: string | undefined;
  for (const n of requiredPermissions(namespaceExists, o.config)) {
    try {
      const r = await authz.createSelfSubjectAccessReview({
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: {
            resourceAttributes: {
              group: n.group,
              resource: n.resource,
              subresource: n.subresource,
              verb: n.verb,
              namespace: n.clusterScoped ? undefined : o.namespace,
            },
          },
        },
      });
      if (!r.status?.allowed) denied.push(label(n));
    } catch (err) {
      reviewError = `${label(n)}: ${reasonOf(err)}`;
      break;
    }
  }
  if (reviewError)
    out.push(
      fail(
        'rbac',
        `cannot ask the API server what is allowed (SelfSubjectAccessReview failed: ${reviewError})`,
        'allow create on selfsubjectaccessreviews.authorization.k8s.io (every authenticated user has it by default)',
      ),
    );
  else if (denied.length)
    out.push(
      fail(
        'rbac',
        `not allowed in namespace ${o.namespace}: ${denied.join(', ')}`,
        `grant these verbs to your user, e.g. a RoleBinding to the "admin" ClusterRole: kubectl create rolebinding osb-admin --clusterrole=admin --user=USER -n ${o.namespace}`,
      ),
    );
  else {
    const needs = requiredPermissions(namespaceExists, o.config);
    const resources = new Set(needs.map((n) => `${n.resource}${n.subresource ? `/${n.subresource}` : ''}.${n.group}`));
    out.push(ok('rbac', `allowed: all ${needs.length} verbs osb uses, on ${resources.size} resources (SelfSubjectAccessReview)`));
  }

  // Components whose config has a `volume` section (a PersistentVolumeClaim per pod).
  const volumeOf = (c: (typeof COMPONENTS)[number]) => (o.config[c] as { volume?: { enabled: boolean; storageClass?: string } }).volume;
  const volumes = COMPONENTS.filter((c) => o.config[c].enabled && volumeOf(c)?.enabled);
  if (volumes.length === 0) {
    out.push(ok('storage class', 'no persistent volumes requested'));
  } else {
    const storage = kc.makeApiClient(k8s.StorageV1Api);
    try {
      const classes = (await storage.listStorageClass()).items;
      const names = classes.map((c) => c.metadata?.name ?? '');
      const isDefault = (c: (typeof classes)[number]) =>
        c.metadata?.annotations?.['storageclass.kubernetes.io/is-default-class'] === 'true' ||
        c.metadata?.annotations?.['storageclass.beta.kubernetes.io/is-default-class'] === 'true';
      const def = classes.find(isDefault)?.metadata?.name;
      const problems: string[] = [];
      const fixes: string[] = [];
      for (const c of volumes) {
        const wanted = volumeOf(c)?.storageClass;
        if (wanted && !names.includes(wanted)) {
          problems.push(`${c}.volume.storageClass "${wanted}" does not exist`);
          fixes.push(names.length ? `--set ${c}.volume.storageClass=${names[0]}` : `create StorageClass ${wanted}`);
        } else if (!wanted && !def) {
          problems.push(`${c} asks for the default StorageClass and there is none`);
          fixes.push(
            names.length
              ? `--set ${c}.volume.storageClass=NAME (classes: ${names.join(', ')}), or mark one default: kubectl annotate storageclass ${names[0]} storageclass.kubernetes.io/is-default-class=true`
              : `install a volume provisioner with a default StorageClass, or --set ${c}.volume.enabled=false (data on emptyDir, lost with the pod)`,
          );
        }
      }
      if (problems.length)
        out.push(fail('storage class', `${problems.join('; ')}: the PersistentVolumeClaims would stay Pending`, [...new Set(fixes)].join('; ')));
      else out.push(ok('storage class', volumes.map((c) => `${c}: ${volumeOf(c)?.storageClass ?? `${def} (default)`}`).join(', ')));
    } catch (err) {
      out.push(
        warn(
          'storage class',
          `cannot list StorageClasses (${codeOf(err) ? `HTTP ${codeOf(err)}: ` : ''}${reasonOf(err)}), so cannot tell whether the volumes will bind`,
          'ask your cluster admin which StorageClass to use and set it: --set mariadb.volume.storageClass=NAME',
        ),
      );
    }
  }
  if (wantsCertManager(o.config)) out.push(await certManagerCheck(kc, k8s, o));
  out.push(stateDirCheck(o.stateDir));
  return out;
}

/** tls.certManager: cert-manager's Certificate kind is served, and the issuer it names exists and says Ready. */
async function certManagerCheck(
  kc: import('@kubernetes/client-node').KubeConfig,
  k8s: typeof import('@kubernetes/client-node'),
  o: KubernetesDoctorOptions,
): Promise<DoctorCheck> {
  const name = 'cert-manager';
  const issuer = o.config.tls.certManager!.issuer;
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  try {
    await api.listNamespacedCustomObject({ group: 'cert-manager.io', version: 'v1', namespace: o.namespace, plural: 'certificates' });
  } catch (err) {
    return fail(
      name,
      `the cluster does not serve Certificate (cert-manager.io/v1)${codeOf(err) ? ` (HTTP ${codeOf(err)})` : ''}: cert-manager's CRDs are not installed`,
      'install cert-manager (https://cert-manager.io/docs/installation/), or unset tls.certManager to let osb issue the certificates from its own CA',
    );
  }
  if (issuer.group !== 'cert-manager.io') return ok(name, `Certificate served; issuer ${issuer.kind} ${issuer.name} (${issuer.group}) not checked`);
  const plural = issuer.kind === 'ClusterIssuer' ? 'clusterissuers' : 'issuers';
  const where = issuer.kind === 'ClusterIssuer' ? '' : ` in namespace ${o.namespace}`;
  try {
    const found = (
      issuer.kind === 'ClusterIssuer'
        ? await api.getClusterCustomObject({ group: 'cert-manager.io', version: 'v1', plural, name: issuer.name })
        : await api.getNamespacedCustomObject({ group: 'cert-manager.io', version: 'v1', namespace: o.namespace, plural, name: issuer.name })
    ) as { status?: { conditions?: { type: string; status: string; message?: string }[] } };
    const ready = found.status?.conditions?.find((c) => c.type === 'Ready');
    if (ready?.status === 'True') return ok(name, `Certificate served; ${issuer.kind} ${issuer.name}${where} is Ready`);
    return warn(
      name,
      `${issuer.kind} ${issuer.name}${where} is not Ready${ready?.message ? `: ${ready.message}` : ''}: the Certificates would stay unissued`,
      `kubectl describe ${plural.slice(0, -1)} ${issuer.name}${where ? ` -n ${o.namespace}` : ''}`,
    );
  } catch (err) {
    return fail(
      name,
      `${issuer.kind} ${issuer.name}${where} ${codeOf(err) === 404 ? 'does not exist' : `cannot be read (${reasonOf(err)})`}: the Certificates would stay unissued`,
      `create it (it must put ca.crt into the Secrets it writes: a CA, Vault or self-signed issuer), or point tls.certManager.issuer.name/kind at one that exists`,
    );
  }
}
