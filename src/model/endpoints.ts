import type { Config } from '../config/schema.js';
import { clientCaFile } from '../config/tls.js';

export interface HostPort {
  host: string;
  port: number;
}

/** What a client needs; the same shape for every target. */
export interface Endpoints {
  rabbitmq?: {
    hosts: string[];
    username: string;
    password: string;
    managementUrl: string;
    nodes: HostPort[] /** Management API of each node (one Service on Kubernetes). */;
    management: HostPort[];
    caFile?: string;
  };
  mariadb?: { host: string; port: number; username: string; password: string; socket?: string; nodes: HostPort[]; caFile?: string };
  memcached?: { servers: string[]; nodes: HostPort[]; caFile?: string };
}

/** TLS on: the CA bundle clients verify the servers with (the placement's, else the local state dir's); absent with TLS off. */
export function tlsCaFile(config: Config, at: { stateDir?: string; caFile?: string }): { caFile?: string } {
  if (!config.tls.enabled) return {};
  const caFile = at.caFile ?? (at.stateDir ? clientCaFile(at.stateDir) : undefined);
  return caFile ? { caFile } : {};
}

export function clientHost(config: Config): string {
  return config.bindAddress === '0.0.0.0' ? '127.0.0.1' : config.bindAddress;
}
