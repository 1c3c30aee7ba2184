// Builds the CLI bundle: dist/cli/bundle/osb.cjs, one CommonJS file (no chunks), which bin/osb compiles
// with V8's code cache (docs/performance.md, session 11). @kubernetes/client-node stays outside (an ES
// module, imported on demand through the importer bin/osb hands in). The file must be pure ASCII: bin/osb
// reads it as latin1, several times faster than decoding UTF-8 (esbuild escapes non-ASCII in strings;
// --minify-whitespace drops the comments that held some).
import { readFileSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { build } from 'esbuild';

/**
 * commander requires node:child_process (and with it net, dgram and the streams, ~5 ms) at load, for
 * executable subcommands osb does not have: it gets the module on first use instead.
 */
const lazyChildProcessInCommander = {
  name: 'lazy-child-process-in-commander',
  setup(build) {
    build.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      const line = "const childProcess = require('node:child_process');";
      if (!text.includes(line)) throw new Error(`${args.path} no longer has the line ${line}: update scripts/bundle.mjs`);
      return { contents: text.replace(line, "const childProcess = { get spawn() { return require('node:child_process').spawn; } };"), loader: 'js' };
    });
  },
};

const outdir = 'dist/cli/bundle';
rmSync(outdir, { recursive: true, force: true });
rmSync('dist/cli/code-cache', { recursive: true, force: true });
await build({
  entryPoints: { osb: 'src/cli/bundle.ts' },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  outdir,
  outExtension: { '.js': '.cjs' },
  external: ['@kubernetes/client-node'],
  // bin/osb passes the bundle's own file URL: modules find the pod programs from it (../../components/).
  define: { 'import.meta.url': '__osbImportMetaUrl' },
  minifyWhitespace: !process.env.OSB_BUNDLE_READABLE,
  charset: 'ascii',
  logLevel: 'warning',
  plugins: [lazyChildProcessInCommander],
  // proper-lockfile's graceful-fs (retries on EMFILE, irrelevant to one lock per run) patches fs at load,
  // reading fs.ReadStream and with it Node's fs streams (~7 ms of every locking command): plain fs instead.
  alias: { 'graceful-fs': 'node:fs' },
});
const text = readFileSync(`${outdir}/osb.cjs`);
const at = text.findIndex((b) => b > 0x7f);
if (at >= 0) {
  console.error(`scripts/bundle.mjs: ${outdir}/osb.cjs has a non-ASCII byte at offset ${at}; bin/osb reads it as latin1`);
  process.exit(1);
}
// import() in a vm.Script needs --experimental-vm-modules on Node 20: only importExternal's, which bin/osb
// replaces, may remain (a built-in loaded lazily goes through util/builtin.ts).
const imports = text.toString('latin1').match(/\bimport\(/g) ?? [];
if (imports.length !== 1) {
  console.error(`scripts/bundle.mjs: ${outdir}/osb.cjs has ${imports.length} import() calls, expected 1 (importExternal's)`);
  process.exit(1);
}
