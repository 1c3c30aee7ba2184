import type { Config } from '../../config/schema.js';
import type { NodeModel } from '../../model/desired.js';
import { clientHost } from '../../model/endpoints.js';
import { clustered } from '../../model/desired.js';
import { nodeTlsFiles } from '../../config/tls.js';
import { localGaleraPorts } from './ports.js';
import { galeraTlsOptions, sstTlsLines } from './tls.js';

/**
 * A dead peer blocks commits until it is evicted; Galera's defaults (suspect 5 s, inactive 15 s) are made
 * for WANs and cost 6.1 s of failover under load. Measured under CPU hogs on every core plus O_DIRECT and
 * buffered fsync writers (docs/faults.md, "Failure detection under load"): no live node was evicted with
 * suspect 2 s or 3 s; a killed writer's failover was 4.1–4.6 s under load, and 3 s costs ~1 s
 * without load (4.1 s instead of 3.1–3.5 s). 3 s tolerates a stall of ~2.5 s instead of ~1.5 s; inactive
 * 5 s (> suspect) and install 5 s (a view install on a loaded host) follow it.
 */
const FAST_FAILURE_DETECTION =
  'evs.keepalive_period=PT0.5S;evs.inactive_check_period=PT0.5S;evs.suspect_timeout=PT3S;evs.inactive_timeout=PT5S;evs.install_timeout=PT5S';

/** Galera settings of one local node (empty for a single node). Ports: base+i, base+10+i, base+20+i. */
export function galeraInstanceLines(config: Config, node: NodeModel, dir: string, osUser: string): string[] {
  const m = config.mariadb;
  if (!clustered(m)) return [];
  const host = clientHost(config);
  const peers = Array.from({ length: m.replicas }, (_, i) => `${host}:${localGaleraPorts(config, i).group}`).join(',');
  const g = localGaleraPorts(config, node.ordinal);
  const tls = nodeTlsFiles(dir);
  return [
    `wsrep_cluster_address = gcomm://${peers}`,
    `wsrep_node_name = ${node.name}`,
    `wsrep_node_address = ${host}:${g.group}`,
    `wsrep_provider_options = "gmcast.listen_addr=tcp://${host}:${g.group};ist.recv_addr=${host}:${g.ist};gcache.size=64M;${FAST_FAILURE_DETECTION}${galeraTlsOptions(config, tls)}"`,
    `wsrep_sst_receive_address = ${host}:${g.sst}`,
    // mariabackup connects over the socket with socket authentication: no password in any file.
    `wsrep_sst_auth = ${osUser}:`,
    '',
    '[sst]',
    `sst-log-archive-dir = ${dir}/log/sst`,
    ...sstTlsLines(config, tls),
    '',
    '[mysqld]',
  ];
}
