import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtin } from './builtin.js';

const http = builtin<typeof import('node:http')>('node:http');

/**
 * The file that runs osb, for starting osb's own helper processes (`osb exporter memcached`)
 * as `process.execPath <this file> …`. From the bundle (dist/cli/bundle/osb.cjs) this is bin/osb, which
 * loads it; otherwise the running CLI's own file (bin/osb, resolved).
 */
export function osbEntryPoint(): string {
  const here = fileURLToPath(import.meta.url);
  // The bundle (dist/cli/bundle/osb.cjs) is not runnable by itself: bin/osb loads it (with its code cache).
  if (/[\\/]osb\.cjs$/.test(here)) return join(dirname(here), '..', '..', '..', 'bin', 'osb');
  const argv1 = process.argv[1];
  if (argv1 && existsSync(argv1)) return realpathSync(argv1);
  return here;
}

/**
 * GET a metrics page (a probe of an exporter): its text, or throws. Plain node:http with no keep-alive
 * agent: the socket closes with the response, so a short-lived CLI does not wait on an idle connection
 * (global fetch kept one open ~0.1 s after `osb status` had printed, and loads undici besides).
 */
export function fetchMetrics(url: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http().get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

type Importer = (specifier: string) => Promise<unknown>;
let externalImporter: Importer | undefined;

/**
 * bin/osb runs the bundle as a `vm.Script` (so that V8's code cache applies), where `import()` needs
 * --experimental-vm-modules on Node 20: it hands in its own `import()` for the external ES modules.
 */
export function setExternalImporter(fn: Importer): void {
  externalImporter = fn;
}

/** `import(specifier)` of a package left outside the bundle (@kubernetes/client-node). */
export function importExternal<T>(specifier: string): Promise<T> {
  return (externalImporter ? externalImporter(specifier) : import(specifier)) as Promise<T>;
}
