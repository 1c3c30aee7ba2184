import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from './zod.js';
import { OsbError, didYouMean } from '../util/errors.js';
import { configSchema, type Config } from './schema.js';
import { applySet, deepMerge, dropNulls } from './set.js';

export interface ConfigSources {
  /** YAML values files, later ones win. */
  values?: string[];
  /** Helm-style `key=value` overrides, applied after the files, later ones win. */
  set?: string[];
}

type Tree = Record<string, unknown>;

function readValuesFile(file: string): Tree {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable (permission denied)' : `cannot be read (${code})`;
    throw new OsbError(`values file ${file} ${why}`, 'check the path given to -f/--values', 2);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new OsbError(`values file ${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`, 'fix the YAML syntax', 2);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new OsbError(
      `values file ${file} must hold a mapping of keys (got ${Array.isArray(doc) ? 'a list' : typeof doc})`,
      'see README for the config keys',
      2,
    );
  }
  return doc as Tree;
}

/** The object schema found at a path of the config, unwrapping defaults and optionals. */
function objectShapeAt(path: readonly PropertyKey[]): string[] {
  let schema: z.ZodType = configSchema;
  for (const key of [...path, null]) {
    for (let i = 0; i < 5; i++) {
      const def = (schema as unknown as { _zod: { def: { innerType?: z.ZodType; type: string } } })._zod.def;
      if (def.innerType) schema = def.innerType;
      else break;
    }
    if (!(schema instanceof z.ZodObject)) return [];
    if (key === null) return Object.keys(schema.shape);
    const next = schema.shape[key as string] as z.ZodType | undefined;
    if (!next) return [];
    schema = next;
  }
  return [];
}

export function formatIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.join('.');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys
      .map((k) => {
        const full = where ? `${where}.${k}` : k;
        const hint = didYouMean(k, objectShapeAt(issue.path));
        const known = objectShapeAt(issue.path).join(', ');
        return `unknown config key "${full}"` + (hint ? ` — did you mean "${where ? `${where}.` : ''}${hint}"?` : ` — known keys here: ${known}`);
      })
      .join('\n');
  }
  // Never echo a secret back: a refused password stays out of terminals and CI logs.
  const secret = /password|secret|cookie/i.test(where);
  const got =
    !secret && 'input' in issue && issue.input !== undefined && (typeof issue.input !== 'object' || issue.input === null)
      ? ` (got ${JSON.stringify(issue.input)})`
      : '';
  if (issue.code === 'invalid_type') {
    const expected =
      issue.expected === 'int'
        ? 'a whole number'
        : issue.expected === 'number'
          ? 'a number'
          : issue.expected === 'boolean'
            ? 'true or false'
            : issue.expected === 'object'
              ? 'a mapping of keys'
              : issue.expected === 'array'
                ? 'a list'
                : issue.expected;
    return `config key "${where}": expected ${expected}${got}`;
  }
  if ((issue.code === 'too_big' || issue.code === 'too_small') && typeof issue.input === 'number') {
    const bound = issue.code === 'too_big' ? `at most ${String(issue.maximum)}` : `at least ${String(issue.minimum)}`;
    return `config key "${where}": must be ${bound}${got}`;
  }
  return `config key "${where}": ${issue.message}${got}`;
}

/** Validates an already-merged config tree against the schema; throws one OsbError naming every problem. (Derived ports are checked by the component registry: resolveConfig.) */
export function validateConfig(tree: unknown): Config {
  const result = configSchema.safeParse(dropNulls(tree), { reportInput: true });
  if (!result.success) {
    const lines = result.error.issues.map(formatIssue);
    throw new OsbError(lines.join('\n'), undefined, 2);
  }
  return result.data;
}

/** Values files merged in order, then --set applied: the user's tree, not yet validated. */
export function loadValuesTree(sources: ConfigSources = {}): Tree {
  let tree: Tree = {};
  for (const file of sources.values ?? []) tree = deepMerge(tree, readValuesFile(file));
  for (const s of sources.set ?? []) applySet(tree, s);
  return tree;
}
