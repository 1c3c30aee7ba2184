import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { decideGaleraStart, type GaleraNodeView } from '../../src/components/mariadb/bootstrap.js';
import { loadConfig } from '../../src/components/index.js';
import { renderObjects } from '../../src/targets/kubernetes/render.js';
import { FIXED_SECRETS } from './kubernetes-fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'osb-galera-cm-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function scripts(replicas: number): Record<string, string> {
  const cm = renderObjects(loadConfig({ set: [`mariadb.replicas=${replicas}`] }), FIXED_SECRETS(), { components: ['mariadb'] }).find(
    (o) => o.metadata.name === 'mariadb-scripts',
  )!;
  return cm.data as Record<string, string>;
}

const n = (name: string, v: Partial<GaleraNodeView> = {}): GaleraNodeView => ({ name, running: false, primary: false, hasData: true, ...v });
const SCENARIOS: GaleraNodeView[][] = [
  [n('mariadb-0', { hasData: false }), n('mariadb-1', { hasData: false }), n('mariadb-2', { hasData: false })],
  [n('mariadb-0', { uuid: 'u', seqno: 10 }), n('mariadb-1', { uuid: 'u', seqno: 12 }), n('mariadb-2', { uuid: 'u', seqno: 11 })],
  [n('mariadb-0', { uuid: 'u', seqno: 12 }), n('mariadb-1', { uuid: 'u', seqno: 12, safeToBootstrap: true }), n('mariadb-2', { uuid: 'u', seqno: 3 })],
  [n('mariadb-0', { running: true, primary: true }), n('mariadb-1'), n('mariadb-2', { running: true, primary: true })],
  [n('mariadb-0', { hasData: false }), n('mariadb-1', { uuid: 'u', seqno: 5 }), n('mariadb-2', { uuid: 'u', seqno: 7 })],
  [n('mariadb-0', { uuid: 'u', seqno: 5 }), n('mariadb-1', { uuid: 'v', seqno: 7 }), n('mariadb-2', { uuid: 'u', seqno: 7 })],
  [n('mariadb-0', { uuid: 'u', seqno: -1 }), n('mariadb-1', { uuid: 'u', seqno: 7 }), n('mariadb-2', { uuid: 'u', seqno: 7 })],
  [n('mariadb-0', { running: true }), n('mariadb-1', { uuid: 'u', seqno: 7 }), n('mariadb-2', { uuid: 'u', seqno: 7 })],
];

describe('kubernetes Galera coordination', () => {
  it('the ConfigMap carries decideGaleraStart itself: the shipped module decides exactly as the local target does', async () => {
    const s = scripts(3);
    const file = join(dir, 'galera-decision.mjs');
    writeFileSync(file, s['galera-decision.mjs']!);
    const shipped = (await import(pathToFileURL(file).href)) as { decideGaleraStart: typeof decideGaleraStart };
    for (const views of SCENARIOS) expect(shipped.decideGaleraStart(views)).toEqual(decideGaleraStart(views));
    expect(new Set(SCENARIOS.map((v) => decideGaleraStart(v).kind))).toEqual(new Set(['form', 'recover', 'join', 'refuse']));
  });

  it('the coordinator (galera-agent.mjs) is valid JavaScript and imports the shipped module', () => {
    const s = scripts(3);
    writeFileSync(join(dir, 'galera-agent.mjs'), s['galera-agent.mjs']!);
    writeFileSync(join(dir, 'galera-decision.mjs'), s['galera-decision.mjs']!);
    execFileSync(process.execPath, ['--check', join(dir, 'galera-agent.mjs')]);
    expect(s['galera-agent.mjs']).toContain("import { decideGaleraStart } from './galera-decision.mjs';");
  });

  it('the shell scripts parse (bash -n)', () => {
    for (const replicas of [1, 3]) {
      for (const [name, text] of Object.entries(scripts(replicas))) {
        if (!name.endsWith('.sh')) continue;
        const f = join(dir, `${replicas}-${name}`);
        writeFileSync(f, text);
        execFileSync('bash', ['-n', f]);
      }
    }
  });

  it("galera-recover.sh reports a clean shutdown's grastate.dat position as JSON (run with bash on a fake data dir)", () => {
    const data = join(dir, 'data');
    const run = join(dir, 'run');
    execFileSync('mkdir', ['-p', data, run]);
    writeFileSync(
      join(data, 'grastate.dat'),
      '# GALERA saved state\nversion: 2.1\nuuid:    5ee9a2f2-1111-11ee-8000-000000000001\nseqno:   1234\nsafe_to_bootstrap: 1\n',
    );
    // The shipped text as is; only the two paths of the pod are pointed elsewhere.
    writeFileSync(join(dir, 'recover.sh'), scripts(3)['galera-recover.sh']!);
    const out = execFileSync('bash', [join(dir, 'recover.sh')], { encoding: 'utf8', env: { ...process.env, OSB_DATA_DIR: data, OSB_RUN_DIR: run } });
    expect(JSON.parse(out)).toEqual({ hasData: true, uuid: '5ee9a2f2-1111-11ee-8000-000000000001', seqno: 1234, safeToBootstrap: true });
  });

  it('a single node has no coordinator, no Galera RBAC and starts through the image entrypoint', () => {
    const s = scripts(1);
    expect(Object.keys(s).sort()).toEqual(['osb-admin.sh', 'start.sh']);
    expect(s['start.sh']).toContain('exec docker-entrypoint.sh mariadbd --defaults-extra-file=/run/osb/node.cnf');
    expect(s['start.sh']).not.toContain('wsrep');
  });

  it('three nodes: pods start in parallel, the bootstrap pod uses --wsrep-new-cluster, joiners list every peer', () => {
    const objs = renderObjects(loadConfig({ set: ['mariadb.replicas=3'] }), FIXED_SECRETS(), { components: ['mariadb'] });
    const sts = objs.find((o) => o.kind === 'StatefulSet') as any;
    expect(sts.spec.podManagementPolicy).toBe('Parallel');
    expect(sts.spec.template.spec.initContainers.map((c: { name: string }) => c.name)).toEqual(['galera-recover', 'galera-decide']);
    const start = scripts(3)['start.sh']!;
    expect(start).toContain('--wsrep-new-cluster');
    expect(start).toContain(
      'wsrep_cluster_address = gcomm://mariadb-0.mariadb-headless.openstack.svc.cluster.local:4567,mariadb-1.mariadb-headless.openstack.svc.cluster.local:4567,mariadb-2.mariadb-headless.openstack.svc.cluster.local:4567',
    );
  });
});
