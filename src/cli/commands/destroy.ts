import type { ComponentName } from '../../config/schema.js';
import { destroyLocal } from '../../targets/local/destroy.js';
import { cliProgress } from '../progress.js';
import { type GlobalOptions, verbosity } from '../options.js';
import { print } from './format.js';
import { targetOf } from './target.js';

export async function destroyCommand(components: ComponentName[], o: GlobalOptions & { keepData?: boolean; deleteData?: boolean }): Promise<number> {
  if (targetOf(o) === 'kubernetes') return (await import('./kubernetes.js')).kubernetesDestroy(components, o);
  const r = await destroyLocal({ stateDir: o.stateDir, components, keepData: o.keepData, progress: cliProgress(verbosity(o)) });
  if (r.nothingDeployed) print(`nothing deployed in ${r.stateDir}`);
  else print(`stopped: ${r.stopped.length ? r.stopped.join(', ') : 'nothing was running'}; ${o.keepData ? 'data kept' : `removed: ${r.removed.length} path(s)`}`);
  return 0;
}
