/**
 * Issue 13 acceptance on the local target: 3-node Galera, RabbitMQ and memcached with
 * tls.enabled and tls.require, driven by Debian's own OpenStack clients (keystone-manage, oslo.db
 * over PyMySQL, oslo.messaging, oslo.cache under /usr/bin/python3) configured only from what
 * `osb endpoints --service X --format oslo` prints; plain-text and wrong-CA clients refused;
 * Galera replication/IST/SST captured on loopback with tcpdump; `osb certs rotate` under client
 * loops. Port block 110 (31000-31099).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memcachedGet, memcachedSet } from '../../src/components/memcached/client.js';
import { withAmqp } from '../../src/components/rabbitmq/client.js';
import { withMariadb } from '../../src/components/mariadb/client.js';
import { cleanup, osb, portBlock, tempStateDir, type OsbRun } from '../helpers/osb.js';

const PY = '/usr/bin/python3';
const CLIENTS = resolve(__dirname, '../openstack/tls_clients.py');
const BLOCK = 110;
const BASE = 20000 + BLOCK * 100;
const P = {
  amqps: BASE,
  management: BASE + 10,
  dist: BASE + 20,
  mariadb: BASE + 40,
  proxy: BASE + 49,
  galera: BASE + 50,
  ist: BASE + 60,
  sst: BASE + 70,
  memcached: BASE + 80,
};
const TLS = ['--set', 'tls.enabled=true', '--set', 'tls.require=true'];
const THREE = ['rabbitmq', 'mariadb', 'memcached'].flatMap((c) => ['--set', `${c}.replicas=3`]);

let stateDir: string;
let work: string;
let deployed: OsbRun;
let capture: { proc: ChildProcess; file: string };
let ca: string;
let otherCa: string;
let admin: { host: string; port: number; username: string; password: string };

function run(cmd: string, args: string[], timeoutMs = 180_000, input?: string): Promise<OsbRun> {
  return new Promise((res) => {
    const child = execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      res({ code, stdout: stdout.toString(), stderr: stderr.toString() });
    });
    child.stdin?.end(input ?? '');
  });
}

const o = (args: string[]) => osb(args, { stateDir, timeoutMs: 600_000 });

/** The service's oslo.config as osb prints it, written to a file (optionally edited, e.g. to another CA). */
async function osloConf(service: string, name: string, edit: (t: string) => string = (t) => t, extra = ''): Promise<string> {
  const r = await o(['endpoints', '--service', service, '--format', 'oslo']);
  expect(r.code, r.stderr).toBe(0);
  const file = join(work, `${name}.conf`);
  writeFileSync(file, edit(r.stdout) + extra, { mode: 0o600 });
  return file;
}

const py = (what: 'db' | 'rpc' | 'cache', conf: string) => run(PY, [CLIENTS, what, conf], 120_000);

/** s_client's view of a TLS port: the serial of the certificate it was given, and whether it verified against osb's CA. */
async function sClient(port: number, opts: { starttls?: string; asNode?: string } = {}): Promise<{ serial?: string; verified: boolean }> {
  const client = opts.asNode ? ['-cert', join(opts.asNode, 'tls', 'cert.pem'), '-key', join(opts.asNode, 'tls', 'key.pem')] : [];
  const r = await run(
    'openssl',
    ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', ca, ...(opts.starttls ? ['-starttls', opts.starttls] : []), ...client],
    20_000,
  );
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout)?.[0];
  const x = pem ? await run('openssl', ['x509', '-noout', '-serial'], 10_000, pem) : undefined;
  return { serial: x && /serial=(\w+)/.exec(x.stdout)?.[1], verified: /Verify return code: 0 \(ok\)/.test(r.stdout) };
}

/** Galera peers and Erlang nodes only talk to holders of a certificate from the CA: s_client presents a node's. */
const node = (c: string, i: number) => join(stateDir, c, `${c}-${i}`);

beforeAll(async () => {
  stateDir = tempStateDir('tls');
  work = join(stateDir, 'test-work');
  mkdirSync(work, { recursive: true });
  // Another CA, to prove a client trusting it is refused everywhere.
  otherCa = join(work, 'other-ca.pem');
  const otherKey = join(work, 'other-ca-key.pem');
  const g = await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    otherKey,
    '-out',
    otherCa,
    '-days',
    '2',
    '-subj',
    '/CN=not osb',
  ]);
  expect(g.code, g.stderr).toBe(0);
  // Everything Galera sends on its group, IST and SST ports, from the first join on.
  capture = { file: join(work, 'galera.pcap'), proc: undefined as unknown as ChildProcess };
  const ports = [0, 1, 2]
    .flatMap((i) => [P.galera + i, P.ist + i, P.sst + i])
    .map((p) => `port ${p}`)
    .join(' or ');
  capture.proc = spawn('tcpdump', ['-i', 'lo', '-U', '-s', '0', '-w', capture.file, ports], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1000));
  deployed = await osb(['deploy', ...portBlock(BLOCK), ...THREE, ...TLS], { stateDir, timeoutMs: 600_000 });
  if (deployed.code !== 0) throw new Error(`osb deploy failed (${deployed.code}):\n${deployed.stdout}\n${deployed.stderr}`);
  ca = join(stateDir, 'tls', 'ca.pem');
  const eps = JSON.parse((await o(['endpoints', '--json'])).stdout);
  admin = eps.mariadb;
}, 900_000);

afterAll(async () => {
  capture?.proc?.kill('SIGTERM');
  if (stateDir) await cleanup(stateDir);
}, 300_000);

describe('TLS everywhere (3-node clusters, tls.enabled + tls.require)', () => {
  it('keeps the CA key private and gives every node its own certificate naming every address clients dial', async () => {
    expect(readFileSync(join(stateDir, 'tls', 'ca-key.pem'), 'utf8')).toMatch(/PRIVATE KEY/);
    const { statSync } = await import('node:fs');
    expect(statSync(join(stateDir, 'tls', 'ca-key.pem')).mode & 0o777).toBe(0o600);
    for (const c of ['rabbitmq', 'mariadb', 'memcached']) {
      for (const i of [0, 1, 2]) {
        const dir = join(stateDir, c, `${c}-${i}`, 'tls');
        expect(statSync(join(dir, 'key.pem')).mode & 0o777).toBe(0o600);
        const text = (await run('openssl', ['x509', '-noout', '-subject', '-ext', 'subjectAltName', '-in', join(dir, 'cert.pem')])).stdout;
        expect(text).toContain(`CN = ${c}-${i}`);
        for (const san of ['IP Address:127.0.0.1', 'DNS:localhost']) expect(text).toContain(san);
      }
    }
    // No key material in what osb printed.
    expect(deployed.stdout + deployed.stderr).not.toMatch(/PRIVATE KEY/);
  });

  it('keystone-manage db_sync runs against the printed URL, and oslo.db sessions over it are encrypted (Ssl_cipher)', async () => {
    const keys = join(work, 'keys');
    mkdirSync(join(keys, 'fernet'), { recursive: true });
    mkdirSync(join(keys, 'credential'), { recursive: true });
    const conf = await osloConf(
      'keystone',
      'keystone',
      (t) => t,
      `\n[fernet_tokens]\nkey_repository = ${join(keys, 'fernet')}\n\n[credential]\nkey_repository = ${join(keys, 'credential')}\n`,
    );
    const text = readFileSync(conf, 'utf8');
    expect(text).toMatch(
      new RegExp(`connection = mysql\\+pymysql://keystone:[^@]+@127\\.0\\.0\\.1:${P.proxy}/keystone\\?charset=utf8&ssl_ca=${ca.replace(/[/.]/g, '\\$&')}`),
    );
    const sync = await run('keystone-manage', ['--config-file', conf, 'db_sync'], 300_000);
    expect(sync.code, sync.stderr.slice(-3000)).toBe(0);
    const db = await py('db', conf);
    expect(db.code, db.stderr.slice(-2000)).toBe(0);
    const s = JSON.parse(db.stdout) as { ssl_cipher: string; ssl_version: string };
    expect(s.ssl_cipher).not.toBe('');
    expect(s.ssl_version).toMatch(/^TLSv1\.[23]$/);
    const tables = await withMariadb({ host: admin.host, port: admin.port, user: admin.username, password: admin.password, caFile: ca }, async (c) => {
      const [rows] = await c.query("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'keystone'");
      return (rows as { n: number }[])[0]!.n;
    });
    expect(tables).toBeGreaterThan(30);
  }, 400_000);

  it("nova's own migrations (nova-manage api_db sync, db sync) run against the printed URLs over TLS", async () => {
    // Debian's python3-nova (nova-manage's module; the nova-common package that ships the script also creates a system user).
    const conf = await osloConf('nova', 'nova-db');
    const text = readFileSync(conf, 'utf8');
    for (const db of ['nova', 'nova_api']) expect(text).toMatch(new RegExp(`@127\\.0\\.0\\.1:${P.proxy}/${db}\\?charset=utf8&ssl_ca=`));
    const manage = (...args: string[]) =>
      run(
        PY,
        ['-c', 'import sys; from nova.cmd.manage import main; sys.argv = ["nova-manage"] + sys.argv[1:]; sys.exit(main())', '--config-file', conf, ...args],
        600_000,
      );
    for (const args of [
      ['api_db', 'sync'],
      ['db', 'sync', '--local_cell'],
    ]) {
      const r = await manage(...args);
      expect(r.code, `nova-manage ${args.join(' ')}: ${r.stderr.slice(-3000)}`).toBe(0);
    }
    const db = await py('db', conf);
    expect(db.code, db.stderr.slice(-2000)).toBe(0);
    expect((JSON.parse(db.stdout) as { ssl_cipher: string }).ssl_cipher).not.toBe('');
    const tables = await withMariadb({ host: admin.host, port: admin.port, user: admin.username, password: admin.password, caFile: ca }, async (c) => {
      const [rows] = await c.query(
        "SELECT TABLE_SCHEMA AS s, COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ('nova', 'nova_api') GROUP BY s",
      );
      return Object.fromEntries((rows as { s: string; n: number }[]).map((r) => [r.s, Number(r.n)]));
    });
    expect(tables.nova).toBeGreaterThan(50);
    expect(tables.nova_api).toBeGreaterThan(10);
  }, 900_000);

  it('refuses the same database client in plain text (require_secure_transport) and with another CA', async () => {
    const plain = await py('db', await osloConf('keystone', 'keystone-plain', (t) => t.replace(/&ssl_ca=[^\s]+/, '')));
    expect(plain.code).not.toBe(0);
    // MariaDB 10.11 answers a plain session under require_secure_transport with an access error; the same URL with ssl_ca works (above).
    expect(plain.stderr).toMatch(/insecure transport are prohibited|3159|Access denied for user 'keystone'/);
    const wrong = await py('db', await osloConf('keystone', 'keystone-other-ca', (t) => t.replaceAll(ca, otherCa)));
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/CERTIFICATE_VERIFY_FAILED|certificate verify failed/);
  }, 120_000);

  it('an oslo.messaging RPC works over AMQPS with the printed settings; plain AMQP and another CA are refused', async () => {
    const conf = await osloConf('nova', 'nova');
    const text = readFileSync(conf, 'utf8');
    expect(text).toMatch(/\[oslo_messaging_rabbit\][\s\S]*ssl = true/);
    expect(text).toContain(`ssl_ca_file = ${ca}`);
    expect(text).toContain(`@127.0.0.1:${P.amqps},`);
    const ok = await py('rpc', conf);
    expect(ok.code, ok.stderr.slice(-2000)).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ reply: { echo: 'tls-ping' }, ssl: true });
    // Plain AMQP: only the TLS listener is open on the node ports.
    const creds = JSON.parse((await o(['endpoints', '--json'])).stdout).rabbitmq as { username: string; password: string };
    await expect(
      withAmqp({ host: '127.0.0.1', port: P.amqps, username: creds.username, password: creds.password }, async () => 'open', 3000),
    ).rejects.toThrow();
    await expect(
      withAmqp({ host: '127.0.0.1', port: P.amqps, username: creds.username, password: creds.password, caFile: otherCa }, async () => 'open', 3000),
    ).rejects.toThrow(/certificate/i);
    for (const i of [0, 1, 2]) expect((await sClient(P.amqps + i)).verified, `AMQPS node ${i}`).toBe(true);
    for (const i of [0, 1, 2]) expect((await sClient(P.management + i)).verified, `management HTTPS node ${i}`).toBe(true);
    for (const i of [0, 1, 2]) expect((await sClient(P.dist + i, { asNode: node('rabbitmq', i) })).verified, `Erlang distribution node ${i}`).toBe(true);
  }, 180_000);

  it('an oslo.cache set/get works with the printed backend; plain text and another CA are refused', async () => {
    const conf = await osloConf('keystone', 'keystone-cache');
    const text = readFileSync(conf, 'utf8');
    expect(text).toContain('backend = dogpile.cache.pymemcache');
    expect(text).toContain('tls_enabled = true');
    expect(text).toContain(`tls_cafile = ${ca}`);
    const ok = await py('cache', conf);
    expect(ok.code, ok.stderr.slice(-2000)).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ backend: 'dogpile.cache.pymemcache', tls_enabled: true, same: true });
    const plain = await py('cache', await osloConf('keystone', 'cache-plain', (t) => t.replace(/tls_enabled = true/, 'tls_enabled = false')));
    expect(plain.code).not.toBe(0);
    const wrong = await py('cache', await osloConf('keystone', 'cache-other-ca', (t) => t.replaceAll(ca, otherCa)));
    expect(wrong.code).not.toBe(0);
    await expect(memcachedSet({ host: '127.0.0.1', port: P.memcached }, 'plain', 'x', 10)).rejects.toThrow();
    await expect(memcachedSet({ host: '127.0.0.1', port: P.memcached, caFile: otherCa }, 'wrong', 'x', 10)).rejects.toThrow(/certificate/i);
  }, 120_000);

  it('encrypts Galera replication, IST and SST: TLS on the group port, the SST ran with encrypt=3, no SQL text on the wire', async () => {
    const marker = `osb-plaintext-marker-${Date.now()}`;
    await withMariadb({ host: admin.host, port: admin.port, user: admin.username, password: admin.password, caFile: ca }, async (c) => {
      await c.query('CREATE DATABASE IF NOT EXISTS tlscheck');
      await c.query('CREATE TABLE IF NOT EXISTS tlscheck.t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(200))');
      for (let i = 0; i < 20; i++) await c.query('INSERT INTO tlscheck.t (v) VALUES (?)', [marker]);
    });
    // Let the writesets reach the other nodes and the capture flush.
    await new Promise((r) => setTimeout(r, 2000));
    capture.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1000));
    const bytes = readFileSync(capture.file);
    expect(bytes.length, 'the capture saw Galera traffic').toBeGreaterThan(50_000);
    const latin = bytes.toString('latin1');
    expect(latin).not.toContain(marker);
    expect(latin).not.toContain('tlscheck');
    expect(latin).not.toContain('ibdata1'); // mariabackup's stream names its files in clear when unencrypted
    for (const i of [1, 2]) {
      const log = readFileSync(join(stateDir, 'mariadb', `mariadb-${i}`, 'log', 'mariadb.err'), 'utf8');
      expect(log, `mariadb-${i} joined by SST over TLS`).toMatch(/encrypt='3'/);
    }
    for (const i of [0, 1, 2]) expect((await sClient(P.galera + i, { asNode: node('mariadb', i) })).verified, `Galera group port of node ${i}`).toBe(true);
  }, 120_000);

  it('osb status shows every node certificate and its expiry', async () => {
    const r = await o(['status', '--json']);
    expect(r.code, r.stdout).toBe(0);
    const s = JSON.parse(r.stdout) as { components: { nodes: { name: string; certificate?: { daysLeft: number; serial: string } }[] }[] };
    const nodes = s.components.flatMap((c) => c.nodes);
    expect(nodes).toHaveLength(9);
    for (const n of nodes) expect(n.certificate?.daysLeft, n.name).toBeGreaterThan(300);
    const text = await o(['status']);
    expect(text.stdout).toMatch(/certificates: rabbitmq-0 until \d{4}-\d\d-\d\d \(\d+d\)/);
    expect(text.stdout).not.toContain('WARNING');
  });

  it('osb certs rotate under client loops: no failed operation, no restart, new serials served', async () => {
    const pidsBefore = JSON.parse((await o(['status', '--json'])).stdout).components.flatMap((c: { nodes: { name: string; pid: number }[] }) =>
      c.nodes.map((n) => `${n.name}:${n.pid}`),
    );
    const before = { amqps: await sClient(P.amqps), mariadb: await sClient(P.mariadb, { starttls: 'mysql' }), memcached: await sClient(P.memcached) };
    const creds = JSON.parse((await o(['endpoints', '--json'])).stdout).rabbitmq as { username: string; password: string };
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
        // Loops, not a load test: leave the 2 cores to the daemons and to the rotation.
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    // Every operation opens a new TLS connection: each handshake meets whichever certificate is loaded.
    const loops = [
      loop('mariadb', () =>
        withMariadb({ host: admin.host, port: admin.port, user: admin.username, password: admin.password, caFile: ca }, (c) => c.query('SELECT 1')),
      ),
      loop('rabbitmq', () =>
        withAmqp({ host: '127.0.0.1', port: P.amqps + 1, username: creds.username, password: creds.password, caFile: ca }, async (c) =>
          (await c.createChannel()).close(),
        ),
      ),
      loop('memcached', async () => {
        await memcachedSet({ host: '127.0.0.1', port: P.memcached + 2, caFile: ca }, 'rot', 'v', 30);
        if ((await memcachedGet({ host: '127.0.0.1', port: P.memcached + 2, caFile: ca }, 'rot')) !== 'v') throw new Error('get lost the value');
      }),
    ];
    await new Promise((r) => setTimeout(r, 1000));
    const t0 = Date.now();
    const rot = await o(['certs', 'rotate']);
    console.log(`osb certs rotate: ${((Date.now() - t0) / 1000).toFixed(1)}s, ${counts.ok} client operations so far`);
    await new Promise((r) => setTimeout(r, 1500));
    stop = true;
    await Promise.all(loops);
    expect(rot.code, rot.stderr).toBe(0);
    expect(rot.stdout.match(/reloaded/g)).toHaveLength(9);
    expect(counts.failed, counts.failed.slice(0, 5).join('\n')).toEqual([]);
    expect(counts.ok).toBeGreaterThan(30);
    const pidsAfter = JSON.parse((await o(['status', '--json'])).stdout).components.flatMap((c: { nodes: { name: string; pid: number }[] }) =>
      c.nodes.map((n) => `${n.name}:${n.pid}`),
    );
    expect(pidsAfter).toEqual(pidsBefore);
    const after = { amqps: await sClient(P.amqps), mariadb: await sClient(P.mariadb, { starttls: 'mysql' }), memcached: await sClient(P.memcached) };
    for (const k of ['amqps', 'mariadb', 'memcached'] as const) {
      expect(after[k].verified, k).toBe(true);
      expect(after[k].serial, k).not.toBe(before[k].serial);
      const onDisk = (
        await run('openssl', [
          'x509',
          '-noout',
          '-serial',
          '-in',
          join(stateDir, k === 'amqps' ? 'rabbitmq' : k, `${k === 'amqps' ? 'rabbitmq' : k}-0`, 'tls', 'cert.pem'),
        ])
      ).stdout;
      expect(onDisk).toContain(after[k].serial!);
    }
    // Galera replication reloaded too: the group port serves the new certificate.
    const g = await sClient(P.galera, { asNode: node('mariadb', 1) });
    const onDisk = (await run('openssl', ['x509', '-noout', '-serial', '-in', join(stateDir, 'mariadb', 'mariadb-0', 'tls', 'cert.pem')])).stdout;
    expect(onDisk).toContain(g.serial!);
    expect(existsSync(join(stateDir, 'tls', 'ca.pem'))).toBe(true);
  }, 300_000);
});
