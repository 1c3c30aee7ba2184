import type { ComponentName } from '../../config/schema.js';
import { rotateLocalCerts } from '../../targets/local/tls.js';
import { cliProgress } from '../progress.js';
import { type GlobalOptions, sources, verbosity } from '../options.js';
import { print } from './target.js';

/** `osb certs rotate`: new node certificates, loaded by the running daemons without a restart. */
export async function certsRotateCommand(components: ComponentName[], o: GlobalOptions): Promise<number> {
  const r = await rotateLocalCerts({ ...sources(o), components, progress: cliProgress(verbosity(o)) });
  if (o.json) print(JSON.stringify(r, null, 2));
  else
    for (const c of r.issued)
      print(`${c.node}: serial ${c.serial}, until ${c.notAfter}${r.reloaded.includes(c.node) ? ', reloaded' : ' (not running: used at its next start)'}`);
  return 0;
}
