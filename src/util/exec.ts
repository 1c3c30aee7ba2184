import { childProcess } from './builtin.js';
import { appendFileSync } from 'node:fs';
import { OsbError } from './errors.js';

export interface RunOptions {
  env?: Record<string, string>;
  /** Output goes here instead of the terminal. */
  logFile?: string;
  input?: string;
  timeoutMs?: number;
}

/** Runs a command to completion, capturing its output; throws with the last lines on failure. */
export function runQuiet(command: string, args: string[], opts: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = childProcess().spawn(command, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(new OsbError(`cannot run ${command}: ${err.message}`, 'is the package installed?'));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (opts.logFile) appendFileSync(opts.logFile, out);
      if (code === 0) return resolve(out);
      const tail = out.trim().split('\n').slice(-5).join('\n  ');
      reject(new OsbError(`${command} failed (${signal ?? `exit ${code}`}):\n  ${tail}`));
    });
    // A command that exits without reading its input must not crash us with EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}
