import type { ComponentName } from '../../config/schema.js';
import { cliProgress, cliLog } from '../progress.js';
import { type GlobalOptions, verbosity } from '../options.js';
import { emit, openTarget } from './target.js';

export async function destroyCommand(components: ComponentName[], o: GlobalOptions & { keepData?: boolean; deleteData?: boolean }): Promise<number> {
  const target = await openTarget(o);
  const out = await target.destroy({
    components,
    progress: cliProgress(verbosity(o)),
    log: cliLog(verbosity(o)),
    quiet: o.quiet,
    keepData: o.keepData,
    deleteData: o.deleteData,
  });
  return emit(out, { json: false });
}
