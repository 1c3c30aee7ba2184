/**
 * Acceptance 1 of issue 2, as a new user would do it: deploy all three, status, test, a no-op
 * deploy, endpoints, the security defaults, and a destroy that leaves nothing behind.
 * One deployment for the whole file, on port block 0.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import amqp from 'amqplib';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memcachedVersion } from '../../src/components/memcached/client.js';
import { allArgs, blockPorts, deployActions, endpoints, listeningInBlock, ok, processesOf, statusJson, type EndpointsJson } from '../helpers/local.js';
import { cleanup, osb, portBlock, tempStateDir, type OsbRun } from '../helpers/osb.js';

const BLOCK = 0;
const ports = blockPorts(BLOCK);
const parent = tempStateDir('lifecycle');
// A state dir that does not exist yet: osb creates it.
const stateDir = join(parent, 'state');
let firstDeploy: OsbRun;
const outputs: OsbRun[] = [];
let eps: EndpointsJson;

beforeAll(async () => {
  firstDeploy = await osb(['deploy', ...portBlock(BLOCK)], { stateDir });
  outputs.push(firstDeploy);
  ok(firstDeploy);
});

afterAll(async () => {
  await cleanup(stateDir);
  rmSync(parent, { recursive: true, force: true });
});

describe('osb deploy (all three)', () => {
  it('starts every component and prints where each listens', () => {
    expect(deployActions(firstDeploy.stdout)).toEqual({ 'rabbitmq-0': 'started', 'mariadb-0': 'started', 'memcached-0': 'started' });
    expect(firstDeploy.stdout).toContain(`127.0.0.1:${ports.amqp}`);
    expect(firstDeploy.stdout).toContain(`127.0.0.1:${ports.mariadb}`);
    expect(firstDeploy.stdout).toContain(`127.0.0.1:${ports.memcached}`);
    expect(firstDeploy.stdout).toMatch(/deployed in [\d.]+s/);
  });

  it('without systemd as PID 1 (this sandbox) it says once, plainly, that nothing restarts the daemons', async () => {
    expect(firstDeploy.stderr.match(/nothing restarts them if they die/g)).toHaveLength(1);
    const { status } = await statusJson(stateDir);
    expect((status as unknown as { supervision: { kind: string } }).supervision.kind).toBe('none');
  });

  it('creates the state dir 0700 and secrets.json 0600', () => {
    expect(statSync(stateDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(stateDir, 'secrets.json')).mode & 0o777).toBe(0o600);
  });

  it('listens only on the configured ports of its block, on loopback', () => {
    expect(listeningInBlock(BLOCK)).toEqual(
      [
        ports.amqp,
        ports.management,
        ports.dist,
        ports.epmd,
        ports.mariadb,
        ports.memcached,
        ports.rabbitmqMetrics,
        ports.mariadbExporter,
        ports.memcachedExporter,
      ].sort((a, b) => a - b),
    );
  });
});

describe('osb status', () => {
  it('exits 0 and shows each running with its version', async () => {
    const r = ok(await osb(['status'], { stateDir }));
    outputs.push(r);
    expect(r.stdout).toContain('all healthy');
    for (const name of ['rabbitmq-0', 'mariadb-0', 'memcached-0']) expect(r.stdout).toMatch(new RegExp(`${name}\\s+running\\s+\\d+`));
  });

  it('--json: every node running, healthy, with pid, version, uptime and data size', async () => {
    const { run, status } = await statusJson(stateDir);
    outputs.push(run);
    expect(run.code).toBe(0);
    expect(status.healthy).toBe(true);
    expect(status.components.map((c) => c.component).sort()).toEqual(['mariadb', 'memcached', 'rabbitmq']);
    const want: Record<string, RegExp> = { rabbitmq: /^3\.\d+\.\d+/, mariadb: /^10\.\d+\.\d+-MariaDB/, memcached: /^1\.\d+\.\d+/ };
    for (const c of status.components) {
      const n = c.nodes[0]!;
      expect(n, c.component).toMatchObject({ running: true, healthy: true });
      expect(n.pid).toBeGreaterThan(1);
      expect(n.version).toMatch(want[c.component]!);
      expect(n.uptimeSeconds).toBeGreaterThanOrEqual(0);
      expect(typeof n.dataBytes).toBe('number');
    }
    expect(status.components.find((c) => c.component === 'mariadb')!.nodes[0]!.dataBytes).toBeGreaterThan(1_000_000);
  });
});

describe('osb test', () => {
  it('passes every step over real connections', async () => {
    const r = ok(await osb(['test'], { stateDir }));
    outputs.push(r);
    for (const step of ['publish with publisher confirm', 'consume and ack', 'create table', 'read it back', 'get it back', 'stats'])
      expect(r.stdout).toContain(step);
    expect(r.stdout).not.toMatch(/✘|FAIL/);
    expect(r.stdout).toMatch(/passed: \d+ steps on 3 node/);
  });

  it('can test one component', async () => {
    const r = ok(await osb(['test', 'memcached'], { stateDir }));
    expect(r.stdout).toContain('memcached-0');
    expect(r.stdout).not.toContain('rabbitmq-0');
  });
});

describe('a second osb deploy', () => {
  it('changes nothing and says so', async () => {
    const before = (await statusJson(stateDir)).status;
    const t0 = Date.now();
    const r = ok(await osb(['deploy'], { stateDir }));
    const seconds = (Date.now() - t0) / 1000;
    outputs.push(r);
    expect(r.stdout).toContain('no change');
    expect(deployActions(r.stdout)).toEqual({ 'rabbitmq-0': 'unchanged', 'mariadb-0': 'unchanged', 'memcached-0': 'unchanged' });
    const after = (await statusJson(stateDir)).status;
    expect(after.components.map((c) => c.nodes[0]!.pid)).toEqual(before.components.map((c) => c.nodes[0]!.pid));
    // The acceptance asks for "under a second"; that is the bench's job. Here only a sanity bound
    // that survives a loaded 2-core CI box, on osb's own figure and on the wall clock.
    const reported = Number(/no change: .*\(([\d.]+)s\)/.exec(r.stdout)?.[1]);
    expect(reported).toBeLessThan(3);
    expect(seconds).toBeLessThan(15);
  });

  it('remembers the values of the first deploy (no flags needed)', async () => {
    const r = ok(await osb(['deploy', '--json'], { stateDir }));
    expect(JSON.parse(r.stdout)).toMatchObject({ changed: false });
  });
});

describe('osb endpoints --json', () => {
  beforeAll(async () => {
    eps = await endpoints(stateDir);
  });

  it('has the documented shape', () => {
    expect(eps.rabbitmq).toMatchObject({
      hosts: [`127.0.0.1:${ports.amqp}`],
      username: expect.any(String),
      password: expect.stringMatching(/^[A-Za-z0-9]{40}$/),
      managementUrl: `http://127.0.0.1:${ports.management}/`,
    });
    expect(eps.mariadb).toMatchObject({
      host: '127.0.0.1',
      port: ports.mariadb,
      username: expect.any(String),
      password: expect.stringMatching(/^[A-Za-z0-9]{40}$/),
      socket: join(stateDir, 'mariadb', 'mariadb-0', 'run', 'mysqld.sock'),
    });
    expect(eps.memcached).toMatchObject({ servers: [`127.0.0.1:${ports.memcached}`] });
    expect(eps.rabbitmq.password).not.toBe(eps.mariadb.password);
  });

  it('the credentials work', async () => {
    const conn = await amqp.connect({ hostname: '127.0.0.1', port: ports.amqp, username: eps.rabbitmq.username, password: eps.rabbitmq.password });
    await conn.close();
    const db = await mysql.createConnection({ host: eps.mariadb.host, port: eps.mariadb.port, user: eps.mariadb.username, password: eps.mariadb.password });
    const [rows] = await db.query('SELECT 1 AS one');
    expect(rows).toEqual([{ one: 1 }]);
    await db.end();
    const [host, port] = eps.memcached.servers[0]!.split(':');
    expect(await memcachedVersion({ host: host!, port: Number(port) })).toMatch(/^1\./);
  });

  it('the readable form hides the passwords', async () => {
    const r = ok(await osb(['endpoints'], { stateDir }));
    expect(r.stdout).toContain('<password>');
    expect(r.stdout).not.toContain(eps.rabbitmq.password);
    expect(r.stdout).not.toContain(eps.mariadb.password);
  });
});

describe('secrets stay secret', () => {
  const secretValues = () => {
    const s = JSON.parse(readFileSync(join(stateDir, 'secrets.json'), 'utf8')) as Record<string, unknown>;
    const flat = (v: unknown): string[] => (typeof v === 'string' ? [v] : v && typeof v === 'object' ? Object.values(v).flatMap(flat) : []);
    const values = flat(s);
    expect(values.length).toBeGreaterThanOrEqual(3);
    return values;
  };

  it('no password or cookie in any process command line', () => {
    const args = allArgs();
    expect(args).toContain(stateDir); // the daemons are there
    const ps = execFileSync('ps', ['-eo', 'args', '--width', '100000'], { encoding: 'utf8' });
    expect(ps).toContain(stateDir);
    for (const v of secretValues()) {
      expect(args.includes(v), 'a secret is visible in /proc/*/cmdline').toBe(false);
      expect(ps.includes(v), 'a secret is visible in ps').toBe(false);
    }
  });

  it('no password in the output of deploy, status and test', () => {
    expect(outputs.length).toBeGreaterThanOrEqual(5);
    const text = outputs.map((o) => o.stdout + o.stderr).join('\n');
    for (const v of secretValues()) expect(text.includes(v), 'a secret is in osb output').toBe(false);
  });

  it('secrets.json is mode 0600 and the same after later deploys', () => {
    expect(statSync(join(stateDir, 'secrets.json')).mode & 0o777).toBe(0o600);
    expect(eps.rabbitmq.password).toBe(JSON.parse(readFileSync(join(stateDir, 'secrets.json'), 'utf8')).rabbitmqAdminPassword);
  });
});

describe('RabbitMQ has no guest account', () => {
  it('the management API knows no user "guest"', async () => {
    const auth = 'Basic ' + Buffer.from(`${eps.rabbitmq.username}:${eps.rabbitmq.password}`).toString('base64');
    const res = await fetch(`${eps.rabbitmq.managementUrl}api/users/guest`, { headers: { authorization: auth } });
    expect(res.status).toBe(404);
    const users = (await (await fetch(`${eps.rabbitmq.managementUrl}api/users`, { headers: { authorization: auth } })).json()) as { name: string }[];
    expect(users.map((u) => u.name)).not.toContain('guest');
    expect(users.map((u) => u.name)).toContain(eps.rabbitmq.username);
  });

  it('an AMQP login as guest/guest (from loopback) is refused', async () => {
    await expect(amqp.connect({ hostname: '127.0.0.1', port: ports.amqp, username: 'guest', password: 'guest' }, { timeout: 5000 })).rejects.toThrow(
      /ACCESS_REFUSED|403|auth/i,
    );
  });

  it('a wrong admin password is refused', async () => {
    await expect(
      amqp.connect({ hostname: '127.0.0.1', port: ports.amqp, username: eps.rabbitmq.username, password: 'wrong-password' }, { timeout: 5000 }),
    ).rejects.toThrow(/ACCESS_REFUSED|403/i);
  });
});

describe('MariaDB is hardened', () => {
  it('no anonymous user, no test database, root only by socket', async () => {
    const db = await mysql.createConnection({ host: '127.0.0.1', port: ports.mariadb, user: eps.mariadb.username, password: eps.mariadb.password });
    try {
      const [anon] = await db.query("SELECT User, Host FROM mysql.user WHERE User = ''");
      expect(anon).toEqual([]);
      const [dbs] = await db.query("SHOW DATABASES LIKE 'test%'");
      expect(dbs).toEqual([]);
      // Every account that can log in has a password or socket authentication (mariadb.sys is locked).
      const [noPw] = await db.query(
        "SELECT User, Host FROM mysql.global_priv WHERE IFNULL(JSON_VALUE(Priv, '$.account_locked'), '0') NOT IN ('1', 'true') AND COALESCE(JSON_VALUE(Priv, '$.authentication_string'), '') = '' AND COALESCE(JSON_VALUE(Priv, '$.plugin'), 'mysql_native_password') IN ('mysql_native_password', '')",
      );
      expect(noPw).toEqual([]);
    } finally {
      await db.end();
    }
  });

  it('an anonymous or root login over TCP is refused', async () => {
    for (const user of ['', 'root']) {
      await expect(mysql.createConnection({ host: '127.0.0.1', port: ports.mariadb, user, password: '' })).rejects.toThrow(/Access denied/);
    }
  });
});

describe('osb destroy', () => {
  it('stops everything and leaves no process and no listening port behind', async () => {
    expect(processesOf(stateDir, ports.epmd).length).toBeGreaterThanOrEqual(4);
    const r = ok(await osb(['destroy'], { stateDir }));
    expect(r.stdout).toMatch(/stopped: .*mariadb-0/);
    expect(processesOf(stateDir, ports.epmd)).toEqual([]);
    expect(listeningInBlock(BLOCK)).toEqual([]);
    expect(existsSync(join(stateDir, 'secrets.json'))).toBe(false);
    expect(existsSync(join(stateDir, 'mariadb'))).toBe(false);
  });

  it('afterwards status says nothing is deployed and a second destroy is harmless', async () => {
    const s = await osb(['status'], { stateDir });
    expect(s.code).not.toBe(0);
    expect(s.stderr).toMatch(/^osb: error: nothing is deployed in /);
    ok(await osb(['destroy'], { stateDir }));
  });
});
