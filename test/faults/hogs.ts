/**
 * A load spike on demand: one busy loop per core plus synchronous disk writes, at the same priority as
 * the daemons (a real spike is not niced). Every hog runs in its own process group so `stop()` ends it
 * and whatever it spawned; an exit hook kills them if the test process dies first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';

export interface HogOptions {
  /** Busy loops (default: one per core). */
  cpu?: number;
  /** Writers of `dd … oflag=direct conv=fsync` in a loop (default 2): the disk queue stays full. */
  io?: number;
  /** Writers of buffered `dd … conv=fsync` in a loop (default 1): dirty pages, writeback and its throttling. */
  buffered?: number;
  /** MiB each dd writes before it starts over (default 256; buffered writers 4×). */
  ioMiB?: number;
}

const live = new Set<Hogs>();
process.on('exit', () => {
  for (const h of live) {
    h.killNow();
    try {
      h.removeFiles();
    } catch {
      /* best effort at exit */
    }
  }
});

export class Hogs {
  private procs: ChildProcess[] = [];
  private dir?: string;
  readonly started = Date.now();

  private constructor(private readonly opts: Required<HogOptions>) {}

  /** Starts the hogs and returns once they run. */
  static start(opts: HogOptions = {}): Hogs {
    const h = new Hogs({ cpu: opts.cpu ?? cpus().length, io: opts.io ?? 2, buffered: opts.buffered ?? 1, ioMiB: opts.ioMiB ?? 256 });
    h.launch();
    live.add(h);
    return h;
  }

  private launch(): void {
    this.dir = mkdtempSync(join(tmpdir(), 'osb-hogs-'));
    const spawnGroup = (cmd: string, args: string[]) => {
      const p = spawn(cmd, args, { detached: true, stdio: 'ignore' });
      p.on('error', () => undefined);
      this.procs.push(p);
    };
    for (let i = 0; i < this.opts.cpu; i++) spawnGroup(process.execPath, ['-e', 'for(;;){}']);
    for (let i = 0; i < this.opts.io; i++) {
      const f = join(this.dir, `io-${i}`);
      // O_DIRECT writes plus an fsync per pass: the disk queue stays full, the page cache does not absorb it.
      spawnGroup('/bin/sh', [
        '-c',
        `while :; do dd if=/dev/zero of='${f}' bs=1M count=${this.opts.ioMiB} oflag=direct conv=fsync status=none; rm -f '${f}'; done`,
      ]);
    }
    for (let i = 0; i < this.opts.buffered; i++) {
      const f = join(this.dir, `buffered-${i}`);
      spawnGroup('/bin/sh', ['-c', `while :; do dd if=/dev/zero of='${f}' bs=1M count=${this.opts.ioMiB * 4} conv=fsync status=none; rm -f '${f}'; done`]);
    }
  }

  /** Pids of the hog processes (the group leaders). */
  get pids(): number[] {
    return this.procs.map((p) => p.pid!).filter(Boolean);
  }

  killNow(): void {
    for (const p of this.procs) {
      try {
        if (p.pid) process.kill(-p.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    this.procs = [];
    live.delete(this);
  }

  /** Removes the writers' files (once they are gone: a dying loop may still create one). */
  removeFiles(): void {
    if (this.dir) rmSync(this.dir, { recursive: true, force: true, maxRetries: 5 });
    this.dir = undefined;
  }

  /** Kills every hog (and its children) and waits until they are gone. */
  async stop(): Promise<void> {
    const procs = this.procs;
    const exited = procs.map((p) => (p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => p.once('exit', () => r()))));
    this.killNow();
    await Promise.race([Promise.all(exited), new Promise((r) => setTimeout(r, 5000))]);
    this.removeFiles();
  }
}
