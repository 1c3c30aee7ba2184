import { join } from 'node:path';
import type { Config } from '../../config/schema.js';
import { nodeDir } from '../../config/state-dir.js';
import { clientHost } from '../../model/endpoints.js';
import type { LocalInstance } from '../../model/local.js';
import { fetchMetrics, osbEntryPoint } from '../../util/entry.js';
import { memcachedExporterArgs, memcachedExporterPort } from './metrics.js';

export const exporterName = (ordinal: number) => `memcached-exporter-${ordinal}`;

/**
 * Node `ordinal`'s exporter: `osb exporter memcached` in the foreground, beside its memcached
 * (files in the node's dir). No secret: memcached has no authentication here.
 */
export function memcachedExporterInstance(config: Config, stateDir: string, ordinal: number): LocalInstance {
  const dir = nodeDir(stateDir, 'memcached', `memcached-${ordinal}`);
  const host = clientHost(config);
  const port = memcachedExporterPort(config, ordinal);
  const args = memcachedExporterArgs(config, ordinal, host);
  const log = join(dir, 'exporter.log');
  return {
    component: 'memcached',
    ordinal,
    name: exporterName(ordinal),
    dir,
    dirs: [],
    files: [],
    command: process.execPath,
    args: [osbEntryPoint(), ...args],
    // Names its node's dir, so that tools that find a deployment's processes by path (leak checks, the bench) see it.
    env: { PATH: '/usr/bin:/bin', OSB_EXPORTER_NODE_DIR: dir },
    pidFile: join(dir, 'exporter.pid'),
    writesNoPidFile: true,
    logFile: log,
    consoleLog: log,
    ports: [{ port, key: 'memcached.exporterPort' }],
    host,
    port,
    // The listen address is unique per deployment (ports are).
    cmdlineMarker: `${args[2]} ${args[3]}`,
    stopTimeoutMs: 5000,
    startTimeoutMs: 15_000,
    isInitialized: () => true,
    async probe() {
      await fetchMetrics(`http://${host}:${port}/metrics`);
    },
  };
}
