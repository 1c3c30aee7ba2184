// Copies the programs pods run (src/components/*/pod/) to dist/components/*/pod/, byte for byte:
// osb reads them next to its compiled modules (and next to the bundle's ../../components/).
import { cpSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const src = 'src/components';
for (const component of readdirSync(src)) {
  const from = join(src, component, 'pod');
  if (existsSync(from)) cpSync(from, join('dist/components', component, 'pod'), { recursive: true, preserveTimestamps: true });
}
