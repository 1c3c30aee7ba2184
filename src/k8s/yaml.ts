import { dump } from 'js-yaml';

/**
 * YAML exactly as js-yaml's `dump(value, { lineWidth: -1, noRefs: true })` writes it, several times
 * faster for what osb renders. js-yaml decides each string's style by walking it character by character
 * in JavaScript (a third of `osb render`'s own time, docs/performance.md); here a string that is
 * certainly plain (below) is written as it is, and any other string is styled by js-yaml once and
 * remembered (labels, images and ports repeat across objects). The structure — block mappings and
 * sequences, `{}`/`[]` when empty, undefined values skipped — follows js-yaml's writer line by line
 * (indent 2, sequences indented under their key). A value outside JSON's kinds (a Date, a Buffer) or a
 * key that is not certainly plain makes the whole document go through js-yaml itself.
 * test/unit/yaml-emit.test.ts compares the two on the rendered objects and on hand-picked strings.
 */
const OPTIONS = { lineWidth: -1, noRefs: true } as const;

/**
 * Plain in js-yaml's choice: a letter or `/` first (so never a number, a date, `~` or an indicator),
 * then letters, digits, spaces and `._/:-+=$()@,%`, never `: ` and not ending in a space or `:`; minus
 * the words a YAML 1.1 reader takes for booleans or null (js-yaml quotes those).
 */
const PLAIN = /^[A-Za-z/](?:[A-Za-z0-9 ._/:+=$()@,%-]{0,1022}[A-Za-z0-9._/+=$()@,%-])?$/;
const RESERVED = new Set('null Null NULL true True TRUE false False FALSE y Y yes Yes YES on On ON n N no No NO off Off OFF'.split(' '));
const isPlain = (s: string) => PLAIN.test(s) && !RESERVED.has(s) && !s.includes(': ');

/** Several lines of printable ASCII: js-yaml writes a block literal (a tab or a CR would make it double-quoted). */
const LITERAL = /^[\x20-\x7e\n]*\n[\x20-\x7e\n]*$/;

/** js-yaml's blockHeader: an indentation indicator when the text starts with spaces, then the chomping. */
function literalHeader(s: string): string {
  const clip = s.endsWith('\n');
  const keep = clip && (s.endsWith('\n\n') || s === '\n');
  return '|' + (/^\n* /.test(s) ? '2' : '') + (keep ? '+' : clip ? '' : '-') + '\n';
}

class Unsupported extends Error {}

/** js-yaml's rendering of one string at the top level: one line, or a block literal's header line (and more). */
const styled = new Map<string, string>();

function scalar(s: string, level: number): string {
  if (isPlain(s)) return s;
  let top = LITERAL.test(s) ? literalHeader(s) : styled.get(s);
  if (top === undefined) {
    top = dump(s, OPTIONS).slice(0, -1);
    styled.set(s, top);
  }
  if (top[0] !== '|') return top;
  // A block literal: its lines are indented by the level (js-yaml's indentString), empty lines stay empty.
  const header = top.slice(0, top.indexOf('\n') + 1);
  const pad = ' '.repeat(2 * Math.max(1, level));
  const body = s.replace(/[^\n]+/g, (line) => pad + line);
  return header + (body.endsWith('\n') ? body.slice(0, -1) : body);
}

function node(v: unknown, level: number, compact: boolean): string | undefined {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      return scalar(v, level);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      return Number.isInteger(v) && !Object.is(v, -0) ? String(v) : dump(v, OPTIONS).slice(0, -1);
    case 'undefined':
      return undefined;
    case 'object': {
      const kind = Object.prototype.toString.call(v);
      if (kind === '[object Array]') return sequence(v as unknown[], level, compact);
      if (kind === '[object Object]') return mapping(v as Record<string, unknown>, level, compact);
    }
  }
  throw new Unsupported();
}

function mapping(o: Record<string, unknown>, level: number, compact: boolean): string {
  let out = '';
  for (const key of Object.keys(o)) {
    const d = node(o[key], level + 1, false);
    if (d === undefined) continue;
    if (!isPlain(key)) throw new Unsupported();
    if (!compact || out !== '') out += '\n' + ' '.repeat(2 * level);
    out += key + (d.charCodeAt(0) === 10 ? ':' : ': ') + d;
  }
  return out || '{}';
}

function sequence(a: unknown[], level: number, compact: boolean): string {
  let out = '';
  for (const item of a) {
    const d = node(item, level + 1, true) ?? 'null';
    if (!compact || out !== '') out += '\n' + ' '.repeat(2 * level);
    out += (d.charCodeAt(0) === 10 ? '-' : '- ') + d;
  }
  return out || '[]';
}

/** One YAML document, byte for byte what js-yaml's dump(value, { lineWidth: -1, noRefs: true }) returns. */
export function toYaml(value: unknown): string {
  try {
    const d = node(value, 0, true);
    return d === undefined ? '' : d + '\n';
  } catch (err) {
    if (err instanceof Unsupported) return dump(value, OPTIONS);
    throw err;
  }
}
