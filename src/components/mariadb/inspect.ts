import { withMariadb, type MariadbEndpoint } from './client.js';

export interface MariadbNodeInfo {
  version: string;
  /** Threads_connected / @@max_connections (the same counters as mysql_global_status_threads_connected). */
  connections: { used: number; max: number };
  /** Galera: share of time replication was paused by flow control since the server started, and the total in seconds. */
  flowControl?: { pausedFraction: number; pausedSeconds: number };
  /** Galera only. */
  galera?: { clusterSize: number; state: string; clusterStatus: string; ready: boolean; lastCommitted: number };
}

/** A live look at one server: version and, on Galera, its view of the cluster. */
export async function inspectMariadb(ep: MariadbEndpoint): Promise<MariadbNodeInfo> {
  return withMariadb(
    ep,
    async (c) => {
      const [[row]] = (await c.query('SELECT VERSION() AS v, @@wsrep_on AS wsrep, @@max_connections AS max')) as unknown as [
        { v: string; wsrep: number; max: number }[],
      ];
      const [vars] = (await c.query(
        "SHOW GLOBAL STATUS WHERE Variable_name IN ('Threads_connected','Uptime','wsrep_cluster_size','wsrep_local_state_comment','wsrep_cluster_status','wsrep_ready','wsrep_last_committed','wsrep_flow_control_paused_ns')",
      )) as unknown as [{ Variable_name: string; Value: string }[]];
      const v = Object.fromEntries(vars.map((r) => [r.Variable_name, r.Value]));
      const info: MariadbNodeInfo = { version: row!.v, connections: { used: Number(v.Threads_connected ?? 0), max: Number(row!.max) } };
      if (row!.wsrep) {
        const pausedSeconds = Number(v.wsrep_flow_control_paused_ns ?? 0) / 1e9;
        info.flowControl = { pausedSeconds, pausedFraction: Number(v.Uptime) > 0 ? pausedSeconds / Number(v.Uptime) : 0 };
        info.galera = {
          clusterSize: Number(v.wsrep_cluster_size ?? 0),
          state: v.wsrep_local_state_comment ?? 'unknown',
          clusterStatus: v.wsrep_cluster_status ?? 'unknown',
          ready: v.wsrep_ready === 'ON',
          lastCommitted: Number(v.wsrep_last_committed ?? -1),
        };
      }
      return info;
    },
    2000,
  );
}
