import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../config/schema.js';
import type { NodeModel } from '../../model/desired.js';
import type { LocalInstance } from '../../model/local.js';
import { memcachedText, memcachedVersion, type MemcachedEndpoint } from './client.js';
import { memcachedTuningArgs } from './config.js';
import { clientHost } from '../../model/endpoints.js';
import { nodeTlsFiles, type NodeTlsFiles } from '../../config/tls.js';

export const MEMCACHED_BINARIES = { server: '/usr/bin/memcached' };

export function memcachedLocalInstance(config: Config, node: NodeModel, dir: string): LocalInstance {
  const host = clientHost(config);
  const pidFile = join(dir, 'memcached.pid');
  const logFile = join(dir, 'memcached.log');
  const tls = nodeTlsFiles(dir);
  const ep = { host, port: node.port, ...(config.tls.enabled ? { caFile: tls.ca } : {}) };
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
    args: [
      '-l',
      config.bindAddress,
      '-p',
      String(node.port),
      ...memcachedTuningArgs(config.memcached),
      ...memcachedTlsArgs(config, tls),
      '-P',
      pidFile,
      '-u',
      userInfo().username,
    ],
    env: {},
    pidFile,
    logFile,
    consoleLog: logFile,
    ports: [{ port: node.port, key: 'memcached.port' }],
    host,
    port: node.port,
    cmdlineMarker: pidFile,
    stopTimeoutMs: 10_000,
    limitNofile: config.memcached.maxConnections + 1024,
    startTimeoutMs: 20_000,
    isInitialized: () => true,
    async probe() {
      await memcachedVersion(ep);
    },
  };
}

/**
 * TLS on: every listener speaks TLS only (`-Z`; memcached has no per-listener plain port here, so
 * TLS on means TLS required). Client certificates are verified against the CA when presented.
 */
export function memcachedTlsArgs(config: Config, f: NodeTlsFiles): string[] {
  return config.tls.enabled ? ['-Z', '-o', `ssl_chain_cert=${f.cert},ssl_key=${f.key},ssl_ca_cert=${f.ca}`] : [];
}

/** After a rotation: `refresh_certs` makes memcached read its certificate and key again; new connections get them. */
export async function reloadMemcachedTls(ep: MemcachedEndpoint): Promise<void> {
  const answer = await memcachedText(ep, 'refresh_certs\r\n');
  if (!answer.startsWith('OK')) throw new Error(`memcached ${ep.host}:${ep.port} refused refresh_certs: ${answer.trim()}`);
}
