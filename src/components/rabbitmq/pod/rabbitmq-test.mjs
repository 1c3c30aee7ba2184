// osb: the rabbitmq-test pod (see docs/kubernetes.md): cluster membership, then declare, publish,
// get (ack) and delete a queue over the management API. OSB_EXPECTED_NODES is the replica count.
import { env, exitOnTermination, fail, managementClient, waitApi } from './management-api.mjs';

exitOnTermination();
const call = managementClient();
const expected = Number(env('OSB_EXPECTED_NODES'));
try {
  await waitApi(call, 300);
  const nodes = (await call('GET', '/nodes')).filter((n) => n.running);
  console.log(
    'ok: ' +
      nodes.length +
      ' of ' +
      expected +
      ' node(s) running: ' +
      nodes
        .map((n) => n.name)
        .sort()
        .join(', '),
  );
  if (nodes.length !== expected) fail('FAIL: cluster has ' + nodes.length + ' running nodes, expected ' + expected);
  const name = 'osb-test-' + Date.now();
  const body = 'osb-' + process.pid + '-' + Math.random().toString(36).slice(2);
  await call('PUT', '/queues/%2F/' + name, { durable: false, auto_delete: false });
  console.log('ok: declared queue ' + name);
  const r = await call('POST', '/exchanges/%2F/amq.default/publish', { properties: {}, routing_key: name, payload: body, payload_encoding: 'string' });
  if (!r?.routed) fail('FAIL: message was not routed');
  console.log('ok: published');
  const got = await call('POST', '/queues/%2F/' + name + '/get', { count: 1, ackmode: 'ack_requeue_false', encoding: 'auto' });
  if (!got?.length || got[0].payload !== body) fail('FAIL: consumed ' + JSON.stringify(got) + ', published ' + body);
  console.log('ok: consumed and acked');
  await call('DELETE', '/queues/%2F/' + name);
  console.log('ok: deleted queue');
} catch (err) {
  fail(err.message);
}
