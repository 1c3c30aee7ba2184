import { byCodeUnit } from '../../util/format.js';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { OsbError } from '../../util/errors.js';
import { portIsFree, sleep } from '../../util/net.js';
import type { LocalHelper, LocalInstance } from '../../model/local.js';
import { isAlive, isOurProcess, readPid, runningPid, startDetached, stopProcess } from '../../util/process.js';

export { runningPid };

/** Fingerprint of what defines the running process; a change means restart. */
export function instanceHash(inst: LocalInstance): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ command: inst.command, args: inst.args, env: inst.env }));
  for (const f of [...inst.files].sort((a, b) => byCodeUnit(a.path, b.path))) h.update(`\0${f.path}\0${f.mode ?? 0o644}\0${f.content}`);
  return h.digest('hex').slice(0, 16);
}

export function writeInstanceFiles(inst: LocalInstance): void {
  for (const d of [inst.dir, ...inst.dirs]) mkdirSync(d, { recursive: true, mode: 0o700 });
  for (const f of inst.files) {
    mkdirSync(dirname(f.path), { recursive: true, mode: 0o700 });
    const mode = f.mode ?? 0o644;
    if (existsSync(f.path)) {
      if (readFileSync(f.path, 'utf8') === f.content) {
        chmodSync(f.path, mode);
        continue;
      }
      chmodSync(f.path, 0o600); // a 0400 cookie must be writable to be replaced
    }
    writeFileSync(f.path, f.content, { mode });
    chmodSync(f.path, mode);
  }
}

/** Ports of the instance that something else already holds. */
export async function takenPorts(inst: LocalInstance, bindAddress: string): Promise<{ port: number; key: string }[]> {
  const taken = [];
  for (const p of inst.ports) if (!(await portIsFree(bindAddress, p.port))) taken.push(p);
  return taken;
}

function tail(file: string, lines: number): string[] {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines);
  } catch {
    return [];
  }
}

export function likelyCause(text: string): string | undefined {
  if (/address already in use|eaddrinuse|failed to listen|Can't start server: Bind on TCP\/IP port|bind\(\) failed/i.test(text))
    return 'a port is already in use by another process';
  if (/permission denied|eacces|errcode: 13/i.test(text)) return 'a file or directory is not accessible (permissions)';
  if (/no space left|enospc|disk full/i.test(text)) return 'the disk is full';
  if (/cannot allocate memory|out of memory|enomem/i.test(text)) return 'not enough memory';
  return undefined;
}

export function failureReport(inst: LocalInstance, what: string): OsbError {
  const lines = [...tail(inst.logFile, 12), ...(inst.consoleLog !== inst.logFile ? tail(inst.consoleLog, 8) : [])];
  const cause = likelyCause(lines.join('\n'));
  const body = lines.length ? `\n  last log lines (${inst.logFile}):\n    ${lines.join('\n    ')}` : '';
  return new OsbError(`${inst.name} ${what}${cause ? `: likely cause: ${cause}` : ''}${body}`, `see \`osb logs ${inst.component}\``);
}

/** Nodes of one component start in parallel and share helpers: start each helper once. */
const helperStarts = new Map<string, Promise<void>>();

function ensureHelper(h: LocalHelper, logFile: string): Promise<void> {
  let p = helperStarts.get(h.pidFile);
  if (!p) {
    p = startHelper(h, logFile).finally(() => helperStarts.delete(h.pidFile));
    helperStarts.set(h.pidFile, p);
  }
  return p;
}

async function startHelper(h: LocalHelper, logFile: string): Promise<void> {
  const pid = readPid(h.pidFile);
  if (isOurProcess(pid, h.cmdlineMarker)) return;
  try {
    await h.probe();
    // Something already serves there: a helper that outlived its pid file (same deployment).
    return;
  } catch {
    /* not serving: start it */
  }
  const child = startDetached(h.command, h.args, h.env, logFile);
  writeFileSync(h.pidFile, `${child}\n`, { mode: 0o600 });
  for (let i = 0; i < 100; i++) {
    try {
      await h.probe();
      return;
    } catch {
      if (!isAlive(child)) break;
      await sleep(20);
    }
  }
  throw new OsbError(`${h.name} did not start (see ${logFile})`);
}

/** Waits until the protocol answers, failing fast if the process dies. */
export async function waitReady(inst: LocalInstance, spawnedPid: number, onProgress?: (msg: string) => void): Promise<void> {
  const started = Date.now();
  let lastError = '';
  let lastNote = 0;
  while (Date.now() - started < inst.startTimeoutMs) {
    try {
      await inst.probe();
      return;
    } catch (err) {
      lastError = (err as Error).message;
    }
    if (!isAlive(spawnedPid) && !runningPid(inst)) throw failureReport(inst, 'exited during start');
    const elapsed = Date.now() - started;
    if (onProgress && elapsed - lastNote > 2000) {
      lastNote = elapsed;
      onProgress(`${inst.name}: waiting for ${inst.component} protocol (${Math.round(elapsed / 1000)}s)`);
    }
    await sleep(100);
  }
  throw failureReport(inst, `did not answer its protocol within ${inst.startTimeoutMs / 1000}s (last error: ${lastError})`);
}

export interface StartOptions {
  extraArgs?: string[];
  onProgress?: (msg: string) => void;
}

/** Writes files, initialises data if needed, starts helpers and the daemon, waits until ready. */
export async function startInstance(inst: LocalInstance, opts: StartOptions = {}): Promise<number> {
  writeInstanceFiles(inst);
  if (!inst.isInitialized() && inst.initialize) {
    opts.onProgress?.(`${inst.name}: initialising data dir`);
    await inst.initialize();
  }
  for (const h of inst.helpers ?? []) await ensureHelper(h, `${inst.dir}/../${h.name}.log`);
  rmSync(inst.pidFile, { force: true });
  opts.onProgress?.(`${inst.name}: starting ${inst.command.split('/').pop()}`);
  const spawned = startDetached(inst.command, [...inst.args, ...(opts.extraArgs ?? [])], inst.env, inst.consoleLog);
  // A foreground process (an exporter) writes no pid file: the pid we started is the one to supervise.
  if (inst.writesNoPidFile) writeFileSync(inst.pidFile, `${spawned}\n`, { mode: 0o600 });
  try {
    await waitReady(inst, spawned, opts.onProgress);
    if (inst.afterReady) await inst.afterReady();
  } catch (err) {
    // Leave nothing half-running.
    const pid = runningPid(inst);
    if (pid) await stopProcess(pid, 5000);
    if (isAlive(spawned)) await stopProcess(spawned, 5000);
    if (err instanceof OsbError) throw err;
    throw failureReport(inst, `failed after start (${(err as Error).message})`);
  }
  for (let i = 0; i < 50 && !runningPid(inst); i++) await sleep(20);
  const pid = runningPid(inst);
  if (!pid) throw failureReport(inst, `answers but wrote no pid file ${inst.pidFile}`);
  return pid;
}

/** Graceful stop; `discardData` (the data is about to be deleted) skips the graceful part. */
export async function stopInstance(inst: Pick<LocalInstance, 'pidFile' | 'cmdlineMarker' | 'stopTimeoutMs'>, discardData = false): Promise<boolean> {
  const pid = runningPid(inst);
  if (!pid) return false;
  if (discardData) {
    process.kill(pid, 'SIGKILL');
    while (isAlive(pid)) await new Promise((r) => setTimeout(r, 20));
    return true;
  }
  await stopProcess(pid, inst.stopTimeoutMs);
  return true;
}

/** Pids whose command line is exactly this command and these args (a helper that lost its pid file). */
function pidsRunning(command: string, args: string[]): number[] {
  const want = [command, ...args].join('\0');
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0$/, '') === want) out.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return out;
}

export async function stopHelper(h: LocalHelper): Promise<void> {
  const pid = readPid(h.pidFile);
  if (isOurProcess(pid, h.cmdlineMarker)) await stopProcess(pid, 5000);
  for (const stray of pidsRunning(h.command, h.args)) await stopProcess(stray, 5000);
  rmSync(h.pidFile, { force: true });
}
