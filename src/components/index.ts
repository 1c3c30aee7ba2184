/**
 * The component registry: one definition per backend folder. Generic code (both targets, the
 * CLI) loops over it and never names a component. A fourth backend is one new folder plus one
 * line here. See docs/architecture.md.
 */
import { existsSync } from 'node:fs';
import { loadValuesTree, validateConfig, type ConfigSources } from '../config/load.js';
import { COMPONENTS, type ComponentName, type Config } from '../config/schema.js';
import type { Secrets } from '../config/secrets.js';
import type { ComponentDefinition, Placement, PortUse } from '../model/component.js';
import { enabledComponents } from '../model/desired.js';
import type { Endpoints } from '../model/endpoints.js';
import type { ScrapeTarget } from '../model/metrics.js';
import { OsbError } from '../util/errors.js';
import { mariadb } from './mariadb/index.js';
import { memcached } from './memcached/index.js';
import { rabbitmq } from './rabbitmq/index.js';

export const REGISTRY: Record<ComponentName, ComponentDefinition> = { rabbitmq, mariadb, memcached };

export const definition = (name: ComponentName): ComponentDefinition => REGISTRY[name];

/** The definitions of the enabled (and, when given, requested) components, in registry order. */
export function definitions(config: Config, requested?: readonly ComponentName[]): ComponentDefinition[] {
  return enabledComponents(config, requested).map(definition);
}

/** Every port every enabled local instance binds, with the config key that sets it. */
export function portsInUse(config: Config): PortUse[] {
  return COMPONENTS.filter((c) => config[c].enabled).flatMap((c) => REGISTRY[c].ports(config));
}

/** Derived ports in range and never shared by two keys; throws before anything is changed. */
export function checkPorts(config: Config): void {
  const seen = new Map<number, string>();
  for (const { port, key } of portsInUse(config)) {
    if (port < 1 || port > 65535)
      throw new OsbError(`config key "${key}": derived port ${port} is out of range 1-65535`, `set ${key} so that every node's port fits`, 2);
    const other = seen.get(port);
    if (other && other !== key) throw new OsbError(`port ${port} is used twice: by ${other} and by ${key}`, 'give each a different port', 2);
    seen.set(port, key);
  }
}

/** A merged values tree, validated: the schema, then what the components derive from it (ports). */
export function resolveConfig(tree: unknown): Config {
  const config = validateConfig(tree);
  checkPorts(config);
  return config;
}

/** Values files merged, --set applied, validated: the schema, then the derived ports. */
export function loadConfig(sources: ConfigSources = {}): Config {
  return resolveConfig(loadValuesTree(sources));
}

/** What clients need, for every enabled component, wherever the target placed the nodes. */
export function buildEndpoints(config: Config, secrets: Secrets, at: Placement, only?: readonly ComponentName[]): Endpoints {
  return Object.assign({}, ...definitions(config, only).map((d) => d.endpoints(config, secrets, at))) as Endpoints;
}

/** Packages the local target must install for these components and this config. */
export function missingPackages(config: Config, components: readonly ComponentName[]): string[] {
  const need = new Set<string>();
  for (const c of components) {
    if (!config[c].enabled) continue;
    for (const r of REGISTRY[c].packages(config)) if (r.binaries.some((b) => !existsSync(b))) for (const p of r.packages) need.add(p);
  }
  return [...need];
}

/** `osb endpoints` lines, one per component in the endpoints. */
export const describeEndpoints = (eps: Endpoints): string[] =>
  Object.values(REGISTRY)
    .map((d) => d.describeEndpoints(eps))
    .filter((l): l is string => !!l);

/** Every metrics endpoint of the enabled components (none when `metrics.enabled` is false), wherever the target placed the nodes. */
export function scrapeTargets(config: Config, at: Placement, only?: readonly ComponentName[]): ScrapeTarget[] {
  if (!config.metrics.enabled) return [];
  return definitions(config, only).flatMap((d) => d.metrics.targets(config, at));
}
