import { buildEndpoints } from '../../components/index.js';
import type { ComponentName, Config } from '../../config/schema.js';
import type { Secrets } from '../../config/secrets.js';
import type { Placement } from '../../model/component.js';
import { clientHost, type Endpoints } from '../../model/endpoints.js';

/** On this host: node i of a component listens on its base port + i, everything on the client host. */
export function localPlacement(config: Config, stateDir: string): Placement {
  const host = clientHost(config);
  return { kind: 'local', node: (_c, i, base) => ({ host, port: base + i }), service: (_name, port) => ({ host, port }), stateDir };
}

export function localEndpoints(config: Config, secrets: Secrets, stateDir: string, only?: readonly ComponentName[]): Endpoints {
  return buildEndpoints(config, secrets, localPlacement(config, stateDir), only);
}
