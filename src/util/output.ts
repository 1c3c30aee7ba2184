import { fstatSync, writeSync } from 'node:fs';
import { OsbError } from './errors.js';

/**
 * osb's own output on stdout (1) and stderr (2). To a pipe or a file (scripts, CI, `osb render > x.yaml`)
 * it is a plain write(2) of the whole text. Only a terminal gets Node's process.stdout/stderr: creating
 * them loads Node's tty, net and stream modules, 3–4 ms of `osb render`'s and a no-op deploy's ~50 ms of
 * own work (docs/performance.md, session 15).
 *
 * Order is kept: once an fd is written through its Node stream (a terminal, or a pipe set non-blocking
 * by whoever shares it, where write(2) would say EAGAIN), every later write to it goes there too. A
 * reader that went away (EPIPE: `osb render | head`) ends the output quietly, as the stream did; any other
 * failure of stdout (a full disk) is one clear error.
 */
type Fd = 1 | 2;
const mode: Record<Fd, 'unknown' | 'direct' | 'stream' | 'closed'> = { 1: 'unknown', 2: 'unknown' };
const terminal: Record<Fd, boolean> = { 1: false, 2: false };

const nodeStream = (fd: Fd) => (fd === 1 ? process.stdout : process.stderr);

function settle(fd: Fd): 'direct' | 'stream' | 'closed' {
  if (mode[fd] !== 'unknown') return mode[fd];
  let charDevice: boolean;
  try {
    charDevice = fstatSync(fd).isCharacterDevice();
  } catch {
    return (mode[fd] = 'closed');
  }
  // A terminal is a character device; so is /dev/null, which the stream's isTTY tells apart.
  terminal[fd] = charDevice && nodeStream(fd).isTTY === true;
  return (mode[fd] = terminal[fd] ? 'stream' : 'direct');
}

function write(fd: Fd, text: string): void {
  const how = settle(fd);
  if (how === 'closed') return;
  if (how === 'stream') {
    nodeStream(fd).write(text);
    return;
  }
  const buf = Buffer.from(text, 'utf8');
  let done = 0;
  try {
    while (done < buf.length) done += writeSync(fd, buf, done);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EAGAIN') {
      mode[fd] = 'stream';
      nodeStream(fd).write(buf.subarray(done));
    } else if (code === 'EPIPE' || code === 'EBADF' || fd === 2) {
      // Nowhere to say anything more (a reader that left, or stderr itself failing).
      mode[fd] = 'closed';
    } else {
      throw new OsbError(
        `cannot write the output: ${(err as Error).message}`,
        code === 'ENOSPC' ? 'free space where the output goes, or send it elsewhere' : 'check where standard output goes',
      );
    }
  }
}

export const writeOut = (text: string): void => write(1, text);
export const writeErr = (text: string): void => write(2, text);

/** Whether stdout/stderr is a terminal (without creating its Node stream when it is a pipe or a file). */
export function isTerminal(fd: Fd): boolean {
  settle(fd);
  return terminal[fd];
}

/** The terminal's width, for help text; undefined when not a terminal. */
export function terminalColumns(fd: Fd): number | undefined {
  return isTerminal(fd) ? nodeStream(fd).columns : undefined;
}

/** Whether the terminal takes colours (false for pipes and files). */
export function terminalHasColors(fd: Fd): boolean {
  return isTerminal(fd) && nodeStream(fd).hasColors?.() === true;
}
