import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** The last `bytes` of a file (all of it when smaller); '' when it cannot be read. */
export function fileTail(path: string, bytes: number): string {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const len = Math.min(size, bytes);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    return buf.toString('utf8');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The lines of a log after the last line matching `start` (the daemon's latest start); all lines when none does. */
export function linesSinceLast(text: string, start: RegExp): string[] {
  const lines = text.split('\n');
  let i = lines.length - 1;
  while (i >= 0 && !start.test(lines[i]!)) i--;
  return lines.slice(i + 1);
}
