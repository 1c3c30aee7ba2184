import amqp from 'amqplib';
import mysql from 'mysql2/promise';

export interface HostPort {
  host: string;
  port: number;
}

/**
 * A client that keeps committing rows, failing over to the next node on any error —
 * what an OpenStack service with a list of database addresses would do.
 * `acked` holds ids whose COMMIT returned OK.
 */
export class GaleraWriteLoop {
  acked: number[] = [];
  errors = 0;
  private next = 1;
  private running = false;
  private done?: Promise<void>;
  private node = 0;

  constructor(
    private nodes: HostPort[],
    private creds: { user: string; password: string },
    private table = 'osbtest.loop',
  ) {}

  async prepare(): Promise<void> {
    const c = await this.connect(0);
    await c.query('CREATE DATABASE IF NOT EXISTS osbtest');
    await c.query(`CREATE TABLE IF NOT EXISTS ${this.table} (id INT PRIMARY KEY, node INT, at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB`);
    await c.end();
  }

  private connect(i: number) {
    const n = this.nodes[i % this.nodes.length]!;
    return mysql.createConnection({ host: n.host, port: n.port, user: this.creds.user, password: this.creds.password, connectTimeout: 1000 });
  }

  /** Restrict writes to these node indexes (e.g. the survivors), or all when undefined. */
  avoid = new Set<number>();

  start(): void {
    this.running = true;
    this.done = (async () => {
      let conn: mysql.Connection | undefined;
      while (this.running) {
        try {
          if (!conn) {
            while (this.avoid.has(this.node % this.nodes.length)) this.node++;
            conn = await this.connect(this.node);
          }
          const id = this.next;
          await conn.query(`INSERT INTO ${this.table} (id, node) VALUES (?, ?)`, [id, this.node % this.nodes.length]);
          this.acked.push(id);
          this.next++;
        } catch {
          this.errors++;
          this.next++; // an id whose commit failed may or may not exist; never reuse it
          conn?.destroy();
          conn = undefined;
          this.node++;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      conn?.destroy();
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }

  /** Acked ids missing on one node. */
  async missingOn(node: HostPort): Promise<number[]> {
    const c = await mysql.createConnection({ host: node.host, port: node.port, user: this.creds.user, password: this.creds.password });
    try {
      const [rows] = (await c.query(`SELECT id FROM ${this.table}`)) as unknown as [{ id: number }[]];
      const have = new Set(rows.map((r) => r.id));
      return this.acked.filter((id) => !have.has(id));
    } finally {
      await c.end();
    }
  }
}

/**
 * Publishes numbered persistent messages with publisher confirms to a quorum queue,
 * reconnecting to the next node on failure and republishing anything not confirmed.
 */
export class ConfirmedPublisher {
  confirmed = new Set<number>();
  reconnects = 0;
  private running = false;
  private done?: Promise<void>;
  private node = 0;

  constructor(
    private urls: string[],
    private queue: string,
  ) {}

  async declare(): Promise<void> {
    const c = await amqp.connect(this.urls[0]!);
    const ch = await c.createChannel();
    await ch.assertQueue(this.queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await c.close();
  }

  start(): void {
    this.running = true;
    let next = 1;
    this.done = (async () => {
      while (this.running) {
        let conn: amqp.ChannelModel | undefined;
        try {
          conn = await amqp.connect(this.urls[this.node % this.urls.length]!, { timeout: 2000 });
          conn.on('error', () => {});
          const ch = await conn.createConfirmChannel();
          ch.on('error', () => {});
          while (this.running) {
            const id = next;
            await new Promise<void>((resolve, reject) => {
              ch.sendToQueue(this.queue, Buffer.from(String(id)), { persistent: true }, (err) => (err ? reject(err) : resolve()));
            });
            this.confirmed.add(id);
            next++;
          }
          await conn.close().catch(() => {});
        } catch {
          this.reconnects++;
          next++; // an unconfirmed id may or may not be enqueued; it is not counted
          await conn?.close().catch(() => {});
          this.node++;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }

  /** Drains the queue with a prefetching consumer (a get per message is far too slow); returns the ids received. */
  async drain(url: string): Promise<Set<number>> {
    const c = await amqp.connect(url);
    const ch = await c.createChannel();
    const got = new Set<number>();
    const { messageCount } = await ch.checkQueue(this.queue);
    await ch.prefetch(1000);
    await new Promise<void>((resolve, reject) => {
      let seen = 0;
      const timer = setTimeout(() => reject(new Error(`drained ${seen} of ${messageCount} messages within 60s`)), 60_000);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      if (messageCount === 0) return done();
      void ch.consume(this.queue, (m) => {
        if (!m) return;
        got.add(Number(m.content.toString()));
        ch.ack(m);
        if (++seen >= messageCount) done();
      });
    });
    await c.close();
    return got;
  }
}
