/**
 * CA rotation on the local target (issue 13): `osb certs rotate --ca` under client loops against
 * real MariaDB, RabbitMQ and memcached (one node each, TLS required). Every operation opens a new
 * TLS connection trusting the deployment's bundle file: none may fail, no daemon may restart, the
 * bundle holds old and new CA until every node carries a new-CA certificate, and the next
 * `osb deploy` drops the old CA (again without a restart). Port block 112 (31200-31299).
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withMariadb } from '../../src/components/mariadb/client.js';
import { memcachedGet, memcachedSet } from '../../src/components/memcached/client.js';
import { withAmqp } from '../../src/components/rabbitmq/client.js';
import { cleanup, osb, portBlock, tempStateDir, type OsbRun } from '../helpers/osb.js';

const BLOCK = 112;
const BASE = 20000 + BLOCK * 100;
const P = { amqps: BASE, mariadb: BASE + 40, memcached: BASE + 80 };
const DEPLOY = ['deploy', ...portBlock(BLOCK), '--set', 'tls.enabled=true', '--set', 'tls.require=true'];

let stateDir: string;
let ca: string;

const o = (args: string[]) => osb(args, { stateDir, timeoutMs: 600_000 });

function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<OsbRun> {
  return new Promise((res) => {
    const child = execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      res({ code, stdout: stdout.toString(), stderr: stderr.toString() });
    });
    child.stdin?.end();
  });
}

/** The CA certificates (serials) in a PEM bundle. */
const serials = (file: string) =>
  (readFileSync(file, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p).serialNumber);
/** The serial of the CA that signed a node's certificate, found in a list of CA files. */
const issuerOf = (certFile: string, caPems: string[]) => {
  const cert = new X509Certificate(readFileSync(certFile));
  return caPems.map((p) => new X509Certificate(p)).find((c) => cert.verify(c.publicKey))?.serialNumber;
};
const pids = async () =>
  JSON.parse((await o(['status', '--json'])).stdout).components.flatMap((c: { nodes: { name: string; pid: number }[] }) =>
    c.nodes.map((n) => `${n.name}:${n.pid}`),
  );

/** openssl s_client against a node, trusting only `caFile`: did the chain verify? */
async function verifies(port: number, caFile: string, starttls?: string): Promise<boolean> {
  const r = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', caFile, ...(starttls ? ['-starttls', starttls] : [])]);
  return /Verify return code: 0 \(ok\)/.test(r.stdout);
}

beforeAll(async () => {
  stateDir = tempStateDir('tls-ca');
  const d = await o(DEPLOY);
  if (d.code !== 0) throw new Error(`osb deploy failed (${d.code}):\n${d.stdout}\n${d.stderr}`);
  ca = join(stateDir, 'tls', 'ca.pem');
}, 600_000);

afterAll(async () => {
  if (stateDir) await cleanup(stateDir);
}, 300_000);

describe('osb certs rotate --ca (real daemons, one node each)', () => {
  it('under client loops: old and new CA trusted until every node is re-issued, then only the new one; no failed operation, no restart', async () => {
    const pidsBefore = await pids();
    const oldCaPem = readFileSync(ca, 'utf8');
    const [oldCa] = serials(ca);
    const eps = JSON.parse((await o(['endpoints', '--json'])).stdout);
    const admin = eps.mariadb as { host: string; port: number; username: string; password: string };
    const creds = eps.rabbitmq as { username: string; password: string };
    let stop = false;
    const counts = { ok: 0, failed: [] as string[] };
    const loop = async (name: string, op: () => Promise<unknown>) => {
      while (!stop) {
        try {
          await op();
          counts.ok++;
        } catch (err) {
          counts.failed.push(`${name}: ${(err as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    // Each operation is a new TLS connection that reads the bundle file as it is at that moment.
    const loops = [
      loop('mariadb', () =>
        withMariadb({ host: admin.host, port: admin.port, user: admin.username, password: admin.password, caFile: ca }, (c) => c.query('SELECT 1')),
      ),
      loop('rabbitmq', () =>
        withAmqp({ host: '127.0.0.1', port: P.amqps, username: creds.username, password: creds.password, caFile: ca }, async (c) =>
          (await c.createChannel()).close(),
        ),
      ),
      loop('memcached', async () => {
        await memcachedSet({ host: '127.0.0.1', port: P.memcached, caFile: ca }, 'rot', 'v', 30);
        if ((await memcachedGet({ host: '127.0.0.1', port: P.memcached, caFile: ca }, 'rot')) !== 'v') throw new Error('get lost the value');
      }),
    ];
    await new Promise((r) => setTimeout(r, 1000));

    const rot = await o(['certs', 'rotate', '--ca', '--json']);
    expect(rot.code, rot.stderr).toBe(0);
    const r = JSON.parse(rot.stdout) as { ca: { serial: string; bundleReloaded: string[] }; issued: { node: string }[]; reloaded: string[] };
    expect(r.ca.bundleReloaded.sort()).toEqual(['mariadb-0', 'memcached-0', 'rabbitmq-0']);
    expect(r.reloaded.sort()).toEqual(['mariadb-0', 'memcached-0', 'rabbitmq-0']);
    // The bundle: the new CA, and the old one still (this rotation is what made every node new-CA).
    expect(serials(ca)).toEqual([r.ca.serial, oldCa]);
    const newCaPem = readFileSync(join(stateDir, 'tls', 'ca-signing.pem'), 'utf8');
    for (const c of ['mariadb', 'rabbitmq', 'memcached'])
      expect(issuerOf(join(stateDir, c, `${c}-0`, 'tls', 'cert.pem'), [oldCaPem, newCaPem]), c).toBe(r.ca.serial);
    await new Promise((r) => setTimeout(r, 1500));

    // The next deploy (same config): every node carries a new-CA certificate, so the old CA leaves the bundle.
    const again = await o(DEPLOY);
    expect(again.code, again.stderr).toBe(0);
    await new Promise((r) => setTimeout(r, 1500));
    stop = true;
    await Promise.all(loops);
    expect(serials(ca)).toEqual([r.ca.serial]);
    for (const c of ['mariadb', 'rabbitmq', 'memcached']) expect(serials(join(stateDir, c, `${c}-0`, 'tls', 'ca.pem')), c).toEqual([r.ca.serial]);

    expect(counts.failed, counts.failed.slice(0, 5).join('\n')).toEqual([]);
    expect(counts.ok).toBeGreaterThan(30);
    expect(await pids()).toEqual(pidsBefore);
    // The daemons serve new-CA certificates; a client trusting only the old CA is refused.
    const oldOnly = join(stateDir, 'old-ca.pem');
    writeFileSync(oldOnly, oldCaPem);
    for (const [port, starttls] of [
      [P.mariadb, 'mysql'],
      [P.amqps, undefined],
      [P.memcached, undefined],
    ] as const) {
      expect(await verifies(port, ca, starttls), `port ${port} with the bundle`).toBe(true);
      expect(await verifies(port, oldOnly, starttls), `port ${port} with the old CA only`).toBe(false);
    }
    console.log(`CA rotation: ${counts.ok} client operations, none failed`);
  }, 600_000);
});
