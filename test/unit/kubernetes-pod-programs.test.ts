import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { POD_PROGRAMS } from '../../src/components/mariadb/pod-programs.js';
import { loadConfig } from '../../src/components/index.js';
import type { K8sObject } from '../../src/k8s/objects.js';
import { renderObjects } from '../../src/targets/kubernetes/render.js';
import { FIXED_SECRETS } from './kubernetes-fixtures.js';
import { ApiStandIn } from './kubernetes-standin.js';

const ROOT = join(__dirname, '..', '..');
const onDisk = (name: string) => readFileSync(join(ROOT, 'src', 'components', 'mariadb', 'pod', name), 'utf8');
const galera = () => renderObjects(loadConfig({ set: ['mariadb.replicas=3'] }), FIXED_SECRETS(), { components: ['mariadb'] });
const cmData = (objs: K8sObject[], name: string) => objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name)!.data as Record<string, string>;

/** What each ConfigMap ships from src/components/mariadb/pod/. */
const SHIPPED: Record<string, string[]> = {
  'mariadb-scripts': ['galera-agent.mjs', 'galera-recover.sh', 'k8s-api.mjs'],
  'mariadb-writer-controller': ['writer-controller.mjs', 'k8s-api.mjs'],
};

describe('MariaDB pod programs are real files, shipped byte for byte', () => {
  it('every program is a file under src/components/mariadb/pod/ and the ConfigMaps carry it unchanged', () => {
    for (const name of POD_PROGRAMS) expect(existsSync(join(ROOT, 'src/components/mariadb/pod', name))).toBe(true);
    const objs = galera();
    for (const [cm, files] of Object.entries(SHIPPED)) {
      const data = cmData(objs, cm);
      for (const f of files) expect(data[f], `${cm}/${f}`).toBe(onDisk(f));
    }
  });

  it('one Kubernetes API helper: both node programs import k8s-api.mjs and define no api() of their own', () => {
    for (const f of ['galera-agent.mjs', 'writer-controller.mjs']) {
      const text = onDisk(f);
      expect(text).toMatch(/from '\.\/k8s-api\.mjs';/);
      expect(text).not.toMatch(/function api\(|request\(/);
    }
    const src = readFileSync(join(ROOT, 'src/components/mariadb/pod-programs.ts'), 'utf8');
    expect(src).not.toMatch(/export const (GALERA_AGENT|GALERA_RECOVER|WRITER_CONTROLLER)\b/);
  });

  it('the programs parse (node --check, bash -n)', () => {
    for (const name of POD_PROGRAMS) {
      const file = join(ROOT, 'src/components/mariadb/pod', name);
      if (name.endsWith('.mjs')) execFileSync(process.execPath, ['--check', file]);
      else execFileSync('bash', ['-n', file]);
    }
  });

  it('the built CLI (dist/cli/bundle/osb.mjs via bin/osb) ships the same bytes', () => {
    const state = mkdtempSync(join(tmpdir(), 'osb-pod-programs-'));
    try {
      const out = execFileSync(process.execPath, [join(ROOT, 'bin', 'osb'), 'render', '--target', 'kubernetes', 'mariadb', '--set', 'mariadb.replicas=3'], {
        env: { ...process.env, OSB_STATE_DIR: state },
        encoding: 'utf8',
      });
      const objs = parseAllDocuments(out).map((d) => d.toJS() as K8sObject);
      for (const [cm, files] of Object.entries(SHIPPED)) {
        const data = cmData(objs, cm);
        for (const f of files) expect(data[f], `${cm}/${f} from the bundle`).toBe(onDisk(f));
      }
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });
});

/**
 * The coordinator (galera-agent.mjs) as shipped, run with node against an in-process Kubernetes API
 * stand-in, in its own PID namespace so that node is PID 1 as in a container: a PID 1 ignores every
 * signal it has no handler for, which is what the kubelet's SIGTERM meets.
 */
describe('galera-decide (galera-agent.mjs) against an in-process API stand-in', () => {
  let standin: ApiStandIn;
  let dir: string;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'osb-agent-'));
    standin = new ApiStandIn();
    await standin.start();
  });
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  afterAll(async () => {
    await standin.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The rendered pods' state: three pods (fresh uids), an empty galera-state ConfigMap, the others' positions. */
  function cluster(published: Record<string, object>): Record<string, string> {
    const objs = galera();
    const sts = objs.find((o) => o.kind === 'StatefulSet') as any;
    const uids: Record<string, string> = {};
    for (const o of objs.filter((x) => x.metadata.name === 'mariadb-galera-state')) standin.put(JSON.parse(JSON.stringify(o)));
    for (let i = 0; i < 3; i++) {
      const p = standin.put({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `mariadb-${i}`, namespace: 'openstack', labels: sts.spec.template.metadata.labels },
        status: { phase: 'Pending' },
      } as any);
      uids[p.metadata.name] = p.metadata.uid as string;
    }
    const cm = standin.find('ConfigMap', 'openstack', 'mariadb-galera-state')!;
    cm.data = Object.fromEntries(Object.entries(published).map(([name, pos]) => [name, JSON.stringify({ ...pos, podUid: uids[name] })]));
    return uids;
  }

  /** Starts galera-decide of pod `me` from the rendered ConfigMap and init container env, as PID 1. */
  function startAgent(me: string, uid: string, position: object): { run: string; output: () => string; child: ChildProcess } {
    const objs = galera();
    const scripts = mkdtempSync(join(dir, 'scripts-'));
    for (const [k, v] of Object.entries(cmData(objs, 'mariadb-scripts'))) writeFileSync(join(scripts, k), v);
    const run = join(scripts, 'run');
    const sa = join(scripts, 'sa');
    mkdirSync(run);
    mkdirSync(sa);
    writeFileSync(join(sa, 'token'), 'test-token');
    writeFileSync(join(sa, 'namespace'), 'openstack');
    writeFileSync(join(run, 'position.json'), JSON.stringify(position));
    const init = (objs.find((o) => o.kind === 'StatefulSet') as any).spec.template.spec.initContainers.find(
      (c: { name: string }) => c.name === 'galera-decide',
    );
    const env: Record<string, string> = { PATH: process.env.PATH ?? '' };
    for (const e of init.env as { name: string; value?: string }[]) if (e.value) env[e.name] = e.value;
    Object.assign(env, {
      POD_NAME: me,
      POD_UID: uid,
      OSB_API_URL: `http://127.0.0.1:${standin.port}`,
      OSB_SERVICEACCOUNT_DIR: sa,
      OSB_RUN_DIR: run,
      OSB_POLL_MS: '50',
    });
    let output = '';
    const child = spawn('unshare', ['--user', '--map-root-user', '--pid', '--fork', process.execPath, join(scripts, 'galera-agent.mjs')], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    children.push(child);
    return { run, output: () => output, child };
  }

  const exited = (c: ChildProcess) => new Promise<number | null>((r) => (c.exitCode !== null ? r(c.exitCode) : c.once('exit', (code) => r(code))));
  async function until(what: string, ok: () => boolean, output: () => string, ms = 15_000): Promise<void> {
    const end = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; galera-decide said:\n${output()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('a new cluster: pod 0 publishes its position, decides bootstrap and exits 0', async () => {
    const empty = { hasData: false, uuid: '', seqno: -1, safeToBootstrap: false };
    const uids = cluster({ 'mariadb-1': empty, 'mariadb-2': empty });
    const a = startAgent('mariadb-0', uids['mariadb-0']!, empty);
    expect(await exited(a.child)).toBe(0);
    expect(readFileSync(join(a.run, 'galera-mode'), 'utf8')).toBe('bootstrap\n');
    expect(JSON.parse(standin.find('ConfigMap', 'openstack', 'mariadb-galera-state')!.data!['mariadb-0'])).toEqual({ ...empty, podUid: uids['mariadb-0'] });
    expect(a.output()).toContain('this pod bootstraps');
  });

  it('SIGTERM while it waits (a pod deleted): it exits at once with 143, without a decision', async () => {
    const empty = { hasData: false, uuid: '', seqno: -1, safeToBootstrap: false };
    const uids = cluster({ 'mariadb-0': empty, 'mariadb-2': empty });
    const a = startAgent('mariadb-1', uids['mariadb-1']!, empty);
    await until('the agent to wait for mariadb-0', () => a.output().includes('waiting for mariadb-0 to bootstrap'), a.output);
    // The signal goes to node itself (PID 1 of its namespace), as the container runtime sends it.
    const nodePid = Number(readFileSync(`/proc/${a.child.pid}/task/${a.child.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
    process.kill(nodePid, 'SIGTERM');
    const code = await Promise.race([exited(a.child), new Promise((r) => setTimeout(() => r('still running 10 s after SIGTERM'), 10_000))]);
    expect(code).toBe(143);
    expect(existsSync(join(a.run, 'galera-mode'))).toBe(false);
    expect(a.output()).toContain('SIGTERM');
  });
});
