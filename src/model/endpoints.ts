import type { ComponentName, Config } from '../config/schema.js';
import type { Secrets } from '../config/secrets.js';
import { ADMIN_USER } from './desired.js';

export interface HostPort {
  host: string;
  port: number;
}

/** What a client needs; the same shape for every target. */
export interface Endpoints {
  rabbitmq?: { hosts: string[]; username: string; password: string; managementUrl: string; nodes: HostPort[] };
  mariadb?: { host: string; port: number; username: string; password: string; socket?: string; nodes: HostPort[] };
  memcached?: { servers: string[]; nodes: HostPort[] };
}

/** How a target addresses node `ordinal` of a component (and its management port). */
export interface Addressing {
  node(component: ComponentName, ordinal: number): HostPort;
  management(ordinal: number): HostPort;
  /** The one database address clients use (a node, a proxy or a Service). */
  database(): HostPort;
  socket?: string;
}

const hp = (a: HostPort) => `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;

export function buildEndpoints(config: Config, secrets: Secrets, addr: Addressing): Endpoints {
  const out: Endpoints = {};
  const nodes = (c: ComponentName) => Array.from({ length: config[c].replicas }, (_, i) => addr.node(c, i));
  if (config.rabbitmq.enabled) {
    const n = nodes('rabbitmq');
    const m = addr.management(0);
    out.rabbitmq = { hosts: n.map(hp), username: ADMIN_USER.rabbitmq, password: secrets.rabbitmqAdminPassword, managementUrl: `http://${hp(m)}/`, nodes: n };
  }
  if (config.mariadb.enabled) {
    const db = addr.database();
    out.mariadb = { host: db.host, port: db.port, username: ADMIN_USER.mariadb, password: secrets.mariadbAdminPassword, ...(addr.socket ? { socket: addr.socket } : {}), nodes: nodes('mariadb') };
  }
  if (config.memcached.enabled) {
    const n = nodes('memcached');
    out.memcached = { servers: n.map(hp), nodes: n };
  }
  return out;
}

export function clientHost(config: Config): string {
  return config.bindAddress === '0.0.0.0' ? '127.0.0.1' : config.bindAddress;
}
