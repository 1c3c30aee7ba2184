import type { ComponentName } from '../../config/schema.js';
import { renewDueLocalCerts, rotateLocalCerts } from '../../targets/local/tls.js';
import { cliLog, cliProgress } from '../progress.js';
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

/** `osb certs renew`: only the certificates that are due, reloaded without a restart; a no-op that says so otherwise. */
export async function certsRenewCommand(o: GlobalOptions): Promise<number> {
  const r = await renewDueLocalCerts({ ...sources(o), report: cliLog(verbosity(o)) });
  if (o.json) print(JSON.stringify(r, null, 2));
  else if (!r.issued.length && !r.bundleRefreshed.length)
    print(
      `no certificate is due for renewal${r.nextDue ? `: the first is ${r.nextDue.node}'s, due ${r.nextDue.at} (2/3 of its lifetime)` : ''}; nothing changed`,
    );
  else {
    for (const c of r.issued)
      print(
        `${c.node}: renewed (${c.reason}): serial ${c.serial}, until ${c.notAfter}${r.reloaded.includes(c.node) ? ', reloaded' : ' (not running: used at its next start)'}`,
      );
    for (const n of r.bundleRefreshed) print(`${n}: CA bundle updated${r.reloaded.includes(n) ? ', reloaded' : ''}`);
  }
  return 0;
}
