// osb: the RabbitMQ management API client of the rabbit-init Job and the rabbitmq-test pod (see docs/kubernetes.md).
// Plain Node.js built-ins only: the Jobs run it from a ConfigMap with a stock node image (the
// official RabbitMQ 4.x images no longer carry python3).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';

/** The value of env var `k`; throws when it is unset or empty. */
export const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(k + ' is not set');
  return v;
};

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A fatal error: one line on stderr, exit 1 (the Job retries). */
export function fail(message) {
  console.error('osb: ' + message);
  process.exit(1);
}

/**
 * The vhost body osb sends. RabbitMQ 3.10 (Debian 12's, the local target) reads only
 * `defaultqueuetype` and silently ignores `default_queue_type`; 3.11 and later read
 * `default_queue_type`. Both are sent, as the local target's provisioning does.
 */
export const vhostBody = (user, queueType) => ({ description: 'osb: ' + user, default_queue_type: queueType, defaultqueuetype: queueType });

/** TLS on: the CA bundle (OSB_CA_FILE, the Secret's ca.crt) servers are verified against; undefined with TLS off. */
export const caBundle = () => (process.env.OSB_CA_FILE ? readFileSync(process.env.OSB_CA_FILE) : undefined);

/**
 * `call(method, path, body?, { ok404 })` against OSB_RABBITMQ_API (…/api) as OSB_ADMIN_USER
 * (https: verified against OSB_CA_FILE and the URL's host name):
 * resolves to the parsed JSON reply (null when empty, or on 404 with ok404), rejects with
 * `METHOD path: HTTP status text`.
 */
export function managementClient() {
  const base = new URL(env('OSB_RABBITMQ_API'));
  const auth = 'Basic ' + Buffer.from(env('OSB_ADMIN_USER') + ':' + env('OSB_ADMIN_PASSWORD')).toString('base64');
  const client = base.protocol === 'https:' ? https : http;
  const ca = caBundle();
  return function call(method, path, body, { ok404 = false } = {}) {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const headers = { authorization: auth, accept: 'application/json', ...(data ? { 'content-type': 'application/json' } : {}) };
      const req = client.request(new URL(base.pathname.replace(/\/$/, '') + path, base), { method, headers, timeout: 15000, ...(ca ? { ca } : {}) }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => {
          if (res.statusCode === 404 && ok404) resolve(null);
          else if (res.statusCode < 300) resolve(text ? JSON.parse(text) : null);
          else reject(new Error(method + ' ' + path + ': HTTP ' + res.statusCode + ' ' + text.slice(0, 200)));
        });
      });
      req.on('timeout', () => req.destroy(new Error(method + ' ' + path + ': timed out')));
      req.on('error', reject);
      if (data) req.write(data);
      req.end();
    });
  };
}

/** Waits until the management API answers `GET /overview`, at most `seconds`. */
export async function waitApi(call, seconds) {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    try {
      return await call('GET', '/overview');
    } catch (err) {
      if (Date.now() > end) fail('management API ' + env('OSB_RABBITMQ_API') + ' did not answer within ' + seconds + 's: ' + err.message);
      await sleep(3000);
    }
  }
}

/** Exit at once on SIGTERM (node as PID 1 has no default action for it). */
export function exitOnTermination() {
  for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(143));
}
