import type { Config } from '../config/schema.js';
import type { Secrets } from '../config/secrets.js';
import { writeSecrets } from '../config/secrets.js';
import { dropDatabaseGrant, ensureDatabaseGrant } from '../components/mariadb/provision.js';
import type { MariadbEndpoint } from '../components/mariadb/client.js';
import type { RabbitmqEndpoint } from '../components/rabbitmq/client.js';
import { dropVhostGrant, ensureVhostGrant } from '../components/rabbitmq/provision.js';
import { OsbError } from '../util/errors.js';
import { servicePassword } from './credentials.js';
import { accountName, planServices, type ServiceSpec } from './plan.js';

export interface AdminAccess {
  /** Absent when MariaDB is disabled. */
  mariadb?: MariadbEndpoint;
  /** Management-API capable admin endpoints, tried in order (any running node will do). */
  rabbitmq?: RabbitmqEndpoint[];
}

export interface ProvisionResult {
  service: string;
  changed: boolean;
  databases: string[];
  vhost?: string;
}

async function onAnyRabbit<T>(nodes: RabbitmqEndpoint[], fn: (ep: RabbitmqEndpoint) => Promise<T>): Promise<T> {
  let last: unknown;
  for (const ep of nodes) {
    try {
      return await fn(ep);
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

function selectServices(config: Config, only?: string[]): ServiceSpec[] {
  const specs = planServices(config);
  for (const name of only ?? []) {
    if (!specs.some((s) => s.name === name)) {
      throw new OsbError(`service "${name}" is not in openstack.services`, `add it to openstack.services (e.g. --set 'openstack.services={${[...specs.map((s) => s.name), name].join(',')}}')`, 2);
    }
  }
  return only?.length ? specs.filter((s) => only.includes(s.name)) : specs;
}

/** The db-init and rabbit-init jobs of openstack-helm, for every configured service. Idempotent. */
export async function provisionServices(config: Config, admin: AdminAccess, secrets: Secrets, stateDir: string, only?: string[]): Promise<ProvisionResult[]> {
  const specs = selectServices(config, only);
  const results: ProvisionResult[] = [];
  for (const spec of specs) {
    const user = accountName(spec.name);
    const password = servicePassword(stateDir, secrets, spec);
    let changed = false;
    const dbs = Object.keys(spec.databases);
    if (admin.mariadb && dbs.length) changed = (await ensureDatabaseGrant(admin.mariadb, { user, password, databases: dbs })) || changed;
    let vhost: string | undefined;
    if (admin.rabbitmq?.length && spec.messaging) {
      vhost = user;
      const grant = { user, password, vhost, quorum: config.rabbitmq.replicas > 1 };
      changed = (await onAnyRabbit(admin.rabbitmq, (ep) => ensureVhostGrant(ep, grant))) || changed;
    }
    results.push({ service: spec.name, changed, databases: dbs, vhost });
  }
  return results;
}

/**
 * Removes a service's databases, user and vhost. Works for services no longer in the config
 * (that is its main use): the catalogue or the recorded password tell what to drop.
 */
export async function deprovisionService(admin: AdminAccess, secrets: Secrets, stateDir: string, name: string, databases: string[]): Promise<void> {
  const user = accountName(name);
  if (admin.mariadb) await dropDatabaseGrant(admin.mariadb, user, databases);
  if (admin.rabbitmq?.length) await onAnyRabbit(admin.rabbitmq, (ep) => dropVhostGrant(ep, user, user));
  delete secrets.services[name];
  writeSecrets(stateDir, secrets);
}
