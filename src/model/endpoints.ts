import type { Config } from '../config/schema.js';

export interface HostPort {
  host: string;
  port: number;
}

/** What a client needs; the same shape for every target. */
export interface Endpoints {
  rabbitmq?: { hosts: string[]; username: string; password: string; managementUrl: string; nodes: HostPort[]; /** Management API of each node (one Service on Kubernetes). */ management: HostPort[] };
  mariadb?: { host: string; port: number; username: string; password: string; socket?: string; nodes: HostPort[] };
  memcached?: { servers: string[]; nodes: HostPort[] };
}

export function clientHost(config: Config): string {
  return config.bindAddress === '0.0.0.0' ? '127.0.0.1' : config.bindAddress;
}
