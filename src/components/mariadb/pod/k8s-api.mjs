// osb: the one Kubernetes API helper of the programs MariaDB's pods run (see docs/kubernetes.md).
// Plain Node.js built-ins only: the pods run it from a ConfigMap with a stock node image.
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';

/** The value of env var `k`; throws when it is unset or empty. */
export const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(k + ' is not set');
  return v;
};

/** The pod's service account directory (OSB_SERVICEACCOUNT_DIR replaces it outside a pod). */
export const SERVICEACCOUNT_DIR = process.env.OSB_SERVICEACCOUNT_DIR || '/var/run/secrets/kubernetes.io/serviceaccount';

/** The namespace the pod runs in: POD_NAMESPACE, else the service account's namespace file. */
export function podNamespace() {
  if (process.env.POD_NAMESPACE) return process.env.POD_NAMESPACE;
  return readFileSync(SERVICEACCOUNT_DIR + '/namespace', 'utf8').trim();
}

/**
 * The API server: OSB_API_URL (e.g. `kubectl proxy`'s http://127.0.0.1:8001, or a test stand-in),
 * else the in-cluster address from KUBERNETES_SERVICE_HOST/PORT.
 */
export function apiBase() {
  if (process.env.OSB_API_URL) return new URL(process.env.OSB_API_URL);
  const host = env('KUBERNETES_SERVICE_HOST');
  return new URL('https://' + (host.includes(':') ? '[' + host + ']' : host) + ':' + (process.env.KUBERNETES_SERVICE_PORT || '443'));
}

/**
 * A client for one API server: `api(method, path, body?, contentType?)` resolves to the parsed JSON
 * reply or rejects with `METHOD path: HTTP status text`. The token is re-read on every call (the
 * kubelet rotates projected tokens); the cluster CA is the service account's, when present.
 */
export function apiClient({ base = apiBase(), dir = SERVICEACCOUNT_DIR, timeoutMs = 10000 } = {}) {
  const ca = existsSync(dir + '/ca.crt') ? readFileSync(dir + '/ca.crt') : undefined;
  const client = base.protocol === 'http:' ? http : https;
  return function api(method, path, body, type) {
    const token = existsSync(dir + '/token') ? readFileSync(dir + '/token', 'utf8').trim() : '';
    return new Promise((resolve, reject) => {
      const headers = { accept: 'application/json' };
      if (token) headers.authorization = 'Bearer ' + token;
      if (body) headers['content-type'] = type || 'application/json';
      const options = {
        protocol: base.protocol,
        hostname: base.hostname.replace(/^\[|\]$/g, ''),
        port: base.port,
        method,
        path,
        ca,
        headers,
        timeout: timeoutMs,
      };
      const req = client.request(options, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => {
          if (res.statusCode < 300) resolve(JSON.parse(text || '{}'));
          else reject(new Error(method + ' ' + path + ': HTTP ' + res.statusCode + ' ' + text.slice(0, 200)));
        });
      });
      req.on('timeout', () => req.destroy(new Error(method + ' ' + path + ': timed out')));
      req.on('error', reject);
      if (body) req.write(JSON.stringify(body));
      req.end();
    });
  };
}

/** A JSON merge patch (`application/merge-patch+json`). */
export const mergePatch = (api, path, body) => api('PATCH', path, body, 'application/merge-patch+json');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Exit on SIGTERM/SIGINT at once. Node as a container's PID 1 has no default action for them, so
 * without this a deleted pod would wait for its whole termination grace period.
 */
export function exitOnTermination(log, what, code = 143) {
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => {
      log(signal + ': ' + what);
      process.exit(code);
    });
  }
}
