/**
 * RabbitMQ's part of `osb backup` / `osb restore`: the definitions (users with their password
 * hashes, vhosts with their default queue type, permissions, policies, queues, exchanges,
 * bindings) exported and imported with the management API. Messages are not backed up.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BackupHooks } from '../../model/backup.js';
import { OsbError } from '../../util/errors.js';
import { managementApi } from './client.js';
import { rabbitmqEndpoint } from './local.js';
import { runningPid } from '../../util/process.js';

interface Definitions {
  rabbit_version?: string;
  users?: { name: string }[];
  vhosts?: { name: string; default_queue_type?: string; metadata?: { default_queue_type?: string } }[];
  permissions?: unknown[];
  policies?: unknown[];
  queues?: unknown[];
}

const FILE = 'definitions.json';

export const rabbitmqBackup: BackupHooks = {
  async take(ctx) {
    const node = ctx.nodes.find((n) => runningPid(n));
    if (!node) throw new OsbError('no RabbitMQ node is running', 'start it with `osb deploy`, then back up');
    const defs = await managementApi<Definitions>(rabbitmqEndpoint(ctx.config, node.ordinal, ctx.secrets, node.dir), 'GET', '/definitions', undefined, 30_000);
    // Password hashes: readable by the owner only.
    writeFileSync(join(ctx.dir, FILE), JSON.stringify(defs, null, 2) + '\n', { mode: 0o600 });
    ctx.report(`${node.name}: definitions of ${defs.vhosts?.length ?? 0} vhost(s), ${defs.users?.length ?? 0} user(s)`);
    return {
      node: node.name,
      serverVersion: defs.rabbit_version,
      vhosts: (defs.vhosts ?? []).map((v) => ({ name: v.name, defaultQueueType: v.default_queue_type ?? v.metadata?.default_queue_type })),
      users: (defs.users ?? []).map((u) => u.name),
      permissions: defs.permissions?.length ?? 0,
      policies: defs.policies?.length ?? 0,
      queues: defs.queues?.length ?? 0,
    };
  },
  async restoreAfterStart(ctx) {
    const defs = JSON.parse(readFileSync(join(ctx.dir, FILE), 'utf8')) as Definitions;
    await managementApi(rabbitmqEndpoint(ctx.config, 0, ctx.secrets, ctx.nodes[0]!.dir), 'POST', '/definitions', defs, 60_000);
    ctx.report(`imported the definitions of ${defs.vhosts?.length ?? 0} vhost(s), ${defs.users?.length ?? 0} user(s)`);
  },
};
