import { OsbError } from '../util/errors.js';

type Tree = Record<string, unknown>;

/** Helm-style scalar: true/false/null, numbers, `{a,b}` lists, anything else a string. */
export function parseSetValue(raw: string): unknown {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (raw === 'null') return null;
  if (/^-?\d+$/.test(raw) && Number.isSafeInteger(Number(raw))) return Number(raw);
  if (/^-?\d+\.\d+$/.test(raw)) return Number(raw);
  if (raw.startsWith('{') && raw.endsWith('}')) {
    const inner = raw.slice(1, -1).trim();
    return inner === '' ? [] : inner.split(',').map((s) => parseSetValue(s.trim()));
  }
  return raw;
}

/** Applies one `--set a.b.c=value` to a plain object tree (mutates and returns it). */
export function applySet(tree: Tree, expression: string): Tree {
  const eq = expression.indexOf('=');
  if (eq <= 0) {
    throw new OsbError(`--set "${expression}" is not key=value`, 'write it as --set mariadb.port=13306', 2);
  }
  const path = expression.slice(0, eq).split('.');
  if (path.some((p) => p === '' || p === '__proto__' || p === 'constructor' || p === 'prototype')) {
    throw new OsbError(`--set "${expression}" has an empty or reserved key segment`, 'write dotted keys such as mariadb.port', 2);
  }
  let node: Tree = tree;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === undefined || next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
    node = node[key] as Tree;
  }
  node[path[path.length - 1]!] = parseSetValue(expression.slice(eq + 1));
  return tree;
}

/** Deep merge of plain objects; arrays and scalars from `over` replace those in `base`; null removes the key (Helm: back to its default). */
export function deepMerge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) {
      delete out[k];
      continue;
    }
    const b = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b) ? deepMerge(b as Tree, v as Tree) : v;
  }
  return out;
}

/** The tree without its null values (at any depth): a key set to null takes its default, as in Helm. */
export function dropNulls(tree: unknown): unknown {
  if (Array.isArray(tree)) return tree.map(dropNulls);
  if (!tree || typeof tree !== 'object') return tree;
  return Object.fromEntries(
    Object.entries(tree)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => [k, dropNulls(v)]),
  );
}
