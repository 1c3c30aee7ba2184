import type { Config } from '../../config/schema.js';
import type { Secrets } from '../../config/secrets.js';
import { mariadbPaths } from '../../components/mariadb/local.js';
import { rabbitmqPorts } from '../../components/rabbitmq/local.js';
import { buildEndpoints, clientHost, type Addressing, type Endpoints } from '../../model/endpoints.js';
import { nodeDir } from '../../config/state-dir.js';
import { needsProxy, proxyPort } from './proxy.js';

export function localAddressing(config: Config, stateDir: string): Addressing {
  const host = clientHost(config);
  return {
    node: (c, i) => ({ host, port: config[c].port + i }),
    management: (i) => ({ host, port: rabbitmqPorts(config, i).management }),
    // With Galera, clients use the single-writer proxy, never a node directly.
    database: () => ({ host, port: needsProxy(config) ? proxyPort(config) : config.mariadb.port }),
    socket: config.mariadb.replicas === 1 ? mariadbPaths(nodeDir(stateDir, 'mariadb', 'mariadb-0')).socket : undefined,
  };
}

export function localEndpoints(config: Config, secrets: Secrets, stateDir: string): Endpoints {
  return buildEndpoints(config, secrets, localAddressing(config, stateDir));
}
