import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../config/schema.js';
import type { NodeModel } from '../../model/desired.js';
import type { LocalInstance } from '../../model/local.js';
import { memcachedVersion } from './client.js';
import { memcachedTuningArgs } from './config.js';
import { clientHost } from '../../model/endpoints.js';

export const MEMCACHED_BINARIES = { server: '/usr/bin/memcached' };

export function memcachedLocalInstance(config: Config, node: NodeModel, dir: string): LocalInstance {
  const host = clientHost(config);
  const pidFile = join(dir, 'memcached.pid');
  const logFile = join(dir, 'memcached.log');
  return {
    component: 'memcached',
    ordinal: node.ordinal,
    name: node.name,
    dir,
    dirs: [],
    files: [],
    command: MEMCACHED_BINARIES.server,
    // As root memcached insists on -u; it then runs as that same user (root) — like the other daemons,
    // it runs as whoever runs osb.
    args: ['-l', config.bindAddress, '-p', String(node.port), ...memcachedTuningArgs(config.memcached), '-P', pidFile, '-u', userInfo().username],
    env: {},
    pidFile,
    logFile,
    consoleLog: logFile,
    ports: [{ port: node.port, key: 'memcached.port' }],
    host,
    port: node.port,
    cmdlineMarker: pidFile,
    stopTimeoutMs: 10_000,
    startTimeoutMs: 20_000,
    isInitialized: () => true,
    async probe() {
      await memcachedVersion({ host, port: node.port });
    },
  };
}
