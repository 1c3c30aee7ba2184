/**
 * Certificates for the Kubernetes objects (tls.enabled): osb's CA (the same `<state>/tls/ca.pem`
 * as the local target, or the operator's tls.caFile) and one certificate per component, kept in
 * `<state>/kubernetes-tls/<namespace>/<component>/tls/` and re-issued only when missing, signed by
 * another CA, short of a SAN or past 2/3 of its life — so repeated renders give the same Secret.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { definitions } from '../../components/index.js';
import { MARIADB_WRITER_SERVICE } from '../../components/mariadb/kubernetes.js';
import type { ComponentName, Config } from '../../config/schema.js';
import { ensureCa, issueNodeCert, nodeTlsFiles, refreshNodeBundle, nodeBundleStale, renewalReason } from '../../config/tls.js';
import type { RenderContext } from '../../k8s/objects.js';
import { kubernetesSans } from '../../k8s/tls.js';
import { OsbError } from '../../util/errors.js';

/** Components whose Kubernetes objects carry TLS so far (RabbitMQ: docs/tls.md, "Not done yet"). */
export const KUBERNETES_TLS_COMPONENTS: readonly ComponentName[] = ['mariadb', 'memcached'];

export const kubernetesTlsDir = (stateDir: string, namespace: string, c: ComponentName) => join(stateDir, 'kubernetes-tls', namespace, c);

/** Refuses a render whose config asks for TLS on a component whose objects cannot carry it yet. */
export function assertKubernetesTls(config: Config, components?: readonly ComponentName[]): void {
  if (!config.tls.enabled) return;
  const missing = definitions(config, components?.length ? components : undefined)
    .map((d) => d.name)
    .filter((c) => !KUBERNETES_TLS_COMPONENTS.includes(c));
  if (missing.length)
    throw new OsbError(
      `tls.enabled on Kubernetes is implemented for ${KUBERNETES_TLS_COMPONENTS.join(' and ')} only; ${missing.join(', ')} would carry no TLS`,
      `render those without it (e.g. \`osb render ${KUBERNETES_TLS_COMPONENTS.join(' ')}\`), disable them, or set tls.enabled=false`,
      2,
    );
}

/** Issues (when needed) and reads each rendered component's certificate, key and CA bundle. */
export async function kubernetesTlsMaterial(
  config: Config,
  stateDir: string,
  namespace: string,
  components?: readonly ComponentName[],
): Promise<RenderContext['tls']> {
  if (!config.tls.enabled) return undefined;
  assertKubernetesTls(config, components);
  await ensureCa(stateDir, config.tls);
  const ctx: RenderContext = { config, namespace, clusterDomain: config.kubernetes.clusterDomain };
  const out: NonNullable<RenderContext['tls']> = {};
  for (const d of definitions(config, components?.length ? components : undefined)) {
    const c = d.name;
    const replicas = config[c].replicas;
    const extra = c === 'mariadb' && replicas > 1 ? [MARIADB_WRITER_SERVICE] : [];
    const sans = kubernetesSans(ctx, c, replicas, extra);
    const files = nodeTlsFiles(kubernetesTlsDir(stateDir, namespace, c));
    if (renewalReason(files, stateDir, sans)) await issueNodeCert(stateDir, config.tls, c, files, sans);
    else if (nodeBundleStale(files, stateDir)) refreshNodeBundle(files, stateDir);
    out[c] = { cert: readFileSync(files.cert, 'utf8'), key: readFileSync(files.key, 'utf8'), ca: readFileSync(files.ca, 'utf8') };
  }
  return out;
}
