import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { definition, loadConfig, portsInUse } from '../../src/components/index.js';
import { renderLocalMyCnf } from '../../src/components/mariadb/local.js';
import { memcachedTlsArgs } from '../../src/components/memcached/local.js';
import { rabbitmqEnv, renderLocalAdvancedConfig } from '../../src/components/rabbitmq/local.js';
import {
  bundleCerts,
  caFiles,
  dropRetiredCa,
  ensureCa,
  issuedBySigningCa,
  issueNodeCert,
  localSans,
  nodeBundleStale,
  nodeTlsFiles,
  readCert,
  refreshNodeBundle,
  renewalReason,
  rotateCa,
} from '../../src/config/tls.js';
import { desiredState } from '../../src/model/desired.js';
import { serviceSettings } from '../../src/openstack/oslo.js';
import { planServices } from '../../src/model/services.js';
import { OsbError } from '../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'osb-unit-tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tlsOn = (more: string[] = []) => loadConfig({ set: ['tls.enabled=true', 'tls.require=true', 'mariadb.replicas=3', 'rabbitmq.replicas=3', ...more] });

describe('tls config keys', () => {
  it('defaults off; tls.require without tls.enabled and partial operator certificates are refused with the fix', () => {
    expect(loadConfig({}).tls).toMatchObject({ enabled: false, require: false, certDays: 365 });
    expect(() => loadConfig({ set: ['tls.require=true'] })).toThrow(/tls\.require.*needs tls\.enabled=true/);
    expect(() => loadConfig({ set: ['tls.enabled=true', 'tls.certFile=/x.pem'] })).toThrow(/all three of tls\.caFile, tls\.certFile and tls\.keyFile/);
    try {
      loadConfig({ set: ['tls.enabld=true'] });
    } catch (err) {
      expect(err).toBeInstanceOf(OsbError);
      expect((err as Error).message).toMatch(/tls\.enabld/);
    }
  });

  it('RabbitMQ: AMQPS takes rabbitmq.port when TLS is required, else tlsPort (port+10) beside plain AMQP', () => {
    const req = tlsOn();
    expect(portsInUse(req).filter((p) => p.key === 'rabbitmq.tlsPort')).toEqual([]);
    const opt = loadConfig({ set: ['tls.enabled=true', 'rabbitmq.replicas=3'] });
    expect(
      portsInUse(opt)
        .filter((p) => p.key === 'rabbitmq.tlsPort')
        .map((p) => p.port),
    ).toEqual([5682, 5683, 5684]);
  });
});

describe('daemon settings with TLS on', () => {
  const config = tlsOn();
  const node = (c: 'mariadb' | 'rabbitmq', i: number) => desiredState(config).components[c]![i]!;
  const f = nodeTlsFiles('/s/mariadb/mariadb-1');

  it('MariaDB: server TLS, require_secure_transport, Galera socket.ssl and SST encrypt=3 with the node files', () => {
    const cnf = renderLocalMyCnf(config, node('mariadb', 1), '/s/mariadb/mariadb-1', 'root');
    for (const l of [
      `ssl_cert = ${f.cert}`,
      `ssl_key = ${f.key}`,
      `ssl_ca = ${f.ca}`,
      'require_secure_transport = ON',
      'encrypt = 3',
      `tca = ${f.ca}`,
      `tcert = ${f.cert}`,
      `tkey = ${f.key}`,
    ])
      expect(cnf).toContain(l);
    expect(cnf).toMatch(
      /wsrep_provider_options = ".*;socket\.ssl=YES;socket\.ssl_ca=\/s\/mariadb\/mariadb-1\/tls\/ca\.pem;socket\.ssl_cert=.*cert\.pem;socket\.ssl_key=.*key\.pem"/,
    );
    expect(renderLocalMyCnf(loadConfig({}), node('mariadb', 1), '/d', 'root')).not.toMatch(/ssl|encrypt/);
  });

  it('RabbitMQ: only the AMQPS listener, HTTPS management, distribution over TLS for server and CLI', () => {
    const adv = renderLocalAdvancedConfig(config, 0, '/d/defs.json', nodeTlsFiles('/d'));
    expect(adv).toContain('{tcp_listeners, []}');
    expect(adv).toContain('{ssl_listeners, [{"127.0.0.1", 5672}]}');
    expect(adv).toMatch(
      /rabbitmq_management, \[\{listener, \[\{port, 15672\}, \{ip, "127\.0\.0\.1"\}, \{ssl, true\}, \{ssl_opts, \[\{cacertfile, "\/d\/tls\/ca\.pem"\}/,
    );
    const env = rabbitmqEnv(config, 0, '/d');
    expect(env.RABBITMQ_NODE_PORT).toBeUndefined();
    expect(env.RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS).toContain('-proto_dist inet_tls -ssl_dist_optfile /d/ssl_dist.config');
    expect(env.RABBITMQ_CTL_ERL_ARGS).toContain('-proto_dist inet_tls');
    const plain = renderLocalAdvancedConfig(loadConfig({}), 0, '/d/defs.json', nodeTlsFiles('/d'));
    expect(plain).not.toMatch(/ssl/);
  });

  it('memcached: -Z with the chain, key and CA', () => {
    expect(memcachedTlsArgs(config, nodeTlsFiles('/m'))).toEqual([
      '-Z',
      '-o',
      'ssl_chain_cert=/m/tls/cert.pem,ssl_key=/m/tls/key.pem,ssl_ca_cert=/m/tls/ca.pem',
    ]);
    expect(memcachedTlsArgs(loadConfig({}), nodeTlsFiles('/m'))).toEqual([]);
  });

  it('oslo output: ssl_ca in the URL, oslo.messaging ssl, the pymemcache backend with TLS', () => {
    const at = {
      kind: 'local' as const,
      node: (_c: string, i: number, b: number) => ({ host: '127.0.0.1', port: b + i }),
      service: (_n: string, port: number) => ({ host: '127.0.0.1', port }),
      stateDir: '/st',
    };
    const secrets = { mariadbAdminPassword: 'a'.repeat(20), rabbitmqAdminPassword: 'b'.repeat(20), erlangCookie: 'c'.repeat(20), services: {} };
    const eps = Object.assign({}, ...(['mariadb', 'rabbitmq', 'memcached'] as const).map((c) => definition(c).endpoints(config, secrets as never, at)));
    const nova = serviceSettings(config, eps, planServices(config).find((s) => s.name === 'nova')!, 'p'.repeat(20));
    expect(nova.database_connection).toBe(`mysql+pymysql://nova:${'p'.repeat(20)}@127.0.0.1:3315/nova?charset=utf8&ssl_ca=/st/tls/ca.pem`);
    expect(nova.sections.oslo_messaging_rabbit).toMatchObject({ ssl: 'true', ssl_ca_file: '/st/tls/ca.pem' });
    expect(nova.transport_url).toContain('@127.0.0.1:5672,');
    const ks = serviceSettings(config, eps, planServices(config).find((s) => s.name === 'keystone')!, 'p'.repeat(20));
    expect(ks.sections.cache).toMatchObject({ backend: 'dogpile.cache.pymemcache', tls_enabled: 'true', tls_cafile: '/st/tls/ca.pem' });
    expect(ks.sections.keystone_authtoken?.memcached_servers).toBeUndefined();
  });
});

describe('CA and node certificates (openssl CLI)', () => {
  it('creates the CA once (key 0600) and a node certificate with every SAN, renewed only when needed', async () => {
    const config = loadConfig({ set: ['tls.enabled=true', 'bindAddress=127.0.0.2', 'tls.extraSans={db.example.org}'] });
    const stateDir = join(dir, 'state');
    await ensureCa(stateDir, config.tls);
    const caPem = readFileSync(caFiles(stateDir).cert, 'utf8');
    await ensureCa(stateDir, config.tls);
    expect(readFileSync(caFiles(stateDir).cert, 'utf8')).toBe(caPem);
    expect(statSync(caFiles(stateDir).key).mode & 0o777).toBe(0o600);
    const files = nodeTlsFiles(join(stateDir, 'mariadb', 'mariadb-0'));
    const sans = localSans(config);
    expect(renewalReason(files, stateDir, sans)).toBe('no certificate yet');
    const info = await issueNodeCert(stateDir, config.tls, 'mariadb-0', files, sans);
    expect(info.sans.sort()).toEqual(['127.0.0.1', '127.0.0.2', 'db.example.org', 'localhost']);
    expect(statSync(files.key).mode & 0o777).toBe(0o600);
    expect(renewalReason(files, stateDir, sans)).toBeUndefined();
    expect(renewalReason(files, stateDir, [...sans, '10.0.0.9'])).toBe('certificate lacks 10.0.0.9');
    expect(renewalReason(files, stateDir, sans, new Date(Date.now() + 250 * 86_400_000))).toMatch(/past 2\/3 of its lifetime/);
    const again = await issueNodeCert(stateDir, config.tls, 'mariadb-0', files, sans);
    expect(again.serial).not.toBe(info.serial);
    expect(readCert(files.cert).serial).toBe(again.serial);
  });
});

describe('CA rotation (openssl CLI)', () => {
  it('--ca: the bundle trusts old and new CA until every node carries a new-CA certificate, then only the new one', async () => {
    const config = loadConfig({ set: ['tls.enabled=true'] });
    const stateDir = join(dir, 'state-ca');
    await ensureCa(stateDir, config.tls);
    const sans = localSans(config);
    const nodes = ['a', 'b'].map((n) => nodeTlsFiles(join(stateDir, 'memcached', n)));
    for (const [i, f] of nodes.entries()) await issueNodeCert(stateDir, config.tls, `n${i}`, f, sans);
    const oldCa = bundleCerts(caFiles(stateDir).cert);
    expect(oldCa).toHaveLength(1);

    const fresh = await rotateCa(stateDir, config.tls);
    const bundle = bundleCerts(caFiles(stateDir).cert);
    expect(bundle.map((c) => c.serialNumber)).toEqual([fresh.serial, oldCa[0]!.serialNumber]);
    expect(statSync(caFiles(stateDir).key).mode & 0o777).toBe(0o600);
    // Old certificates are not from the signing CA; each node gets the two-CA bundle without a new certificate.
    expect(issuedBySigningCa(nodes[0]!.cert, stateDir)).toBe(false);
    expect(nodeBundleStale(nodes[0]!, stateDir)).toBe(true);
    expect(renewalReason(nodes[0]!, stateDir, sans)).toBe('signed by another CA');
    for (const f of nodes) refreshNodeBundle(f, stateDir);
    expect(renewalReason(nodes[0]!, stateDir, sans)).toBe('signed by another CA');

    // One node renewed: the old CA stays (node b still presents an old-CA certificate).
    await issueNodeCert(stateDir, config.tls, 'n0', nodes[0]!, sans);
    expect(issuedBySigningCa(nodes[0]!.cert, stateDir)).toBe(true);
    expect(
      dropRetiredCa(
        stateDir,
        nodes.map((f) => f.cert),
      ),
    ).toBe(false);
    await issueNodeCert(stateDir, config.tls, 'n1', nodes[1]!, sans);
    expect(
      dropRetiredCa(
        stateDir,
        nodes.map((f) => f.cert),
      ),
    ).toBe(true);
    expect(bundleCerts(caFiles(stateDir).cert).map((c) => c.serialNumber)).toEqual([fresh.serial]);
    // A node whose certificate is current only copies the slimmer bundle: no new certificate.
    expect(renewalReason(nodes[0]!, stateDir, sans)).toBeUndefined();
    expect(nodeBundleStale(nodes[0]!, stateDir)).toBe(true);
  });

  it("refuses --ca when the CA is the operator's, with the fix", async () => {
    const config = loadConfig({ set: ['tls.enabled=true', 'tls.caFile=/x/ca.pem', 'tls.certFile=/x/c.pem', 'tls.keyFile=/x/k.pem'] });
    await expect(rotateCa(join(dir, 'op'), config.tls)).rejects.toThrow(/operator's \(tls\.caFile\)/);
  });
});
