// osb: the rabbit-init Job (see docs/kubernetes.md): a vhost, a user and its permissions per
// OpenStack service, over the management API; idempotent. OSB_SERVICES is a JSON list of
// {"user": name, "passwordEnv": env var holding its password}; OSB_DEFAULT_QUEUE_TYPE is
// `quorum` for a cluster, `classic` for a single node.
import { env, exitOnTermination, fail, managementClient, vhostBody, waitApi } from './management-api.mjs';

exitOnTermination();
const call = managementClient();
const services = JSON.parse(env('OSB_SERVICES'));
const queueType = env('OSB_DEFAULT_QUEUE_TYPE');
const q = encodeURIComponent;
try {
  await waitApi(call, 600);
  await call('DELETE', '/users/guest', undefined, { ok404: true });
  for (const s of services) {
    await call('PUT', '/vhosts/' + q(s.user), vhostBody(s.user, queueType));
    await call('PUT', '/users/' + q(s.user), { password: env(s.passwordEnv), tags: '' });
    await call('PUT', '/permissions/' + q(s.user) + '/' + q(s.user), { configure: '.*', write: '.*', read: '.*' });
    console.log('ok: vhost and user ' + s.user + ' (default queue type ' + queueType + ')');
  }
} catch (err) {
  fail(err.message);
}
