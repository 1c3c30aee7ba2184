import type { Config } from '../../config/schema.js';
import type { PortUse } from '../../model/component.js';
import { OsbError } from '../../util/errors.js';

/** Erlang distribution port: RabbitMQ's own rule, AMQP port + 20000. */
export const defaultDistPort = (amqpPort: number) => amqpPort + 20000;
/** AMQPS beside plain AMQP (tls.enabled without tls.require): port + 10. */
export const defaultTlsPort = (amqpPort: number) => amqpPort + 10;
/** epmd's standard port (Kubernetes: one per pod). */
export const STANDARD_EPMD_PORT = 4369;
/** AMQPS's registered port: each Kubernetes pod has its own IP, so AMQPS takes it unless rabbitmq.tlsPort says otherwise. */
export const STANDARD_AMQPS_PORT = 5671;

/**
 * The ports of every RabbitMQ pod on Kubernetes: the base ports (one pod per IP). TLS on: AMQPS on
 * rabbitmq.tlsPort (default 5671); the plain listener on rabbitmq.port stays open only without tls.require.
 */
export function rabbitmqKubernetesPorts(config: Config) {
  const r = config.rabbitmq;
  const amqps = config.tls.enabled ? (r.tlsPort ?? STANDARD_AMQPS_PORT) : undefined;
  return {
    /** The plain AMQP port (listening only when `plainOpen`). */
    amqp: r.port,
    plainOpen: !config.tls.require,
    amqps,
    /** The port clients are given: AMQPS whenever TLS is on. */
    client: amqps ?? r.port,
    management: r.managementPort,
  };
}

/**
 * RabbitMQ's port scheme on the local target, the one place it is written: node i listens on
 * port+i (AMQP; AMQPS instead with tls.require, and AMQPS on tlsPort+i, default port+10+i, with TLS optional), managementPort+i, distPort+i (default port+20000+i); the deployment's private
 * epmd on epmdPort (default port-1000).
 */
export function rabbitmqNodePorts(config: Config, ordinal: number) {
  const r = config.rabbitmq;
  const amqps = !config.tls.enabled ? undefined : config.tls.require ? r.port + ordinal : (r.tlsPort ?? defaultTlsPort(r.port)) + ordinal;
  return {
    /** The plain AMQP listener (closed when tls.require: then it is the AMQPS port). */
    amqp: r.port + ordinal,
    /** TLS on: the AMQPS listener — rabbitmq.port itself with tls.require, else tlsPort (default port + 10). */
    amqps,
    /** The port clients are given: AMQPS whenever TLS is on. */
    client: amqps ?? r.port + ordinal,
    management: r.managementPort + ordinal,
    dist: (r.distPort ?? defaultDistPort(r.port)) + ordinal,
    epmd: r.epmdPort ?? r.port - 1000,
    /** rabbitmq_prometheus (when metrics.enabled). */
    prometheus: r.prometheusPort + ordinal,
  };
}

export function rabbitmqPorts(config: Config): PortUse[] {
  const out: PortUse[] = [];
  for (let i = 0; i < config.rabbitmq.replicas; i++) {
    const p = rabbitmqNodePorts(config, i);
    out.push({ port: p.amqp, key: 'rabbitmq.port' }, { port: p.management, key: 'rabbitmq.managementPort' }, { port: p.dist, key: 'rabbitmq.distPort' });
    if (p.amqps !== undefined && p.amqps !== p.amqp) out.push({ port: p.amqps, key: 'rabbitmq.tlsPort' });
  }
  out.push({ port: rabbitmqNodePorts(config, 0).epmd, key: 'rabbitmq.epmdPort' });
  if (config.metrics.enabled)
    for (let i = 0; i < config.rabbitmq.replicas; i++) out.push({ port: rabbitmqNodePorts(config, i).prometheus, key: 'rabbitmq.prometheusPort' });
  for (const { port, key } of out) {
    if (port >= 35672 && port <= 35682) {
      throw new OsbError(`config key "${key}": port ${port} is in 35672-35682, which RabbitMQ's CLI tools use for themselves`, `choose another ${key}`, 2);
    }
  }
  return out;
}
