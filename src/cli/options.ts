import { COMPONENTS, type ComponentName } from '../config/schema.js';
import { OsbError, didYouMean } from '../util/errors.js';
import type { Verbosity } from './progress.js';

export interface GlobalOptions {
  values?: string[];
  set?: string[];
  stateDir?: string;
  resetValues?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  json?: boolean;
  target?: 'local' | 'kubernetes';
  namespace?: string;
  context?: string;
}

export const collect = (v: string, prev: string[] = []) => [...prev, v];

export function parseComponents(names: string[]): ComponentName[] {
  return names.map((n) => {
    if ((COMPONENTS as readonly string[]).includes(n)) return n as ComponentName;
    const hint = didYouMean(n, COMPONENTS);
    throw new OsbError(`unknown component "${n}"`, hint ? `did you mean "${hint}"? (components: ${COMPONENTS.join(', ')})` : `components are: ${COMPONENTS.join(', ')}`, 2);
  });
}

export function verbosity(o: GlobalOptions): Verbosity {
  return o.quiet ? 'quiet' : o.verbose ? 'verbose' : 'normal';
}

export function sources(o: GlobalOptions) {
  return { values: o.values, set: o.set, stateDir: o.stateDir, resetValues: o.resetValues };
}

