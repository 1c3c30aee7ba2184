/**
 * Issue 3 acceptance against real OpenStack code from Debian 12: Keystone's own keystone-manage,
 * oslo.messaging and oslo.cache, configured only from what `osb endpoints --service` prints.
 * One deployment on port block 10; python helpers in test/openstack/ run under /usr/bin/python3
 * (the python3 first on PATH does not see Debian's modules).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import amqp from 'amqplib';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, osb, portBlock, tempStateDir, type OsbRun } from '../helpers/osb.js';

const PY = '/usr/bin/python3';
const HELPERS = resolve(__dirname, '../openstack');
const BLOCK = 10;
const BASE = 20000 + BLOCK * 100;
const PORTS = { amqp: BASE, management: BASE + 10, mariadb: BASE + 40, memcached: BASE + 80 };
const SERVICES = ['keystone', 'glance', 'placement', 'nova', 'neutron', 'cinder'];
const DATABASES: Record<string, string[]> = {
  keystone: ['keystone'],
  glance: ['glance'],
  placement: ['placement'],
  nova: ['nova', 'nova_api', 'nova_cell0'],
  neutron: ['neutron'],
  cinder: ['cinder'],
};
const MESSAGING = ['nova', 'neutron', 'cinder'];
const SAFE_PASSWORD = 'My.Pass_word-123~abc';

let stateDir: string;
let first: OsbRun;
let admin: { mariadb: { host: string; port: number; username: string; password: string }; rabbitmq: { username: string; password: string } };

interface ServiceJson {
  username: string;
  password: string;
  database_connection: string;
  databases: Record<string, string>;
  transport_url?: string;
  memcache_servers?: string;
}

function run(cmd: string, args: string[], timeoutMs = 120_000): Promise<OsbRun> {
  return new Promise((res) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      res({ code, stdout: stdout.toString(), stderr: stderr.toString() });
    });
  });
}

const o = (args: string[]) => osb(args, { stateDir });

async function serviceJson(name: string): Promise<ServiceJson> {
  const r = await o(['endpoints', '--service', name, '--format', 'json']);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as Record<string, ServiceJson>)[name]!;
}

async function asAdmin<T>(fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const c = await mysql.createConnection({
    host: admin.mariadb.host,
    port: admin.mariadb.port,
    user: admin.mariadb.username,
    password: admin.mariadb.password,
  });
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function rabbitApi(path: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`http://127.0.0.1:${PORTS.management}/api${path}`, {
    headers: { authorization: 'Basic ' + Buffer.from(`${admin.rabbitmq.username}:${admin.rabbitmq.password}`).toString('base64') },
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

function rabbitLogs(): string {
  const dir = join(stateDir, 'rabbitmq');
  return (readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.log'))
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n');
}

/** Snapshot of what a refused command must leave alone. */
function stateFiles(): string {
  return ['state.json', 'secrets.json'].map((f) => readFileSync(join(stateDir, f), 'utf8')).join('\n');
}

/** keystone.conf made only of osb's oslo output plus the two key repositories. */
async function keystoneConf(dir: string, keysDir = dir): Promise<{ conf: string; text: string }> {
  const r = await o(['endpoints', '--service', 'keystone', '--format', 'oslo']);
  expect(r.code, r.stderr).toBe(0);
  mkdirSync(join(keysDir, 'fernet-keys'), { recursive: true });
  mkdirSync(join(keysDir, 'credential-keys'), { recursive: true });
  const text = `${r.stdout}\n[fernet_tokens]\nkey_repository = ${join(keysDir, 'fernet-keys')}\n\n[credential]\nkey_repository = ${join(keysDir, 'credential-keys')}\n`;
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, 'keystone.conf');
  writeFileSync(conf, text);
  return { conf, text: r.stdout };
}

async function keystoneManage(conf: string, ...args: string[]): Promise<void> {
  const r = await run('keystone-manage', ['--config-file', conf, ...args], 180_000);
  expect(r.code, `keystone-manage ${args[0]} failed:\n${r.stderr.slice(-3000)}`).toBe(0);
}

beforeAll(async () => {
  stateDir = tempStateDir('openstack');
  first = await osb(['deploy', ...portBlock(BLOCK)], { stateDir });
  if (first.code !== 0) throw new Error(`osb deploy failed (${first.code}):\n${first.stdout}\n${first.stderr}`);
  const eps = JSON.parse((await o(['endpoints', '--json'])).stdout);
  admin = { mariadb: eps.mariadb, rabbitmq: eps.rabbitmq };
});

afterAll(async () => {
  if (stateDir) await cleanup(stateDir);
});

describe('osb provisions the OpenStack services (default config)', () => {
  it('gives all six services their utf8mb4 databases, a MariaDB user and, where needed, a vhost', async () => {
    expect(first.stdout).toMatch(/OpenStack services: .*keystone provisioned/);
    for (const s of SERVICES) expect(first.stdout).toContain(`${s} provisioned`);

    const wanted = Object.values(DATABASES).flat();
    const dbs = await asAdmin(async (c) => {
      const [rows] = await c.query('SELECT SCHEMA_NAME AS name, DEFAULT_CHARACTER_SET_NAME AS cs FROM information_schema.SCHEMATA');
      return rows as { name: string; cs: string }[];
    });
    for (const db of wanted)
      expect(
        dbs.find((d) => d.name === db),
        db,
      ).toMatchObject({ cs: 'utf8mb4' });

    const users = await asAdmin(async (c) => {
      const [rows] = await c.query("SELECT User AS user, Db AS db FROM mysql.db WHERE Host = '%'");
      return rows as { user: string; db: string }[];
    });
    for (const s of SERVICES) {
      // privileges on its own databases, and on nothing else
      expect(
        users
          .filter((u) => u.user === s)
          .map((u) => u.db)
          .sort(),
        s,
      ).toEqual([...DATABASES[s]!].sort());
    }

    const vhosts = ((await rabbitApi('/vhosts')).body as { name: string }[]).map((v) => v.name);
    for (const s of SERVICES) expect(vhosts.includes(s), `vhost ${s}`).toBe(MESSAGING.includes(s));
    for (const s of MESSAGING) {
      const perms = (await rabbitApi(`/users/${s}/permissions`)).body as { vhost: string }[];
      expect(
        perms.map((p) => p.vhost),
        `permissions of ${s}`,
      ).toEqual([s]);
    }
    const endpoints = JSON.parse((await o(['endpoints', '--json'])).stdout);
    expect(Object.keys(endpoints.services).sort()).toEqual([...SERVICES].sort());
    expect(endpoints.services.nova.transport_url).toMatch(new RegExp(`^rabbit://nova:[A-Za-z0-9]+@127\\.0\\.0\\.1:${PORTS.amqp}/nova$`));
    expect(endpoints.services.keystone.transport_url).toBeUndefined();
    expect(endpoints.services.glance.memcache_servers).toBe(`127.0.0.1:${PORTS.memcached}`);
  });

  it('a second deploy changes nothing and says so', async () => {
    const again = await o(['deploy']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('no change');
    expect(again.stdout).not.toMatch(/ provisioned/);
    const json = await o(['deploy', '--json']);
    expect(json.code, json.stderr).toBe(0);
    const r = JSON.parse(json.stdout);
    expect(r.changed).toBe(false);
    expect(r.provisioning.every((p: { changed: boolean }) => !p.changed)).toBe(true);
  });

  it('generates long passwords of letters and digits only, kept 0600 in the state dir', async () => {
    const secrets = JSON.parse(readFileSync(join(stateDir, 'secrets.json'), 'utf8'));
    expect(statSync(join(stateDir, 'secrets.json')).mode & 0o777).toBe(0o600);
    expect(Object.keys(secrets.services).sort()).toEqual([...SERVICES].sort());
    const printed = JSON.parse((await o(['endpoints', '--json'])).stdout).services as Record<string, ServiceJson>;
    const passwords = new Set<string>();
    for (const s of SERVICES) {
      const pw = secrets.services[s] as string;
      expect(pw).toMatch(/^[A-Za-z0-9]{32,}$/);
      passwords.add(pw);
      expect(printed[s]!.password).toBe(pw);
    }
    expect(passwords.size).toBe(SERVICES.length);
  });
});

describe('real OpenStack code, configured only from osb output', () => {
  it('keystone-manage db_sync, fernet_setup, credential_setup and bootstrap pass', async () => {
    const dir = join(stateDir, 'keystone-generated');
    const { conf, text } = await keystoneConf(dir);
    expect(text).toContain('[database]');
    expect(text).not.toContain('%');
    // fernet_setup and credential_setup only write key files: run them alongside db_sync.
    await Promise.all([
      keystoneManage(conf, 'db_sync'),
      keystoneManage(conf, 'fernet_setup', '--keystone-user', 'root', '--keystone-group', 'root'),
      keystoneManage(conf, 'credential_setup', '--keystone-user', 'root', '--keystone-group', 'root'),
    ]);
    await keystoneManage(conf, 'bootstrap', '--bootstrap-password', 'osb-test-admin-pw', '--bootstrap-region-id', 'RegionOne');
    // What bootstrap wrote, read back with keystone's own credentials.
    const ks = await serviceJson('keystone');
    const c = await mysql.createConnection({ host: '127.0.0.1', port: PORTS.mariadb, user: ks.username, password: ks.password, database: 'keystone' });
    try {
      const [rows] = await c.query("SELECT name FROM local_user WHERE name = 'admin'");
      expect(rows).toHaveLength(1);
      const [regions] = await c.query("SELECT id FROM region WHERE id = 'RegionOne'");
      expect(regions).toHaveLength(1);
    } finally {
      await c.end();
    }
  });

  it("oslo.messaging: an RPC call and a cast over nova's transport_url", async () => {
    const nova = await serviceJson('nova');
    const r = await run(PY, [join(HELPERS, 'rpc_roundtrip.py'), nova.transport_url!], 60_000);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(out.reply).toEqual({ echo: 'ping-42', from: 'server' });
    expect(out.cast_seen).toEqual(['cast-1']);
  });

  it('oslo.cache: set/get/delete through memcache_servers (memcache_pool and pymemcache backends)', async () => {
    const ks = await serviceJson('keystone');
    const backends = ['oslo_cache.memcache_pool', 'dogpile.cache.pymemcache'];
    const runs = await Promise.all(backends.map((b) => run(PY, [join(HELPERS, 'cache_roundtrip.py'), ks.memcache_servers!, b], 60_000)));
    for (const [i, backend] of backends.entries()) {
      const r = runs[i]!;
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
      expect(out.got.answer, backend).toBe(42);
      expect(out.deleted, backend).toBe(true);
    }
  });
});

describe("one service cannot reach another's data", () => {
  it("MariaDB: nova cannot read keystone's database nor create a database", async () => {
    const nova = await serviceJson('nova');
    const conn = { host: '127.0.0.1', port: PORTS.mariadb, user: nova.username, password: nova.password };
    // control: nova can use its own databases
    const c = await mysql.createConnection({ ...conn, database: 'nova' });
    try {
      await c.query('CREATE TABLE osb_probe (id INT PRIMARY KEY)');
      await c.query('DROP TABLE osb_probe');
      await expect(c.query('SELECT * FROM keystone.user LIMIT 1')).rejects.toMatchObject({
        code: expect.stringMatching(/ER_(TABLEACCESS|DBACCESS)_DENIED_ERROR/),
      });
      await expect(c.query('USE keystone')).rejects.toMatchObject({ code: 'ER_DBACCESS_DENIED_ERROR' });
      await expect(c.query('CREATE DATABASE osb_intruder')).rejects.toMatchObject({ code: 'ER_DBACCESS_DENIED_ERROR' });
      const [dbs] = (await c.query('SHOW DATABASES')) as unknown as [{ Database: string }[]];
      expect(
        dbs
          .map((d) => d.Database)
          .filter((d) => d !== 'information_schema')
          .sort(),
      ).toEqual(['nova', 'nova_api', 'nova_cell0']);
    } finally {
      await c.end();
    }
    await expect(mysql.createConnection({ ...conn, database: 'keystone' })).rejects.toMatchObject({ code: 'ER_DBACCESS_DENIED_ERROR' });
    expect(await asAdmin(async (a) => (await a.query("SHOW DATABASES LIKE 'osb_intruder'"))[0])).toHaveLength(0);
  });

  it("RabbitMQ: neutron's credentials open its own vhost but are refused on nova's", async () => {
    const neutron = await serviceJson('neutron');
    const conn = { protocol: 'amqp', hostname: '127.0.0.1', port: PORTS.amqp, username: neutron.username, password: neutron.password };
    const own = await amqp.connect({ ...conn, vhost: 'neutron' });
    await own.close();
    const err = await amqp.connect({ ...conn, vhost: 'nova' }).then(
      async (c) => {
        await c.close();
        return undefined;
      },
      (e: Error) => e,
    );
    expect(err, 'neutron must not open vhost nova').toBeInstanceOf(Error);
    // Authentication passed; the broker closed the connection at connection.open (the vhost step).
    // amqplib drops the reply text there, so RabbitMQ's own reason is read from the node's log.
    expect(err!.message).toMatch(/Expected ConnectionOpenOk; got <ConnectionClose/);
    await expect.poll(() => rabbitLogs(), { timeout: 5000 }).toMatch(/access to vhost 'nova' refused for user 'neutron'/);
    // control: a wrong password fails earlier, differently (authentication)
    const bad = await amqp.connect({ ...conn, password: 'wrong-password', vhost: 'neutron' }).then(
      async (c) => {
        await c.close();
        return undefined;
      },
      (e: Error) => e,
    );
    expect(bad?.message).toMatch(/ACCESS_REFUSED|403/);
  });
});

describe('bad input is refused up front, nothing changed', () => {
  const badPasswordValues = () => {
    const file = join(stateDir, 'bad-password.yaml');
    writeFileSync(file, `openstack:\n  services:\n    - name: keystone\n      password: "p@ss:w/rd%41#frag-long-enough"\n    - glance\n`);
    return file;
  };

  it('a service password with @ : / % # is refused with the reason', async () => {
    const before = stateFiles();
    const r = await o(['deploy', '-f', badPasswordValues()]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/openstack\.services\.0\.password/);
    expect(r.stderr).toMatch(/letters, digits/);
    expect(r.stderr).toContain('%');
    expect(stateFiles()).toBe(before);
    // `osb provision` with the same values: refused as well
    const p = await o(['provision', '-f', badPasswordValues()]);
    expect(p.code).not.toBe(0);
    expect(p.stderr).toMatch(/openstack\.services\.0\.password/);
    expect(stateFiles()).toBe(before);
  });

  it.each([
    ['an unknown service without databases', ['--set', 'openstack.services={keystone,keystne-custom}'], /"keystne-custom" is not in the catalogue/],
    ['a misspelt service', ['--set', 'openstack.services={keystone,neutorn}'], /did you mean "neutron"/],
    ['a duplicate service', ['--set', 'openstack.services={keystone,nova,keystone}'], /lists "keystone" twice/],
  ])('%s', async (_what, args, message) => {
    const before = stateFiles();
    const r = await o(['deploy', ...args]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
    expect(stateFiles()).toBe(before);
  });

  it('an invalid database name, and a database claimed by two services', async () => {
    const before = stateFiles();
    const bad = join(stateDir, 'bad-db.yaml');
    writeFileSync(bad, 'openstack:\n  services:\n    - keystone\n    - {name: billing, databases: ["Billing-DB; DROP"]}\n');
    const r = await o(['deploy', '-f', bad]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/openstack\.services\.1\.databases\.0.*database name/);
    const shared = join(stateDir, 'shared-db.yaml');
    writeFileSync(shared, 'openstack:\n  services:\n    - keystone\n    - {name: idm, databases: [keystone]}\n');
    const s = await o(['deploy', '-f', shared]);
    expect(s.code).not.toBe(0);
    expect(s.stderr).toMatch(/database "keystone" is claimed by both keystone and idm/);
    expect(stateFiles()).toBe(before);
  });
});

describe('osb deprovision', () => {
  it("refuses without --yes, then drops nova's databases, user and vhost", async () => {
    const before = stateFiles();
    const refused = await o(['deprovision', 'nova']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/--yes/);
    expect(stateFiles()).toBe(before);
    expect((await rabbitApi('/vhosts/nova')).status).toBe(200);

    const r = await o(['deprovision', 'nova', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    const left = await asAdmin(async (c) => {
      const [dbs] = (await c.query("SELECT SCHEMA_NAME AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'nova%'")) as unknown as [{ n: string }[]];
      const [users] = (await c.query("SELECT User FROM mysql.user WHERE User = 'nova'")) as unknown as [unknown[]];
      const [others] = (await c.query("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ('keystone','neutron')")) as unknown as [
        unknown[],
      ];
      return { dbs: dbs.map((d) => d.n), users: users.length, others: others.length };
    });
    expect(left).toEqual({ dbs: [], users: 0, others: 2 });
    expect((await rabbitApi('/vhosts/nova')).status).toBe(404);
    expect((await rabbitApi('/users/nova')).status).toBe(404);
    expect((await rabbitApi('/vhosts/neutron')).status).toBe(200);
    expect(JSON.parse(readFileSync(join(stateDir, 'secrets.json'), 'utf8')).services.nova).toBeUndefined();
  });
});

describe('a user-given safe password works end to end', () => {
  it(`keystone with password ${SAFE_PASSWORD}: provisioned, printed verbatim, db_sync and bootstrap pass`, async () => {
    // Start keystone from scratch so that db_sync runs every migration with the new credentials.
    expect((await o(['deprovision', 'keystone', '--yes'])).code).toBe(0);
    const values = join(stateDir, 'custom-password.yaml');
    writeFileSync(
      values,
      ['openstack:', '  services:', '    - name: keystone', `      password: "${SAFE_PASSWORD}"`, ...SERVICES.slice(1).map((s) => `    - ${s}`), ''].join('\n'),
    );
    const d = await o(['deploy', '-f', values]);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/keystone provisioned/);
    expect(d.stdout).toMatch(/nova provisioned/); // deprovisioned above, still configured: back again

    const ks = await serviceJson('keystone');
    expect(ks.password).toBe(SAFE_PASSWORD);
    expect(ks.database_connection).toBe(`mysql+pymysql://keystone:${SAFE_PASSWORD}@127.0.0.1:${PORTS.mariadb}/keystone?charset=utf8`);
    // the configured password is not copied into secrets.json
    expect(JSON.parse(readFileSync(join(stateDir, 'secrets.json'), 'utf8')).services.keystone).toBeUndefined();

    const dir = join(stateDir, 'keystone-custom');
    // the key repositories made by fernet_setup/credential_setup above (bootstrap needs fernet keys)
    const { conf, text } = await keystoneConf(dir, join(stateDir, 'keystone-generated'));
    expect(text).toContain(`keystone:${SAFE_PASSWORD}@`);
    expect(text).not.toContain('%');
    await keystoneManage(conf, 'db_sync');
    await keystoneManage(conf, 'bootstrap', '--bootstrap-password', 'osb-test-admin-pw');
    const c = await mysql.createConnection({ host: '127.0.0.1', port: PORTS.mariadb, user: 'keystone', password: SAFE_PASSWORD, database: 'keystone' });
    try {
      const [rows] = await c.query("SELECT name FROM local_user WHERE name = 'admin'");
      expect(rows).toHaveLength(1);
    } finally {
      await c.end();
    }
    // remembered: the next deploy changes nothing
    expect((await o(['deploy'])).stdout).toContain('no change');
  });
});
