// osb: the binlog archiver of MariaDB on Kubernetes (Deployment `mariadb-binlog-archiver`, with
// backup.pitr; see docs/backup.md). Every $OSB_INTERVAL_SECONDS (60) it asks the backup agent of each
// server pod to close its current binlog and list the closed ones, and copies every file it has not
// archived yet onto the backups volume: <root>/binlogs/<history>/<pod>/<file>, with index.json (size,
// SHA-256, closed-by time) — the layout and index `osb backup archive-binlogs` writes on the local
// target, through the same module (binlog-archive.mjs), so one restore logic reads both. A file lands
// under its name only when it has the size the agent listed; index.json is replaced atomically.
import { createWriteStream, mkdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { archiveDir, readIndex, sha256Of, writeIndex } from './binlog-archive.mjs';

const log = (m) => process.stdout.write('osb binlog-archiver: ' + m + '\n');

function env(name) {
  const v = process.env[name];
  if (!v) {
    log('missing environment variable ' + name);
    process.exit(2);
  }
  return v;
}

/** One request to a backup agent: token and request line out; the answer into `sink` (a writable) or a string. */
export function agentRequest({ host, port, token, request, sink, timeoutMs = 120000 }) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let bytes = 0;
    const socket = connect({ host, port });
    const timer = setTimeout(() => socket.destroy(new Error('no answer from ' + host + ' within ' + timeoutMs / 1000 + ' s')), timeoutMs);
    socket.on('connect', () => socket.write(token + '\n' + request + '\n'));
    socket.on('data', (d) => {
      bytes += d.length;
      if (sink) {
        if (!sink.write(d)) {
          socket.pause();
          sink.once('drain', () => socket.resume());
        }
      } else chunks.push(d);
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('end', () => {
      clearTimeout(timer);
      if (!sink) return resolve({ bytes, text: Buffer.concat(chunks).toString('utf8') });
      sink.end(() => resolve({ bytes }));
    });
  });
}

/** The agent's answer to `binlogs`: history, closing time and the closed files. */
export function parseListing(text) {
  const out = { files: [] };
  for (const line of text.split('\n')) {
    const [word, a, b] = line.split(' ');
    if (word === 'error') throw new Error(line.slice(6));
    if (word === 'history') out.history = a;
    else if (word === 'closed-by') out.closedBy = a;
    else if (word === 'file') out.files.push({ file: a, size: Number(b) });
    else if (word === 'end') out.complete = true;
  }
  if (!out.complete || !out.history || !out.closedBy) throw new Error('incomplete answer: ' + JSON.stringify(text.slice(0, 200)));
  if (!/^[A-Za-z0-9-]+$/.test(out.history)) throw new Error('unexpected history id ' + JSON.stringify(out.history));
  return out;
}

/** Archives the closed binlogs of one pod not archived yet; returns the files copied. */
export async function archivePod({ root, pod, host, port, token }) {
  const listing = parseListing((await agentRequest({ host, port, token, request: 'binlogs' })).text);
  const dir = archiveDir(root, listing.history, pod);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const index = readIndex(dir);
  const have = new Set(index.map((e) => e.file));
  const copied = [];
  for (const f of listing.files) {
    if (have.has(f.file) || !/^mariadb-bin\.\d+$/.test(f.file)) continue;
    const tmp = join(dir, '.' + f.file + '.tmp');
    rmSync(tmp, { force: true });
    await agentRequest({ host, port, token, request: 'binlog ' + f.file, sink: createWriteStream(tmp, { mode: 0o600 }), timeoutMs: 600000 });
    const size = statSync(tmp).size;
    if (size !== f.size) {
      rmSync(tmp, { force: true });
      throw new Error(pod + ': ' + f.file + ' arrived with ' + size + ' bytes, the agent listed ' + f.size + '; will retry');
    }
    renameSync(tmp, join(dir, f.file));
    index.push({ file: f.file, size, sha256: await sha256Of(join(dir, f.file)), closedBy: listing.closedBy });
    writeIndex(dir, index);
    copied.push(f.file);
  }
  return { history: listing.history, copied, closedBy: listing.closedBy };
}

async function main() {
  const root = env('OSB_BACKUP_ROOT');
  const token = env('OSB_BACKUP_TOKEN');
  const port = Number(env('OSB_BACKUP_PORT'));
  const pods = env('OSB_PODS')
    .split(',')
    .map((e) => e.split('='))
    .map(([pod, host]) => ({ pod, host }));
  const intervalMs = Number(process.env.OSB_INTERVAL_SECONDS || 60) * 1000;
  const heartbeat = process.env.OSB_HEARTBEAT;
  // PID 1 in its container: leave at once on SIGTERM (a half-copied file is a .tmp, never indexed).
  process.on('SIGTERM', () => process.exit(143));
  log('archiving the closed binlogs of ' + pods.map((p) => p.pod).join(', ') + ' into ' + root + '/binlogs every ' + intervalMs / 1000 + ' s');
  const last = new Map();
  for (;;) {
    const t0 = Date.now();
    for (const { pod, host } of pods) {
      // Every copy is logged; a state that repeats (nothing new, the same failure) only when it changes.
      try {
        const r = await archivePod({ root, pod, host, port, token });
        if (r.copied.length) log('archived ' + r.copied.join(', ') + ' of ' + pod + ' (history ' + r.history + ', closed by ' + r.closedBy + ')');
        else if (last.get(pod) !== 'ok') log(pod + ': nothing new to archive (history ' + r.history + ')');
        last.set(pod, 'ok');
      } catch (err) {
        const line = pod + ': ' + (err?.message ?? String(err));
        if (last.get(pod) !== line) log(line);
        last.set(pod, line);
      }
    }
    if (heartbeat) {
      writeFileSync(heartbeat, '');
      const now = new Date();
      utimesSync(heartbeat, now, now);
    }
    await new Promise((r) => setTimeout(r, Math.max(1000, intervalMs - (Date.now() - t0))));
  }
}

if (import.meta.url === 'file://' + process.argv[1]) {
  main().catch((err) => {
    log(String(err?.message ?? err));
    process.exit(1);
  });
}
