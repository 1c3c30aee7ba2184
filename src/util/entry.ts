import { existsSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The file that runs osb, for starting osb's own helper processes (`osb exporter memcached`)
 * as `process.execPath <this file> …`. In the bundle (dist/cli/bundle/osb.mjs) this module's URL
 * is the bundle itself; otherwise the running CLI's own file (bin/osb, resolved).
 */
export function osbEntryPoint(): string {
  const here = fileURLToPath(import.meta.url);
  if (/[\\/]osb\.mjs$/.test(here)) return here;
  const argv1 = process.argv[1];
  if (argv1 && existsSync(argv1)) return realpathSync(argv1);
  return here;
}

/** GET a metrics page (a probe of an exporter): its text, or throws. */
export async function fetchMetrics(url: string, timeoutMs = 2000): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.text();
}
