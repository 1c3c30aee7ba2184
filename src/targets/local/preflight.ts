import { portsInUse } from '../../components/index.js';
import type { ComponentName, Config } from '../../config/schema.js';
import { OsbError } from '../../util/errors.js';
import { portIsFree } from '../../util/net.js';

/**
 * For a deployment that does not exist yet: every port it will bind must be free, checked
 * before the state dir, secrets or packages are touched — a failed first deploy changes nothing.
 * (Existing deployments are checked per node inside the lock, where osb's own ports are known.)
 */
export async function preflightFreshPorts(config: Config, components?: readonly ComponentName[]): Promise<void> {
  const wanted = (key: string) => !components?.length || components.some((c) => key.startsWith(`${c}.`));
  for (const { port, key } of portsInUse(config).filter((p) => wanted(p.key))) {
    if (!(await portIsFree(config.bindAddress, port))) {
      const setKey = key.split(' ')[0]!;
      throw new OsbError(
        `port ${port} (${key}) on ${config.bindAddress} is already in use by another process`,
        `stop that process or choose another port, e.g. --set ${setKey}=${port + 100}`,
      );
    }
  }
}
