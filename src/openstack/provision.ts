import type { Config } from '../config/schema.js';
import type { Secrets } from '../config/secrets.js';
import { writeSecrets } from '../config/secrets.js';
import { dropDatabaseGrant, ensureDatabaseGrant } from '../components/mariadb/provision.js';
import type { MariadbEndpoint } from '../components/mariadb/client.js';
import type { RabbitmqEndpoint } from '../components/rabbitmq/client.js';
import { dropVhostGrant, ensureVhostGrant } from '../components/rabbitmq/provision.js';
import { startStoppedVhosts } from '../components/rabbitmq/health.js';
import { OsbError } from '../util/errors.js';
import { servicePassword } from './credentials.js';
import { accountName, planServices, type ServiceSpec } from '../model/services.js';

import type { Endpoints } from '../model/endpoints.js';

export interface AdminAccess {
  /** Absent when MariaDB is disabled. */
  mariadb?: MariadbEndpoint;
  /** Management-API capable admin endpoints, tried in order (any running node will do). */
  rabbitmq?: RabbitmqEndpoint[];
}

/** Admin access for provisioning, from a target's endpoints: the database clients use, and every broker node's management API. */
export function adminAccess(eps: Endpoints): AdminAccess {
  const out: AdminAccess = {};
  if (eps.mariadb)
    out.mariadb = {
      host: eps.mariadb.host,
      port: eps.mariadb.port,
      user: eps.mariadb.username,
      password: eps.mariadb.password,
      ...(eps.mariadb.caFile ? { caFile: eps.mariadb.caFile } : {}),
    };
  if (eps.rabbitmq) {
    const r = eps.rabbitmq;
    out.rabbitmq = r.nodes.map((n, i) => ({
      host: n.host,
      port: n.port,
      managementPort: (r.management[i] ?? r.management[0]!).port,
      username: r.username,
      password: r.password,
      ...(r.caFile ? { caFile: r.caFile } : {}),
    }));
  }
  return out;
}

export interface ProvisionResult {
  service: string;
  changed: boolean;
  databases: string[];
  vhost?: string;
  /** What provisioning found broken in place and repaired (a vhost not running on a node). */
  repaired?: string;
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
      throw new OsbError(
        `service "${name}" is not in openstack.services`,
        `add it to openstack.services (e.g. --set 'openstack.services={${[...specs.map((s) => s.name), name].join(',')}}')`,
        2,
      );
    }
  }
  return only?.length ? specs.filter((s) => only.includes(s.name)) : specs;
}

/**
 * Provisioning is idempotent, so a dropped connection (a Galera writer handed over by the proxy,
 * a broker node restarting) is simply retried a few times.
 */
async function retryTransient<T>(fn: () => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const msg = `${(err as { code?: string }).code ?? ''} ${(err as Error).message}`;
      if (i >= attempts || !/PROTOCOL_CONNECTION_LOST|ECONNRESET|ECONNREFUSED|ETIMEDOUT|Connection lost|WSREP has not yet prepared|Deadlock found/i.test(msg))
        throw err;
      await new Promise((r) => setTimeout(r, 500 * i));
    }
  }
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
    if (admin.mariadb && dbs.length) {
      const mariadb = admin.mariadb;
      changed = (await retryTransient(() => ensureDatabaseGrant(mariadb, { user, password, databases: dbs }))) || changed;
    }
    let vhost: string | undefined;
    if (admin.rabbitmq?.length && spec.messaging) {
      vhost = user;
      const grant = { user, password, vhost, quorum: config.rabbitmq.replicas > 1 };
      changed = (await onAnyRabbit(admin.rabbitmq, (ep) => ensureVhostGrant(ep, grant))) || changed;
    }
    results.push({ service: spec.name, changed, databases: dbs, vhost });
  }
  // Every vhost must run on every node: RabbitMQ 3.10 can leave a new one stopped on a node that was still booting.
  if (admin.rabbitmq?.length && results.some((r) => r.vhost)) {
    const started = await onAnyRabbit(admin.rabbitmq, (ep) => startStoppedVhosts(ep));
    for (const r of results) {
      const on = started.filter((x) => x.vhost === r.vhost).map((x) => x.node);
      if (on.length) r.repaired = `vhost was not running on ${on.join(', ')}: started`;
    }
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
