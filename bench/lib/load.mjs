// Load generators: sysbench (MariaDB), memcslap (Memcached), amqplib publish/consume (RabbitMQ).
import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import mysql from 'mysql2/promise';
import { lastLines, now, run } from './util.mjs';

// ---------------------------------------------------------------- sysbench

export const SB = { db: 'sbtest', user: 'bench_sb', tables: 4, tableSize: 10000, threads: 4 };

/** Creates the sysbench database and user; `admin` is a mysql2 connection config with full privileges. */
export async function prepareSysbenchAccount(admin, password) {
  const c = await mysql.createConnection({ ...admin, connectTimeout: 5000 });
  try {
    await c.query(`DROP DATABASE IF EXISTS ${SB.db}`);
    await c.query(`CREATE DATABASE ${SB.db}`);
    for (const host of ['%', 'localhost', '127.0.0.1']) {
      await c.query('CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?', [SB.user, host, password]);
      await c.query('ALTER USER ?@? IDENTIFIED BY ?', [SB.user, host, password]);
      await c.query(`GRANT ALL PRIVILEGES ON ${SB.db}.* TO ?@?`, [SB.user, host]);
    }
  } finally {
    await c.end().catch(() => c.destroy());
  }
}

function sysbenchArgs(port, password) {
  return [
    'oltp_read_write',
    '--db-driver=mysql',
    '--mysql-host=127.0.0.1',
    `--mysql-port=${port}`,
    `--mysql-user=${SB.user}`,
    `--mysql-password=${password}`,
    `--mysql-db=${SB.db}`,
    `--tables=${SB.tables}`,
    `--table-size=${SB.tableSize}`,
    // Galera can answer a local deadlock for a certification conflict; sysbench retries these.
    '--mysql-ignore-errors=1213,1205',
  ];
}

export async function sysbenchPrepare(port, password) {
  const r = await run('sysbench', [...sysbenchArgs(port, password), '--threads=2', 'prepare'], { timeoutMs: 300_000 });
  if (r.code !== 0) throw new Error(`sysbench prepare failed: ${lastLines(r.stderr || r.stdout)}`);
  return r.seconds;
}

/** One timed run; returns { tps, qps, p95ms }. */
/** `extra`: more sysbench flags; `cwd`: where sysbench runs (with --mysql-ssl=on it reads client-key.pem, client-cert.pem and cacert.pem from there). */
export async function sysbenchRun(port, password, seconds, extra = [], cwd = undefined) {
  const r = await run('sysbench', [...sysbenchArgs(port, password), ...extra, `--threads=${SB.threads}`, `--time=${seconds}`, '--report-interval=0', 'run'], {
    timeoutMs: (seconds + 120) * 1000,
    ...(cwd ? { cwd } : {}),
  });
  const tx = /transactions:\s+\d+\s+\(([\d.]+) per sec/.exec(r.stdout);
  if (r.code !== 0 || !tx) throw new Error(`sysbench run failed: ${lastLines(r.stderr || r.stdout)}`);
  const q = /queries:\s+\d+\s+\(([\d.]+) per sec/.exec(r.stdout);
  const p95 = /95th percentile:\s+([\d.]+)/.exec(r.stdout);
  return { tps: Number(tx[1]), qps: q ? Number(q[1]) : undefined, p95ms: p95 ? Number(p95[1]) : undefined };
}

// ---------------------------------------------------------------- memcslap

export const MEMCSLAP = { concurrency: 4, executeNumber: 5000 };

/** memcslap set then get; returns ops/s of each (keys divided by the time memcslap reports). */
export async function memcslap(port) {
  const out = {};
  for (const test of ['set', 'get']) {
    const r = await run(
      'memcslap',
      [`--servers=127.0.0.1:${port}`, `--test=${test}`, `--concurrency=${MEMCSLAP.concurrency}`, `--execute-number=${MEMCSLAP.executeNumber}`],
      {
        timeoutMs: 180_000,
      },
    );
    const m = new RegExp(`Time to ${test}\\s+(\\d+) keys by\\s+\\d+ threads:\\s+([\\d.]+) seconds`).exec(r.stdout);
    if (r.code !== 0 || !m) throw new Error(`memcslap ${test} failed: ${lastLines(r.stderr || r.stdout)}`);
    out[test] = Number(m[1]) / Math.max(Number(m[2]), 1e-6);
  }
  return out;
}

// ---------------------------------------------------------------- AMQP

export const AMQP = { bodyBytes: 1024, batch: 500, prefetch: 500 };

/**
 * Publishes persistent 1 KiB messages with publisher confirms (batches of 500, each awaited)
 * for `seconds`, then consumes them all with manual acks. Returns msg/s for both halves.
 */
export async function amqpRun(url, queueType, seconds, socketOptions = {}) {
  const conn = await amqp.connect(url, { timeout: 10_000, ...socketOptions });
  conn.on('error', () => {});
  const q = `bench-${queueType}-${randomBytes(4).toString('hex')}`;
  const body = randomBytes(AMQP.bodyBytes);
  let ch;
  try {
    ch = await conn.createConfirmChannel();
    ch.on('error', () => {});
    await ch.assertQueue(q, { durable: true, arguments: queueType === 'quorum' ? { 'x-queue-type': 'quorum' } : {} });
    let published = 0;
    const t0 = now();
    const end = t0 + seconds * 1000;
    while (now() < end) {
      for (let i = 0; i < AMQP.batch; i++) ch.publish('', q, body, { persistent: true });
      await ch.waitForConfirms();
      published += AMQP.batch;
    }
    const publishS = (now() - t0) / 1000;

    const cch = await conn.createChannel();
    cch.on('error', () => {});
    await cch.prefetch(AMQP.prefetch);
    let consumed = 0;
    const t1 = now();
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`consumed only ${consumed}/${published} in 120 s`)), 120_000);
      cch
        .consume(q, (msg) => {
          if (!msg) return;
          consumed++;
          if (consumed % 100 === 0 || consumed === published) cch.ack(msg, true);
          if (consumed === published) {
            clearTimeout(timer);
            resolve();
          }
        })
        .catch(reject);
    });
    const consumeS = (now() - t1) / 1000;
    await cch.close().catch(() => {});
    await ch.deleteQueue(q).catch(() => {});
    return { publish: published / publishS, consume: consumed / consumeS, messages: published };
  } finally {
    await conn.close().catch(() => {});
  }
}
