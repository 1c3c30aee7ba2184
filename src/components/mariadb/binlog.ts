import type { Config } from '../../config/schema.js';
import type { NodeModel } from '../../model/desired.js';
import { clustered } from '../../model/desired.js';

/** Galera's GTID domain: one for every node, so a transaction has the same GTID everywhere. */
export const WSREP_GTID_DOMAIN = 100;
export const BINLOG_BASENAME = 'mariadb-bin';

/**
 * Binary logs for point-in-time restore (`backup.pitr: true`), node-specific half of my.cnf.
 * Every node logs every transaction (log_slave_updates: Galera's applied writesets too), with
 * Galera GTIDs consistent across nodes (wsrep_gtid_mode, one wsrep_gtid_domain_id); a node's own
 * non-replicated events use its own gtid_domain_id and server_id. Locally the logs live outside the
 * data dir; on Kubernetes in it (the pod's one volume). mariadb-backup backs up no binlog (on a
 * Galera node only the one being written), so a restored node starts a fresh log.
 */
export function binlogLines(config: Config, node: NodeModel, binlogDir: string): string[] {
  return binlogSettings(config, node.ordinal + 1, binlogDir);
}

/** The same settings with the node's id given (ordinal + 1; on Kubernetes a shell expression of the pod's ordinal). */
export function binlogSettings(config: Config, nodeId: number | string, binlogDir: string): string[] {
  if (!config.backup.pitr) return [];
  const lines = [
    `server_id = ${nodeId}`,
    `log_bin = ${binlogDir}/${BINLOG_BASENAME}`,
    `log_bin_index = ${binlogDir}/${BINLOG_BASENAME}.index`,
    'log_slave_updates = ON',
    'max_binlog_size = 64M',
    `gtid_domain_id = ${nodeId}`,
  ];
  if (clustered(config.mariadb)) lines.push('wsrep_gtid_mode = ON', `wsrep_gtid_domain_id = ${WSREP_GTID_DOMAIN}`);
  return lines;
}
