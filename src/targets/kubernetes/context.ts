import type { TargetSources } from '../../model/target.js';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadValuesTree } from '../../config/load.js';
import { buildEndpoints, resolveConfig } from '../../components/index.js';
import type { Config } from '../../config/schema.js';
import { ensureSecrets, writeSecrets, type Secrets } from '../../config/secrets.js';
import { deepMerge } from '../../config/set.js';
import type { Placement } from '../../model/component.js';
import type { Endpoints } from '../../model/endpoints.js';
import { OsbError } from '../../util/errors.js';
import { ensureStateDir, resolveStateDir } from '../../config/state-dir.js';
import { podFqdn, serviceFqdn, type RenderContext } from '../../k8s/objects.js';
import { KUBERNETES_CLIENT_CA } from '../../k8s/tls.js';
import { resolveNamespace, servicePasswords } from './render.js';

/** Where a Kubernetes deployment's config comes from: the same sources every target reads. */
export type KubernetesSources = TargetSources;

export interface KubernetesDeployment {
  stateDir: string;
  config: Config;
  /** Values given to earlier `--target kubernetes` deploys merged with today's. */
  userValues: Record<string, unknown>;
  namespace: string;
  /** kubeconfig context: --context, else `kubernetes.context`, else the kubeconfig's current one. */
  context?: string;
  secrets: Secrets;
}

/** Values remembered by `osb deploy --target kubernetes`, kept apart from the local target's state. */
export const valuesFile = (stateDir: string) => join(stateDir, 'kubernetes-values.json');

export function rememberedValues(stateDir: string): Record<string, unknown> {
  const file = valuesFile(stateDir);
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new OsbError(`${file} is damaged (${(err as Error).message})`, 'move it aside and pass your values again with -f/--set');
  }
}

export function rememberValues(stateDir: string, userValues: Record<string, unknown>): void {
  const file = valuesFile(stateDir);
  writeFileSync(`${file}.tmp`, JSON.stringify(userValues, null, 2) + '\n', { mode: 0o600 });
  chmodSync(`${file}.tmp`, 0o600);
  renameSync(`${file}.tmp`, file);
}

/** Config and namespace of a Kubernetes deployment, read only (no state dir or secret is written): `osb metrics`. */
export function readKubernetesConfig(src: KubernetesSources): { config: Config; namespace: string } {
  const stateDir = resolveStateDir(src.stateDir);
  const given = loadValuesTree(src);
  const config = resolveConfig(src.resetValues ? given : deepMerge(rememberedValues(stateDir), given));
  return { config, namespace: resolveNamespace(config, src.namespace) };
}

/**
 * Config, namespace, context and credentials of a Kubernetes deployment. Everything is
 * validated here, before any request is sent. Credentials live in the state dir (generated
 * once); service passwords missing there are generated and saved.
 */
export function openKubernetes(src: KubernetesSources): KubernetesDeployment {
  const stateDir = resolveStateDir(src.stateDir);
  const given = loadValuesTree(src);
  const userValues = src.resetValues ? given : deepMerge(rememberedValues(stateDir), given);
  const config = resolveConfig(userValues);
  const namespace = resolveNamespace(config, src.namespace);
  ensureStateDir(stateDir);
  const secrets = ensureSecrets(stateDir);
  const before = JSON.stringify(secrets.services);
  servicePasswords(config, secrets);
  if (JSON.stringify(secrets.services) !== before) writeSecrets(stateDir, secrets);
  return { stateDir, config, userValues, namespace, context: src.context ?? config.kubernetes.context, secrets };
}

export function renderContext(d: { config: Config; namespace: string }): RenderContext {
  return { config: d.config, namespace: d.namespace, clusterDomain: d.config.kubernetes.clusterDomain };
}

/** In-cluster addresses: one pod's stable DNS name per node (each pod has its own IP, so the base port), and Services by name. */
export function kubernetesPlacement(ctx: RenderContext): Placement {
  return {
    kind: 'kubernetes',
    node: (c, i, base) => ({ host: podFqdn(ctx, c, i), port: base }),
    service: (name, port) => ({ host: serviceFqdn(ctx, name), port }),
    // TLS: the path inside an OpenStack service's pod where it mounts a `<component>-tls` Secret's ca.crt.
    ...(ctx.config.tls.enabled ? { caFile: KUBERNETES_CLIENT_CA } : {}),
  };
}

export function kubernetesEndpoints(ctx: RenderContext, secrets: Secrets): Endpoints {
  return buildEndpoints(ctx.config, secrets, kubernetesPlacement(ctx));
}
