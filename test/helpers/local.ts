import { readdirSync, readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { osb, type OsbRun } from './osb.js';

/** First port of a port block (see portBlock in ./osb.ts); a block spans base..base+99. */
export const blockBase = (block: number) => 20000 + block * 100;

export const blockPorts = (block: number) => {
  const b = blockBase(block);
  return {
    amqp: b,
    management: b + 10,
    dist: b + 20,
    epmd: b + 30,
    mariadb: b + 40,
    galera: b + 50,
    memcached: b + 80,
    // Exporters of node 0 (metrics.enabled by default): rabbitmq_prometheus, mysqld-exporter, osb's memcached exporter.
    rabbitmqMetrics: b + 90,
    mariadbExporter: b + 93,
    memcachedExporter: b + 96,
  };
};

/** TCP ports in LISTEN state on this host (IPv4 and IPv6), from /proc. */
export function listeningPorts(): Set<number> {
  const out = new Set<number>();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === '0A') out.add(parseInt(cols[1]!.split(':')[1]!, 16));
    }
  }
  return out;
}

/** Listening ports inside a block. */
export function listeningInBlock(block: number): number[] {
  const b = blockBase(block);
  return [...listeningPorts()].filter((p) => p >= b && p < b + 100).sort((x, y) => x - y);
}

export interface Proc {
  pid: number;
  args: string;
}

/**
 * Live processes that belong to a deployment: their command line or environment names the
 * state dir (daemons and their children), or they are its private epmd.
 */
export function processesOf(stateDir: string, epmdPort?: number): Proc[] {
  const out: Proc[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const args = readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      if (!args) continue; // kernel thread or zombie
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
      let environ = '';
      try {
        environ = readFileSync(`/proc/${e}/environ`, 'utf8');
      } catch {
        /* not ours to read */
      }
      const ours = args.includes(stateDir) || environ.split('\0').some((kv) => kv.includes(stateDir));
      const epmd = epmdPort !== undefined && /\bepmd\b/.test(args) && args.includes(`-port ${epmdPort}`);
      if (ours || epmd) out.push({ pid: Number(e), args });
    } catch {
      /* exited while we looked */
    }
  }
  return out;
}

/** Every process's command line, as `ps -eo args` shows it. */
export function allArgs(): string {
  const lines: string[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      lines.push(readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0/g, ' '));
    } catch {
      /* gone */
    }
  }
  return lines.join('\n');
}

export interface NodeStatusJson {
  name: string;
  address: string;
  running: boolean;
  pid?: number;
  healthy: boolean;
  version?: string;
  uptimeSeconds?: number;
  dataBytes: number;
  error?: string;
}
export interface StatusJson {
  stateDir: string;
  healthy: boolean;
  components: { component: string; healthy: boolean; nodes: NodeStatusJson[] }[];
}

export async function statusJson(stateDir: string): Promise<{ run: OsbRun; status: StatusJson }> {
  const run = await osb(['status', '--json'], { stateDir });
  return { run, status: JSON.parse(run.stdout) as StatusJson };
}

export function nodeOf(status: StatusJson, component: string, ordinal = 0): NodeStatusJson {
  const c = status.components.find((x) => x.component === component);
  if (!c) throw new Error(`status has no ${component}: ${JSON.stringify(status)}`);
  return c.nodes[ordinal]!;
}

/** component → pid of node 0, from `osb status --json`. */
export async function pids(stateDir: string): Promise<Record<string, number | undefined>> {
  const { status } = await statusJson(stateDir);
  return Object.fromEntries(status.components.map((c) => [c.component, c.nodes[0]?.pid]));
}

export interface EndpointsJson {
  rabbitmq: { hosts: string[]; username: string; password: string; managementUrl: string };
  mariadb: { host: string; port: number; username: string; password: string; socket: string };
  memcached: { servers: string[] };
}

export async function endpoints(stateDir: string): Promise<EndpointsJson> {
  const r = await osb(['endpoints', '--json'], { stateDir });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as EndpointsJson;
}

/** Asserts a run succeeded, showing its output when it did not. */
export function ok(r: OsbRun): OsbRun {
  expect(r.code, `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(0);
  return r;
}

/** The deploy table's RESULT per node name, e.g. { 'mariadb-0': 'unchanged' }. */
export function deployActions(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    // Nodes only (component-N); the exporters beside them are checked in metrics.test.ts.
    const m = /^(rabbitmq|mariadb|memcached)\s+((?:rabbitmq|mariadb|memcached)-\d+)\s+\S+\s+\d+\s+(\w+)/.exec(line);
    if (m) out[m[2]!] = m[3]!;
  }
  return out;
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
