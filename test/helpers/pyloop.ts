import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { expect } from 'vitest';

const PY = '/usr/bin/python3';
/** Debian's OpenStack libraries are used from the system python (test/openstack/*.py). */
export const OPENSTACK_HELPERS = resolve(__dirname, '../openstack');
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** One of the python helpers of test/openstack: line-oriented events on stdout, runs until its stdin is closed. */
export class PyLoop {
  readonly lines: string[][] = [];
  stderr = '';
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly exited: Promise<number>;

  constructor(script: string, args: string[]) {
    this.proc = spawn(PY, [join(OPENSTACK_HELPERS, script), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stderr.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-200_000)));
    createInterface({ input: this.proc.stdout }).on('line', (l) => this.lines.push(l.split(' ')));
    this.exited = new Promise((res) => this.proc.on('close', (code) => res(code ?? -1)));
  }

  get pid(): number {
    return this.proc.pid!;
  }
  events(kind: string): string[][] {
    return this.lines.filter((l) => l[0] === kind);
  }
  /** Timestamps (python's time.time()) of successful operations. */
  okTimes(): number[] {
    return this.events('A').map((l) => Number(l[2]));
  }
  okAfter(t: number): number {
    return this.okTimes().filter((x) => x > t).length;
  }
  async ready(minOk: number, timeoutMs = 30_000): Promise<string[]> {
    await waitFor(`${minOk} successful operations`, () => this.okTimes().length >= minOk, timeoutMs, 50).catch(async (e: Error) => {
      throw new Error(`${e.message}\n${await this.stalled()}`);
    });
    return this.events('READY')[0]!;
  }
  /**
   * What a stalled loop is doing: its last output lines, and every thread's stack (the helpers print them on
   * SIGUSR1 with faulthandler) after its own log on stderr.
   */
  async stalled(): Promise<string> {
    const before = this.stderr.length;
    this.proc.kill('SIGUSR1');
    await sleep(1000);
    const log = this.stderr.slice(0, before).slice(-3000);
    const stacks = this.stderr.slice(before).slice(-6000);
    return `last output lines:\n  ${
      this.lines
        .slice(-15)
        .map((l) => l.join(' '))
        .join('\n  ') || '(none)'
    }\nstderr (its log):\n${log || '(empty)'}\nthreads:\n${stacks || '(no answer to SIGUSR1)'}`;
  }
  /** Closes stdin, waits for DONE; returns its fields. */
  async stop(timeoutMs = 90_000): Promise<string[]> {
    this.proc.stdin.end();
    const code = await Promise.race([this.exited, sleep(timeoutMs).then(() => 'timeout' as const)]);
    if (code === 'timeout') {
      this.proc.kill('SIGKILL');
      throw new Error(`python helper did not stop within ${timeoutMs} ms; stderr: ${this.stderr.slice(-2000)}`);
    }
    expect(code, this.stderr.slice(-3000)).toBe(0);
    return this.events('DONE')[0]!;
  }
  kill(): void {
    this.proc.kill('SIGKILL');
  }
}
