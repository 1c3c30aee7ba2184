import type { ComponentName } from '../../config/schema.js';
import { cliProgress, cliLog } from '../progress.js';
import { type GlobalOptions, outputFormat, verbosity } from '../options.js';
import { emit, openTarget, print } from './target.js';

export async function testCommand(components: ComponentName[], o: GlobalOptions): Promise<number> {
  const target = await openTarget(o);
  const out = await target.test({
    components,
    progress: cliProgress(verbosity(o)),
    log: cliLog(verbosity(o)),
    quiet: o.quiet,
    onLine: outputFormat(o) === 'table' ? print : undefined,
  });
  return emit(out, o);
}
