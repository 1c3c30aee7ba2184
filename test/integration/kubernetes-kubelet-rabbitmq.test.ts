/**
 * The rendered RabbitMQ and Memcached objects run under a LOCAL STAND-IN FOR THE KUBELET
 * (test/k8s-harness/kubelet.ts): Debian's RabbitMQ 3.10 standing in for the rabbitmq image, Debian's
 * memcached for memcached:1.6, this machine's node for node:24-alpine; the API is the in-process stand-in.
 * RabbitMQ runs one replica: clustering needs the k8s peer-discovery plugin, which asks the API server over
 * HTTPS for Endpoints — neither of which the stand-in has.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/components/index.js';
import { renderObjects } from '../../src/targets/kubernetes/render.js';
import { LocalKubelet } from '../k8s-harness/kubelet.js';
import { FIXED_SECRETS } from '../unit/kubernetes-fixtures.js';
import { ApiStandIn } from '../unit/kubernetes-standin.js';

// Every pod has its own network namespace: no port is bound on the host. The Erlang distribution port is
// AMQP + 20000 on Kubernetes, so AMQP 12200 keeps it (32200, port block 122) below 32768; memcached uses block 122.
// The exporter sidecars are not what these scenarios test (their images have no faithful stand-in here).
const SET = [
  'metrics.enabled=false',
  'rabbitmq.port=12200',
  'rabbitmq.managementPort=12210',
  'memcached.port=32220',
  'memcached.replicas=2',
  'mariadb.enabled=false',
];
const WORKLOADS = new Set(['StatefulSet', 'Deployment', 'Job', 'Pod']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('RabbitMQ and Memcached from the rendered objects, under a local stand-in for the kubelet', () => {
  const objects = renderObjects(loadConfig({ set: SET }), FIXED_SECRETS(), { components: ['rabbitmq', 'memcached'] }) as any[];
  const standin = new ApiStandIn();
  let kubelet: LocalKubelet;

  beforeAll(async () => {
    await standin.start();
    for (const o of objects.filter((x) => !WORKLOADS.has(x.kind))) standin.put(structuredClone(o));
    kubelet = new LocalKubelet({
      objects,
      standin,
      namespace: 'openstack',
      root: mkdtempSync(join(tmpdir(), 'osb-kubelet-')),
      log: process.env.OSB_KUBELET_DEBUG ? (l) => console.log(l) : undefined,
    });
    await kubelet.start();
  });
  afterAll(async () => {
    await kubelet?.stop();
    await standin.stop();
  });

  const ready = (pod: string) => (standin.find('Pod', 'openstack', pod)?.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
  const diagnose = () =>
    [...kubelet.pods.values()]
      .map((pod) =>
        pod.containers
          .map((c) =>
            [...c.logs, c.log]
              .map((run, i) => `--- ${pod.name}/${c.name} run ${i + 1} (restarts ${c.restartCount}, ${c.state}):\n${run.split('\n').slice(-12).join('\n')}`)
              .join('\n'),
          )
          .join('\n'),
      )
      .join('\n') + `\n--- kubelet:\n${kubelet.events.slice(-30).join('\n')}`;
  async function until(what: string, ok: () => boolean, ms = 180_000) {
    const end = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${diagnose()}`);
      await sleep(500);
    }
  }

  it('a re-created RabbitMQ pod passes the cookie step over the 0400 cookie its predecessor left on the volume (local stand-in for the kubelet)', async () => {
    await kubelet.createStatefulSet('rabbitmq');
    await until('rabbitmq-0 Ready', () => ready('rabbitmq-0'));
    const first = kubelet.pods.get('rabbitmq-0')!;
    // The broker logs to the console (kubectl logs) and the readiness probe passed with the pod's cookie.
    expect(first.logsOf('rabbitmq')).toMatch(/Server startup complete/);
    const cookie = await kubelet.exec('rabbitmq-0', 'rabbitmq', ['stat', '-c', '%a %u', '/var/lib/rabbitmq/.erlang.cookie']);
    expect(cookie.out.trim()).toBe('400 999');
    await kubelet.deletePod('rabbitmq-0');
    await kubelet.createStatefulSetPod('rabbitmq', 0);
    const second = kubelet.pods.get('rabbitmq-0')!;
    expect(second.uid).not.toBe(first.uid);
    await until('the re-created rabbitmq-0 Ready', () => ready('rabbitmq-0'));
    const prepare = second.container('prepare');
    expect(prepare.restartCount, second.logsOf('prepare')).toBe(0);
    expect(prepare.exitCode).toBe(0);
    expect(second.container('rabbitmq').restartCount).toBe(0);
  });

  it('runs the rabbit-init Job and the RabbitMQ test pod (local stand-in for the kubelet)', async () => {
    const job = objects.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('rabbitmq-rabbit-init-'));
    expect(job).toBeDefined();
    const init = await kubelet.runJob(job.metadata.name);
    expect(init.exitCode, init.pod.logsOf('rabbit-init')).toBe(0);
    const users = await kubelet.exec('rabbitmq-0', 'rabbitmq', ['rabbitmqctl', '-q', 'list_users']);
    expect(users.out).toMatch(/\bnova\b/);
    expect(users.out).not.toMatch(/\bguest\b/);
    const test = await kubelet.runBarePod('rabbitmq-test');
    const out = test.pod.logsOf('test');
    expect(test.exitCode, out).toBe(0);
    expect(out).toContain('ok: 1 of 1 node(s) running: rabbit@rabbitmq-0.rabbitmq-headless.openstack.svc.cluster.local');
    expect(out).toContain('ok: consumed and acked');
  });

  it('runs Memcached and its test pod (local stand-in for the kubelet)', async () => {
    await kubelet.createStatefulSet('memcached');
    await until('memcached pods Ready', () => ready('memcached-0') && ready('memcached-1'), 60_000);
    const test = await kubelet.runBarePod('memcached-test');
    const out = test.pod.logsOf('test');
    expect(test.exitCode, out).toBe(0);
    expect(out).toMatch(/memcached-0/);
    expect(out).toMatch(/memcached-1/);
  });
});
