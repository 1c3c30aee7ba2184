import type { ConfigSources } from '../../config/load.js';
import { resolveConfig } from '../../components/index.js';
import { COMPONENTS, type ComponentName, type Config } from '../../config/schema.js';
import { readSecrets, type Secrets } from '../../config/secrets.js';
import { OsbError } from '../../util/errors.js';
import { loadValuesTree } from '../../config/load.js';
import { deepMerge } from '../../config/set.js';
import { resolveStateDir } from '../../config/state-dir.js';
import { readState, type LocalState } from './state.js';
import { join, resolve } from 'node:path';

export interface DeploymentSources extends ConfigSources {
  stateDir?: string;
  /** Forget values remembered from earlier deploys (Helm's --reset-values). */
  resetValues?: boolean;
}

/**
 * The config of a deployment: values remembered from earlier deploys, then the values
 * files and --set given now (like `helm upgrade --reuse-values`).
 */
export function resolveDeployConfig(src: DeploymentSources): { stateDir: string; config: Config; userValues: Record<string, unknown>; state?: LocalState } {
  const stateDir = resolveStateDir(src.stateDir);
  const state = readState(stateDir);
  const given = loadValuesTree(src);
  const userValues = src.resetValues ? given : deepMerge(state?.userValues ?? {}, given);
  return { stateDir, config: resolveConfig(userValues), userValues, state };
}

export interface Deployment {
  stateDir: string;
  config: Config;
  state: LocalState;
  secrets: Secrets;
}

/** An existing deployment, for commands that read it (status, test, endpoints, logs). */
export function openDeployment(src: DeploymentSources): Deployment {
  const { stateDir, config, state } = resolveDeployConfig(src);
  const secrets = readSecrets(stateDir);
  if (!state || !secrets) {
    throw new OsbError(`nothing is deployed in ${stateDir}`, 'run `osb deploy` first (or pass the --state-dir of your deployment)', 3);
  }
  return { stateDir, config, state, secrets };
}

/** Components this deployment has started at least once (and not destroyed). */
export function deployedComponents(d: Deployment, requested?: ComponentName[]): ComponentName[] {
  const all = COMPONENTS.filter((c) => d.config[c].enabled && Object.keys(d.state.instances).some((n) => n.startsWith(`${c}-`)));
  return requested?.length ? all.filter((c) => requested.includes(c)) : all;
}

/** Where backups land: `--to`, else `backup.dir`, else `<state dir>/backups`. */
export const backupRoot = (config: Config, stateDir: string, to?: string) => resolve(to ?? config.backup.dir ?? join(stateDir, 'backups'));
