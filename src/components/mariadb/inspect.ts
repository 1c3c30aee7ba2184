import { withMariadb, type MariadbEndpoint } from './client.js';

export interface MariadbNodeInfo {
  version: string;
  /** Galera only. */
  galera?: { clusterSize: number; state: string; clusterStatus: string; ready: boolean; lastCommitted: number };
}

/** A live look at one server: version and, on Galera, its view of the cluster. */
export async function inspectMariadb(ep: MariadbEndpoint): Promise<MariadbNodeInfo> {
  return withMariadb(
    ep,
    async (c) => {
      const [[row]] = (await c.query('SELECT VERSION() AS v, @@wsrep_on AS wsrep')) as unknown as [{ v: string; wsrep: number }[]];
      const info: MariadbNodeInfo = { version: row!.v };
      if (row!.wsrep) {
        const [vars] = (await c.query(
          "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_cluster_size','wsrep_local_state_comment','wsrep_cluster_status','wsrep_ready','wsrep_last_committed')",
        )) as unknown as [{ Variable_name: string; Value: string }[]];
        const v = Object.fromEntries(vars.map((r) => [r.Variable_name, r.Value]));
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
