// Small helpers shared by the bench: timing, statistics, /proc inspection, ports, disk.
import { spawn } from 'node:child_process';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

export const now = () => performance.now();
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Blocking sleep for the synchronous cleanup path (signal handlers). */
export function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function median(xs) {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function summary(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x));
  if (!v.length) return undefined;
  return { median: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length };
}

/**
 * Runs a command, collecting its output; never rejects (a bench reports, it does not fail).
 * Resolves with { code, signal, stdout, stderr, seconds }.
 */
export function run(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    const t0 = now();
    let stdout = '';
    let stderr = '';
    let child;
    try {
      child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      resolve({ code: -1, stdout, stderr: String(err), seconds: 0 });
      return;
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (err) => {
      stderr += String(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, signal, stdout, stderr, seconds: (now() - t0) / 1000 });
    });
  });
}

export function lastLines(text, n = 3) {
  return String(text ?? '')
    .trim()
    .split('\n')
    .filter(Boolean)
    .slice(-n)
    .join(' | ')
    .slice(0, 300);
}

/** Polls fn until it resolves truthy; returns seconds waited, or throws after timeoutMs. */
export async function waitFor(fn, { timeoutMs = 120_000, intervalMs = 50, what = 'condition' } = {}) {
  const t0 = now();
  let lastErr;
  for (;;) {
    try {
      if (await fn()) return (now() - t0) / 1000;
    } catch (err) {
      lastErr = err;
    }
    if (now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${lastErr ? `: ${lastErr.message}` : ''}`);
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------- /proc

function readProc(pid, file) {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined;
  }
}

function statOf(pid) {
  const stat = readProc(pid, 'stat');
  if (!stat) return undefined;
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0], ppid: Number(rest[1]) };
}

/** Alive and not a zombie (pid 1 here does not reap orphans). */
export function alive(pid) {
  const s = statOf(pid);
  return !!s && s.state !== 'Z';
}

/** Every live process: pid, ppid, argv (joined by spaces) and environ. */
export function processes() {
  const out = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    const s = statOf(pid);
    if (!s || s.state === 'Z') continue;
    const cmdline = (readProc(pid, 'cmdline') ?? '').replace(/\0/g, ' ').trim();
    out.push({ pid, ppid: s.ppid, cmdline, environ: readProc(pid, 'environ') ?? '' });
  }
  return out;
}

export function rssBytes(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readProc(pid, 'status') ?? '');
  return m ? Number(m[1]) * 1024 : 0;
}

/**
 * The processes that belong to a deployment: those whose argv or environment names one of
 * `groups` (label -> path), their descendants (same label), and epmd listening on one of
 * `epmdPorts` (label 'rabbitmq').
 */
export function processesOf(groups, epmdPorts = []) {
  const procs = processes();
  const label = new Map();
  for (const p of procs) {
    for (const [name, path] of Object.entries(groups)) {
      if (p.cmdline.includes(path) || p.environ.includes(path)) {
        label.set(p.pid, name);
        break;
      }
    }
    const m = /(?:^|\/)epmd .*-port (\d+)/.exec(p.cmdline);
    if (m && epmdPorts.includes(Number(m[1]))) label.set(p.pid, 'rabbitmq');
  }
  // descendants inherit their ancestor's label
  let changed = true;
  while (changed) {
    changed = false;
    for (const p of procs) {
      if (!label.has(p.pid) && label.has(p.ppid)) {
        label.set(p.pid, label.get(p.ppid));
        changed = true;
      }
    }
  }
  return procs.filter((p) => label.has(p.pid)).map((p) => ({ ...p, label: label.get(p.pid) }));
}

/** Resident memory in bytes per label and in total. */
export function rssOf(groups, epmdPorts) {
  const by = { total: 0 };
  for (const p of processesOf(groups, epmdPorts)) {
    const r = rssBytes(p.pid);
    by[p.label] = (by[p.label] ?? 0) + r;
    by.total += r;
  }
  return by;
}

// ---------------------------------------------------------------- disk

/** Bytes allocated on disk under a path (like `du -s --block-size=1`), hard links counted once. */
export function diskBytes(path, seen = new Set()) {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return 0;
  }
  const key = `${st.dev}:${st.ino}`;
  if (seen.has(key)) return 0;
  seen.add(key);
  let total = st.blocks * 512;
  if (st.isDirectory()) {
    let entries = [];
    try {
      entries = readdirSync(path);
    } catch {
      /* unreadable */
    }
    for (const e of entries) total += diskBytes(join(path, e), seen);
  }
  return total;
}

// ---------------------------------------------------------------- ports

export function portFree(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

export async function allFree(ports) {
  for (const p of ports) if (!(await portFree(p))) return false;
  return true;
}

export const MB = 1024 * 1024;
