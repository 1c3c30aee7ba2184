import { type Command, Option } from 'commander';
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
  output?: OutputFormat;
  target?: 'local' | 'kubernetes';
  namespace?: string;
  context?: string;
}

export const collect = (v: string, prev: string[] = []) => [...prev, v];

export function parseComponents(names: string[]): ComponentName[] {
  return names.map((n) => {
    if ((COMPONENTS as readonly string[]).includes(n)) return n as ComponentName;
    const hint = didYouMean(n, COMPONENTS);
    throw new OsbError(
      `unknown component "${n}"`,
      hint ? `did you mean "${hint}"? (components: ${COMPONENTS.join(', ')})` : `components are: ${COMPONENTS.join(', ')}`,
      2,
    );
  });
}

export function verbosity(o: GlobalOptions): Verbosity {
  return o.quiet ? 'quiet' : o.verbose ? 'verbose' : 'normal';
}

export function sources(o: GlobalOptions) {
  return { values: o.values, set: o.set, stateDir: o.stateDir, resetValues: o.resetValues };
}

export type OutputFormat = 'table' | 'json' | 'yaml';

/** `-o table|json|yaml` (and `--json`, its alias for json) on a command that prints data. */
export function withOutput(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('-o, --output <format>', 'output format: table (readable), json or yaml; shapes in docs/output.md').choices(['table', 'json', 'yaml']),
    )
    .option('--json', 'same as -o json');
}

export function outputFormat(o: { json?: boolean; output?: OutputFormat }): OutputFormat {
  return o.output ?? (o.json ? 'json' : 'table');
}
