import { loadValuesTree } from '../../config/load.js';
import { resolveConfig } from '../../components/index.js';
import { deepMerge } from '../../config/set.js';
import { resolveStateDir } from '../../config/state-dir.js';
import type { DoctorCheck } from '../../model/doctor.js';
import { enabledComponents } from '../../model/desired.js';
import { rememberedValues } from '../../targets/kubernetes/context.js';
import { kubernetesChecks } from '../../targets/kubernetes/doctor.js';
import { resolveNamespace } from '../../targets/kubernetes/render.js';
import { resolveDeployConfig } from '../../targets/local/context.js';
import { hostChecks } from '../../targets/local/doctor.js';
import { OsbError } from '../../util/errors.js';
import { type GlobalOptions, parseComponents, sources } from '../options.js';
import { emit } from './target.js';

export interface DoctorReport {
  target: 'local' | 'kubernetes';
  stateDir: string;
  /** True when no check failed: a deploy would work. */
  ok: boolean;
  checks: DoctorCheck[];
}

/** `osb doctor`: every check with ok/warn/fail and the fix; exit 0 only when a deploy would work. Changes nothing. */
export async function doctorCommand(names: string[], o: GlobalOptions): Promise<number> {
  const components = parseComponents(names);
  const local = resolveDeployConfig(sources(o));
  const target = o.target ?? local.config.target;
  let report: DoctorReport;
  if (target === 'kubernetes') {
    const stateDir = resolveStateDir(o.stateDir);
    const given = loadValuesTree(sources(o));
    const config = resolveConfig(o.resetValues ? given : deepMerge(rememberedValues(stateDir), given));
    const namespace = resolveNamespace(config, o.namespace);
    const checks = await kubernetesChecks({ config, namespace, context: o.context ?? config.kubernetes.context, stateDir });
    report = { target, stateDir, ok: checks.every((c) => c.status !== 'fail'), checks };
  } else {
    const wanted = enabledComponents(local.config, components.length ? components : undefined);
    for (const c of components) {
      if (!local.config[c].enabled) throw new OsbError(`${c} is disabled in the config (${c}.enabled=false)`, `enable it with --set ${c}.enabled=true`, 2);
    }
    const checks = await hostChecks({ config: local.config, stateDir: local.stateDir, components: wanted, state: local.state });
    report = { target: 'local', stateDir: local.stateDir, ok: checks.every((c) => c.status !== 'fail'), checks };
  }
  {
    const width = Math.max(...report.checks.map((c) => c.name.length));
    const lines = [`osb doctor: ${report.target} target, state dir ${report.stateDir}`];
    for (const c of report.checks) {
      lines.push(`  ${c.status.padEnd(4)}  ${c.name.padEnd(width)}  ${c.detail}`);
      if (c.fix && c.status !== 'ok') lines.push(`  ${''.padEnd(4)}  ${''.padEnd(width)}  fix: ${c.fix}`);
    }
    const fails = report.checks.filter((c) => c.status === 'fail').length;
    const warns = report.checks.filter((c) => c.status === 'warn').length;
    const w = warns ? ` (${warns} warning${warns > 1 ? 's' : ''})` : '';
    lines.push(fails ? `${fails} problem${fails > 1 ? 's' : ''} would stop a deploy${w}.` : `A deploy would work${w}.`);
    return emit({ exitCode: report.ok ? 0 : 1, json: report, text: lines.join('\n') }, o);
  }
}
