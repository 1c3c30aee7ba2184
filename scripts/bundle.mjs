// Builds the CLI bundle: dist/cli/bundle/osb.cjs, one CommonJS file (no chunks), which bin/osb compiles
// with V8's code cache (docs/performance.md, session 11). @kubernetes/client-node stays outside (an ES
// module, imported on demand through the importer bin/osb hands in). The file must be pure ASCII: bin/osb
// reads it as latin1, several times faster than decoding UTF-8 (esbuild escapes non-ASCII in strings;
// --minify-whitespace drops the comments that held some).
import { readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
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

/**
 * The packages only some commands load, 1.5 of the 2.6 MB: the database and broker drivers and the
 * terminal renderer (each `await import(...)`ed in src/), and prom-client (imported by the memcached
 * exporter, itself imported on demand). They go into a second file, dist/cli/bundle/lazy.cjs, which
 * bin/osb reads and compiles (with its own code cache) only when a command first needs one of them:
 * `osb render`, `endpoints`, `--help` and a no-op deploy never read it (docs/performance.md, session 15).
 * In the main bundle each becomes a stub that asks bin/osb for the part (__osbPart). A package added
 * here must only be imported where the importing module itself is loaded on demand.
 */
const LAZY = ['mysql2/promise', 'amqplib', 'listr2', 'prom-client'];

const lazyStubs = {
  name: 'lazy-part-stubs',
  setup(build) {
    const filter = new RegExp(`^(${LAZY.map((p) => p.replace(/[/]/g, '\\/')).join('|')})$`);
    build.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'osb-lazy' }));
    build.onLoad({ filter: /.*/, namespace: 'osb-lazy' }, (args) => ({
      contents: `module.exports = __osbPart('lazy')[${JSON.stringify(args.path)}];`,
      loader: 'js',
    }));
  },
};

/**
 * signal-exit 3 (proper-lockfile's: it releases the state lock on exit) loads node:assert for one
 * `assert.equal(typeof cb, 'function', …)`, and node:assert creates process.stderr at load (~4 ms of every
 * command that takes the lock): the same check, without it.
 */
const assertInSignalExit = {
  name: 'assert-in-signal-exit',
  setup(build) {
    build.onResolve({ filter: /^(node:)?assert$/ }, (args) =>
      /[\\/]signal-exit[\\/]/.test(args.importer) ? { path: 'assert', namespace: 'osb-signal-exit-assert' } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'osb-signal-exit-assert' }, () => ({
      contents: 'module.exports = { equal(actual, expected, message) { if (actual != expected) throw new Error(message); } };',
      loader: 'js',
    }));
  },
};

const outdir = 'dist/cli/bundle';
rmSync(outdir, { recursive: true, force: true });
rmSync('dist/cli/code-cache', { recursive: true, force: true });
const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // bin/osb passes each part's own file URL: modules find the pod programs from it (../../components/).
  define: { 'import.meta.url': '__osbImportMetaUrl' },
  minifyWhitespace: !process.env.OSB_BUNDLE_READABLE,
  charset: 'ascii',
  logLevel: 'warning',
  external: ['@kubernetes/client-node'],
  // proper-lockfile's graceful-fs (retries on EMFILE, irrelevant to one lock per run) patches fs at load,
  // reading fs.ReadStream and with it Node's fs streams (~7 ms of every locking command): plain fs instead.
  alias: { 'graceful-fs': 'node:fs' },
};
await build({
  ...common,
  entryPoints: ['src/cli/bundle.ts'],
  outfile: `${outdir}/osb.cjs`,
  plugins: [lazyChildProcessInCommander, lazyStubs, assertInSignalExit],
});
await build({
  ...common,
  // A getter each: importing mysql2 does not initialise amqplib or listr2.
  stdin: {
    contents: `module.exports = {${LAZY.map((p) => `get ${JSON.stringify(p)}() { return require(${JSON.stringify(p)}); }`).join(', ')}};`,
    resolveDir: process.cwd(),
    sourcefile: 'lazy-part.js',
    loader: 'js',
  },
  outfile: `${outdir}/lazy.cjs`,
});

// import() in a vm.Script needs --experimental-vm-modules on Node 20: only importExternal's, which bin/osb
// replaces, may remain in osb.cjs, none in lazy.cjs (a built-in loaded lazily goes through util/builtin.ts).
for (const [name, importCalls] of [
  ['osb', 1],
  ['lazy', 0],
]) {
  const text = readFileSync(`${outdir}/${name}.cjs`);
  const at = text.findIndex((b) => b > 0x7f);
  if (at >= 0) {
    console.error(`scripts/bundle.mjs: ${outdir}/${name}.cjs has a non-ASCII byte at offset ${at}; bin/osb reads it as latin1`);
    process.exit(1);
  }
  const imports = text.toString('latin1').match(/\bimport\(/g) ?? [];
  if (imports.length !== importCalls) {
    console.error(`scripts/bundle.mjs: ${outdir}/${name}.cjs has ${imports.length} import() calls, expected ${importCalls}`);
    process.exit(1);
  }
}
const part = createRequire(import.meta.url)(`../${outdir}/lazy.cjs`);
const missing = LAZY.filter((p) => !Object.getOwnPropertyDescriptor(part, p)?.get);
if (missing.length > 0) {
  console.error(`scripts/bundle.mjs: ${outdir}/lazy.cjs does not export ${missing.join(', ')}`);
  process.exit(1);
}
