import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { renderRabbitmqConf } from '../../src/components/rabbitmq/config.js';
import { loadConfig } from '../../src/components/index.js';
import type { K8sObject } from '../../src/k8s/objects.js';
import { accountName, serviceSpecs } from '../../src/model/services.js';
import { renderObjects } from '../../src/targets/kubernetes/render.js';
import { FIXED_SECRETS } from './kubernetes-fixtures.js';

const ROOT = join(__dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'osb-rabbitmq-pods-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const render = (set: string[] = []) => renderObjects(loadConfig({ set }), FIXED_SECRETS(), {});
const find = (objs: K8sObject[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name) as any;
const sts = (objs: K8sObject[]) => find(objs, 'StatefulSet', 'rabbitmq').spec.template.spec;
const confFiles = (objs: K8sObject[]) => find(objs, 'ConfigMap', 'rabbitmq-config').data as Record<string, string>;

/** Effective key = value of the conf.d files in load order (later files win, as RabbitMQ merges them). */
function effective(files: Record<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of Object.keys(files)
    .filter((n) => n.endsWith('.conf'))
    .sort()) {
    for (const line of files[name]!.split('\n')) {
      const m = /^\s*([^#\s][^=]*?)\s*=\s*(.*?)\s*$/.exec(line);
      if (m) out.set(m[1]!, m[2]!);
    }
  }
  return out;
}

/** Debian's RabbitMQ 3.10 (the local target's broker): its own cuttlefish and schema files. */
const RABBIT_LIB = (() => {
  const base = '/usr/lib/rabbitmq/lib';
  const release = readdirSync(base).find((d) => d.startsWith('rabbitmq_server-'));
  if (!release) throw new Error('rabbitmq-server is not installed (run scripts/test-prereqs.sh)');
  return join(base, release, 'plugins');
})();

/**
 * Maps conf files through RabbitMQ's own schema (rabbit + peer discovery + management + prometheus) with
 * cuttlefish, exactly as the broker does at boot: an unknown key or a bad value is an error.
 */
function cuttlefishMap(files: string[]): string {
  const schemaDirs = [
    'rabbit-',
    'rabbitmq_peer_discovery_k8s-',
    'rabbitmq_peer_discovery_common-',
    'rabbitmq_management-',
    'rabbitmq_management_agent-',
    'rabbitmq_prometheus-',
  ];
  const schemas = readdirSync(RABBIT_LIB)
    .filter((d) => schemaDirs.some((p) => d.startsWith(p)))
    .flatMap((d) => {
      const s = join(RABBIT_LIB, d, 'priv', 'schema');
      try {
        return readdirSync(s)
          .filter((f) => f.endsWith('.schema'))
          .map((f) => join(s, f));
      } catch {
        return [];
      }
    });
  const list = (xs: string[]) => xs.map((x) => JSON.stringify(x)).join(',');
  const ebin = readdirSync(RABBIT_LIB).map((d) => join(RABBIT_LIB, d, 'ebin'));
  const expr = `S = cuttlefish_schema:files([${list(schemas)}]), C = cuttlefish_conf:files([${list(files)}]), case cuttlefish_generator:map(S, C) of {error, P, E} -> io:format("ERROR ~p ~p~n", [P, E]); Cfg -> io:format("OK ~p~n", [Cfg]) end, halt().`;
  return execFileSync('erl', ['-noshell', '-pa', ...ebin, '-eval', expr], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('RabbitMQ pods on Kubernetes', () => {
  it('prepare replaces the cookie a previous pod left (0400, no fsGroup): the re-created pod starts (run as a non-root user)', () => {
    const prepare = sts(render()).initContainers.find((c: { name: string }) => c.name === 'prepare').command[2] as string;
    const root = mkdtempSync(join(dir, 'pod-'));
    chmodSync(dir, 0o755);
    const paths = { data: join(root, 'var-lib-rabbitmq'), etc: join(root, 'etc-rabbitmq'), config: join(root, 'config'), creds: join(root, 'credentials') };
    for (const p of Object.values(paths)) mkdirSync(p);
    writeFileSync(join(paths.creds, 'erlang-cookie'), 'NEWCOOKIE');
    for (const f of ['20-osb.conf', '30-kubernetes.conf', 'enabled_plugins']) writeFileSync(join(paths.config, f), confFiles(render())[f] ?? `${f}\n`);
    // The previous incarnation's cookie, on a volume the kubelet did not chown (hostPath, local-path, NFS).
    writeFileSync(join(paths.data, '.erlang.cookie'), 'OLDCOOKIE');
    chmodSync(join(paths.data, '.erlang.cookie'), 0o400);
    const uid = 999;
    for (const p of [root, ...Object.values(paths), join(paths.data, '.erlang.cookie')]) chownSync(p, uid, uid);
    const script = prepare
      .replaceAll('/var/lib/rabbitmq', paths.data)
      .replaceAll('/etc/rabbitmq', paths.etc)
      .replaceAll('/osb/config', paths.config)
      .replaceAll('/osb/credentials', paths.creds);
    // The image's non-root user (uid 999): root would ignore the file mode and hide the defect.
    execFileSync('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', 'bash', '-c', script], { stdio: 'pipe' });
    expect(readFileSync(join(paths.data, '.erlang.cookie'), 'utf8')).toBe('NEWCOOKIE');
    expect(statSync(join(paths.data, '.erlang.cookie')).mode & 0o777).toBe(0o400);
  });

  it('logs go to the console (kubectl logs), not to a file on ephemeral storage', () => {
    for (const replicas of [1, 3]) {
      const conf = effective(confFiles(render([`rabbitmq.replicas=${replicas}`])));
      expect(conf.get('log.console')).toBe('true');
      expect(conf.get('log.console.level')).toBe('info');
      expect(conf.get('log.file')).toBe('false');
    }
    // The local target keeps its log file.
    expect(renderRabbitmqConf(loadConfig({}).rabbitmq)).toContain('log.console = false');
  });

  it('total_memory_available_override_value is the container memory limit, in bytes', () => {
    for (const [limit, bytes] of [
      ['1Gi', 1073741824],
      ['1536Mi', 1610612736],
      ['2G', 2000000000],
    ] as const) {
      const objs = render([`rabbitmq.resources.memoryLimit=${limit}`]);
      expect(sts(objs).containers[0].resources.limits.memory).toBe(limit);
      expect(effective(confFiles(objs)).get('total_memory_available_override_value')).toBe(String(bytes));
    }
  });

  it("every key osb writes is valid for Debian's RabbitMQ 3.10 (its cuttlefish and schema), single node and cluster, both targets' files", () => {
    for (const replicas of [1, 3]) {
      const objs = render([`rabbitmq.replicas=${replicas}`]);
      const d = mkdtempSync(join(dir, 'conf-'));
      // load_definitions must name a readable file, as in the pod.
      writeFileSync(join(d, 'definitions.json'), Buffer.from(find(objs, 'Secret', 'rabbitmq-credentials').data['definitions.json'], 'base64'));
      const files = Object.entries(confFiles(objs))
        .filter(([n]) => n.endsWith('.conf'))
        .sort()
        .map(([n, text]) => {
          writeFileSync(join(d, n), text.replace('/etc/rabbitmq/definitions/definitions.json', join(d, 'definitions.json')));
          return join(d, n);
        });
      const out = cuttlefishMap(files);
      expect(out.startsWith('OK '), out).toBe(true);
      expect(out).toContain('{total_memory_available_override_value,1073741824}');
      // rabbitmq_prometheus listens on rabbitmq.prometheusPort (metrics.enabled, the default).
      expect(out).toMatch(/\{rabbitmq_prometheus,\s*\[\{tcp_config,\s*\[\{port,15692\}\]\}\]\}/);
      // The console handler is on at info, the file handler off.
      expect(out).toMatch(/\{console,\s*\[\{stdio,stdout\},\s*\{level,info\},\s*\{enabled,true\}/);
      expect(out).toMatch(/\{file,\s*\[\{compress,false\},\s*\{level,info\},\s*\{file,false\}/);
    }
    // A key RabbitMQ does not know is refused by the same check (it is not vacuous).
    const bad = join(dir, 'bad.conf');
    writeFileSync(bad, 'log.consle = true\n');
    expect(cuttlefishMap([bad])).toMatch(/^ERROR/m);
  });

  it('rabbit-init sends both vhost queue-type fields: defaultqueuetype (3.10) and default_queue_type (3.11+)', async () => {
    const programs = find(render(), 'ConfigMap', 'rabbitmq-programs').data as Record<string, string>;
    const d = mkdtempSync(join(dir, 'programs-'));
    for (const [k, v] of Object.entries(programs)) writeFileSync(join(d, k), v);
    const shipped = (await import(pathToFileURL(join(d, 'management-api.mjs')).href)) as { vhostBody: (u: string, t: string) => Record<string, string> };
    expect(shipped.vhostBody('nova', 'quorum')).toEqual({ description: 'osb: nova', default_queue_type: 'quorum', defaultqueuetype: 'quorum' });
    expect(programs['rabbit-init.mjs']).toContain("call('PUT', '/vhosts/' + q(s.user), vhostBody(s.user, queueType))");
    for (const [replicas, type] of [
      [1, 'classic'],
      [3, 'quorum'],
    ] as const) {
      const job = render([`rabbitmq.replicas=${replicas}`]).find((o) => o.kind === 'Job' && o.metadata.name.startsWith('rabbitmq-rabbit-init-')) as any;
      const env = job.spec.template.spec.containers[0].env as { name: string; value?: string }[];
      expect(env.find((e) => e.name === 'OSB_DEFAULT_QUEUE_TYPE')?.value).toBe(type);
      const messaging = serviceSpecs(loadConfig({}))
        .filter((s) => s.messaging)
        .map((s) => accountName(s.name));
      expect(messaging.length).toBeGreaterThan(0);
      expect(JSON.parse(env.find((e) => e.name === 'OSB_SERVICES')!.value!).map((s: { user: string }) => s.user)).toEqual(messaging);
    }
  });

  it('rabbit-init and the test pod do not need python3 (absent from the RabbitMQ 4.x images): node programs from a ConfigMap, byte for byte', () => {
    const objs = render();
    const programs = find(objs, 'ConfigMap', 'rabbitmq-programs').data as Record<string, string>;
    for (const [k, v] of Object.entries(programs)) expect(v).toBe(readFileSync(join(ROOT, 'src/components/rabbitmq/pod', k), 'utf8'));
    const job = objs.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('rabbitmq-rabbit-init-')) as any;
    const test = find(objs, 'Pod', 'rabbitmq-test');
    for (const c of [job.spec.template.spec.containers[0], test.spec.containers[0]]) {
      expect(c.command[0]).toBe('node');
      expect(c.command.join(' ')).not.toContain('python');
      expect(programs[c.command[1].replace('/osb/programs/', '')]).toBeDefined();
    }
    for (const f of Object.keys(programs)) execFileSync(process.execPath, ['--check', join(ROOT, 'src/components/rabbitmq/pod', f)]);
  });

  it('a clustered node drains before it stops (preStop await_online_quorum_plus_one, then drain) within its grace period', () => {
    const spec = sts(render(['rabbitmq.replicas=3']));
    const preStop = spec.containers[0].lifecycle.preStop.exec.command as string[];
    const script = preStop.join(' ');
    const wait = /rabbitmq-upgrade await_online_quorum_plus_one -t (\d+)/.exec(script);
    const drain = /rabbitmq-upgrade drain -t (\d+)/.exec(script);
    expect(wait && drain).toBeTruthy();
    expect(script.indexOf('await_online_quorum_plus_one')).toBeLessThan(script.indexOf('drain'));
    // preStop time counts against the grace period; the broker still needs time to stop after it.
    expect(spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(Number(wait![1]) + Number(drain![1]) + 30);
    execFileSync('bash', ['-n', '-c', preStop[2]!]);
    // A single node has nobody to hand its queues to.
    expect(sts(render()).containers[0].lifecycle).toBeUndefined();
  });
});
