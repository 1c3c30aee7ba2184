import { join } from 'node:path';
import { userInfo } from 'node:os';
import type { Config } from '../../config/schema.js';
import type { Secrets } from '../../config/secrets.js';
import { nodeDir } from '../../config/state-dir.js';
import { clientHost } from '../../model/endpoints.js';
import type { LocalInstance } from '../../model/local.js';
import { fetchMetrics } from '../../util/entry.js';
import { withMariadb } from './client.js';
import { mariadbPaths } from './local.js';
import { exporterAccountStatements, mariadbExporterPort, MYSQLD_EXPORTER_BINARY, mysqldExporterArgs, renderExporterMyCnf } from './metrics.js';

export const exporterName = (ordinal: number) => `mariadb-exporter-${ordinal}`;

/**
 * Node `ordinal`'s prometheus-mysqld-exporter, in the foreground beside its node: credentials in
 * a 0600 my.cnf in the node's dir (unix socket, account `osb_exporter@localhost`), none in argv.
 * Ready when it serves `mysql_up 1` — the account works.
 */
export function mysqldExporterInstance(config: Config, stateDir: string, secrets: Secrets, ordinal: number): LocalInstance {
  const dir = nodeDir(stateDir, 'mariadb', `mariadb-${ordinal}`);
  const p = mariadbPaths(dir);
  const cnf = join(dir, 'exporter.cnf');
  const host = clientHost(config);
  const port = mariadbExporterPort(config, ordinal);
  const log = join(p.logDir, 'exporter.log');
  return {
    component: 'mariadb',
    ordinal,
    name: exporterName(ordinal),
    dir,
    dirs: [p.logDir],
    files: [{ path: cnf, content: renderExporterMyCnf(secrets.mariadbExporterPassword, p.socket), mode: 0o600 }],
    command: MYSQLD_EXPORTER_BINARY,
    args: mysqldExporterArgs(config, ordinal, cnf),
    env: { PATH: '/usr/bin:/bin' },
    pidFile: join(dir, 'exporter.pid'),
    writesNoPidFile: true,
    logFile: log,
    consoleLog: log,
    ports: [{ port, key: 'mariadb.exporterPort' }],
    host,
    port,
    cmdlineMarker: cnf,
    stopTimeoutMs: 5000,
    startTimeoutMs: 20_000,
    isInitialized: () => true,
    async probe() {
      const text = await fetchMetrics(`http://${host}:${port}/metrics`);
      if (!/^mysql_up 1$/m.test(text)) throw new Error('exporter serves mysql_up 0 (cannot log in to its node)');
    },
  };
}

/**
 * The exporter's account (least privilege, see exporterAccountStatements), created or updated on
 * every deploy over a node's unix socket as the OS user (socket auth, no password in any argv).
 * With Galera it replicates to every node. Runs on every deploy, not only when a node starts, so
 * that a deployment made before the exporters existed gets its account without restarting nodes.
 */
export async function ensureExporterAccount(config: Config, stateDir: string, secrets: Secrets): Promise<void> {
  let last: unknown;
  for (let i = 0; i < config.mariadb.replicas; i++) {
    const socketPath = mariadbPaths(nodeDir(stateDir, 'mariadb', `mariadb-${i}`)).socket;
    try {
      await withMariadb({ host: clientHost(config), port: config.mariadb.port + i, user: userInfo().username, socketPath }, async (c) => {
        for (const s of exporterAccountStatements(secrets.mariadbExporterPassword)) await c.query(s.sql, s.params);
      });
      return;
    } catch (err) {
      last = err;
    }
  }
  throw new Error(`could not create the exporter account on any node: ${(last as Error)?.message}`);
}
