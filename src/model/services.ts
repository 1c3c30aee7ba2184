import type { Config } from '../config/schema.js';
import { OsbError, didYouMean } from '../util/errors.js';
import { CATALOGUE } from './catalogue.js';

/** One service as osb provisions it: same name for its MariaDB user, RabbitMQ user and vhost. */
export interface ServiceSpec {
  name: string;
  /** Database name → oslo.config section (null: no section). */
  databases: Record<string, string | null>;
  messaging: boolean;
  cache: boolean;
  /** Set in config by the user; otherwise generated and kept in the state dir. */
  configuredPassword?: string;
}

/** MariaDB and RabbitMQ account name of a service (`-` is not welcome in SQL identifiers). */
export const accountName = (service: string) => service.replace(/-/g, '_');

export function serviceSpecs(config: Config): ServiceSpec[] {
  const seen = new Set<string>();
  const specs: ServiceSpec[] = [];
  for (const entry of config.openstack.services) {
    const e = typeof entry === 'string' ? { name: entry } : entry;
    if (seen.has(e.name)) throw new OsbError(`openstack.services lists "${e.name}" twice`, 'list each service once', 2);
    seen.add(e.name);
    const known = CATALOGUE[e.name];
    const custom = typeof entry === 'object' ? entry : undefined;
    if (!known && !custom?.databases) {
      const hint = didYouMean(e.name, Object.keys(CATALOGUE));
      throw new OsbError(
        `openstack.services: "${e.name}" is not in the catalogue`,
        hint
          ? `did you mean "${hint}"? Otherwise give its databases: {name: ${e.name}, databases: [${accountName(e.name)}]}`
          : `give its databases: {name: ${e.name}, databases: [${accountName(e.name)}]}`,
        2,
      );
    }
    const databases = custom?.databases ? Object.fromEntries(custom.databases.map((d, i) => [d, i === 0 ? 'database' : null])) : known!.databases;
    specs.push({
      name: e.name,
      databases,
      messaging: custom?.messaging ?? known?.messaging ?? true,
      cache: custom?.cache ?? known?.cache ?? true,
      configuredPassword: custom?.password,
    });
  }
  return specs;
}

/**
 * The configured services, checked as a whole (unknown names, duplicates, a database claimed by two
 * services). Throws before anything is changed; `osb deploy` calls it up front.
 */
export function planServices(config: Config): ServiceSpec[] {
  const specs = serviceSpecs(config);
  const dbs = new Map<string, string>();
  for (const s of specs) {
    for (const db of Object.keys(s.databases)) {
      const other = dbs.get(db);
      if (other) throw new OsbError(`openstack.services: database "${db}" is claimed by both ${other} and ${s.name}`, 'give each service its own databases', 2);
      dbs.set(db, s.name);
    }
  }
  return specs;
}
