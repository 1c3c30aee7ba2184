// osb: the rabbitmq-test pod (see docs/kubernetes.md): cluster membership, then declare, publish,
// get (ack) and delete a queue over the management API. OSB_EXPECTED_NODES is the replica count.
// TLS on (docs/tls.md): every pod's AMQPS listener (OSB_AMQPS_NODES, "host:port" list) must complete a
// handshake verified against OSB_CA_FILE and the pod's name and answer with AMQP's Connection.Start;
// with tls.require every plain port in OSB_AMQP_CLOSED must refuse the connection.
import net from 'node:net';
import tls from 'node:tls';
import { caBundle, env, exitOnTermination, fail, managementClient, sleep, waitApi } from './management-api.mjs';

const hostPort = (s) => {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
};

/** TLS to host:port (CA and host name verified), the AMQP 0-9-1 header, and the broker's first frame: Connection.Start. */
function amqpsStart(host, port, ca) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host, port, ca, servername: host }, () => s.write(Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1])));
    let buf = Buffer.alloc(0);
    s.setTimeout(15000, () => s.destroy(new Error('timed out')));
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 11) return;
      const serial = s.getPeerCertificate().serialNumber;
      s.destroy();
      // frame type 1 (method) on channel 0, class 10 (connection), method 10 (start)
      if (buf[0] === 1 && buf.readUInt16BE(1) === 0 && buf.readUInt16BE(7) === 10 && buf.readUInt16BE(9) === 10) resolve(serial);
      else reject(new Error('the first frame is not Connection.Start'));
    });
    s.on('error', reject);
  });
}

/** Resolves when a TCP connection to host:port is refused; rejects when it is accepted. */
function refused(host, port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    s.setTimeout(10000, () => s.destroy(new Error('timed out (neither accepted nor refused)')));
    s.on('connect', () => {
      s.destroy();
      reject(new Error('plain AMQP ' + host + ':' + port + ' accepted a connection, but tls.require closes it'));
    });
    s.on('error', (err) => (err.code === 'ECONNREFUSED' ? resolve() : reject(err)));
  });
}

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
  const ca = caBundle();
  for (const n of JSON.parse(process.env.OSB_AMQPS_NODES ?? '[]')) {
    const { host, port } = hostPort(n);
    for (let attempt = 1; ; attempt++) {
      try {
        const serial = await amqpsStart(host, port, ca);
        console.log('ok: AMQPS ' + n + ': certificate verified (serial ' + serial + '), Connection.Start');
        break;
      } catch (err) {
        if (attempt >= 10) fail('FAIL: AMQPS ' + n + ': ' + err.message);
        await sleep(3000);
      }
    }
  }
  for (const n of JSON.parse(process.env.OSB_AMQP_CLOSED ?? '[]')) {
    const { host, port } = hostPort(n);
    try {
      await refused(host, port);
      console.log('ok: plain AMQP ' + n + ' refused (tls.require)');
    } catch (err) {
      fail('FAIL: ' + err.message);
    }
  }
} catch (err) {
  fail(err.message);
}
