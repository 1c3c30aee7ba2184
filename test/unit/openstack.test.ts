import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { generatePassword, type Secrets } from '../../src/config/secrets.js';
import { passwordMatchesHash } from '../../src/components/rabbitmq/provision.js';
import { buildEndpoints } from '../../src/components/index.js';
import type { Placement } from '../../src/model/component.js';
import { CATALOGUE } from '../../src/model/catalogue.js';
import { openstackSchema } from '../../src/config/schema.js';

/** The schema's default service list (the one place it is written). */
const DEFAULT_SERVICES = openstackSchema.parse({}).services as string[];
import { renderEnv, renderOslo, serviceSettings, settingsJson, type ServiceSettings } from '../../src/openstack/oslo.js';
import { accountName, planServices, serviceSpecs } from '../../src/model/services.js';
import { provisionServices } from '../../src/openstack/provision.js';
import { OsbError } from '../../src/util/errors.js';

const PW = 'Ab3dEfGh1jKlMn0pQrStUvWxYz0123456789AbCd';

const secrets = (): Secrets => ({
  mariadbAdminPassword: 'x'.repeat(40),
  rabbitmqAdminPassword: 'y'.repeat(40),
  erlangCookie: 'Z'.repeat(48),
  mariadbExporterPassword: 'w'.repeat(40),
  services: {},
});

/** Node i of a component at its configured port + i on 127.0.0.1, like the local target. */
const addressing = (_config: Config): Placement => ({
  kind: 'local',
  node: (_c, i, base) => ({ host: '127.0.0.1', port: base + i }),
  service: (_name, port) => ({ host: '127.0.0.1', port }),
});

function settingsFor(tree: Record<string, unknown>, service: string, password = PW): ServiceSettings {
  const config = validateConfig(tree);
  const spec = serviceSpecs(config).find((s) => s.name === service)!;
  return serviceSettings(config, buildEndpoints(config, secrets(), addressing(config)), spec, password);
}

function osbError(fn: () => unknown): OsbError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OsbError);
    return err as OsbError;
  }
  throw new Error('expected an OsbError');
}

/** Message and hint, as the CLI prints them. */
const text = (e: OsbError) => e.line;

describe('service plan', () => {
  it('defaults to the six services, from the catalogue', () => {
    const specs = serviceSpecs(validateConfig({}));
    expect(specs.map((s) => s.name)).toEqual(DEFAULT_SERVICES);
    expect(DEFAULT_SERVICES).toEqual(['keystone', 'glance', 'placement', 'nova', 'neutron', 'cinder']);
    const by = Object.fromEntries(specs.map((s) => [s.name, s]));
    expect(Object.keys(by.nova!.databases)).toEqual(['nova', 'nova_api', 'nova_cell0']);
    for (const s of ['keystone', 'glance', 'placement', 'neutron', 'cinder']) expect(Object.keys(by[s]!.databases)).toEqual([s]);
    expect(specs.filter((s) => s.messaging).map((s) => s.name)).toEqual(['nova', 'neutron', 'cinder']);
    expect(specs.every((s) => s.configuredPassword === undefined)).toBe(true);
  });

  it('every catalogue entry has at least one valid database name', () => {
    for (const [name, e] of Object.entries(CATALOGUE)) {
      expect(Object.keys(e.databases).length, name).toBeGreaterThan(0);
      for (const db of Object.keys(e.databases)) expect(db).toMatch(/^[a-z][a-z0-9_]{0,63}$/);
    }
  });

  it('takes custom services with their own databases, messaging and password', () => {
    const config = validateConfig({
      openstack: {
        services: ['keystone', { name: 'my-svc', databases: ['my_svc', 'my_svc_extra'], messaging: false }, { name: 'heat', password: 'Heat.Pass_word-123~' }],
      },
    });
    const specs = planServices(config);
    expect(specs.map((s) => s.name)).toEqual(['keystone', 'my-svc', 'heat']);
    const custom = specs[1]!;
    expect(custom.databases).toEqual({ my_svc: 'database', my_svc_extra: null });
    expect(custom.messaging).toBe(false);
    expect(custom.cache).toBe(true);
    expect(accountName('my-svc')).toBe('my_svc');
    // a catalogue service given as an object keeps its catalogue databases and gets the password
    expect(specs[2]).toMatchObject({ databases: { heat: 'database' }, messaging: true, configuredPassword: 'Heat.Pass_word-123~' });
    // a custom service that does not say otherwise gets a vhost
    expect(serviceSpecs(validateConfig({ openstack: { services: [{ name: 'zun', databases: ['zun'] }] } }))[0]!.messaging).toBe(true);
  });

  it('refuses duplicates', () => {
    const e = osbError(() => planServices(validateConfig({ openstack: { services: ['nova', 'keystone', 'nova'] } })));
    expect(e.message).toContain('"nova" twice');
    const e2 = osbError(() => planServices(validateConfig({ openstack: { services: ['nova', { name: 'nova', databases: ['n2'] }] } })));
    expect(e2.message).toContain('"nova" twice');
  });

  it('refuses an unknown service without databases, with a did-you-mean hint', () => {
    const e = osbError(() => planServices(validateConfig({ openstack: { services: ['keystone', 'neutorn'] } })));
    expect(e.message).toContain('"neutorn" is not in the catalogue');
    expect(text(e)).toContain('did you mean "neutron"?');
    const far = osbError(() => planServices(validateConfig({ openstack: { services: ['zaqar-thing'] } })));
    expect(text(far)).not.toContain('did you mean');
    expect(text(far)).toContain('{name: zaqar-thing, databases: [zaqar_thing]}');
  });

  it('refuses a database claimed by two services, before touching anything', async () => {
    const config = validateConfig({ openstack: { services: ['nova', { name: 'cells', databases: ['nova_cell0'] }] } });
    expect(osbError(() => planServices(config)).message).toMatch(/database "nova_cell0" is claimed by both nova and cells/);
    const dir = mkdtempSync(join(tmpdir(), 'osb-unit-openstack-'));
    try {
      const s = secrets();
      await expect(provisionServices(config, {}, s, dir)).rejects.toThrow(/claimed by both/);
      expect(s.services).toEqual({}); // no password was generated
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('osb provision NAME refuses a service that is not configured', async () => {
    await expect(provisionServices(validateConfig({}), {}, secrets(), '/nonexistent', ['heat'])).rejects.toThrow(/"heat" is not in openstack.services/);
  });

  it('the schema refuses invalid database and service names', () => {
    expect(() => validateConfig({ openstack: { services: [{ name: 'billing', databases: ['Billing-DB; DROP'] }] } })).toThrow(
      /openstack\.services\.0\.databases\.0.*database name/,
    );
    expect(() => validateConfig({ openstack: { services: [{ name: 'billing', databases: ['9lives'] }] } })).toThrow(/database name/);
    expect(() => validateConfig({ openstack: { services: [{ name: 'Bad_Name', databases: ['x'] }] } })).toThrow(/openstack\.services\.0/);
  });

  it('passwords: generated ones are 40 letters and digits; user ones with @ : / % # are refused with the reason', () => {
    for (let i = 0; i < 50; i++) expect(generatePassword()).toMatch(/^[A-Za-z0-9]{40}$/);
    for (const bad of [
      'p@ssword-long-enough',
      'pass:word-long-enough',
      'pass/word-long-enough',
      'pass%41word-long-enough',
      'pass#word-long-enough',
      "pass'word-long-enough",
      'pa$$word-long-enough',
    ]) {
      expect(() => validateConfig({ openstack: { services: [{ name: 'keystone', password: bad }] } }), bad).toThrow(
        /openstack\.services\.0\.password"?: may only use letters, digits.*configparser rejects "%"/s,
      );
    }
    expect(() => validateConfig({ openstack: { services: [{ name: 'keystone', password: 'short' }] } })).toThrow(/at least 16/);
    expect(serviceSpecs(validateConfig({ openstack: { services: [{ name: 'keystone', password: 'My.Pass_word-123~abc' }] } }))[0]!.configuredPassword).toBe(
      'My.Pass_word-123~abc',
    );
  });
});

describe('oslo.config rendering', () => {
  it('keystone: [database], [cache] and [keystone_authtoken], no transport_url', () => {
    const s = settingsFor({ mariadb: { port: 13306 }, memcached: { port: 21211 } }, 'keystone');
    expect(s.sections).toEqual({
      database: { connection: `mysql+pymysql://keystone:${PW}@127.0.0.1:13306/keystone?charset=utf8` },
      cache: { enabled: 'true', backend: 'oslo_cache.memcache_pool', memcache_servers: '127.0.0.1:21211' },
      keystone_authtoken: { memcached_servers: '127.0.0.1:21211' },
    });
    expect(s.transport_url).toBeUndefined();
    const ini = renderOslo(s);
    expect(ini).toContain(`[database]\nconnection = mysql+pymysql://keystone:${PW}@127.0.0.1:13306/keystone?charset=utf8\n`);
    expect(ini).toContain('[cache]\nenabled = true\nbackend = oslo_cache.memcache_pool\nmemcache_servers = 127.0.0.1:21211\n');
    expect(ini).toContain('[keystone_authtoken]\nmemcached_servers = 127.0.0.1:21211\n');
    expect(ini).not.toContain('[DEFAULT]');
  });

  it('nova: [DEFAULT] transport_url first, [database], [api_database], cell0 as a comment', () => {
    const s = settingsFor({}, 'nova');
    const db = (name: string) => `mysql+pymysql://nova:${PW}@127.0.0.1:3306/${name}?charset=utf8`;
    expect(s.transport_url).toBe(`rabbit://nova:${PW}@127.0.0.1:5672/nova`);
    expect(s.database_connection).toBe(db('nova'));
    expect(s.api_database_connection).toBe(db('nova_api'));
    expect(s.databases).toEqual({ nova: db('nova'), nova_api: db('nova_api'), nova_cell0: db('nova_cell0') });
    const ini = renderOslo(s);
    const sections = [...ini.matchAll(/^\[([^\]]+)\]$/gm)].map((m) => m[1]);
    expect(sections).toEqual(['DEFAULT', 'database', 'api_database', 'cache', 'keystone_authtoken']);
    expect(ini).toContain(`[DEFAULT]\ntransport_url = rabbit://nova:${PW}@127.0.0.1:5672/nova\n`);
    expect(ini).toContain(`[api_database]\nconnection = ${db('nova_api')}\n`);
    expect(ini).toContain(`# nova_cell0: no config section; e.g. nova-manage cell_v2 map_cell0 --database_connection ${db('nova_cell0')}`);
    expect(ini).not.toMatch(/oslo_messaging_rabbit/); // single node: no quorum options
  });

  it('placement: [placement_database] connection, which is also its database_connection', () => {
    const s = settingsFor({}, 'placement');
    const url = `mysql+pymysql://placement:${PW}@127.0.0.1:3306/placement?charset=utf8`;
    expect(s.sections.placement_database).toEqual({ connection: url });
    expect(s.sections.database).toBeUndefined();
    expect(s.database_connection).toBe(url);
    expect(renderOslo(s)).toContain(`[placement_database]\nconnection = ${url}\n`);
    expect(settingsJson(s).database_connection).toBe(url);
  });

  it('designate: its storage section', () => {
    const s = settingsFor({ openstack: { services: ['designate'] } }, 'designate');
    expect(s.sections['storage:sqlalchemy']!.connection).toContain('/designate?charset=utf8');
  });

  it('three RabbitMQ nodes: every node in transport_url, quorum and failover options; three memcached servers', () => {
    const s = settingsFor({ rabbitmq: { replicas: 3, port: 25672 }, memcached: { replicas: 3, port: 21211 } }, 'cinder');
    expect(s.transport_url).toBe(`rabbit://cinder:${PW}@127.0.0.1:25672,cinder:${PW}@127.0.0.1:25673,cinder:${PW}@127.0.0.1:25674/cinder`);
    expect(s.sections.oslo_messaging_rabbit).toMatchObject({
      rabbit_quorum_queue: 'true',
      amqp_durable_queues: 'true',
      rabbit_ha_queues: 'false',
      kombu_failover_strategy: 'round-robin',
    });
    expect(s.memcache_servers).toBe('127.0.0.1:21211,127.0.0.1:21212,127.0.0.1:21213');
    expect(s.sections.cache).toMatchObject({ memcache_servers: s.memcache_servers, memcache_dead_retry: '30' });
    expect(s.sections.keystone_authtoken).toEqual({ memcached_servers: s.memcache_servers });
    const ini = renderOslo(s);
    expect(ini).toContain('[oslo_messaging_rabbit]\nrabbit_quorum_queue = true\n');
  });

  it('disabled components leave their settings out', () => {
    const s = settingsFor({ rabbitmq: { enabled: false }, memcached: { enabled: false } }, 'nova');
    expect(s.transport_url).toBeUndefined();
    expect(s.memcache_servers).toBeUndefined();
    expect(Object.keys(s.sections)).toEqual(['database', 'api_database']);
  });

  it('env format: shell-exportable, reads back unchanged in bash', () => {
    const s = settingsFor({}, 'nova');
    const env = renderEnv(s);
    expect(env).toContain(`export NOVA_DB_USER='nova'\n`);
    expect(env).toContain(`export NOVA_TRANSPORT_URL='rabbit://nova:${PW}@127.0.0.1:5672/nova'\n`);
    expect(env).toContain(`export NOVA_API_DATABASE_CONNECTION='${s.api_database_connection}'\n`);
    expect(env).toContain(`export NOVA_DB_NOVA_CELL0_CONNECTION='${s.databases.nova_cell0}'\n`);
    const out = execFileSync(
      'bash',
      ['-c', `eval "$1"; printf '%s\\n' "$NOVA_TRANSPORT_URL" "$NOVA_DATABASE_CONNECTION" "$NOVA_MEMCACHE_SERVERS" "$NOVA_PASSWORD"`, 'x', env],
      { encoding: 'utf8' },
    );
    expect(out).toBe([s.transport_url, s.database_connection, s.memcache_servers, PW].join('\n') + '\n');
    expect(renderEnv(settingsFor({ openstack: { services: [{ name: 'my-svc', databases: ['my_svc'] }] } }, 'my-svc'))).toContain(
      "export MY_SVC_DB_USER='my_svc'",
    );
  });

  it('no "%" anywhere (generated and user-given passwords), so configparser-based tools accept it', () => {
    for (const pw of [generatePassword(), generatePassword(), 'My.Pass_word-123~abc']) {
      for (const svc of DEFAULT_SERVICES) {
        const s = settingsFor({ rabbitmq: { replicas: 3 } }, svc, pw);
        for (const out of [renderOslo(s), renderEnv(s), JSON.stringify(settingsJson(s))]) {
          expect(out).not.toContain('%');
          expect(out).toContain(pw); // used verbatim: nothing needed encoding
        }
      }
    }
  });

  it("the oslo output parses with Python configparser (interpolation on, as Keystone's migration tool uses it)", () => {
    const ini = renderOslo(settingsFor({ rabbitmq: { replicas: 3 } }, 'nova', 'My.Pass_word-123~abc'));
    const py = `import configparser,sys\nc=configparser.ConfigParser()\nc.read_string(sys.stdin.read())\nprint(c.get('database','connection'))\nprint(c.get('DEFAULT','transport_url'))`;
    const out = execFileSync('python3', ['-c', py], { input: ini, encoding: 'utf8' });
    expect(out.split('\n')[0]).toBe('mysql+pymysql://nova:My.Pass_word-123~abc@127.0.0.1:3306/nova?charset=utf8');
  });
});

describe('RabbitMQ password hash check', () => {
  const rabbitHash = (password: string) => {
    const salt = randomBytes(4);
    return Buffer.concat([
      salt,
      createHash('sha256')
        .update(Buffer.concat([salt, Buffer.from(password)]))
        .digest(),
    ]).toString('base64');
  };

  it("checks a password against RabbitMQ's salted SHA-256 hash", () => {
    const h = rabbitHash(PW);
    expect(passwordMatchesHash(PW, h, 'rabbit_password_hashing_sha256')).toBe(true);
    expect(passwordMatchesHash(PW + 'x', h, 'rabbit_password_hashing_sha256')).toBe(false);
    expect(passwordMatchesHash(PW, h, 'rabbit_password_hashing_md5')).toBe(false);
  });
});
