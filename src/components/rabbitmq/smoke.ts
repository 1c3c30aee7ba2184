import type { SmokeStep } from '../../model/smoke.js';
import { connectAmqp, type RabbitmqEndpoint } from './client.js';
import type amqp from 'amqplib';
import { crypto } from '../../util/builtin.js';

/** `helm test` for RabbitMQ: declare, publish with confirms, consume, ack, delete. */
export function rabbitmqSmokeSteps(ep: RabbitmqEndpoint): SmokeStep[] {
  const queue = `osb-smoke-${crypto().randomBytes(4).toString('hex')}`;
  const body = crypto().randomBytes(16).toString('hex');
  let conn: amqp.ChannelModel | undefined;
  let ch: amqp.ConfirmChannel | undefined;
  const close = async () => {
    await conn?.close().catch(() => {});
    conn = undefined;
  };
  return [
    {
      name: `connect to ${ep.host}:${ep.port} as ${ep.username}`,
      run: async () => {
        conn = await connectAmqp(ep, 5000);
        conn.on('error', () => {});
        ch = await conn.createConfirmChannel();
      },
    },
    { name: `declare queue ${queue}`, run: async () => void (await ch!.assertQueue(queue, { durable: false, autoDelete: false })) },
    {
      name: 'publish with publisher confirm',
      run: () =>
        new Promise<void>((resolve, reject) => {
          ch!.sendToQueue(queue, Buffer.from(body), { persistent: false }, (err) => (err ? reject(new Error('broker nacked the message')) : resolve()));
        }),
    },
    {
      name: 'consume and ack',
      run: async () => {
        const deadline = Date.now() + 5000;
        while (Date.now() < deadline) {
          const msg = await ch!.get(queue, { noAck: false });
          if (msg) {
            if (msg.content.toString() !== body) throw new Error('consumed a different message than published');
            ch!.ack(msg);
            return;
          }
          await new Promise((r) => setTimeout(r, 20));
        }
        throw new Error('no message to consume within 5s');
      },
    },
    {
      name: 'delete queue',
      run: async () => {
        try {
          const r = await ch!.deleteQueue(queue);
          if (r.messageCount !== 0) throw new Error(`queue still held ${r.messageCount} messages`);
        } finally {
          await close();
        }
      },
    },
  ];
}
