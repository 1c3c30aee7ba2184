/**
 * Acceptance 3 of issue 2: two deployments on one host, different state dirs and ports, deployed
 * at the same time, work independently; destroying one leaves the other healthy.
 * Port blocks 2 and 3.
 */
import { rmSync } from 'node:fs';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withMemcached } from '../../src/components/memcached/client.js';
import { blockPorts, endpoints, listeningInBlock, ok, pids, processesOf, statusJson, type EndpointsJson } from '../helpers/local.js';
import { cleanup, osb, portBlock, tempStateDir } from '../helpers/osb.js';

const A = { block: 2, stateDir: tempStateDir('side-a'), ports: blockPorts(2) };
const B = { block: 3, stateDir: tempStateDir('side-b'), ports: blockPorts(3) };
let epsA: EndpointsJson;
let epsB: EndpointsJson;

beforeAll(async () => {
  // Both at once: nothing shared (epmd, node names, cookies, sockets) may collide.
  const [ra, rb] = await Promise.all([
    osb(['deploy', ...portBlock(A.block)], { stateDir: A.stateDir }),
    osb(['deploy', ...portBlock(B.block)], { stateDir: B.stateDir }),
  ]);
  ok(ra);
  ok(rb);
  [epsA, epsB] = await Promise.all([endpoints(A.stateDir), endpoints(B.stateDir)]);
});

afterAll(async () => {
  await Promise.all([cleanup(A.stateDir), cleanup(B.stateDir)]);
  for (const d of [A.stateDir, B.stateDir]) rmSync(d, { recursive: true, force: true });
});

describe('two deployments side by side', () => {
  it('both are healthy, with their own processes and ports', async () => {
    const [sa, sb] = await Promise.all([statusJson(A.stateDir), statusJson(B.stateDir)]);
    expect(sa.run.code).toBe(0);
    expect(sb.run.code).toBe(0);
    const pa = sa.status.components.map((c) => c.nodes[0]!.pid);
    const pb = sb.status.components.map((c) => c.nodes[0]!.pid);
    expect(pa.filter((p) => pb.includes(p))).toEqual([]);
    expect(listeningInBlock(A.block)).toContain(A.ports.mariadb);
    expect(listeningInBlock(B.block)).toContain(B.ports.mariadb);
  });

  it('each has its own endpoints and secrets', () => {
    expect(epsA.rabbitmq.hosts).toEqual([`127.0.0.1:${A.ports.amqp}`]);
    expect(epsB.rabbitmq.hosts).toEqual([`127.0.0.1:${B.ports.amqp}`]);
    expect(epsA.mariadb.port).toBe(A.ports.mariadb);
    expect(epsB.mariadb.port).toBe(B.ports.mariadb);
    expect(epsA.memcached.servers).toEqual([`127.0.0.1:${A.ports.memcached}`]);
    expect(epsB.memcached.servers).toEqual([`127.0.0.1:${B.ports.memcached}`]);
    expect(epsA.mariadb.password).not.toBe(epsB.mariadb.password);
    expect(epsA.rabbitmq.password).not.toBe(epsB.rabbitmq.password);
    expect(epsA.mariadb.socket).not.toBe(epsB.mariadb.socket);
  });

  it('osb test passes on both', async () => {
    const [ta, tb] = await Promise.all([osb(['test'], { stateDir: A.stateDir }), osb(['test'], { stateDir: B.stateDir })]);
    ok(ta);
    ok(tb);
  });

  it('the data is separate: a database and a cache key in A are not in B', async () => {
    const dbA = await mysql.createConnection({ host: '127.0.0.1', port: A.ports.mariadb, user: epsA.mariadb.username, password: epsA.mariadb.password });
    const dbB = await mysql.createConnection({ host: '127.0.0.1', port: B.ports.mariadb, user: epsB.mariadb.username, password: epsB.mariadb.password });
    await dbA.query('CREATE DATABASE only_in_a');
    const [inB] = await dbB.query("SHOW DATABASES LIKE 'only_in_a'");
    expect(inB).toEqual([]);
    await dbA.end();
    await dbB.end();
    // Each admin password works only on its own server.
    await expect(
      mysql.createConnection({ host: '127.0.0.1', port: B.ports.mariadb, user: epsA.mariadb.username, password: epsA.mariadb.password }),
    ).rejects.toThrow(/Access denied/);

    await withMemcached([{ host: '127.0.0.1', port: A.ports.memcached }], (c) => c.set('side-by-side', 'A', { expires: 60 }));
    const fromB = await withMemcached([{ host: '127.0.0.1', port: B.ports.memcached }], (c) => c.get('side-by-side'));
    expect(fromB.value).toBeNull();
  });

  it('destroying A leaves B running and healthy, untouched', async () => {
    const beforeB = await pids(B.stateDir);
    ok(await osb(['destroy'], { stateDir: A.stateDir }));
    expect(processesOf(A.stateDir, A.ports.epmd)).toEqual([]);
    expect(listeningInBlock(A.block)).toEqual([]);

    const { run, status } = await statusJson(B.stateDir);
    expect(run.code, run.stdout).toBe(0);
    expect(status.healthy).toBe(true);
    expect(await pids(B.stateDir)).toEqual(beforeB);
    expect(listeningInBlock(B.block)).toEqual(
      [
        B.ports.amqp,
        B.ports.management,
        B.ports.dist,
        B.ports.epmd,
        B.ports.mariadb,
        B.ports.memcached,
        B.ports.rabbitmqMetrics,
        B.ports.mariadbExporter,
        B.ports.memcachedExporter,
      ].sort((x, y) => x - y),
    );
    ok(await osb(['test'], { stateDir: B.stateDir }));
  });

  it('A can be deployed again while B runs, and B still sees no change', async () => {
    ok(await osb(['deploy', 'memcached', ...portBlock(A.block)], { stateDir: A.stateDir }));
    const r = ok(await osb(['deploy'], { stateDir: B.stateDir }));
    expect(r.stdout).toContain('no change');
  });
});
