import type { ComponentName, Config } from '../../config/schema.js';
import type { Secrets } from '../../config/secrets.js';
import { mariadbLocalInstance } from '../../components/mariadb/local.js';
import { memcachedLocalInstance } from '../../components/memcached/local.js';
import { rabbitmqLocalInstance } from '../../components/rabbitmq/local.js';
import { desiredState } from '../../model/desired.js';
import type { LocalInstance } from '../../model/local.js';
import { nodeDir } from '../../config/state-dir.js';

/** The local instances of the given components, in ordinal order. */
export function localInstances(config: Config, stateDir: string, secrets: Secrets, components?: readonly ComponentName[]): Map<ComponentName, LocalInstance[]> {
  const desired = desiredState(config, components);
  const out = new Map<ComponentName, LocalInstance[]>();
  for (const [component, nodes] of Object.entries(desired.components) as [ComponentName, NonNullable<(typeof desired.components)[ComponentName]>][]) {
    out.set(
      component,
      nodes.map((node) => {
        const dir = nodeDir(stateDir, component, node.name);
        switch (component) {
          case 'mariadb':
            return mariadbLocalInstance(config, node, dir, secrets);
          case 'rabbitmq':
            return rabbitmqLocalInstance(config, node, dir, secrets);
          case 'memcached':
            return memcachedLocalInstance(config, node, dir);
        }
      }),
    );
  }
  return out;
}
