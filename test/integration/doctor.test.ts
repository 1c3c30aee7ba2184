import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/components/index.js';
import { hostChecks } from '../../src/targets/local/doctor.js';
import { blockPorts } from '../helpers/local.js';
import { OSB, osb, portBlock } from '../helpers/osb.js';
import { ApiStandIn } from '../unit/kubernetes-standin.js';

/**
 * `osb doctor` on this machine: every check reported, and each problem the issue names found with
 * its fix. Runs the built CLI (bin/osb). Nothing is deployed: doctor only reads.
 */
const BLOCK = 60;
const PORTS = blockPorts(BLOCK);

interface Report {
  target: string;
  ok: boolean;
  checks: { name: string; status: 'ok' | 'warn' | 'fail'; detail: string; fix?: string }[];
}

const tmp = mkdtempSync(join(tmpdir(), 'osb-test-doctor-'));
const stateDir = join(tmp, 'state');
const doctor = async (args: string[], env: Record<string, string> = {}) => {
  const r = await osb(['doctor', '--json', ...portBlock(BLOCK), ...args], { stateDir, env });
  let report: Report | undefined;
  try {
    report = JSON.parse(r.stdout) as Report;
  } catch {
    throw new Error(`osb doctor printed no JSON (exit ${r.code}): ${r.stdout}${r.stderr}`);
  }
  return { ...r, report };
};
const check = (r: Report, name: string) => {
  const c = r.checks.find((x) => x.name === name);
  if (!c) throw new Error(`no check "${name}" in ${r.checks.map((x) => x.name).join(', ')}`);
  return c;
};

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('osb doctor (local target, this host)', () => {
  it('reports every check, each with ok/warn/fail, and exits 0 when a deploy would work', async () => {
    const r = await doctor([]);
    const text = await osb(['doctor', ...portBlock(BLOCK)], { stateDir });
    console.log(text.stdout);
    expect(r.report!.checks.map((c) => c.name)).toEqual([
      'os',
      'packages',
      'supervision',
      'ports',
      'ephemeral ports',
      'disk',
      'memory',
      'fd limit rabbitmq',
      'fd limit mariadb',
      'fd limit memcached',
      'clock',
      'state dir',
    ]);
    for (const c of r.report!.checks) {
      expect(['ok', 'warn', 'fail']).toContain(c.status);
      expect(c.detail.length).toBeGreaterThan(0);
      if (c.status !== 'ok') expect(c.fix, c.name).toBeTruthy();
    }
    // This machine has the packages (test prerequisites) and the block's ports free.
    expect(check(r.report!, 'packages').status).toBe('ok');
    expect(check(r.report!, 'ports').detail).toContain(String(PORTS.memcached));
    const fails = r.report!.checks.filter((c) => c.status === 'fail');
    expect(fails).toEqual([]);
    expect(r.report!.ok).toBe(true);
    expect(r.code).toBe(0);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/A deploy would work/);
    // PID 1 is reported as it is.
    const pid1 = execFileSync('cat', ['/proc/1/comm']).toString().trim();
    expect(check(r.report!, 'supervision').status).toBe(pid1 === 'systemd' ? 'ok' : 'warn');
    // Nothing was created: doctor only reads.
    expect(spawnSync('test', ['-e', stateDir]).status).not.toBe(0);
  });

  it('fails on a port another process holds, naming the port, its key and a --set fix', async () => {
    const server: Server = createServer();
    await new Promise<void>((r) => server.listen(PORTS.memcached, '127.0.0.1', r));
    try {
      const r = await doctor([]);
      const c = check(r.report!, 'ports');
      expect(c.status).toBe('fail');
      expect(c.detail).toContain(`${PORTS.memcached} (memcached.port)`);
      expect(c.fix).toContain(`--set memcached.port=${PORTS.memcached + 100}`);
      expect(r.code).toBe(1);
      const text = await osb(['doctor', ...portBlock(BLOCK)], { stateDir });
      expect(text.stdout).toMatch(/fail\s+ports/);
      expect(text.stdout).toMatch(/would stop a deploy/);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('fails on a port in the kernel ephemeral range (/proc/sys/net/ipv4/ip_local_port_range)', async () => {
    const [lo, hi] = execFileSync('cat', ['/proc/sys/net/ipv4/ip_local_port_range']).toString().trim().split(/\s+/).map(Number);
    const port = 40000;
    expect(port >= lo! && port <= hi!).toBe(true);
    const r = await doctor(['--set', `memcached.port=${port}`]);
    const c = check(r.report!, 'ephemeral ports');
    expect(c.status).toBe('fail');
    expect(c.detail).toContain(`${port} (memcached.port)`);
    expect(c.detail).toContain(`${lo}-${hi}`);
    expect(c.fix).toMatch(/--set memcached\.port=\d+/);
    expect(Number(c.fix!.match(/--set memcached\.port=(\d+)/)![1])).toBeLessThan(lo!);
    expect(c.fix).toContain(`net.ipv4.ip_local_reserved_ports=${port}`);
    expect(r.code).toBe(1);
  });

  it('fails on a missing package as non-root, naming the sudo apt-get install command', async () => {
    // Every package osb needs is installed here, so the requirement is pointed at one that is not.
    const config = loadConfig({ set: portBlock(BLOCK).filter((_, i) => i % 2 === 1) });
    const absent = { binaries: ['/usr/games/cowsay'], packages: ['cowsay'] };
    expect(spawnSync('dpkg', ['-s', 'cowsay']).status).not.toBe(0);
    const checks = await hostChecks({ config, stateDir, components: ['memcached'], requirements: [absent], uid: 65534 });
    const pkg = checks.find((c) => c.name === 'packages')!;
    expect(pkg.status).toBe('fail');
    expect(pkg.detail).toContain('cowsay');
    expect(pkg.fix).toContain('sudo apt-get install -y cowsay');
    // As root the same package is one apt-get can install (apt-cache knows a candidate): deploy would install it.
    const asRoot = (await hostChecks({ config, stateDir, components: ['memcached'], requirements: [absent], uid: 0 })).find((c) => c.name === 'packages')!;
    expect(asRoot.status).toBe('warn');
    expect(asRoot.detail).toMatch(/osb deploy installs them/);
    // A package apt does not know fails even as root.
    const unknown = (
      await hostChecks({
        config,
        stateDir,
        components: ['memcached'],
        requirements: [{ binaries: ['/nonexistent/osb-probe'], packages: ['osb-no-such-package'] }],
        uid: 0,
      })
    ).find((c) => c.name === 'packages')!;
    expect(unknown.status).toBe('fail');
    expect(unknown.detail).toContain('no installable version of osb-no-such-package');
  });

  it('runs as a real non-root user (nobody): every check reported, packages found installed', async () => {
    const home = join(tmp, 'nobody-home');
    mkdirSync(home, { recursive: true });
    execFileSync('chown', ['nobody', home]);
    chmodSync(tmp, 0o755);
    // The checkout may live where nobody cannot read (a 0700 clone dir): run a copy of the bundled CLI.
    const copy = join(tmp, 'osb-copy');
    mkdirSync(join(copy, 'bin'), { recursive: true });
    copyFileSync(OSB, join(copy, 'bin/osb'));
    // The bundle (its code cache, under dist/cli/code-cache/, is not copied: nobody cannot write one there).
    cpSync(join(OSB, '../../dist/cli/bundle'), join(copy, 'dist/cli/bundle'), { recursive: true });
    execFileSync('chmod', ['-R', 'a+rX', copy]);
    const r = spawnSync(
      'runuser',
      ['-u', 'nobody', '--', process.execPath, join(copy, 'bin/osb'), 'doctor', '--json', ...portBlock(BLOCK), '--state-dir', join(home, 'state')],
      {
        env: { PATH: process.env.PATH!, HOME: home },
        encoding: 'utf8',
      },
    );
    const report = JSON.parse(r.stdout) as Report;
    expect(check(report, 'packages').status).toBe('ok');
    expect(check(report, 'state dir').status).toBe('ok');
    expect(report.checks).toHaveLength(12);
    expect(r.status).toBe(report.ok ? 0 : 1);
  });

  it('fails on a read-only state dir', async () => {
    const ro = join(tmp, 'readonly');
    mkdirSync(ro);
    // A read-only mount stops root too; where mounting is not allowed, a root-owned dir stops user nobody.
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', ro]).status === 0;
    try {
      let report: Report;
      let code: number | null;
      if (mounted) {
        const r = await osb(['doctor', '--json', ...portBlock(BLOCK), '--state-dir', ro]);
        report = JSON.parse(r.stdout) as Report;
        code = r.code;
      } else {
        chmodSync(ro, 0o755);
        const r = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, OSB, 'doctor', '--json', ...portBlock(BLOCK), '--state-dir', ro], {
          env: { PATH: process.env.PATH!, HOME: '/tmp' },
          encoding: 'utf8',
        });
        report = JSON.parse(r.stdout) as Report;
        code = r.status;
      }
      const c = check(report, 'state dir');
      expect(c.status).toBe('fail');
      expect(c.detail).toContain(ro);
      expect(c.detail).toMatch(mounted ? /read-only file system/ : /not writable/);
      expect(c.fix).toContain('--state-dir');
      expect(code).toBe(1);
    } finally {
      if (mounted) spawnSync('umount', [ro]);
    }
  });
});

describe('osb doctor --target kubernetes (against the in-process Kubernetes API stand-in)', () => {
  let standin: ApiStandIn;
  let kubeconfig: string;
  const kdoctor = (args: string[]) => doctor(['--target', 'kubernetes', ...args], { KUBECONFIG: kubeconfig });

  beforeAll(async () => {
    standin = new ApiStandIn();
    await standin.start();
    kubeconfig = standin.writeKubeconfig(tmp);
  });
  afterAll(() => standin.stop());

  it('passes with a reachable namespace, every verb allowed and a default StorageClass; asks with SelfSubjectAccessReview', async () => {
    standin.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'openstack' } });
    standin.put({
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name: 'standard', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
      provisioner: 'x',
    });
    const r = await kdoctor([]);
    console.log(JSON.stringify(r.report, null, 2));
    expect(r.report!.checks.map((c) => [c.name, c.status])).toEqual([
      ['kubeconfig', 'ok'],
      ['context', 'ok'],
      ['namespace', 'ok'],
      ['rbac', 'ok'],
      ['storage class', 'ok'],
      ['state dir', 'ok'],
    ]);
    expect(check(r.report!, 'storage class').detail).toContain('standard (default)');
    expect(standin.accessReviews).toContain('patch statefulsets openstack');
    expect(standin.accessReviews).toContain('get pods/log openstack');
    expect(r.code).toBe(0);
  });

  it('fails on a kubeconfig context that does not exist, listing the known ones', async () => {
    const r = await kdoctor(['--context', 'no-such-context']);
    const c = check(r.report!, 'context');
    expect(c.status).toBe('fail');
    expect(c.detail).toContain('"no-such-context"');
    expect(c.fix).toContain('standin');
    expect(r.code).toBe(1);
  });

  it('fails when RBAC denies a verb osb uses, naming it', async () => {
    standin.denied.add('delete statefulsets');
    try {
      const r = await kdoctor([]);
      const c = check(r.report!, 'rbac');
      expect(c.status).toBe('fail');
      expect(c.detail).toContain('delete statefulsets.apps');
      expect(c.fix).toMatch(/rolebinding/);
      expect(r.code).toBe(1);
    } finally {
      standin.denied.clear();
    }
  });

  it('fails when no default StorageClass exists for the volumes, and passes with volumes off', async () => {
    standin.objects.clear();
    standin.put({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'slow' }, provisioner: 'x' });
    const r = await kdoctor([]);
    const c = check(r.report!, 'storage class');
    expect(c.status).toBe('fail');
    expect(c.fix).toContain('slow');
    expect(check(r.report!, 'namespace').detail).toMatch(/osb deploy creates it/);
    expect(r.code).toBe(1);
    const off = await kdoctor(['--set', 'mariadb.volume.enabled=false', '--set', 'rabbitmq.volume.enabled=false']);
    expect(check(off.report!, 'storage class').status).toBe('ok');
    expect(off.code).toBe(0);
  });

  it("tls.certManager: fails without cert-manager's CRDs, warns on an issuer that is not Ready, passes with a Ready one; asks for the Certificate verbs", async () => {
    standin.objects.clear();
    standin.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'openstack' } });
    const cm = [
      '--set',
      'tls.enabled=true',
      '--set',
      'tls.require=true',
      '--set',
      'tls.certManager.issuer.name=osb-ca',
      '--set',
      'tls.certManager.issuer.kind=ClusterIssuer',
    ];
    const off = ['--set', 'mariadb.volume.enabled=false', '--set', 'rabbitmq.volume.enabled=false'];
    const missing = await kdoctor([...cm, ...off]);
    expect(check(missing.report!, 'cert-manager').status).toBe('fail');
    expect(check(missing.report!, 'cert-manager').detail).toMatch(/does not serve Certificate \(cert-manager.io\/v1\)/);
    expect(check(missing.report!, 'cert-manager').fix).toMatch(/install cert-manager/);
    expect(missing.code).toBe(1);
    expect(standin.accessReviews).toContain('create certificates openstack');
    standin.installCertManagerCrds();
    const noIssuer = await kdoctor([...cm, ...off]);
    expect(check(noIssuer.report!, 'cert-manager').detail).toMatch(/ClusterIssuer osb-ca does not exist/);
    standin.put({ apiVersion: 'cert-manager.io/v1', kind: 'ClusterIssuer', metadata: { name: 'osb-ca' }, spec: { ca: { secretName: 'x' } } });
    const notReady = await kdoctor([...cm, ...off]);
    expect(check(notReady.report!, 'cert-manager').status).toBe('warn');
    standin.update('ClusterIssuer', undefined, 'osb-ca', (o) => (o.status = { conditions: [{ type: 'Ready', status: 'True' }] }));
    const good = await kdoctor([...cm, ...off]);
    expect(check(good.report!, 'cert-manager').status).toBe('ok');
    expect(check(good.report!, 'cert-manager').detail).toContain('ClusterIssuer osb-ca is Ready');
    expect(good.code).toBe(0);
  });

  it('fails on a missing kubeconfig with the fix', async () => {
    const r = await doctor(['--target', 'kubernetes'], { KUBECONFIG: join(tmp, 'nope') });
    const c = check(r.report!, 'kubeconfig');
    expect(c.status).toBe('fail');
    expect(c.fix).toContain('KUBECONFIG');
    expect(r.code).toBe(1);
  });
});
