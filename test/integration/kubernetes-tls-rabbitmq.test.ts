/**
 * RabbitMQ on Kubernetes with tls.enabled and tls.require, from the RENDERED objects under the LOCAL STAND-IN FOR
 * THE KUBELET (test/k8s-harness/kubelet.ts): Debian's rabbitmq-server 3.10 (Erlang 25) stands in for the rabbitmq
 * image, with the rendered rabbitmq.conf, advanced.config (AMQPS, HTTPS management) and ssl_dist.config (the Erlang
 * distribution over TLS) at the image's paths, and the `rabbitmq-tls` Secret (osb's CA) mounted at /etc/osb-tls; the
 * API is the in-process stand-in. Nothing is adapted: the pod's own probes, the rabbit-init Job and the test pod run.
 * From inside the pod's network namespace, amqplib connects over AMQPS verifying the CA and the pod's DNS name; plain
 * AMQP is refused; a client trusting another CA is refused. Then a re-issued certificate is written into the mounted
 * volume as the kubelet does and new handshakes get it without a restart (Erlang's PEM cache check).
 * Port block 116 (the distribution port, AMQP + 20000, and the management port; every pod has its own network
 * namespace, so nothing is bound on the host).
 */
import { X509Certificate } from 'node:crypto';
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/components/index.js';
import { ADMIN_USER } from '../../src/model/desired.js';
import { ensureCa, nodeTlsFiles } from '../../src/config/tls.js';
import { renderObjects } from '../../src/targets/kubernetes/render.js';
import { PEM_CACHE_CHECK_MS } from '../../src/components/rabbitmq/tls.js';
import { kubernetesTlsDir, kubernetesTlsMaterial } from '../../src/targets/kubernetes/tls.js';
import { LocalKubelet } from '../k8s-harness/kubelet.js';
import { FIXED_SECRETS } from '../unit/kubernetes-fixtures.js';
import { ApiStandIn } from '../unit/kubernetes-standin.js';

const AMQP = 11600; // distribution port 31600 (block 116)
const MANAGEMENT = 31610;
const AMQPS = 5671; // the default on Kubernetes: the registered port, inside the pod's own network namespace
const SET = [
  'tls.enabled=true',
  'tls.require=true',
  'metrics.enabled=false',
  `rabbitmq.port=${AMQP}`,
  `rabbitmq.managementPort=${MANAGEMENT}`,
  'mariadb.enabled=false',
  'memcached.enabled=false',
];
const FQDN = 'rabbitmq-0.rabbitmq-headless.openstack.svc.cluster.local';
const WORKLOADS = new Set(['StatefulSet', 'Deployment', 'Job', 'Pod']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Any = any;

const work = mkdtempSync(join(tmpdir(), 'osb-k8s-tls-rabbit-'));
const stateDir = join(work, 'state');
const config = loadConfig({ set: SET });
let objects: Any[];
const standin = new ApiStandIn();
let kubelet: LocalKubelet;

/** Runs a node program (CommonJS, this repository's amqplib) inside the pod's network namespace, as the host's root. */
function inPodNet(program: string, env: Record<string, string> = {}, timeoutMs = 60_000): Promise<{ code: number; out: string }> {
  const pid = kubelet.pods.get('rabbitmq-0')!.sandbox!.pid!;
  const file = join(work, `client-${Math.random().toString(36).slice(2)}.cjs`);
  writeFileSync(file, program);
  return new Promise((res) => {
    execFile(
      'nsenter',
      ['-t', String(pid), '-n', '--', process.execPath, file],
      { timeout: timeoutMs, env: { ...process.env, ...env, NODE_PATH: resolve('node_modules') } },
      (err, stdout, stderr) => res({ code: err ? ((err as Any).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

/** An amqplib client over AMQPS to the pod's IP, verifying `caFile` and the pod's DNS name: publish with a confirm, get it back. */
const amqpsRoundTrip = (caFile: string) => `
const amqp = require('amqplib');
const fs = require('fs');
(async () => {
  const url = 'amqps://${ADMIN_USER.rabbitmq}:' + encodeURIComponent(process.env.PW) + '@${'${IP}'}:${AMQPS}/';
  const c = await amqp.connect(url, { ca: [fs.readFileSync(${JSON.stringify(caFile)})], servername: '${FQDN}' });
  const ch = await c.createConfirmChannel();
  const q = 'osb-tls-' + Date.now();
  await ch.assertQueue(q, { durable: false, autoDelete: false });
  await new Promise((ok, ko) => ch.sendToQueue(q, Buffer.from('over-amqps'), {}, (e) => (e ? ko(e) : ok())));
  const m = await ch.get(q, { noAck: true });
  await ch.deleteQueue(q);
  console.log('cipher ' + c.connection.stream.getCipher().name + ' got ' + (m && m.content.toString()));
  await c.close();
})().catch((e) => { console.log('ERROR ' + e.message); process.exit(3); });
`;

/** The serial of the certificate a new AMQPS handshake gets (no verification: it only reads the serial). */
const servedSerial = `
const tls = require('tls');
const s = tls.connect({ host: '${'${IP}'}', port: ${AMQPS}, servername: '${FQDN}', rejectUnauthorized: false }, () => {
  console.log(s.getPeerCertificate().serialNumber); s.destroy();
});
s.on('error', (e) => { console.log('ERROR ' + e.message); process.exit(3); });
`;
const PW = { PW: FIXED_SECRETS().rabbitmqAdminPassword };
const withIp = (program: string) => program.replaceAll('${IP}', kubelet.pods.get('rabbitmq-0')!.ip);

beforeAll(async () => {
  const tls = await kubernetesTlsMaterial(config, stateDir, 'openstack', ['rabbitmq']);
  objects = renderObjects(config, FIXED_SECRETS(), { namespace: 'openstack', components: ['rabbitmq'], tls }) as Any[];
  await standin.start();
  for (const o of objects.filter((x) => !WORKLOADS.has(x.kind))) standin.put(structuredClone(o));
  kubelet = new LocalKubelet({
    objects,
    standin,
    namespace: 'openstack',
    root: join(work, 'kubelet'),
    log: process.env.OSB_KUBELET_DEBUG ? (l) => console.log(l) : undefined,
  });
  await kubelet.start();
}, 120_000);
afterAll(async () => {
  await kubelet?.stop();
  await standin.stop();
  rmSync(work, { recursive: true, force: true });
});

const ready = (pod: string) => (standin.find('Pod', 'openstack', pod)?.status?.conditions ?? []).some((c: Any) => c.type === 'Ready' && c.status === 'True');
const logsOf = (pod: string) =>
  kubelet.pods
    .get(pod)!
    .containers.map((c) => `--- ${c.name} (restarts ${c.restartCount}, ${c.state}):\n${[...c.logs, c.log].join('').split('\n').slice(-25).join('\n')}`)
    .join('\n') + `\n--- kubelet:\n${kubelet.events.slice(-20).join('\n')}`;

describe('RabbitMQ on Kubernetes with TLS required: the rendered pod under a local stand-in for the kubelet', () => {
  it('becomes Ready: its probes (rabbitmq-diagnostics) join the Erlang distribution over TLS', async () => {
    await kubelet.createStatefulSet('rabbitmq');
    const end = Date.now() + 240_000;
    while (!ready('rabbitmq-0')) {
      if (Date.now() > end) throw new Error(`rabbitmq-0 not Ready\n${logsOf('rabbitmq-0')}`);
      await sleep(500);
    }
    const proto = await kubelet.exec('rabbitmq-0', 'rabbitmq', ['rabbitmqctl', 'eval', 'init:get_argument(proto_dist).']);
    expect(proto.out).toContain('{ok,[["inet_tls"]]}');
    // A CLI tool without the TLS distribution arguments cannot talk to the node.
    const plainCli = await kubelet.exec('rabbitmq-0', 'rabbitmq', ['env', '-u', 'RABBITMQ_CTL_ERL_ARGS', 'rabbitmqctl', '-t', '15', 'status'], 60_000);
    expect(plainCli.code, plainCli.out).not.toBe(0);
  }, 300_000);

  it('the rabbit-init Job provisions over HTTPS (CA verified) and the test pod passes: management, AMQPS on the pod, plain AMQP refused', async () => {
    const job = objects.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('rabbitmq-rabbit-init-'));
    const init = await kubelet.runJob(job.metadata.name);
    expect(init.exitCode, init.pod.logsOf('rabbit-init')).toBe(0);
    expect(init.pod.logsOf('rabbit-init')).toContain('ok: vhost and user nova');
    const test = await kubelet.runBarePod('rabbitmq-test');
    const out = test.pod.logsOf('test');
    expect(test.exitCode, out).toBe(0);
    expect(out).toContain(`ok: 1 of 1 node(s) running: rabbit@${FQDN}`);
    expect(out).toContain('ok: consumed and acked');
    expect(out).toMatch(new RegExp(`ok: AMQPS ${FQDN.replaceAll('.', '\\.')}:${AMQPS}: certificate verified \\(serial [0-9A-F]+\\), Connection.Start`));
    expect(out).toContain(`ok: plain AMQP ${FQDN}:${AMQP} refused (tls.require)`);
  }, 300_000);

  it('amqplib over AMQPS with the CA and the pod name: publish with confirm and get; plain AMQP and another CA are refused', async () => {
    const ca = nodeTlsFiles(kubernetesTlsDir(stateDir, 'openstack', 'rabbitmq')).ca;
    const good = await inPodNet(withIp(amqpsRoundTrip(ca)), PW);
    expect(good.out, good.out).toMatch(/^cipher TLS_\S+ got over-amqps$/m);
    const plain = await inPodNet(
      withIp(
        `const s = require('net').connect(${AMQP}, '\${IP}'); s.on('connect', () => { console.log('ACCEPTED'); s.destroy(); }); s.on('error', (e) => console.log(e.code));`,
      ),
    );
    expect(plain.out.trim()).toBe('ECONNREFUSED');
    const otherDir = join(work, 'other-ca');
    await ensureCa(otherDir, config.tls);
    const other = await inPodNet(withIp(amqpsRoundTrip(join(otherDir, 'tls', 'ca.pem'))), PW);
    expect(other.code).toBe(3);
    expect(other.out).toMatch(/ERROR .*(self[- ]signed|unable to (get|verify)|certificate)/i);
  }, 120_000);

  it('rotation: a re-issued certificate in the Secret reaches new handshakes with no restart and no osb action (Erlang re-reads changed PEM files)', async () => {
    const pod = kubelet.pods.get('rabbitmq-0')!;
    const pid = pod.pid1('rabbitmq');
    const files = nodeTlsFiles(kubernetesTlsDir(stateDir, 'openstack', 'rabbitmq'));
    const before = new X509Certificate(readFileSync(files.cert)).serialNumber;
    const first = await inPodNet(withIp(servedSerial));
    expect(first.out.trim()).toBe(before);
    // osb deploy re-issues a certificate that is missing (or expiring, or short of a SAN): the rendered Secret changes.
    rmSync(files.cert);
    const tls = await kubernetesTlsMaterial(config, stateDir, 'openstack', ['rabbitmq']);
    const secret = renderObjects(config, FIXED_SECRETS(), { namespace: 'openstack', components: ['rabbitmq'], tls }).find(
      (o) => o.kind === 'Secret' && o.metadata.name === 'rabbitmq-tls',
    ) as Any;
    const after = new X509Certificate(Buffer.from(secret.data['tls.crt'], 'base64')).serialNumber;
    expect(after).not.toBe(before);
    // What the kubelet then does to the mounted volume: new files swapped in atomically (same paths, new mtime).
    const vol = join(pod.dir, 'volumes', 'tls');
    for (const key of ['ca.crt', 'tls.key', 'tls.crt']) {
      const tmp = join(vol, `.${key}.new`);
      writeFileSync(tmp, Buffer.from(secret.data[key], 'base64'));
      chownSync(tmp, 0, 999);
      chmodSync(tmp, 0o440);
      renameSync(tmp, join(vol, key));
    }
    const t0 = Date.now();
    let served = before;
    while (served !== after && Date.now() - t0 < 150_000) {
      await sleep(5000);
      served = (await inPodNet(withIp(servedSerial))).out.trim();
    }
    const seconds = Math.round((Date.now() - t0) / 1000);
    console.log(`rotation: new serial served after ${seconds}s`);
    expect(served, `still serving ${served} after ${seconds}s`).toBe(after);
    // the pod checks its PEM caches every PEM_CACHE_CHECK_MS (30 s): a changed file is dropped at the first or second check
    expect(seconds).toBeLessThanOrEqual((2 * PEM_CACHE_CHECK_MS) / 1000 + 15);
    expect(pod.pid1('rabbitmq')).toBe(pid);
    expect(pod.container('rabbitmq').restartCount).toBe(0);
    // The renewed certificate verifies against the CA over a full AMQP session.
    const good = await inPodNet(withIp(amqpsRoundTrip(files.ca)), PW);
    expect(good.out).toMatch(/got over-amqps/);
  }, 300_000);
});
