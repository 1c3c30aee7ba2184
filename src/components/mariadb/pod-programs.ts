import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { readPodFile } from '../../k8s/pod-files.js';
import { OsbError } from '../../util/errors.js';

/**
 * The JavaScript of a pure module under src/components/mariadb/ (`bootstrap` — `decideGaleraStart`,
 * the decision the local target uses —, `writer` — `chooseGaleraWriter` —, `binlog-archive` — the
 * archived binlogs of point-in-time restore) or src/components/ (`../backup-chain`, the chain checks of
 * every restore), as shipped in a ConfigMap and imported by the scripts the pods run. The compiled module is used when osb runs
 * from dist/; from sources (tests) the .ts file is transpiled with the same compiler, which emits
 * the same text. Source-map comments are dropped so the output does not depend on build flags.
 */
export function shippedModuleSource(module: 'bootstrap' | 'writer' | 'binlog-archive' | '../backup-chain'): string {
  const js = new URL(`../../components/mariadb/${module}.js`, import.meta.url);
  const ts = new URL(`../../components/mariadb/${module}.ts`, import.meta.url);
  let text: string;
  if (existsSync(fileURLToPath(js))) {
    text = readFileSync(js, 'utf8');
  } else if (existsSync(fileURLToPath(ts))) {
    const require = createRequire(import.meta.url);
    const typescript = require('typescript') as typeof import('typescript');
    text = typescript.transpileModule(readFileSync(ts, 'utf8'), {
      compilerOptions: {
        target: typescript.ScriptTarget.ES2022,
        module: typescript.ModuleKind.NodeNext,
        moduleResolution: typescript.ModuleResolutionKind.NodeNext,
        esModuleInterop: true,
        strict: true,
      },
      fileName: `${module.replace('../', '')}.mts`,
    }).outputText;
  } else {
    throw new OsbError(`cannot find the ${module} module (components/mariadb/${module}.js)`, 'reinstall osb (npm ci && npm run build)');
  }
  return (
    text
      .replace(/\r\n/g, '\n')
      .replace(/^\/\/# sourceMappingURL=.*$/m, '')
      .trimEnd() + '\n'
  );
}

/** `decideGaleraStart` as shipped (`galera-decision.mjs`). */
export const galeraDecisionModuleSource = () => shippedModuleSource('bootstrap');
/** `chooseGaleraWriter` as shipped (`writer-decision.mjs`). */
export const writerDecisionModuleSource = () => shippedModuleSource('writer');

/** The programs MariaDB's pods run, as files in src/components/mariadb/pod/ (copied to dist/ by the build). */
export const POD_PROGRAMS = [
  'galera-agent.mjs',
  'galera-recover.sh',
  'writer-controller.mjs',
  'k8s-api.mjs',
  'backup-agent.sh',
  'backup-job.sh',
  'backup-pick.mjs',
  'backup-restore.sh',
  'binlog-archiver.mjs',
  'restore-check.mjs',
] as const;
export type PodProgram = (typeof POD_PROGRAMS)[number];

/**
 * A pod program's text, byte for byte as on disk: ConfigMaps ship it unchanged. The URL resolves to
 * src/components/mariadb/pod/ from sources, and to dist/components/mariadb/pod/ both from the
 * compiled module and from the bundle (dist/cli/bundle/osb.mjs), like `shippedModuleSource`.
 */
export function podProgramSource(name: PodProgram): string {
  return readPodFile(new URL(`../../components/mariadb/pod/${name}`, import.meta.url));
}
