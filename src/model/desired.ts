import type { Config, ComponentName } from '../config/schema.js';
import { COMPONENTS } from '../config/schema.js';

/** One node of one component, independent of where it runs. */
export interface NodeModel {
  component: ComponentName;
  ordinal: number;
  /** Stable name, e.g. `mariadb-0`. */
  name: string;
  /** Client port on the local target (base port + ordinal). */
  port: number;
}

export interface DesiredState {
  config: Config;
  components: Partial<Record<ComponentName, NodeModel[]>>;
}

export const ADMIN_USER = { mariadb: 'osb_admin', rabbitmq: 'osb-admin' } as const;

export function enabledComponents(config: Config, requested?: readonly ComponentName[]): ComponentName[] {
  return COMPONENTS.filter((c) => config[c].enabled && (!requested || requested.includes(c)));
}

export function desiredState(config: Config, requested?: readonly ComponentName[]): DesiredState {
  const components: DesiredState['components'] = {};
  for (const c of enabledComponents(config, requested)) {
    const { replicas, port } = config[c];
    components[c] = Array.from({ length: replicas }, (_, ordinal) => ({ component: c, ordinal, name: `${c}-${ordinal}`, port: port + ordinal }));
  }
  return { config, components };
}

/** More than one node: a Galera cluster, a RabbitMQ cluster, a memcached pool. */
export const clustered = (c: { replicas: number }) => c.replicas > 1;
