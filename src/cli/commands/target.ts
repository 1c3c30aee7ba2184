import { writeOut } from '../../util/output.js';
import type { Outcome, Target } from '../../model/target.js';
import { resolveDeployConfig } from '../../targets/local/context.js';
import type { GlobalOptions } from '../options.js';
import { outputFormat, sources } from '../options.js';
import { stringify } from 'yaml';

/** --target, else the config's `target` key (values files, --set, or remembered values). */
export function targetOf(o: GlobalOptions): 'local' | 'kubernetes' {
  if (o.target) return o.target;
  return resolveDeployConfig(sources(o)).config.target;
}

/** The target a command runs against; only the chosen one is loaded. */
export async function openTarget(o: GlobalOptions): Promise<Target> {
  const src = { ...sources(o), namespace: o.namespace, context: o.context };
  if (targetOf(o) === 'kubernetes') return (await import('../../targets/kubernetes/index.js')).kubernetesTarget(src);
  return (await import('../../targets/local/index.js')).localTarget(src);
}

export const print = (s: string) => writeOut(s.endsWith('\n') ? s : s + '\n');

/** Prints an outcome as JSON, YAML (`-o`) or text; returns its exit code. */
export function emit(out: Outcome, o: Pick<GlobalOptions, 'json' | 'output'>): number {
  const format = out.json === undefined ? 'table' : outputFormat(o);
  if (format === 'json') print(JSON.stringify(out.json, null, 2));
  else if (format === 'yaml') print(stringify(out.json, { lineWidth: 0 }));
  else if (out.text) print(out.text);
  return out.exitCode;
}
