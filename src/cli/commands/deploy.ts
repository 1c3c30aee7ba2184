import type { ComponentName } from '../../config/schema.js';
import { deployLocal } from '../../targets/local/deploy.js';
import { cliProgress } from '../progress.js';
import { type GlobalOptions, sources, verbosity } from '../options.js';
import { print, table } from './format.js';
import { targetOf } from './target.js';

export async function deployCommand(components: ComponentName[], o: GlobalOptions): Promise<number> {
  if (targetOf(o) === 'kubernetes') return (await import('./kubernetes.js')).kubernetesDeploy(components, o);
  const progress = cliProgress(verbosity(o));
  const t0 = Date.now();
  const result = await deployLocal({ ...sources(o), components, progress });
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  if (o.json) {
    print(JSON.stringify({ changed: result.changed, stateDir: result.stateDir, components: result.components, provisioning: result.provisioning }, null, 2));
    return 0;
  }
  const rows = [['COMPONENT', 'NODE', 'LISTENS ON', 'PID', 'RESULT']];
  for (const c of result.components) for (const n of c.nodes) rows.push([c.component, n.name, n.address, String(n.pid), n.action + (n.reason ? ` (${n.reason})` : '')]);
  if (!o.quiet || result.changed) print(table(rows));
  if (result.provisioning?.length) print(`OpenStack services: ${result.provisioning.map((p) => `${p.service} ${p.changed ? 'provisioned' : 'unchanged'}`).join(', ')}`);
  print(result.changed ? `deployed in ${seconds}s (state: ${result.stateDir})` : `no change: everything already deployed as configured (${seconds}s)`);
  return 0;
}
