import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { OsbError } from '../util/errors.js';

/**
 * The text of a program a pod runs (a file under src/components/<name>/pod/), byte for byte: the
 * ConfigMaps ship it unchanged. Callers resolve `url` from their own module as
 * `new URL('../../components/<name>/pod/<file>', import.meta.url)`: that is src/components/<name>/pod/
 * from sources, dist/components/<name>/pod/ from the compiled module, and the same from the bundle
 * (dist/cli/bundle/osb.mjs is two levels below dist/ too). `npm run build` copies the files there.
 */
export function readPodFile(url: URL): string {
  const path = fileURLToPath(url);
  if (!existsSync(path)) throw new OsbError(`cannot find the pod program ${path}`, 'reinstall osb (npm ci && npm run build)');
  return readFileSync(path, 'utf8');
}
