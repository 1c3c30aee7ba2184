import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { sleep } from './net.js';
import { childProcess } from './builtin.js';

export function readPid(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const n = Number(readFileSync(pidFile, 'utf8').trim());
  return Number.isInteger(n) && n > 1 ? n : undefined;
}

export function cmdlineOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return undefined;
  }
}

function environOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return undefined;
  }
}

/** Alive and still the process we started (its command line holds our marker). */
export function isOurProcess(pid: number | undefined, marker: string): pid is number {
  if (!pid) return false;
  const cmd = cmdlineOf(pid);
  if (cmd === undefined) return false;
  if (!cmd.includes(marker) && !environOf(pid)?.includes(marker)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Seconds since the process started, from /proc. */
export function processUptimeSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const startTicks = Number(fields[19]);
    const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    return Math.max(0, Math.round(uptime - startTicks / 100));
  } catch {
    return undefined;
  }
}

export function processRssBytes(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Starts a daemon in its own session so it outlives osb; output goes to a log file. */
export function startDetached(command: string, args: string[], env: Record<string, string>, consoleLog: string): number {
  const fd = openSync(consoleLog, 'a', 0o600);
  try {
    const child = childProcess().spawn(command, args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: Object.keys(env).length ? env : { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    child.on('error', () => {});
    child.unref();
    if (!child.pid) throw new Error(`could not start ${command}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** SIGTERM, wait up to timeoutMs, then SIGKILL. Resolves once the process is gone. */
export async function stopProcess(pid: number, timeoutMs: number): Promise<'stopped' | 'killed' | 'gone'> {
  if (!isAlive(pid)) return 'gone';
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return 'gone';
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return 'stopped';
    await sleep(50);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
  while (isAlive(pid)) await sleep(20);
  return 'killed';
}

/** The pid in a daemon's pid file, if that process is alive and is the one we started (its command line holds the marker). */
export function runningPid(p: { pidFile: string; cmdlineMarker: string }): number | undefined {
  const pid = readPid(p.pidFile);
  return isOurProcess(pid, p.cmdlineMarker) ? pid : undefined;
}
