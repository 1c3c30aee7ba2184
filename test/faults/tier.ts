/** A deployment under test in the fault suite: osb's own view of it, and the clients' view. */
import { readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { expect } from 'vitest';
import { osb, type OsbRun } from '../helpers/osb.js';

export interface HostPort {
  host: string;
  port: number;
}
export interface StatusNode {
  name: string;
  pid?: number;
  running: boolean;
  healthy: boolean;
  /** What `osb status` says is wrong with it. */
  error?: string;
  details?: Record<string, unknown> & {
    galera?: { state: string; clusterStatus: string; clusterSize: number };
    cluster?: { running: string[]; partitions?: unknown[] };
  };
}
export interface Status {
  healthy: boolean;
  components: { component: string; nodes: StatusNode[] }[];
  proxy?: { running: boolean; pid?: number; writer?: string; backends: { name: string; status: string; backup: boolean }[] };
}
export interface Endpoints {
  mariadb: { host: string; port: number; username: string; password: string; nodes: HostPort[] };
  rabbitmq: { username: string; password: string; nodes: HostPort[] };
}

export const now = () => Date.now() / 1000;
export const round = (s: number) => Math.round(s * 1000) / 1000;
/** The error line first: vitest cuts long assertion messages. */
export const why = (r: OsbRun) => (r.stderr.match(/osb: .*error.*/)?.[0] ?? '') + '\n' + r.stderr.slice(-2500) + r.stdout.slice(-800);

export class Tier {
  eps!: Endpoints;
  novaConf = '';
  constructor(readonly stateDir: string) {}

  async deploy(args: string[] = [], timeoutMs = 300_000): Promise<OsbRun> {
    const r = await osb(['deploy', ...args], { stateDir: this.stateDir, timeoutMs });
    if (r.code !== 0) throw new Error(`osb deploy failed (${r.code}):${why(r)}`);
    return r;
  }

  /** After the first deploy: endpoints, and nova's oslo.config file as a service would get it. */
  async load(): Promise<void> {
    this.eps = JSON.parse((await osb(['endpoints', '--json'], { stateDir: this.stateDir })).stdout);
    const oslo = await osb(['endpoints', '--service', 'nova', '--format', 'oslo'], { stateDir: this.stateDir });
    expect(oslo.code, oslo.stderr).toBe(0);
    this.novaConf = join(this.stateDir, 'nova-faults.conf');
    writeFileSync(this.novaConf, oslo.stdout);
  }

  async status(): Promise<{ run: OsbRun; s: Status }> {
    const run = await osb(['status', '--json'], { stateDir: this.stateDir, timeoutMs: 60_000 });
    return { run, s: JSON.parse(run.stdout) as Status };
  }

  node(s: Status, name: string): StatusNode {
    const n = s.components.flatMap((c) => c.nodes).find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name} in osb status`);
    return n;
  }

  /** A node's log file: <state dir>/<component>/<node>/log/<file>. */
  logPath(name: string, file: string): string {
    return join(this.stateDir, name.replace(/-\d+$/, ''), name, 'log', file);
  }

  /** The tail of a node's log, for failure messages. */
  logTail(name: string, file: string, lines = 30): string {
    try {
      return readFileSync(this.logPath(name, file), 'utf8').trim().split('\n').slice(-lines).join('\n');
    } catch (e) {
      return `(${(e as Error).message})`;
    }
  }

  // ---------- MariaDB ----------

  adminConn(n: HostPort, connectTimeout = 2000): Promise<mysql.Connection> {
    return mysql.createConnection({ host: n.host, port: n.port, user: this.eps.mariadb.username, password: this.eps.mariadb.password, connectTimeout });
  }

  /** `Synced/Primary/3`, `Initialized/non-Primary/1`... or `unreachable`, read straight from the node. */
  async galera(n: HostPort): Promise<string> {
    let c: mysql.Connection | undefined;
    try {
      c = await this.adminConn(n, 800);
      const [rows] = (await c.query({
        sql: "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_state_comment','wsrep_cluster_status','wsrep_cluster_size')",
        timeout: 1500,
      })) as unknown as [{ Variable_name: string; Value: string }[]];
      const v = Object.fromEntries(rows.map((r) => [r.Variable_name, r.Value]));
      return `${v.wsrep_local_state_comment}/${v.wsrep_cluster_status}/${v.wsrep_cluster_size}`;
    } catch {
      return 'unreachable';
    } finally {
      c?.destroy();
    }
  }

  /** Every client id a node holds in `nova.<table>` (one entry per row), read once the node is in sync. */
  async idsOn(n: HostPort, table: string): Promise<number[]> {
    const c = await this.adminConn(n);
    try {
      await c.query('SET SESSION wsrep_sync_wait = 1');
      const [rows] = (await c.query(`SELECT id FROM nova.${table}`)) as unknown as [{ id: number }[]];
      return rows.map((r) => r.id);
    } finally {
      await c.end();
    }
  }

  /** HAProxy's view (`show stat` on its admin socket, what `osb status` reads), for time resolution. */
  proxyView(): Promise<{ name: string; status: string; backup: boolean }[]> {
    return new Promise((res, rej) => {
      const s = createConnection(join(this.stateDir, 'mariadb', 'proxy', 'haproxy.sock'));
      let out = '';
      s.setTimeout(1000, () => s.destroy(new Error('stats socket timeout')));
      s.on('connect', () => s.end('show stat\n'));
      s.on('data', (d) => (out += d.toString()));
      s.on('error', rej);
      s.on('end', () => {
        const [head, ...rows] = out.trim().split('\n');
        const h = head!.replace(/^# /, '').split(',');
        const col = (f: string[], name: string) => f[h.indexOf(name)]!;
        res(
          rows
            .map((r) => r.split(','))
            .filter((f) => col(f, 'pxname') === 'mariadb' && !['FRONTEND', 'BACKEND'].includes(col(f, 'svname')))
            .map((f) => ({ name: col(f, 'svname'), status: col(f, 'status'), backup: col(f, 'bck') === '1' })),
        );
      });
    });
  }

  /** The backend HAProxy sends new connections to: the first UP non-backup, else the first UP backup. */
  async proxyWriter(): Promise<string> {
    const view = await this.proxyView().catch(() => []);
    const up = view.filter((x) => x.status === 'UP');
    return (up.find((x) => !x.backup) ?? up[0])?.name ?? 'none';
  }
}

/** Samples a few strings every ~200 ms and keeps the changes, for the log and for "when did X happen". */
export function watch(sample: () => Promise<string>) {
  const changes: { t: number; v: string }[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const t = now();
      const v = await sample().catch((e: Error) => `error ${e.message}`);
      if (changes.at(-1)?.v !== v) changes.push({ t, v });
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return {
    changes,
    /** First time a sample satisfied `p` at or after `from`. */
    firstAfter(from: number, p: (v: string) => boolean): number | undefined {
      const inEffect = changes.filter((c) => c.t <= from).at(-1);
      if (inEffect && p(inEffect.v)) return from;
      return changes.find((c) => c.t > from && p(c.v))?.t;
    },
    text(t0: number): string {
      return changes.map((c) => `+${(c.t - t0).toFixed(1)}s ${c.v}`).join('\n    ');
    },
    async stop() {
      running = false;
      await done;
    },
  };
}
