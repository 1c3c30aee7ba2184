/**
 * TLS on Kubernetes: the same certificates as the local target (osb's CA, openssl-issued), carried
 * by one Secret per component (`<component>-tls`: tls.crt, tls.key, ca.crt) and mounted read-only
 * into the server pods at TLS_MOUNT — or, with `tls.certManager`, one cert-manager `Certificate`
 * per component that makes cert-manager write a Secret of the same name and keys. A StatefulSet
 * template cannot mount a different Secret per ordinal, so the nodes of a component share one
 * certificate whose SANs name every pod's DNS name, the headless and client Services (short,
 * namespaced and full names) and loopback.
 */
import { net } from '../util/builtin.js';
import type { ComponentName } from '../config/schema.js';
import type { NodeTlsFiles } from '../config/tls.js';
import { headlessName, type K8sObject, LABEL, meta, podFqdn, type RenderContext } from './objects.js';

export const TLS_MOUNT = '/etc/osb-tls';
export const TLS_VOLUME = 'tls';
/** A volume with the Secret's `ca.crt` only: for Jobs and test pods, which verify servers and need no key. */
export const TLS_CA_VOLUME = 'tls-ca';
export const tlsSecretName = (c: ComponentName) => `${c}-tls`;
/** Paths inside a pod (the same shape as a local node's files, so the local renderers take them). */
export const podTlsFiles: NodeTlsFiles = { dir: TLS_MOUNT, ca: `${TLS_MOUNT}/ca.crt`, cert: `${TLS_MOUNT}/tls.crt`, key: `${TLS_MOUNT}/tls.key` };
/**
 * Where `osb endpoints --target kubernetes` tells an OpenStack service's pod to find the CA bundle:
 * mount the `ca.crt` key of any `<component>-tls` Secret there (docs/tls.md, "Kubernetes").
 */
export const KUBERNETES_CLIENT_CA = '/etc/osb-ca/ca.crt';

/** PEM text of one component's certificate, key and CA bundle. */
export interface TlsMaterial {
  cert: string;
  key: string;
  ca: string;
}

/** Every name a client or peer of `c` dials (on any of its ports): pods, Services, loopback. */
export function kubernetesSans(ctx: RenderContext, c: ComponentName, replicas: number, extraServices: readonly string[] = []): string[] {
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

export const CERT_MANAGER_API = 'cert-manager.io/v1';

/**
 * tls.certManager: the cert-manager `Certificate` (cert-manager.io/v1) that makes cert-manager write
 * the component's `<component>-tls` Secret — the same name and keys (tls.crt, tls.key, ca.crt) the
 * pods mount, so nothing else changes. The same SANs, key type (EC P-256, PKCS#8) and usages
 * (serverAuth + clientAuth: the certificate also authenticates a node to its peers) as osb's own;
 * lifetime tls.certDays, renewed by cert-manager at 2/3 of it (its default `renewBefore`, 1/3 of the
 * lifetime). The Secret is cert-manager's: it does not carry osb's managed-by label, so osb never
 * prunes it.
 */
export function tlsCertificate(ctx: RenderContext, c: ComponentName, sans: readonly string[]): K8sObject {
  const cm = ctx.config.tls.certManager;
  if (!cm) throw new Error('tlsCertificate: tls.certManager is not set');
  return {
    apiVersion: CERT_MANAGER_API,
    kind: 'Certificate',
    metadata: meta(ctx, tlsSecretName(c), c, 'server'),
    spec: {
      secretName: tlsSecretName(c),
      secretTemplate: { labels: { [LABEL.name]: c, [LABEL.partOf]: 'openstack' } },
      commonName: c,
      dnsNames: sans.filter((s) => !net().isIP(s)),
      ipAddresses: sans.filter((s) => net().isIP(s)),
      duration: `${ctx.config.tls.certDays * 24}h`,
      privateKey: { algorithm: 'ECDSA', size: 256, encoding: 'PKCS8', rotationPolicy: 'Always' },
      usages: ['digital signature', 'key encipherment', 'server auth', 'client auth'],
      issuerRef: { name: cm.issuer.name, kind: cm.issuer.kind, group: cm.issuer.group },
    },
  };
}

/**
 * The object that provides a component's `<component>-tls` Secret: the Secret itself with osb's
 * certificate, or (tls.certManager) the Certificate cert-manager fills it from. None with TLS off.
 */
export function tlsObjects(ctx: RenderContext, c: ComponentName, extraServices: readonly string[] = []): K8sObject[] {
  if (!ctx.config.tls.enabled) return [];
  if (ctx.config.tls.certManager) return [tlsCertificate(ctx, c, kubernetesSans(ctx, c, ctx.config[c].replicas, extraServices))];
  const m = ctx.tls?.[c];
  if (!m) throw new Error(`${c}: tls.enabled but no certificate was issued for the render`);
  return [tlsSecret(ctx, c, m)];
}

/** The Secret volume (group-readable: the pod's fsGroup is the daemon's group) and its mount. */
export function tlsVolume(c: ComponentName): Record<string, unknown> {
  return { name: TLS_VOLUME, secret: { secretName: tlsSecretName(c), defaultMode: 0o440 } };
}
export const tlsMount = { name: TLS_VOLUME, mountPath: TLS_MOUNT, readOnly: true };

/** Only the Secret's `ca.crt`, world-readable (it is public): clients in Jobs and test pods, with no key. */
export function tlsCaVolume(c: ComponentName): Record<string, unknown> {
  return { name: TLS_CA_VOLUME, secret: { secretName: tlsSecretName(c), defaultMode: 0o444, items: [{ key: 'ca.crt', path: 'ca.crt' }] } };
}
export const tlsCaMount = { name: TLS_CA_VOLUME, mountPath: TLS_MOUNT, readOnly: true };
