import type { LocalInstance } from '../../model/local.js';
import { fileTail, linesSinceLast } from '../../util/log-tail.js';

/**
 * Why a RabbitMQ node that runs does not serve, from its own log: under `pause_minority` a node that
 * cannot see a majority of the cluster stops its rabbit application ("Cluster minority/secondary status
 * detected - awaiting recovery") and starts it again by itself once it can ("Server startup complete").
 */
export function rabbitmqLogCause(inst: LocalInstance): string | undefined {
  const since = linesSinceLast(fileTail(inst.logFile, 256 * 1024), /Server startup complete|Time to start RabbitMQ/);
  if (since.some((l) => /Cluster minority\/secondary status detected/.test(l)))
    return 'paused by pause_minority: it cannot reach a majority of the cluster (network partition, or the other nodes down); it resumes by itself when it can (docs/faults.md)';
  return undefined;
}
