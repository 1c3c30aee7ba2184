import type { ComponentName } from '../../config/schema.js';
import { openDeployment } from '../../targets/local/context.js';
import { localSmokeSuites, runSmokeSuites } from '../../targets/local/smoke.js';
import { type GlobalOptions, sources } from '../options.js';
import { print } from './format.js';
import { targetOf } from './target.js';

export async function testCommand(components: ComponentName[], o: GlobalOptions): Promise<number> {
  if (targetOf(o) === 'kubernetes') return (await import('./kubernetes.js')).kubernetesTest(components, o);
  const d = openDeployment(sources(o));
  const suites = localSmokeSuites(d, components.length ? components : undefined);
  const results = await runSmokeSuites(suites, o.json ? undefined : (line) => print(line));
  const failed = results.filter((r) => !r.ok);
  if (o.json) print(JSON.stringify(results, null, 2));
  else print(failed.length ? `FAILED: ${failed.length} of ${results.length} steps` : `passed: ${results.length} steps on ${suites.length} node(s)`);
  return failed.length ? 1 : 0;
}
