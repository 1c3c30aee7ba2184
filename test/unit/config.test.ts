import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadValuesTree, validateConfig } from '../../src/config/load.js';
import { loadConfig } from '../../src/components/index.js';
import { portsInUse } from '../../src/components/index.js';
import { configSchema } from '../../src/config/schema.js';
import { applySet, deepMerge, parseSetValue } from '../../src/config/set.js';
import { parseComponents } from '../../src/cli/options.js';
import { OsbError } from '../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'osb-unit-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** The OsbError a function throws (fails the test when it throws nothing or something else). */
function errorOf(fn: () => unknown): OsbError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OsbError);
    return err as OsbError;
  }
  throw new Error('expected an OsbError, nothing was thrown');
}

describe('schema defaults', () => {
  it('an empty config gives the documented defaults', () => {
    const c = loadConfig();
    expect(c.bindAddress).toBe('127.0.0.1');
    expect(c.target).toBe('local');
    expect(c.rabbitmq).toMatchObject({ enabled: true, replicas: 1, port: 5672, managementPort: 15672 });
    expect(c.rabbitmq.distPort).toBeUndefined();
    expect(c.rabbitmq.epmdPort).toBeUndefined();
    expect(c.mariadb).toMatchObject({ enabled: true, replicas: 1, port: 3306, maxConnections: 500, innodbBufferPoolMB: 128, galeraPort: 4567 });
    expect(c.memcached).toMatchObject({ enabled: true, replicas: 1, port: 11211, memoryMB: 64, maxConnections: 1024 });
  });

  it('defaults are the same through loadConfig and the bare schema', () => {
    expect(loadConfig()).toEqual(configSchema.parse({}));
  });

  it('ports of a default single-node deployment: derived dist and epmd ports', () => {
    const ports = portsInUse(loadConfig()).map((p) => `${p.key}=${p.port}`);
    expect(ports).toEqual([
      'rabbitmq.port=5672',
      'rabbitmq.managementPort=15672',
      'rabbitmq.distPort=25672',
      'rabbitmq.epmdPort=4672',
      'rabbitmq.prometheusPort=15692',
      'mariadb.port=3306',
      'mariadb.exporterPort=9104',
      'memcached.port=11211',
      'memcached.exporterPort=9150',
    ]);
  });

  it('a disabled component binds no ports', () => {
    const ports = portsInUse(loadConfig({ set: ['rabbitmq.enabled=false', 'memcached.enabled=false'] }));
    expect(ports.map((p) => p.key)).toEqual(['mariadb.port', 'mariadb.exporterPort']);
  });

  it('metrics.enabled=false: no exporter port', () => {
    const ports = portsInUse(loadConfig({ set: ['metrics.enabled=false', 'mariadb.replicas=3'] }));
    expect(ports.map((p) => p.key).filter((k) => /exporter|prometheus|Metrics/i.test(k))).toEqual([]);
  });
});

describe('--set parsing (Helm style)', () => {
  it.each([
    ['13306', 13306],
    ['-5', -5],
    ['0.4', 0.4],
    ['true', true],
    ['false', false],
    ['null', null],
    ['hello', 'hello'],
    ['127.0.0.1', '127.0.0.1'],
    ['{a,b}', ['a', 'b']],
    ['{ keystone , nova }', ['keystone', 'nova']],
    ['{1,true,x}', [1, true, 'x']],
    ['{}', []],
    ['', ''],
    ['99999999999999999999', '99999999999999999999'],
  ])('%j → %j', (raw, want) => {
    expect(parseSetValue(raw)).toEqual(want);
  });

  it('dotted keys build nested objects; the value may contain "="', () => {
    const t = applySet(applySet({}, 'mariadb.port=13306'), 'kubernetes.context=a=b');
    expect(t).toEqual({ mariadb: { port: 13306 }, kubernetes: { context: 'a=b' } });
  });

  it('later --set wins and keeps sibling keys', () => {
    const c = loadConfig({ set: ['mariadb.port=13306', 'mariadb.maxConnections=50', 'mariadb.port=13307'] });
    expect(c.mariadb.port).toBe(13307);
    expect(c.mariadb.maxConnections).toBe(50);
  });

  it('a scalar in the way is replaced by an object', () => {
    expect(applySet({ mariadb: 3 }, 'mariadb.port=1')).toEqual({ mariadb: { port: 1 } });
  });

  it('lists reach list-valued keys', () => {
    expect(loadConfig({ set: ['openstack.services={keystone,nova}'] }).openstack.services).toEqual(['keystone', 'nova']);
  });

  it.each(['mariadb', '=3', 'mariadb..port=1', 'mariadb.=1', '__proto__.polluted=1', 'a.constructor.x=1'])('rejects malformed %j', (expr) => {
    const e = errorOf(() => applySet({}, expr));
    expect(e.exitCode).toBe(2);
    expect(e.line).toContain('--set');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('values files', () => {
  it('later files win, nested objects merge, --set wins over files', () => {
    const a = file('a.yaml', 'bindAddress: 127.0.0.2\nmariadb:\n  port: 13306\n  maxConnections: 40\nmemcached:\n  memoryMB: 32\n');
    const b = file('b.yaml', 'mariadb:\n  port: 13307\nmemcached:\n  memoryMB: 16\n');
    const c = loadConfig({ values: [a, b], set: ['memcached.memoryMB=24'] });
    expect(c.bindAddress).toBe('127.0.0.2');
    expect(c.mariadb.port).toBe(13307);
    expect(c.mariadb.maxConnections).toBe(40);
    expect(c.memcached.memoryMB).toBe(24);
  });

  it('an empty file and a comment-only file are an empty config', () => {
    expect(loadValuesTree({ values: [file('empty.yaml', ''), file('comment.yaml', '# nothing\n')] })).toEqual({});
  });

  it('lists from a later file replace, not append', () => {
    expect(deepMerge({ s: ['a', 'b'] }, { s: ['c'] })).toEqual({ s: ['c'] });
    const a = file('l1.yaml', 'openstack:\n  services: [keystone, nova]\n');
    const b = file('l2.yaml', 'openstack:\n  services: [glance]\n');
    expect(loadConfig({ values: [a, b] }).openstack.services).toEqual(['glance']);
  });

  it('a missing file', () => {
    const e = errorOf(() => loadConfig({ values: [join(dir, 'nope.yaml')] }));
    expect(e.line).toMatch(/^values file .*nope\.yaml does not exist/);
    expect(e.exitCode).toBe(2);
  });

  it('an unreadable file (a directory; chmod does not stop root)', () => {
    const e = errorOf(() => loadConfig({ values: [dir] }));
    expect(e.line).toMatch(/^values file .* cannot be read \(EISDIR\)/);
  });

  it('invalid YAML names the file and the problem on one line', () => {
    const p = file('bad.yaml', 'mariadb:\n  port: [1,\n');
    const e = errorOf(() => loadConfig({ values: [p] }));
    expect(e.line).toContain(`values file ${p} is not valid YAML`);
    expect(e.line.split('\n')).toHaveLength(1);
  });

  it.each([
    ['list.yaml', '- a\n- b\n', 'a list'],
    ['scalar.yaml', '42\n', 'number'],
  ])('a YAML document that is not a mapping (%s)', (name, text, got) => {
    expect(errorOf(() => loadConfig({ values: [file(name, text)] })).line).toContain(`must hold a mapping of keys (got ${got})`);
  });
});

describe('validation errors', () => {
  const err = (set: string[]) => errorOf(() => loadConfig({ set }));

  it.each([
    ['mariadb.prot=1', 'unknown config key "mariadb.prot" — did you mean "mariadb.port"?'],
    ['mariadbb.port=1', 'unknown config key "mariadbb" — did you mean "mariadb"?'],
    ['bindAdress=127.0.0.1', 'unknown config key "bindAdress" — did you mean "bindAddress"?'],
    ['memcached.memoryMb=32', 'unknown config key "memcached.memoryMb" — did you mean "memcached.memoryMB"?'],
    ['rabbitmq.managmentPort=1', 'did you mean "rabbitmq.managementPort"?'],
  ])('unknown key %s', (set, msg) => {
    const e = err([set]);
    expect(e.line).toContain(msg);
    expect(e.exitCode).toBe(2);
  });

  it('an unknown key with no close match lists the known keys', () => {
    expect(err(['mariadb.zzzzzzzzzz=1']).line).toMatch(/unknown config key "mariadb.zzzzzzzzzz" — known keys here: enabled, replicas, port,/);
  });

  it('unknown keys in a values file are found too', () => {
    const p = file('unknown.yaml', 'memcached:\n  memoryMB: 32\n  maxConections: 10\n');
    expect(errorOf(() => loadConfig({ values: [p] })).line).toContain('did you mean "memcached.maxConnections"?');
  });

  it.each([
    [['mariadb.port=abc'], 'config key "mariadb.port": expected a number (got "abc")'],
    [['mariadb.enabled=yes'], 'config key "mariadb.enabled": expected true or false (got "yes")'],
    [['memcached.memoryMB=1.5'], 'config key "memcached.memoryMB": expected a whole number (got 1.5)'],
    [['mariadb=3'], 'config key "mariadb": expected a mapping of keys (got 3)'],
    [['bindAddress=localhost'], 'config key "bindAddress": must be an IPv4 address such as 127.0.0.1 (got "localhost")'],
    [['bindAddress=300.0.0.1'], 'config key "bindAddress": must be an IPv4 address'],
    [['rabbitmq.partitionHandling=ignore'], 'config key "rabbitmq.partitionHandling"'],
  ])('wrong type %j', (set, msg) => {
    const e = err(set);
    expect(e.line).toContain(msg);
    expect(e.exitCode).toBe(2);
  });

  it.each([
    [['mariadb.port=70000'], 'config key "mariadb.port": must be at most 65535 (got 70000)'],
    [['memcached.port=0'], 'config key "memcached.port": must be at least 1 (got 0)'],
    [['rabbitmq.managementPort=-1'], 'config key "rabbitmq.managementPort": must be at least 1 (got -1)'],
    [['memcached.memoryMB=2'], 'config key "memcached.memoryMB": must be at least 8 (got 2)'],
    [['rabbitmq.port=65000'], 'config key "rabbitmq.distPort": derived port 85000 is out of range 1-65535'],
  ])('out of range %j', (set, msg) => {
    const e = err(set);
    expect(e.line).toContain(msg);
    expect(e.exitCode).toBe(2);
  });

  it('a derived epmd port below 1 is refused', () => {
    expect(err(['rabbitmq.port=900']).line).toContain('config key "rabbitmq.epmdPort": derived port -100 is out of range');
  });

  it('ports in the range RabbitMQ CLI tools use are refused', () => {
    expect(err(['rabbitmq.port=35675']).line).toContain('35672-35682');
  });

  it.each([
    [['mariadb.port=11211'], 'port 11211 is used twice: by mariadb.port and by memcached.port'],
    [['rabbitmq.managementPort=5672'], 'port 5672 is used twice: by rabbitmq.port and by rabbitmq.managementPort'],
    [['memcached.port=4672'], 'port 4672 is used twice: by rabbitmq.epmdPort and by memcached.port'],
    [
      ['mariadb.port=30000', 'memcached.port=30001', 'memcached.replicas=1', 'mariadb.replicas=2', 'mariadb.galeraPort=40000'],
      'port 30001 is used twice: by mariadb.port and by memcached.port',
    ],
  ])('duplicate ports %j', (set, msg) => {
    const e = err(set);
    expect(e.line).toContain(msg);
    expect(e.exitCode).toBe(2);
  });

  it('a port shared with a disabled component is fine', () => {
    expect(loadConfig({ set: ['mariadb.port=11211', 'memcached.enabled=false'] }).mariadb.port).toBe(11211);
  });

  it('two problems are both named, one line each', () => {
    const lines = err(['mariadb.port=abc', 'memcached.memoryMb=3']).message.split('\n');
    expect(lines).toHaveLength(2);
  });

  it('validateConfig takes an already-merged tree', () => {
    expect(validateConfig({ mariadb: { port: 13306 } }).mariadb.port).toBe(13306);
  });
});

describe('component names', () => {
  it('accepts the three components', () => {
    expect(parseComponents(['memcached', 'rabbitmq'])).toEqual(['memcached', 'rabbitmq']);
  });

  it('an unknown name suggests the closest', () => {
    const e = errorOf(() => parseComponents(['mysql', 'rabitmq']));
    expect(e.line).toMatch(/unknown component "mysql"/);
    expect(errorOf(() => parseComponents(['rabitmq'])).line).toContain('did you mean "rabbitmq"?');
    expect(e.exitCode).toBe(2);
  });
});
