/**
 * Certificates for the Kubernetes objects (tls.enabled): osb's CA (the same `<state>/tls/ca.pem`
 * as the local target, or the operator's tls.caFile) and one certificate per component, kept in
 * `<state>/kubernetes-tls/<namespace>/<component>/tls/` and re-issued only when missing, signed by
 * another CA, short of a SAN or past 2/3 of its life — so repeated renders give the same Secret.
 * With tls.certManager nothing is issued here: the rendered Certificates make cert-manager do it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { definitions } from '../../components/index.js';
import type { ComponentName, Config } from '../../config/schema.js';
import { ensureCa, issueNodeCert, nodeBundleStale, nodeTlsFiles, refreshNodeBundle, renewalReason } from '../../config/tls.js';
import type { RenderContext } from '../../k8s/objects.js';
import { kubernetesSans } from '../../k8s/tls.js';

export const kubernetesTlsDir = (stateDir: string, namespace: string, c: ComponentName) => join(stateDir, 'kubernetes-tls', namespace, c);

/** Issues (when needed) and reads each rendered component's certificate, key and CA bundle; none with cert-manager. */
export async function kubernetesTlsMaterial(
  config: Config,
  stateDir: string,
  namespace: string,
  components?: readonly ComponentName[],
): Promise<RenderContext['tls']> {
  if (!config.tls.enabled) return undefined;
  // cert-manager issues into the Secrets itself: osb needs no CA and writes nothing.
  if (config.tls.certManager) return {};
  await ensureCa(stateDir, config.tls);
  const ctx: RenderContext = { config, namespace, clusterDomain: config.kubernetes.clusterDomain };
  const out: NonNullable<RenderContext['tls']> = {};
  for (const d of definitions(config, components?.length ? components : undefined)) {
    const c = d.name;
    const sans = kubernetesSans(ctx, c, config[c].replicas, d.kubernetes.tlsServices?.(config) ?? []);
    const files = nodeTlsFiles(kubernetesTlsDir(stateDir, namespace, c));
    if (renewalReason(files, stateDir, sans)) await issueNodeCert(stateDir, config.tls, c, files, sans);
    else if (nodeBundleStale(files, stateDir)) refreshNodeBundle(files, stateDir);
    out[c] = { cert: readFileSync(files.cert, 'utf8'), key: readFileSync(files.key, 'utf8'), ca: readFileSync(files.ca, 'utf8') };
  }
  return out;
}
