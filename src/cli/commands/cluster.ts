import { definition } from '../../components/index.js';
import { COMPONENTS } from '../../config/schema.js';
import type { ComponentName } from '../../config/schema.js';
import { deployLocal } from '../../targets/local/deploy.js';
import { healLocal } from '../../targets/local/heal.js';
import { restartLocal } from '../../targets/local/restart.js';
import { OsbError } from '../../util/errors.js';
import { cliProgress } from '../progress.js';
import { type GlobalOptions, sources, verbosity } from '../options.js';
import { print } from './target.js';

export async function restartCommand(components: ComponentName[], o: GlobalOptions & { rolling?: boolean }): Promise<number> {
  const t0 = Date.now();
  const restarted = await restartLocal({ ...sources(o), components, rolling: o.rolling, progress: cliProgress(verbosity(o)) });
  print(`restarted ${restarted.join(', ')}${o.rolling ? ' one at a time' : ''} in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  return 0;
}

export async function recoverCommand(o: GlobalOptions & { forceBootstrap?: string }): Promise<number> {
  if (!o.forceBootstrap) {
    throw new OsbError(
      'osb recover needs --force-bootstrap NODE',
      'automatic recovery is what `osb deploy` does; use --force-bootstrap only when it refused and you know which node holds the data to keep',
      2,
    );
  }
  const r = await deployLocal({
    ...sources(o),
    components: COMPONENTS.filter((c) => definition(c).local.forceBootstrap),
    progress: cliProgress(verbosity(o)),
    forceBootstrap: o.forceBootstrap,
  });
  for (const n of r.components[0]?.nodes ?? []) print(`${n.name}: ${n.action}${n.reason ? ` (${n.reason})` : ''}`);
  return 0;
}

export async function healCommand(o: GlobalOptions): Promise<number> {
  const quiet = verbosity(o) === 'quiet';
  // What it finds stuck and restarts is always printed (the timer's journal); "nothing stuck" only without -q.
  const r = await healLocal({ ...sources(o), log: print });
  if (r.skipped) print(`osb heal: skipped: ${r.skipped}`);
  else if (r.healed.length) print(`osb heal: restarted ${r.healed.map((h) => h.node).join(', ')}`);
  else if (!quiet) print('osb heal: nothing stuck');
  return 0;
}
