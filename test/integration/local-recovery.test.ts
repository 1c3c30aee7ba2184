/**
 * Acceptance 2 of issue 2: `kill -9` of any one daemon → `osb status` reports it down (non-zero)
 * → `osb deploy` brings it back with its data intact; and a config change restarts only what
 * changed. One deployment for the whole file, on port block 1.
 */
import { rmSync } from 'node:fs';
import amqp from 'amqplib';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memcachedStats } from '../../src/components/memcached/client.js';
import { blockPorts, deployActions, endpoints, nodeOf, ok, pids, statusJson, waitFor, type EndpointsJson } from '../helpers/local.js';
import { cleanup, osb, portBlock, tempStateDir } from '../helpers/osb.js';

const BLOCK = 1;
const ports = blockPorts(BLOCK);
const stateDir = tempStateDir('recovery');
const QUEUE = 'osb-recovery-durable';
const MESSAGES = Array.from({ length: 20 }, (_, i) => `persistent message ${i}`);
let eps: EndpointsJson;

const mariadb = () => mysql.createConnection({ host: '127.0.0.1', port: ports.mariadb, user: eps.mariadb.username, password: eps.mariadb.password });
const rabbit = () =>
  amqp.connect({ hostname: '127.0.0.1', port: ports.amqp, username: eps.rabbitmq.username, password: eps.rabbitmq.password }, { timeout: 5000 });

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** kill -9 the node-0 daemon of a component; returns its pid once it is gone. */
async function kill9(component: string): Promise<number> {
  const pid = (await pids(stateDir))[component];
  expect(pid, `${component} pid`).toBeGreaterThan(1);
  process.kill(pid!, 'SIGKILL');
  await waitFor(() => !isAlive(pid!), 10_000, `${component} (pid ${pid}) to die`);
  return pid!;
}

/** After a kill: status is non-zero and names the dead node as down, the others healthy. */
async function expectReportedDown(component: string): Promise<void> {
  const { run, status } = await statusJson(stateDir);
  expect(run.code).not.toBe(0);
  expect(status.healthy).toBe(false);
  expect(nodeOf(status, component)).toMatchObject({ running: false, healthy: false });
  for (const c of status.components.filter((x) => x.component !== component)) expect(c.nodes[0], c.component).toMatchObject({ running: true, healthy: true });
  const text = await osb(['status'], { stateDir });
  expect(text.code).not.toBe(0);
  expect(text.stdout).toMatch(new RegExp(`${component}-0\\s+DOWN`));
  expect(text.stdout).toContain('NOT healthy');
}

/** `osb deploy` restarts only the dead component; status is healthy again. */
async function expectRecovered(component: string, before: Record<string, number | undefined>): Promise<void> {
  const r = ok(await osb(['deploy'], { stateDir }));
  const actions = deployActions(r.stdout);
  expect(actions[`${component}-0`]).toBe('recovered');
  for (const [name, action] of Object.entries(actions)) if (name !== `${component}-0`) expect(action, name).toBe('unchanged');
  const after = await pids(stateDir);
  for (const c of Object.keys(before)) {
    if (c === component) expect(after[c]).not.toBe(before[c]);
    else expect(after[c], c).toBe(before[c]);
  }
  ok(await osb(['status'], { stateDir }));
}

beforeAll(async () => {
  ok(await osb(['deploy', ...portBlock(BLOCK)], { stateDir }));
  eps = await endpoints(stateDir);

  // Data written before any kill.
  const db = await mariadb();
  await db.query('CREATE DATABASE recovery_test');
  await db.query('CREATE TABLE recovery_test.t (id INT PRIMARY KEY, v VARCHAR(64)) ENGINE=InnoDB');
  await db.query("INSERT INTO recovery_test.t VALUES (1, 'written before kill -9')");
  await db.end();

  const conn = await rabbit();
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue(QUEUE, { durable: true });
  for (const m of MESSAGES) ch.sendToQueue(QUEUE, Buffer.from(m), { persistent: true });
  await ch.waitForConfirms();
  await conn.close();
});

afterAll(async () => {
  await cleanup(stateDir);
  rmSync(stateDir, { recursive: true, force: true });
});

describe('kill -9 MariaDB', () => {
  it('status reports it down, deploy brings it back, the row is still there', async () => {
    const before = await pids(stateDir);
    await kill9('mariadb');
    await expectReportedDown('mariadb');
    await expectRecovered('mariadb', before);
    const db = await mariadb();
    const [rows] = await db.query('SELECT id, v FROM recovery_test.t');
    expect(rows).toEqual([{ id: 1, v: 'written before kill -9' }]);
    await db.end();
  });
});

describe('kill -9 Memcached', () => {
  it('status reports it down, deploy brings it back serving', async () => {
    const before = await pids(stateDir);
    await kill9('memcached');
    await expectReportedDown('memcached');
    await expectRecovered('memcached', before);
    ok(await osb(['test', 'memcached'], { stateDir }));
  });
});

describe('kill -9 RabbitMQ', () => {
  it('status reports it down, deploy brings it back, the durable queue keeps its confirmed persistent messages', async () => {
    const before = await pids(stateDir);
    await kill9('rabbitmq');
    await expectReportedDown('rabbitmq');
    await expectRecovered('rabbitmq', before);

    const conn = await rabbit();
    const ch = await conn.createChannel();
    const q = await ch.checkQueue(QUEUE);
    expect(q.messageCount).toBe(MESSAGES.length);
    const got: string[] = [];
    for (;;) {
      const m = await ch.get(QUEUE, { noAck: false });
      if (!m) break;
      got.push(m.content.toString());
      expect(m.properties.deliveryMode).toBe(2);
      ch.ack(m);
    }
    expect(got).toEqual(MESSAGES);
    await ch.deleteQueue(QUEUE);
    await conn.close();
  });

  it('the admin login and the rest of the deployment still work', async () => {
    ok(await osb(['test'], { stateDir }));
  });
});

describe('a config change restarts only what changed', () => {
  it('memcached.memoryMB: memcached restarts with the new size; RabbitMQ and MariaDB keep their pids', async () => {
    const before = await pids(stateDir);
    const r = ok(await osb(['deploy', '--set', 'memcached.memoryMB=32'], { stateDir }));
    expect(deployActions(r.stdout)).toEqual({ 'rabbitmq-0': 'unchanged', 'mariadb-0': 'unchanged', 'memcached-0': 'restarted' });
    expect(r.stdout).toContain('config changed');
    const after = await pids(stateDir);
    expect(after.rabbitmq).toBe(before.rabbitmq);
    expect(after.mariadb).toBe(before.mariadb);
    expect(after.memcached).not.toBe(before.memcached);
    const stats = await memcachedStats({ host: '127.0.0.1', port: ports.memcached });
    expect(Number(stats.limit_maxbytes)).toBe(32 * 1024 * 1024);
  });

  it('the changed value is remembered: a plain deploy changes nothing', async () => {
    const r = ok(await osb(['deploy'], { stateDir }));
    expect(r.stdout).toContain('no change');
  });

  it('mariadb.maxConnections: only MariaDB restarts, its data is kept', async () => {
    const before = await pids(stateDir);
    const r = ok(await osb(['deploy', '--set', 'mariadb.maxConnections=123'], { stateDir }));
    expect(deployActions(r.stdout)).toEqual({ 'rabbitmq-0': 'unchanged', 'mariadb-0': 'restarted', 'memcached-0': 'unchanged' });
    const after = await pids(stateDir);
    expect(after.rabbitmq).toBe(before.rabbitmq);
    expect(after.memcached).toBe(before.memcached);
    const db = await mariadb();
    const [[row]] = (await db.query('SELECT @@max_connections AS mc, (SELECT COUNT(*) FROM recovery_test.t) AS n')) as unknown as [{ mc: number; n: number }[]];
    expect(row).toEqual({ mc: 123, n: 1 });
    await db.end();
  });
});
