import { setExternalImporter } from '../util/entry.js';
import { buildProgram } from './program.js';

/**
 * The entry of the bundle (dist/cli/bundle/osb.cjs, built by scripts/bundle.mjs). bin/osb compiles the
 * bundle with V8's code cache and calls this with its own `import()` for the packages left outside it.
 */
export async function run(argv: string[], importer: (specifier: string) => Promise<unknown>): Promise<void> {
  setExternalImporter(importer);
  await buildProgram().parseAsync(argv);
}
