/**
 * TLS on Kubernetes: the same certificates as the local target (osb's CA, openssl-issued), carried
 * by one Secret per component (`<component>-tls`: tls.crt, tls.key, ca.crt) and mounted read-only
 * into the server pods at TLS_MOUNT. A StatefulSet template cannot mount a different Secret per
 * ordinal, so the nodes of a component share one certificate whose SANs name every pod's DNS name,
 * the headless and client Services (short, namespaced and full names) and loopback.
 */
import type { ComponentName } from '../config/schema.js';
import { headlessName, type K8sObject, meta, podFqdn, type RenderContext } from './objects.js';

export const TLS_MOUNT = '/etc/osb-tls';
export const TLS_VOLUME = 'tls';
export const tlsSecretName = (c: ComponentName) => `${c}-tls`;
/** Paths inside a pod. */
export const podTlsFiles = { dir: TLS_MOUNT, ca: `${TLS_MOUNT}/ca.crt`, cert: `${TLS_MOUNT}/tls.crt`, key: `${TLS_MOUNT}/tls.key` };

/** PEM text of one component's certificate, key and CA bundle. */
export interface TlsMaterial {
  cert: string;
  key: string;
  ca: string;
}

/** Every name a client or peer of `c` dials: pods, Services, loopback. */
export function kubernetesSans(ctx: RenderContext, c: ComponentName, replicas: number, extraServices: string[] = []): string[] {
  const out = new Set<string>(['localhost', '127.0.0.1']);
  for (let i = 0; i < replicas; i++) {
    out.add(podFqdn(ctx, c, i));
    out.add(`${c}-${i}.${headlessName(c)}`);
  }
  for (const s of [c, headlessName(c), ...extraServices]) {
    out.add(s);
    out.add(`${s}.${ctx.namespace}`);
    out.add(`${s}.${ctx.namespace}.svc`);
    out.add(`${s}.${ctx.namespace}.svc.${ctx.clusterDomain}`);
  }
  for (const s of ctx.config.tls.extraSans) out.add(s);
  return [...out];
}

/** The component's Secret (type kubernetes.io/tls, plus ca.crt). */
export function tlsSecret(ctx: RenderContext, c: ComponentName, m: TlsMaterial): K8sObject {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: meta(ctx, tlsSecretName(c), c, 'server'),
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': b64(m.cert), 'tls.key': b64(m.key), 'ca.crt': b64(m.ca) },
  };
}

/** The Secret volume (group-readable: the pod's fsGroup is the daemon's group) and its mount. */
export function tlsVolume(c: ComponentName): Record<string, unknown> {
  return { name: TLS_VOLUME, secret: { secretName: tlsSecretName(c), defaultMode: 0o440 } };
}
export const tlsMount = { name: TLS_VOLUME, mountPath: TLS_MOUNT, readOnly: true };
