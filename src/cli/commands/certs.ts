import type { ComponentName } from '../../config/schema.js';
import { rotateLocalCerts } from '../../targets/local/tls.js';
import { cliProgress } from '../progress.js';
import { type GlobalOptions, sources, verbosity } from '../options.js';
import { print } from './target.js';

/** `osb certs rotate`: new node certificates, loaded by the running daemons without a restart. */
export async function certsRotateCommand(components: ComponentName[], o: GlobalOptions & { ca?: boolean }): Promise<number> {
  const r = await rotateLocalCerts({ ...sources(o), components, ca: !!o.ca, progress: cliProgress(verbosity(o)) });
  if (o.json) print(JSON.stringify(r, null, 2));
  else {
    if (r.ca)
      print(
        `new CA: serial ${r.ca.serial}, until ${r.ca.notAfter}; the bundle trusts the old CA too until every node carries a certificate from the new one (the next \`osb certs rotate\` or \`osb deploy\` after that drops it)`,
      );
    for (const c of r.issued)
      print(`${c.node}: serial ${c.serial}, until ${c.notAfter}${r.reloaded.includes(c.node) ? ', reloaded' : ' (not running: used at its next start)'}`);
  }
  return 0;
}
