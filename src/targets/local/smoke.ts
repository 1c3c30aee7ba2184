import { definition } from '../../components/index.js';
import type { ComponentName } from '../../config/schema.js';
import type { SmokeStep } from '../../model/smoke.js';
import { deployedComponents, type Deployment } from './context.js';
import { localInstances } from './instances.js';

export interface SmokeSuite {
  component: ComponentName;
  node: string;
  steps: SmokeStep[];
}

export interface SmokeResult {
  component: ComponentName;
  node: string;
  step: string;
  ok: boolean;
  ms: number;
  detail?: string;
}

/** One suite per node: `osb test` checks every node, not just the first. */
export function localSmokeSuites(d: Deployment, components?: ComponentName[]): SmokeSuite[] {
  const suites: SmokeSuite[] = [];
  for (const [component, list] of localInstances(d.config, d.stateDir, d.secrets, deployedComponents(d, components))) {
    for (const inst of list) suites.push({ component, node: inst.name, steps: definition(component).local.smoke(d.config, d.secrets, inst) });
  }
  return suites;
}

/** Runs suites one after another, steps in order; a failed step skips the rest of its suite. */
export async function runSmokeSuites(suites: SmokeSuite[], onLine?: (line: string) => void): Promise<SmokeResult[]> {
  const out: SmokeResult[] = [];
  for (const s of suites) {
    onLine?.(`${s.node}:`);
    for (const step of s.steps) {
      const t0 = Date.now();
      try {
        const detail = await step.run();
        const r: SmokeResult = {
          component: s.component,
          node: s.node,
          step: step.name,
          ok: true,
          ms: Date.now() - t0,
          ...(typeof detail === 'string' ? { detail } : {}),
        };
        out.push(r);
        onLine?.(`  ✔ ${step.name} (${r.ms} ms)${r.detail ? ` — ${r.detail}` : ''}`);
      } catch (err) {
        out.push({ component: s.component, node: s.node, step: step.name, ok: false, ms: Date.now() - t0, detail: (err as Error).message });
        onLine?.(`  ✘ ${step.name}: ${(err as Error).message}`);
        break;
      }
    }
  }
  return out;
}
