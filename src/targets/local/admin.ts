import type { Config } from '../../config/schema.js';
import type { Secrets } from '../../config/secrets.js';
import { rabbitmqEndpoint } from '../../components/rabbitmq/local.js';
import { ADMIN_USER } from '../../model/desired.js';
import type { AdminAccess } from '../../openstack/provision.js';
import { localAddressing } from './endpoints.js';

/** Admin access to the local deployment, for provisioning. */
export function localAdminAccess(config: Config, secrets: Secrets, stateDir: string): AdminAccess {
  const db = localAddressing(config, stateDir).database();
  return {
    mariadb: config.mariadb.enabled ? { host: db.host, port: db.port, user: ADMIN_USER.mariadb, password: secrets.mariadbAdminPassword } : undefined,
    rabbitmq: config.rabbitmq.enabled ? Array.from({ length: config.rabbitmq.replicas }, (_, i) => rabbitmqEndpoint(config, i, secrets)) : undefined,
  };
}
