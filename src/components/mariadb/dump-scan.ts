import { StringDecoder } from 'node:string_decoder';

/** What a `mariadb-dump` stream holds, read from the stream itself as it is written. */
export interface DumpFacts {
  /** Database → table → rows in the dump (a table with no INSERT has 0). */
  tables: Record<string, Record<string, number>>;
  /** `--master-data=2 --gtid`: the binlog position of the dump's snapshot (present when the server logs binlogs). */
  binlog?: { file: string; position: number; gtid?: string };
  /** Uncompressed bytes. */
  bytes: number;
  /** The dump ended with its `-- Dump completed` line (mariadb-dump writes it last). */
  complete: boolean;
}

const IDENT = /^`((?:[^`]|``)*)`/;
const unquote = (s: string) => s.replace(/``/g, '`');

/** The identifier at the start of `text` (backquoted, as mariadb-dump writes it). */
function identAt(text: string): string | undefined {
  const m = IDENT.exec(text);
  return m ? unquote(m[1]!) : undefined;
}

/**
 * Reads a mariadb-dump stream chunk by chunk: which tables each database holds, how many rows
 * its INSERT statements carry, and the binlog position comments. mariadb-dump escapes every
 * newline inside a value (`\n`), so statements are recognised by their first line; rows are
 * counted as the top-level `( ... )` groups after `VALUES`, outside quoted strings.
 */
export class DumpScanner {
  readonly facts: DumpFacts = { tables: {}, bytes: 0, complete: false };
  private readonly decoder = new StringDecoder('utf8');
  private rest = '';
  private db?: string;
  /** Inside an INSERT of this table until its `;`. */
  private inserting?: Record<string, number>;
  private insertTable = '';
  private depth = 0;
  private inString = false;
  private escaped = false;

  push(chunk: Buffer | string): void {
    this.facts.bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    const text = this.rest + (typeof chunk === 'string' ? chunk : this.decoder.write(chunk));
    let from = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
      this.line(text.slice(from, nl));
      from = nl + 1;
    }
    this.rest = text.slice(from);
  }

  end(): DumpFacts {
    const tail = this.rest + this.decoder.end();
    this.rest = '';
    if (tail) this.line(tail);
    return this.facts;
  }

  private table(name: string): void {
    if (this.db === undefined) return;
    const t = (this.facts.tables[this.db] ??= {});
    t[name] ??= 0;
  }

  private line(line: string): void {
    if (this.inserting) {
      this.values(line, 0);
      return;
    }
    if (line.startsWith('INSERT INTO `')) {
      const name = identAt(line.slice('INSERT INTO '.length));
      const at = line.indexOf(' VALUES', 'INSERT INTO '.length);
      if (name === undefined || at < 0 || this.db === undefined) return;
      this.table(name);
      this.inserting = this.facts.tables[this.db]!;
      this.insertTable = name;
      this.depth = 0;
      this.inString = false;
      this.escaped = false;
      this.values(line, at + ' VALUES'.length);
    } else if (line.startsWith('CREATE TABLE `')) {
      const name = identAt(line.slice('CREATE TABLE '.length));
      if (name !== undefined) this.table(name);
    } else if (line.startsWith('USE `')) {
      this.db = identAt(line.slice('USE '.length));
      if (this.db !== undefined) this.facts.tables[this.db] ??= {};
    } else if (line.startsWith('-- CHANGE MASTER TO MASTER_LOG_FILE=')) {
      const m = /MASTER_LOG_FILE='([^']+)', MASTER_LOG_POS=(\d+)/.exec(line);
      if (m) this.facts.binlog = { ...this.facts.binlog, file: m[1]!, position: Number(m[2]) };
    } else if (line.startsWith('-- SET GLOBAL gtid_slave_pos=')) {
      const m = /gtid_slave_pos='([^']*)'/.exec(line);
      if (m && this.facts.binlog) this.facts.binlog.gtid = m[1]!;
    } else if (line.startsWith('-- Dump completed')) {
      this.facts.complete = true;
    }
  }

  /** Counts the row groups of an INSERT from `from`; ends the INSERT at its `;`. */
  private values(line: string, from: number): void {
    const rows = this.inserting!;
    for (let i = from; i < line.length; i++) {
      const c = line.charCodeAt(i);
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 92 /* \ */) this.escaped = true;
        else if (c === 39 /* ' */) this.inString = false;
        continue;
      }
      if (c === 39) this.inString = true;
      else if (c === 40 /* ( */) {
        if (this.depth === 0) rows[this.insertTable] = (rows[this.insertTable] ?? 0) + 1;
        this.depth++;
      } else if (c === 41 /* ) */) this.depth--;
      else if (c === 59 /* ; */ && this.depth === 0) {
        this.inserting = undefined;
        return;
      }
    }
  }
}
