import { z } from './zod.js';
import { configSchema } from './schema.js';

/** One settable leaf of the config (`--set key=value`), found by walking the zod schema. */
export interface ConfigKey {
  key: string;
  /** The values it accepts, when they are a short closed list (enums, booleans). */
  values?: string[];
}

type Def = { type: string; innerType?: z.ZodType; entries?: Record<string, string | number> };
const defOf = (s: z.ZodType) => (s as unknown as { _zod: { def: Def } })._zod.def;

/** Strips default/prefault/optional/nullable wrappers. */
function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (let d = defOf(s); d.innerType; d = defOf(s)) s = d.innerType;
  return s;
}

function walk(schema: z.ZodType, prefix: string, out: ConfigKey[]): void {
  const s = unwrap(schema);
  if (s instanceof z.ZodObject) {
    for (const [k, v] of Object.entries(s.shape as Record<string, z.ZodType>)) walk(v, prefix ? `${prefix}.${k}` : k, out);
    return;
  }
  const d = defOf(s);
  if (d.type === 'enum' && d.entries) out.push({ key: prefix, values: Object.values(d.entries).map(String) });
  else if (d.type === 'boolean') out.push({ key: prefix, values: ['true', 'false'] });
  else out.push({ key: prefix });
}

/** Every leaf key of the config schema, in schema order (e.g. `rabbitmq.replicas`). */
export function configKeys(): ConfigKey[] {
  const out: ConfigKey[] = [];
  walk(configSchema, '', out);
  return out;
}
