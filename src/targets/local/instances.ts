import { definitions } from '../../components/index.js';
import type { ComponentName, Config } from '../../config/schema.js';
import type { Secrets } from '../../config/secrets.js';
import { nodeDir } from '../../config/state-dir.js';
import { desiredState } from '../../model/desired.js';
import type { LocalInstance } from '../../model/local.js';

/** The local node instances of the given components, in ordinal order. */
export function localInstances(config: Config, stateDir: string, secrets: Secrets, components?: readonly ComponentName[]): Map<ComponentName, LocalInstance[]> {
  const desired = desiredState(config, components);
  const out = new Map<ComponentName, LocalInstance[]>();
  for (const def of definitions(config, components)) {
    out.set(
      def.name,
      (desired.components[def.name] ?? []).map((node) => def.local.instance(config, node, nodeDir(stateDir, def.name, node.name), secrets)),
    );
  }
  return out;
}

/**
 * Processes components run beside their nodes (Galera's proxy, exporters); with `all`, also
 * those the config does not want now (to stop them).
 */
export function localExtras(config: Config, stateDir: string, secrets: Secrets, component: ComponentName, all = false): LocalInstance[] {
  return definitions(config, [component]).flatMap((d) => d.local.extras?.(config, stateDir, secrets, all) ?? []);
}
