import { OsbError } from '../../util/errors.js';
import { FIELD_MANAGER, type K8sObject } from '../../k8s/objects.js';
import { importExternal } from '../../util/entry.js';

/** The few API calls osb makes; implemented over @kubernetes/client-node (loaded only here, on demand). */
export interface KubeApi {
  /** kubeconfig context in use and its API server URL (for messages). */
  readonly context: string;
  readonly server: string;
  /** Server-side apply with field manager `osb` (conflicts forced: osb owns what it renders). */
  apply(obj: K8sObject): Promise<K8sObject>;
  create(obj: K8sObject): Promise<K8sObject>;
  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<K8sObject | undefined>;
  list(apiVersion: string, kind: string, namespace: string, labelSelector?: string, fieldSelector?: string): Promise<K8sObject[]>;
  /** JSON merge patch (a field `null` removes it); leaves fields other managers set, unlike an apply that omits them. */
  mergePatch(apiVersion: string, kind: string, namespace: string, name: string, patch: Record<string, unknown>): Promise<K8sObject>;
  /** Resolves false when the object was already gone. */
  delete(apiVersion: string, kind: string, namespace: string, name: string): Promise<boolean>;
  logs(namespace: string, pod: string, container: string, opts?: { previous?: boolean; tailLines?: number }): Promise<string>;
}

interface ApiErrorLike {
  code?: number;
  body?: unknown;
  message?: string;
}

function statusOf(err: unknown): number | undefined {
  const e = err as ApiErrorLike;
  return typeof e?.code === 'number' ? e.code : undefined;
}

function explain(err: unknown, what: string): Error {
  const e = err as ApiErrorLike & { cause?: { code?: string } };
  let reason = e?.message ?? String(err);
  if (typeof e?.body === 'string') {
    try {
      reason = (JSON.parse(e.body) as { message?: string }).message ?? reason;
    } catch {
      reason = e.body.slice(0, 300);
    }
  } else if (e?.body && typeof e.body === 'object' && 'message' in e.body) reason = String((e.body as { message: unknown }).message);
  const code = statusOf(err);
  if (code === 401 || code === 403)
    return new OsbError(
      `${what}: the API server refused (HTTP ${code}): ${reason}`,
      'check your kubeconfig credentials and RBAC permissions in this namespace',
    );
  return new OsbError(`${what}: ${code ? `HTTP ${code}: ` : ''}${reason}`);
}

/**
 * Loads the kubeconfig (KUBECONFIG or ~/.kube/config) and selects the context. Sends nothing:
 * an unknown context fails here, before any request.
 */
export async function connectKubernetes(context?: string): Promise<KubeApi> {
  const k8s = await importExternal<typeof import('@kubernetes/client-node')>('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  try {
    kc.loadFromDefault();
  } catch (err) {
    throw new OsbError(`cannot read the kubeconfig: ${(err as Error).message}`, 'set KUBECONFIG or fix ~/.kube/config');
  }
  const names = kc.getContexts().map((c) => c.name);
  if (context) {
    if (!names.includes(context)) {
      throw new OsbError(
        `unknown kubeconfig context "${context}"`,
        names.length ? `known contexts: ${names.join(', ')}` : 'the kubeconfig has no contexts (set KUBECONFIG)',
        2,
      );
    }
    kc.setCurrentContext(context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new OsbError('no Kubernetes cluster is configured (no current context in the kubeconfig)', 'set KUBECONFIG, or pass --context NAME', 2);
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const header = (apiVersion: string, kind: string, namespace: string | undefined, name: string) => ({
    apiVersion,
    kind,
    metadata: { name, ...(namespace ? { namespace } : {}) },
  });
  const label = (o: { kind: string; metadata: { name: string } }) => `${o.kind}/${o.metadata.name}`;
  return {
    context: kc.getCurrentContext(),
    server: cluster.server,
    async apply(obj) {
      try {
        return (await objects.patch(obj, undefined, undefined, FIELD_MANAGER, true, k8s.PatchStrategy.ServerSideApply)) as K8sObject;
      } catch (err) {
        throw explain(err, `apply ${label(obj)}`);
      }
    },
    async create(obj) {
      try {
        return (await objects.create(obj, undefined, undefined, FIELD_MANAGER)) as K8sObject;
      } catch (err) {
        throw explain(err, `create ${label(obj)}`);
      }
    },
    async get(apiVersion, kind, namespace, name) {
      try {
        return (await objects.read(header(apiVersion, kind, namespace, name))) as K8sObject;
      } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw explain(err, `get ${kind}/${name}`);
      }
    },
    async list(apiVersion, kind, namespace, labelSelector, fieldSelector) {
      try {
        const l = await objects.list(apiVersion, kind, namespace, undefined, undefined, undefined, fieldSelector, labelSelector);
        return l.items.map((i) => ({ apiVersion, kind, ...(i as object) }) as K8sObject);
      } catch (err) {
        if (statusOf(err) === 404 && kind === 'Namespace') return [];
        throw explain(err, `list ${kind} in ${namespace}`);
      }
    },
    async mergePatch(apiVersion, kind, namespace, name, patch) {
      try {
        return (await objects.patch(
          { ...patch, ...header(apiVersion, kind, namespace, name) },
          undefined,
          undefined,
          FIELD_MANAGER,
          undefined,
          k8s.PatchStrategy.MergePatch,
        )) as K8sObject;
      } catch (err) {
        throw explain(err, `patch ${kind}/${name}`);
      }
    },
    async delete(apiVersion, kind, namespace, name) {
      try {
        await objects.delete(header(apiVersion, kind, namespace, name), undefined, undefined, undefined, undefined, 'Background');
        return true;
      } catch (err) {
        if (statusOf(err) === 404) return false;
        throw explain(err, `delete ${kind}/${name}`);
      }
    },
    async logs(namespace, pod, container, opts = {}) {
      try {
        return await core.readNamespacedPodLog({ name: pod, namespace, container, previous: opts.previous, tailLines: opts.tailLines });
      } catch (err) {
        return `(no log: ${(err as Error).message.split('\n')[0]})`;
      }
    },
  };
}
