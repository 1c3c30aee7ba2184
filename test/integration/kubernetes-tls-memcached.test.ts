/**
 * The memcached test pod's TLS program (Kubernetes, tls.enabled) run for real: against Debian's
 * memcached 1.6.18 started with the exact arguments the StatefulSet renders (-Z with a certificate
 * from osb's CA, the loopback-only `notls:` probe listener), and the exec probe against that
 * listener. Only the host names are swapped for `localhost` (no cluster DNS here). Port block 113.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/components/index.js';
import { memcachedKubernetesObjects, memcachedTlsTestScript } from '../../src/components/memcached/kubernetes.js';
import { ensureCa, issueNodeCert, nodeTlsFiles } from '../../src/config/tls.js';
import type { RenderContext } from '../../src/k8s/objects.js';

const PORT = 20000 + 113 * 100 + 80;
/** docs/tls.md, "Kubernetes": the reload inside a memcached pod (`kubectl exec memcached-<i> -c memcached -- bash -c '...'`), PORT = memcached.port + 1. */
const KUBERNETES_REFRESH = `exec 3<>/dev/tcp/127.0.0.1/PORT && printf 'refresh_certs\\r\\n' >&3 && read -r -t 5 line <&3 && echo "\${line%$'\\r'}"`;
const dir = mkdtempSync(join(tmpdir(), 'osb-k8s-tls-mc-'));
let mc: ChildProcess | undefined;
let ctx: RenderContext;
let args: string[];
let probe: string;

beforeAll(async () => {
  const config = loadConfig({ set: ['tls.enabled=true', `memcached.port=${PORT}`] });
  await ensureCa(dir, config.tls);
  const f = nodeTlsFiles(join(dir, 'memcached'));
  await issueNodeCert(dir, config.tls, 'memcached', f, ['localhost', '127.0.0.1']);
  execFileSync('chmod', ['-R', 'a+rX', dir]);
  ctx = { config, namespace: 'openstack', clusterDomain: 'cluster.local', tls: { memcached: { cert: '', key: '', ca: '' } } };
  const sts = memcachedKubernetesObjects(ctx).find((o) => o.kind === 'StatefulSet') as never as {
    spec: { template: { spec: { containers: { args: string[]; readinessProbe: { exec: { command: string[] } } }[] } } };
  };
  const c = sts.spec.template.spec.containers[0]!;
  // The rendered arguments, with the mounted Secret's paths pointed at the issued files.
  // Tests listen on loopback only: the pod's 0.0.0.0 becomes 127.0.0.1.
  args = c.args.map((a) =>
    a
      .replace(`0.0.0.0:${PORT}`, `127.0.0.1:${PORT}`)
      .replaceAll('/etc/osb-tls/tls.crt', f.cert)
      .replaceAll('/etc/osb-tls/tls.key', f.key)
      .replaceAll('/etc/osb-tls/ca.crt', f.ca),
  );
  probe = c.readinessProbe.exec.command[2]!;
  mc = spawn('memcached', ['-u', 'nobody', '-U', '0', ...args], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1000));
});
afterAll(async () => {
  if (mc && mc.exitCode === null) {
    const exited = new Promise((r) => mc!.once('exit', r));
    mc.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('memcached on Kubernetes with TLS: the rendered arguments, probe and test program against a real memcached', () => {
  it('the TLS test program does set/get/delete/stats, verifying the CA and the name', () => {
    const ca = nodeTlsFiles(join(dir, 'memcached')).ca;
    const program = memcachedTlsTestScript(ctx)
      .replace(/const hosts = \[.*\];/, "const hosts = ['localhost'];")
      .replace("'/etc/osb-tls/ca.crt'", JSON.stringify(ca));
    writeFileSync(join(dir, 't.js'), program);
    const out = execFileSync(process.execPath, [join(dir, 't.js')], { encoding: 'utf8', timeout: 60_000 });
    expect(out).toContain('ok localhost: set/get/delete/stats over TLS');
  });

  it('rotation on Kubernetes: `refresh_certs` over the loopback plain listener (what docs/tls.md has you kubectl exec) reloads the files', async () => {
    const f = nodeTlsFiles(join(dir, 'memcached'));
    const serial = () =>
      execFileSync(
        'bash',
        ['-c', `openssl s_client -connect 127.0.0.1:${PORT} -CAfile ${f.ca} -verify_return_error </dev/null 2>/dev/null | openssl x509 -noout -serial`],
        {
          encoding: 'utf8',
          timeout: 20_000,
        },
      ).trim();
    const before = serial();
    await issueNodeCert(dir, ctx.config.tls, 'memcached', f, ['localhost', '127.0.0.1']);
    execFileSync('chmod', ['-R', 'a+rX', dir]);
    expect(serial(), 'memcached keeps its certificate until told').toBe(before);
    const refresh = execFileSync('bash', ['-c', KUBERNETES_REFRESH.replace('PORT', String(PORT + 1))], { encoding: 'utf8', timeout: 10_000 });
    expect(refresh.trim()).toBe('OK');
    const after = serial();
    expect(after).not.toBe(before);
    expect(after).toBe(`serial=${new X509Certificate(readFileSync(f.cert)).serialNumber}`);
  });

  it('the readiness probe answers on the loopback plain listener; the network port refuses plain text', () => {
    expect(() => execFileSync('bash', ['-c', probe], { timeout: 10_000 })).not.toThrow();
    const plain = `exec 3<>/dev/tcp/127.0.0.1/${PORT} && printf 'version\\r\\n' >&3 && read -r -t 3 line <&3 && case "$line" in VERSION*) exit 0;; *) exit 1;; esac`;
    expect(() => execFileSync('bash', ['-c', plain], { timeout: 10_000, stdio: 'ignore' })).toThrow();
  });
});
