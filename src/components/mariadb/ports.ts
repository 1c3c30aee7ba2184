import type { Config } from '../../config/schema.js';
import type { PortUse } from '../../model/component.js';
import { clustered } from '../../model/desired.js';

/**
 * MariaDB's port scheme, the one place it is written. Local target, node i: client port+i;
 * Galera group galeraPort+i, IST galeraPort+10+i, SST galeraPort+20+i; the single-writer proxy
 * mariadb.proxyPort (default port+9). Kubernetes (one IP per pod): group, group+1 and 4444.
 */
export function localGaleraPorts(config: Config, ordinal: number) {
  const g = config.mariadb.galeraPort;
  return { group: g + ordinal, ist: g + 10 + ordinal, sst: g + 20 + ordinal };
}

export const proxyPort = (config: Config) => config.mariadb.proxyPort ?? config.mariadb.port + 9;

/** Galera runs behind the single-writer proxy. */
export const needsProxy = (config: Config) => config.mariadb.enabled && clustered(config.mariadb);

export const kubernetesGaleraPorts = (groupPort: number) => ({ group: groupPort, ist: groupPort + 1, sst: 4444 });

export function mariadbPorts(config: Config): PortUse[] {
  const m = config.mariadb;
  const out: PortUse[] = [];
  for (let i = 0; i < m.replicas; i++) {
    out.push({ port: m.port + i, key: 'mariadb.port' });
    if (clustered(m)) {
      const g = localGaleraPorts(config, i);
      out.push(
        { port: g.group, key: 'mariadb.galeraPort' },
        { port: g.ist, key: 'mariadb.galeraPort (IST)' },
        { port: g.sst, key: 'mariadb.galeraPort (SST)' },
      );
    }
  }
  if (clustered(m)) out.push({ port: proxyPort(config), key: 'mariadb.proxyPort' });
  if (config.metrics.enabled) {
    for (let i = 0; i < m.replicas; i++) out.push({ port: m.exporterPort + i, key: 'mariadb.exporterPort' });
    if (clustered(m)) out.push({ port: m.proxyMetricsPort, key: 'mariadb.proxyMetricsPort' });
  }
  return out;
}
