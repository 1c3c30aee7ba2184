import type { GlobalOptions } from '../options.js';
import { resolveDeployConfig } from '../../targets/local/context.js';

/** --target, else the config's `target` key (values files, --set, or remembered values). */
export function targetOf(o: GlobalOptions): 'local' | 'kubernetes' {
  if (o.target) return o.target;
  return resolveDeployConfig({ values: o.values, set: o.set, stateDir: o.stateDir, resetValues: o.resetValues }).config.target;
}
