// Everything the bench starts is registered here, so that a finally block or a signal
// handler can take it all down again: osb deployments (osb destroy), hand-started daemons
// (SIGTERM, then SIGKILL to their process group) and, as a last sweep, any process whose
// argv or environment still names the bench's private root dir or one of its epmd ports.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { OSB } from './osb.mjs';
import { alive, processesOf, sleepSync } from './util.mjs';

const osbStateDirs = new Set();
const children = new Set();
const epmdPorts = new Set();
let root;

export const registry = {
  setRoot(dir) {
    root = dir;
  },
  osb(stateDir) {
    osbStateDirs.add(stateDir);
  },
  osbDone(stateDir) {
    osbStateDirs.delete(stateDir);
  },
  child(c) {
    children.add(c);
    c.once('exit', () => children.delete(c));
  },
  epmd(port) {
    epmdPorts.add(port);
  },
};

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* gone */
    }
  }
}

/** Synchronous on purpose: it must also work from a signal handler. Returns leftover pids. */
export function cleanupAll(log = () => {}) {
  for (const dir of osbStateDirs) {
    log(`cleanup: osb destroy --state-dir ${dir}`);
    spawnSync(process.execPath, [OSB, '--state-dir', dir, '--quiet', 'destroy'], { stdio: 'ignore', timeout: 120_000 });
    osbStateDirs.delete(dir);
  }
  const pids = [...children].map((c) => c.pid).filter(Boolean);
  for (const pid of pids) killGroup(pid, 'SIGTERM');
  const t0 = Date.now();
  while (pids.some(alive) && Date.now() - t0 < 20_000) sleepSync(100);
  for (const pid of pids) if (alive(pid)) killGroup(pid, 'SIGKILL');
  children.clear();
  let leftovers = [];
  if (root) {
    const sweep = () => processesOf({ bench: root }, [...epmdPorts]);
    for (const p of sweep()) {
      try {
        process.kill(p.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
    const t1 = Date.now();
    while (sweep().length && Date.now() - t1 < 10_000) sleepSync(200);
    for (const p of sweep()) {
      log(`cleanup: SIGKILL ${p.pid} ${p.cmdline.slice(0, 80)}`);
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    sleepSync(200);
    leftovers = sweep();
    if (!leftovers.length) rmSync(root, { recursive: true, force: true });
  }
  return leftovers;
}
