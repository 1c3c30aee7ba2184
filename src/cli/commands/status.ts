import type { ComponentName } from '../../config/schema.js';
import { cliProgress, cliLog } from '../progress.js';
import { type GlobalOptions, verbosity } from '../options.js';
import { emit, openTarget } from './target.js';

export async function statusCommand(components: ComponentName[], o: GlobalOptions): Promise<number> {
  const target = await openTarget(o);
  return emit(await target.status({ components, progress: cliProgress(verbosity(o)), log: cliLog(verbosity(o)), quiet: o.quiet }), o);
}
