import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/components/index.js';
import type { K8sObject } from '../../src/k8s/objects.js';
import { renderObjects } from '../../src/targets/kubernetes/render.js';
import { FIXED_SECRETS } from './kubernetes-fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'osb-mariadb-pods-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const render = (set: string[] = []) => renderObjects(loadConfig({ set }), FIXED_SECRETS(), {});
const find = (objs: K8sObject[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name) as any;
const allContainers = (objs: K8sObject[]) =>
  objs.flatMap((o: any) => {
    const spec = o.kind === 'Pod' ? o.spec : o.spec?.template?.spec;
    return spec ? [...(spec.initContainers ?? []), ...spec.containers].map((c: any) => ({ owner: `${o.kind}/${o.metadata.name}`, ...c })) : [];
  });

/**
 * start.sh of a Galera pod, run by bash with the pod's two directories pointed at temp dirs and the
 * image's programs (docker-entrypoint.sh, mariadbd) replaced by stubs that record their arguments and
 * exit, as a crashed server does. /run/osb is the pod's emptyDir: it survives a container restart.
 */
function galeraPod() {
  const root = mkdtempSync(join(dir, 'pod-'));
  const run = join(root, 'run-osb');
  const data = join(root, 'data');
  const bin = join(root, 'bin');
  for (const d of [run, data, bin]) mkdirSync(d);
  const calls = join(root, 'calls');
  for (const prog of ['docker-entrypoint.sh', 'mariadbd']) {
    writeFileSync(join(bin, prog), `#!/bin/bash\necho "${prog} $*" >> ${calls}\nexit 1\n`);
    chmodSync(join(bin, prog), 0o755);
  }
  const start = (find(render(['mariadb.replicas=3']), 'ConfigMap', 'mariadb-scripts').data['start.sh'] as string)
    .replaceAll('/run/osb', run)
    .replaceAll('/var/lib/mysql', data);
  writeFileSync(join(root, 'start.sh'), start);
  /** One run of the `mariadb` container; returns the server command line it exec'd. */
  const runContainer = () => {
    rmSync(calls, { force: true });
    try {
      execFileSync('bash', [join(root, 'start.sh')], {
        env: { PATH: `${bin}:${process.env.PATH}`, POD_NAME: 'mariadb-0', POD_IP: '10.0.0.10', MARIADB_ADMIN_PASSWORD: 'x' },
        stdio: 'pipe',
      });
    } catch {
      // the stub server exits 1, like a crash
    }
    return readFileSync(calls, 'utf8').trim();
  };
  /** What galera-decide (an init container: once per pod) leaves on the emptyDir. */
  const decide = (mode: 'bootstrap' | 'join') => writeFileSync(join(run, 'galera-mode'), `${mode}\n`);
  /** A new pod: fresh emptyDir, same PVC. */
  const recreate = () => {
    rmSync(run, { recursive: true, force: true });
    mkdirSync(run);
  };
  return { run, data, runContainer, decide, recreate };
}

describe("MariaDB pods under the kubelet's restart rules", () => {
  it('a restarted bootstrap container rejoins instead of bootstrapping again; a re-created pod decides anew', () => {
    const pod = galeraPod();
    pod.decide('bootstrap');
    const first = pod.runContainer();
    expect(first).toMatch(/^docker-entrypoint\.sh mariadbd .*--wsrep-new-cluster$/);
    // The server ran as a cluster member meanwhile: its grastate says it may not bootstrap.
    writeFileSync(join(pod.data, 'grastate.dat'), 'version: 2.1\nuuid: u\nseqno: -1\nsafe_to_bootstrap: 0\n');
    // The container crashes (OOM kill, liveness): the kubelet restarts only it; init containers do not rerun.
    for (let restart = 1; restart <= 3; restart++) {
      const again = pod.runContainer();
      expect(again, `restart ${restart}`).not.toContain('--wsrep-new-cluster');
      expect(again).toMatch(/^mariadbd --defaults-extra-file=/);
    }
    expect(readFileSync(join(pod.data, 'grastate.dat'), 'utf8')).toContain('safe_to_bootstrap: 0');
    // A new pod (deleted and re-created): the coordinator runs again and may choose it.
    pod.recreate();
    pod.decide('bootstrap');
    expect(pod.runContainer()).toContain('--wsrep-new-cluster');
  });

  it('a joiner stays a joiner across restarts', () => {
    const pod = galeraPod();
    pod.decide('join');
    expect(pod.runContainer()).toMatch(/^mariadbd /);
    expect(pod.runContainer()).toMatch(/^mariadbd /);
  });

  it('no root password in the pod log: no MARIADB_RANDOM_ROOT_PASSWORD, only a hash from a Secret, root on localhost only', () => {
    for (const replicas of [1, 3]) {
      const objs = render([`mariadb.replicas=${replicas}`]);
      const server = find(objs, 'StatefulSet', 'mariadb').spec.template.spec.containers[0];
      const names = server.env.map((e: { name: string }) => e.name);
      // MARIADB_RANDOM_ROOT_PASSWORD makes the entrypoint print "GENERATED ROOT PASSWORD: ..."; an empty root is no answer either.
      for (const bad of [
        'MARIADB_RANDOM_ROOT_PASSWORD',
        'MYSQL_RANDOM_ROOT_PASSWORD',
        'MARIADB_ALLOW_EMPTY_ROOT_PASSWORD',
        'MARIADB_ROOT_PASSWORD',
        'MYSQL_ROOT_PASSWORD',
      ]) {
        expect(names, bad).not.toContain(bad);
      }
      const hashEnv = server.env.find((e: { name: string }) => e.name === 'MARIADB_ROOT_PASSWORD_HASH');
      expect(hashEnv.valueFrom.secretKeyRef).toBeDefined();
      expect(server.env.find((e: { name: string }) => e.name === 'MARIADB_ROOT_HOST')).toEqual({ name: 'MARIADB_ROOT_HOST', value: 'localhost' });
      const ref = hashEnv.valueFrom.secretKeyRef;
      const hash = Buffer.from(find(objs, 'Secret', ref.name).data[ref.key], 'base64').toString();
      expect(hash).toMatch(/^\*[0-9A-F]{40}$/);
      // Not the hash of the admin password (root's password is its own), nor of an empty one.
      const native = (pw: string) => `*${createHash('sha1').update(createHash('sha1').update(pw).digest()).digest('hex').toUpperCase()}`;
      expect(native('password')).toBe('*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19'); // MariaDB's PASSWORD('password')
      expect(hash).not.toBe(native(FIXED_SECRETS().mariadbAdminPassword));
      expect(hash).not.toBe(native(''));
    }
  });

  it('db-init writes its here-document on a read-only root: /tmp is a mounted emptyDir', () => {
    const objs = render();
    const job = objs.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('mariadb-db-init-')) as any;
    const spec = job.spec.template.spec;
    const c = spec.containers[0];
    expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(c.command.join(' ')).toContain('<<EOSQL');
    const mount = c.volumeMounts?.find((m: { mountPath: string }) => m.mountPath === '/tmp');
    expect(mount).toBeDefined();
    expect(spec.volumes.find((v: { name: string }) => v.name === mount.name).emptyDir).toBeDefined();
  });
});

describe('images', () => {
  const DIGEST = `sha256:${'ab12'.repeat(16)}`;

  it('defaults: a supported Node LTS image for the node programs, RabbitMQ 4.1 (still built by the official images), no node:20', () => {
    const objs = render(['rabbitmq.replicas=3', 'mariadb.replicas=3']);
    const images = new Set(allContainers(objs).map((c) => c.image));
    expect([...images].sort()).toEqual([
      'docker.io/library/mariadb:10.11',
      'docker.io/library/memcached:1.6',
      'docker.io/library/node:24-alpine',
      'docker.io/library/rabbitmq:4.1-management',
      // The exporter sidecars (metrics.enabled, the default): mariadb.exporterImage, memcached.exporterImage.
      'quay.io/prometheus/memcached-exporter:v0.14.4',
      'quay.io/prometheus/mysqld-exporter:v0.15.1',
    ]);
  });

  it('<component>.imageDigest pins every container of that component to image@digest', () => {
    for (const c of ['rabbitmq', 'mariadb', 'memcached'] as const) {
      const objs = render([`${c}.imageDigest=${DIGEST}`, 'rabbitmq.replicas=3', 'mariadb.replicas=3']);
      const image = loadConfig({})[c].image;
      const own = allContainers(objs).filter((x) => x.image.startsWith(image.split(':')[0]));
      expect(own.length, c).toBeGreaterThan(0);
      for (const x of own) expect(x.image, `${x.owner}/${x.name}`).toBe(`${image}@${DIGEST}`);
      // The other components are untouched.
      expect(allContainers(objs).filter((x) => x.image.includes('@')).length).toBe(own.length);
    }
  });

  it('a malformed digest is refused with one clear message', () => {
    expect(() => loadConfig({ set: ['mariadb.imageDigest=sha256:xyz'] })).toThrow(/mariadb\.imageDigest.*must be an image digest such as sha256:/s);
  });
});
