/**
 * Issue 17, faults 3 and 4 for RabbitMQ: a minority partition under `pause_minority` (cut with the
 * net_cls + nftables rig, ./rig.ts), and a hung node (SIGSTOP) that leads the quorum queue. One 3-node
 * RabbitMQ on port block 42. Two clients run through every fault:
 * - a publisher with confirms to a quorum queue (amqplib; on any error it moves to the next node and
 *   publishes the next id), whose history (./history.ts) is checked against what a consumer drains
 *   from the queue after the heal: 0 confirmed messages lost, none delivered twice;
 * - Debian's oslo.messaging, an RPC server and client configured only from `osb endpoints --format oslo`:
 *   every call answered, in order (it may retry and reconnect, nothing else).
 */
import { createConnection } from 'node:net';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockPorts, listeningInBlock } from '../helpers/local.js';
import { cleanup, osb, portBlock, tempStateDir } from '../helpers/osb.js';
import { PyLoop, sleep, waitFor } from '../helpers/pyloop.js';
import { checkHistory, describeVerdict, parseHistory } from './history.js';
import { freeze, NetCut, type RigNode, thaw } from './rig.js';
import { now, round, Tier, watch } from './tier.js';

const BLOCK = 42;
const P = blockPorts(BLOCK);
const ARGS = [...portBlock(BLOCK), '--set', 'rabbitmq.replicas=3', '--set', 'mariadb.enabled=false', '--set', 'memcached.enabled=false'];
/** docs/faults.md: the longest a publisher waits for a confirm when a node is cut off or hangs. */
const FAILOVER_LIMIT_S = 30;
const HEAL_LIMIT_S = 90;
/** A hung node can come back into a cluster that recorded a partition (see docs/faults.md): `osb heal` repairs it after this. */
const REPAIR_AFTER_S = 45;
const NAMES = ['rabbitmq-0', 'rabbitmq-1', 'rabbitmq-2'];

const stateDir = tempStateDir('faults-rabbitmq');
const tier = new Tier(stateDir);
let cut: NetCut;
const measured: Record<string, unknown> = {};

async function rigNodes(): Promise<RigNode[]> {
  const { s } = await tier.status();
  return NAMES.map((name, i) => ({ name, pid: tier.node(s, name).pid!, clusterPorts: [P.dist + i] }));
}

const url = (i: number) =>
  `amqp://${encodeURIComponent(tier.eps.rabbitmq.username)}:${encodeURIComponent(tier.eps.rabbitmq.password)}@127.0.0.1:${P.amqp + i}/`;

/** Management API of node i: its own view of the cluster. */
async function api<T>(i: number, path: string, timeoutMs = 1500): Promise<T> {
  const auth = Buffer.from(`${tier.eps.rabbitmq.username}:${tier.eps.rabbitmq.password}`).toString('base64');
  const r = await fetch(`http://127.0.0.1:${P.management + i}/api${path}`, {
    headers: { authorization: `Basic ${auth}` },
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  return (await r.json()) as T;
}

/** "running 3 partitions 0", or how node i fails to answer. */
async function nodeView(i: number): Promise<string> {
  try {
    // the API asks every node it knows: while one is unreachable it answers slowly, and without that node's fields
    const nodes = await api<{ name: string; running: boolean; partitions?: string[] }[]>(i, '/nodes?columns=name,running,partitions', 6000);
    return `running ${nodes.filter((n) => n.running).length} partitions ${nodes.reduce((a, n) => a + (n.partitions ?? []).length, 0)}`;
  } catch (e) {
    return `no answer (${(e as Error).message.slice(0, 40)})`;
  }
}

/** True when nothing listens on the port any more (a paused RabbitMQ closes its listeners). */
function tcpRefused(port: number): Promise<boolean> {
  return new Promise((res) => {
    const sock = createConnection(port, '127.0.0.1');
    sock.setTimeout(2000, () => {
      sock.destroy();
      res(false);
    });
    sock.on('connect', () => {
      sock.destroy();
      res(false);
    });
    sock.on('error', (e: NodeJS.ErrnoException) => res(e.code === 'ECONNREFUSED'));
  });
}

const whole = async () => (await Promise.all([0, 1, 2].map(nodeView))).every((v) => v === 'running 3 partitions 0');

/**
 * Publishes one message at a time with confirms to a quorum queue; on any error (closed connection,
 * blocked, no confirm within 5 s) records E and moves on to the next node with the next id.
 */
class Publisher {
  readonly lines: string[][] = [];
  private running = true;
  private node = 0;
  private done: Promise<void> = Promise.resolve();
  connectedTo: number[] = [];

  constructor(readonly queue: string) {}

  start(): void {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    let id = 0;
    let conn: amqp.ChannelModel | undefined;
    let ch: amqp.ConfirmChannel | undefined;
    while (this.running) {
      try {
        if (!ch) {
          conn = await amqp.connect(url(this.node), { heartbeat: 2, timeout: 2000 });
          conn.on('error', () => {});
          ch = await conn.createConfirmChannel();
          ch.on('error', () => {});
          await ch.assertQueue(this.queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
          this.connectedTo.push(this.node);
        }
      } catch {
        await conn?.close().catch(() => {});
        [conn, ch] = [undefined, undefined];
        this.node = (this.node + 1) % 3;
        await sleep(200);
        continue;
      }
      id += 1;
      const t0 = now();
      this.lines.push(['S', String(id), String(t0)]);
      try {
        await new Promise<void>((res, rej) => {
          const timer = setTimeout(() => rej(new Error('no confirm within 5 s')), 5000);
          const onClose = () => rej(new Error('connection closed'));
          conn!.once('close', onClose);
          ch!.sendToQueue(this.queue, Buffer.from(String(id)), { persistent: true, messageId: String(id) }, (err) => {
            clearTimeout(timer);
            conn!.off('close', onClose);
            if (err) rej(err instanceof Error ? err : new Error(String(err)));
            else res();
          });
        });
        this.lines.push(['A', String(id), String(now()), (now() - t0).toFixed(3)]);
        await sleep(10);
      } catch (e) {
        this.lines.push(['E', String(id), String(now()), (now() - t0).toFixed(3), ...(e as Error).message.split(' ')]);
        await conn?.close().catch(() => {});
        [conn, ch] = [undefined, undefined];
        this.node = (this.node + 1) % 3;
        await sleep(200);
      }
    }
    await conn?.close().catch(() => {});
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

/** Drains the queue from node i: every message id, one entry per delivery. */
/**
 * Every message left in the queue, consumed with acks (basic.consume, 500 in flight: one basic.get per message
 * costs a quorum-queue round trip each, minutes for the thousands a long fault leaves), until the queue is empty.
 */
async function drain(i: number, queue: string): Promise<number[]> {
  const conn = await amqp.connect(url(i));
  try {
    const ch = await conn.createChannel();
    await ch.prefetch(500);
    const ids: number[] = [];
    let last = Date.now();
    const { consumerTag } = await ch.consume(
      queue,
      (m) => {
        if (!m) return;
        ids.push(Number(m.content.toString()));
        ch.ack(m);
        last = Date.now();
      },
      { noAck: false },
    );
    // Empty: nothing delivered for a second, and the queue reports no message ready.
    await waitFor('the queue drained', async () => Date.now() - last > 1000 && (await ch.checkQueue(queue)).messageCount === 0, 300_000, 250);
    await ch.cancel(consumerTag);
    const left = await ch.checkQueue(queue);
    expect(left.messageCount).toBe(0);
    return ids;
  } finally {
    await conn.close();
  }
}

beforeAll(async () => {
  await tier.deploy(ARGS, 400_000);
  await tier.load();
  cut = new NetCut(`rabbitmq-${process.pid}`);
}, 420_000);

afterAll(async () => {
  console.log(`RabbitMQ fault measurements (issue 17):\n${JSON.stringify(measured, null, 2)}`);
  cut?.dispose();
  await cleanup(stateDir);
  expect(listeningInBlock(BLOCK)).toEqual([]);
}, 180_000);

/**
 * `repair`: what the operator does when the cluster is not whole by itself within REPAIR_AFTER_S of the heal
 * (without it, that is a failure); its description lands in the result.
 */
async function underFault(
  queue: string,
  holdS: number,
  fault: (nodes: RigNode[]) => () => void,
  during?: (t0: number) => Promise<void>,
  repair?: () => Promise<string>,
) {
  await waitFor('3 running nodes, no partition, before the fault', whole, 60_000, 500);
  const pub = new Publisher(queue);
  const rpc = new PyLoop('ha_rpc_loop.py', [tier.novaConf, '5']);
  const views = [0, 1, 2].map((i) => watch(() => nodeView(i)));
  try {
    pub.start();
    await rpc.ready(5, 60_000);
    await waitFor('confirms', () => pub.lines.filter((l) => l[0] === 'A').length >= 20, 30_000, 100);
    const nodes = await rigNodes();
    const tFault = now();
    const healFault = fault(nodes);
    const explain = (e: Error) =>
      new Error(
        `${e.message}\n  ${views.map((w, i) => `${NAMES[i]}:\n    ${w.text(tFault)}`).join('\n  ')}\n${NAMES.map((n) => `${n} log:\n${tier.logTail(n, 'rabbit.log', 20)}`).join('\n')}`,
      );
    await during?.(tFault).catch((e: Error) => {
      healFault();
      throw explain(e);
    });
    const rest = holdS - (now() - tFault);
    if (rest > 0) await sleep(rest * 1000);
    const tHeal = now();
    healFault();
    let repaired = '';
    const byItself = await waitFor('3 running nodes, no partition, after the heal', whole, (repair ? REPAIR_AFTER_S : HEAL_LIMIT_S) * 1000, 500).then(
      () => true,
      (e: Error) => {
        if (!repair) throw explain(e);
        return false;
      },
    );
    if (!byItself) {
      repaired = await repair!(); // '' when there was nothing to repair: then the cluster must get whole by itself
      await waitFor('3 running nodes, no partition, after the repair', whole, HEAL_LIMIT_S * 1000, 500).catch((e: Error) => {
        throw explain(e);
      });
    }
    const healS = round(now() - tHeal);
    await sleep(2000);
    const tEnd = now();
    await pub.stop();
    const rpcDone = await rpc.stop();
    for (const w of views) await w.stop();
    const verdict = checkHistory(parseHistory(pub.lines), { queue: await drain(0, queue) }, { from: tFault, to: tEnd, t0: tFault });
    const answers = rpc.events('A').map((l) => Number(l[1]));
    const retries = rpc.events('R');
    const reconnects = rpc.stderr.split('\n').filter((l) => Number(l.split(' ')[0]) > tFault && /Reconnected to AMQP server/.test(l)).length;
    const rpcResult = {
      calls: answers.length,
      retries: retries.length,
      reconnects,
      unanswered: Number(rpcDone[3]),
      slowestCallS: Math.max(...rpc.events('A').map((l) => Number(l[4]))),
    };
    const timelines = views.map((w, i) => `${NAMES[i]} (its management API's view):\n    ${w.text(tFault)}`).join('\n  ');
    // every call answered, in order
    expect(rpcResult.unanswered, 'unanswered RPC calls').toBe(0);
    expect(answers).toEqual(Array.from({ length: answers.length }, (_, k) => k + 1));
    return { verdict, healS, tFault, tHeal, rpcResult, timelines, pub, repaired };
  } finally {
    rpc.kill();
    await pub.stop();
    for (const w of views) await w.stop();
  }
}

describe('RabbitMQ minority partition under pause_minority (rig: net_cls + nftables on loopback)', () => {
  it('rabbitmq-2 cut off: it pauses, confirmed publishing to a quorum queue continues on the majority, it comes back with no manual step, nothing lost', async () => {
    let pausedAt = 0;
    let statusSays = '';
    const o = await underFault(
      'fault_minority',
      25,
      (nodes) => {
        cut.partition([[nodes[2]!], [nodes[0]!, nodes[1]!]]);
        return () => cut.heal();
      },
      async (t0) => {
        // pause_minority: the cut-off node stops its rabbit application, so its AMQP listener closes
        await waitFor('rabbitmq-2 paused (its AMQP port refuses connections)', async () => await tcpRefused(P.amqp + 2), 90_000, 500);
        pausedAt = round(now() - t0);
        await waitFor('the majority sees 2 running', async () => (await nodeView(0)).startsWith('running 2'), 90_000, 500);
        const { s } = await tier.status();
        const n = tier.node(s, 'rabbitmq-2');
        statusSays = n.error ?? '';
        expect(n.healthy, 'osb status: the paused node is not healthy').toBe(false);
        expect(n.error, 'osb status names the cause').toMatch(/paused by pause_minority/);
      },
    );
    measured.minority = { pausedAfterS: pausedAt, healS: o.healS, statusSays, rpc: o.rpcResult, ...o.verdict };
    console.log(
      `RabbitMQ: rabbitmq-2 cut off: ${describeVerdict(o.verdict)}; paused after ${pausedAt}s, whole ${o.healS}s after healing; RPC ${JSON.stringify(o.rpcResult)}; osb status said ${statusSays}\n  ${o.timelines}`,
    );
    expect(o.verdict.missingAcked, 'confirmed messages missing').toEqual({});
    expect(o.verdict.duplicates, 'messages delivered twice').toEqual({});
    expect(o.verdict.longestUnavailableS, 'longest window without a confirm (s)').toBeLessThan(FAILOVER_LIMIT_S);
    expect(o.healS).toBeLessThan(HEAL_LIMIT_S);
  });
});

describe('a hung RabbitMQ node (SIGSTOP past the failure-detection timeouts, then SIGCONT)', () => {
  it('the quorum queue leader hangs: a new leader is elected, publishers move on, the node rejoins after SIGCONT, nothing lost', async () => {
    const queue = 'fault_hung';
    await waitFor('3 running nodes, no partition', whole, 60_000, 500);
    // declare first, and hang the node that leads it
    const c = await amqp.connect(url(0));
    await (await c.createChannel()).assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await c.close();
    const leaderNode = (await api<{ leader?: string; node?: string }>(0, `/queues/%2F/${queue}`, 10_000)).leader!;
    const victim = NAMES.findIndex((_, i) => leaderNode.startsWith(`rabbit-${P.amqp + i}@`));
    expect(victim, `leader ${leaderNode} is one of the nodes`).toBeGreaterThanOrEqual(0);
    let frozen: number[] = [];
    let newLeaderAt = 0;
    const other = (victim + 1) % 3;
    const o = await underFault(
      queue,
      20,
      (nodes) => {
        frozen = freeze(nodes[victim]!.pid);
        return () => thaw(frozen);
      },
      async (t0) => {
        await waitFor(
          'a new quorum queue leader',
          async () => {
            const q = await api<{ leader?: string }>(other, `/queues/%2F/${queue}`, 6000).catch(() => undefined);
            return q?.leader && q.leader !== leaderNode;
          },
          60_000,
          500,
        );
        newLeaderAt = round(now() - t0);
      },
      async () => {
        // Resumed into a cluster that had declared it down, the node and its peers may record a partition that
        // pause_minority does not resolve (every node is reachable again, none is in a minority). osb status says
        // so; `osb heal` (under systemd, its timer every 15 s) restarts the losing side.
        const { run, s } = await tier.status();
        // not a recorded partition (only slow to settle): nothing to repair, keep waiting
        if (!/partitions":\["rabbit-/.test(JSON.stringify(s))) return '';
        expect(run.code, 'osb status fails while a partition is recorded').not.toBe(0);
        const r = await osb(['heal'], { stateDir, timeoutMs: 400_000 });
        expect(r.code, r.stderr.slice(-2000)).toBe(0);
        expect(r.stdout).toMatch(/osb heal: restarted rabbitmq-\d/);
        return `a partition recorded after SIGCONT, repaired by osb heal (${r.stdout.match(/osb heal: restarted (.*)/)![1]})`;
      },
    ).finally(() => thaw(frozen));
    measured.hungLeader = {
      victim: NAMES[victim],
      newLeaderAfterS: newLeaderAt,
      healS: o.healS,
      repaired: o.repaired || 'no: whole by itself',
      rpc: o.rpcResult,
      ...o.verdict,
    };
    console.log(
      `RabbitMQ: ${NAMES[victim]} (quorum leader) SIGSTOPped 20 s: ${describeVerdict(o.verdict)}; new leader after ${newLeaderAt}s, whole ${o.healS}s after SIGCONT; RPC ${JSON.stringify(o.rpcResult)}\n  ${o.timelines}`,
    );
    expect(o.verdict.missingAcked, 'confirmed messages missing').toEqual({});
    expect(o.verdict.duplicates, 'messages delivered twice').toEqual({});
    expect(o.verdict.longestUnavailableS, 'longest window without a confirm (s)').toBeLessThan(FAILOVER_LIMIT_S);
  });
});
