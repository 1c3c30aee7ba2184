import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import { memcachedStats } from './client.js';

/**
 * A Prometheus exporter for memcached: on every scrape it reads `stats` from each server and
 * serves the counters under the names of the community memcached_exporter
 * (github.com/prometheus/memcached_exporter), so its dashboards and rules work unchanged.
 * Every series carries a `server` label (host:port).
 */
export interface MemcachedExporterOptions {
  /** host:port to serve /metrics on. */
  listen: string;
  /** memcached servers as host:port. */
  servers: string[];
  /** Per-server `stats` timeout (default 2 s). */
  timeoutSeconds?: number;
}

export interface MemcachedExporter {
  /** The address actually bound (port 0 picks a free one). */
  address: { host: string; port: number };
  registry: Registry;
  close(): Promise<void>;
}

type Kind = 'gauge' | 'counter';
/** memcached stat → metric name, type, help; extra labels for memcached_commands_total. */
const SIMPLE: [stat: string, name: string, kind: Kind, help: string][] = [
  ['uptime', 'memcached_uptime_seconds', 'counter', 'Number of seconds since the server started.'],
  ['time', 'memcached_time_seconds', 'gauge', 'Current UNIX time according to the server.'],
  ['curr_connections', 'memcached_current_connections', 'gauge', 'Current number of open connections.'],
  ['max_connections', 'memcached_max_connections', 'gauge', 'Maximum number of simultaneous connections (-c).'],
  ['total_connections', 'memcached_connections_total', 'counter', 'Total number of connections opened since the server started.'],
  ['rejected_connections', 'memcached_connections_rejected_total', 'counter', 'Connections rejected because of the maxconns limit.'],
  [
    'listen_disabled_num',
    'memcached_connections_listener_disabled_total',
    'counter',
    'Times the server stopped accepting connections because it reached maxconns.',
  ],
  ['conn_yields', 'memcached_connections_yielded_total', 'counter', 'Connections yielded because of the per-event request limit.'],
  ['curr_items', 'memcached_current_items', 'gauge', 'Current number of items stored.'],
  ['total_items', 'memcached_items_total', 'counter', 'Total number of items stored since the server started.'],
  ['evictions', 'memcached_items_evicted_total', 'counter', 'Valid items removed from cache to free memory for new items.'],
  ['reclaimed', 'memcached_items_reclaimed_total', 'counter', 'Times an entry was stored using memory from an expired entry.'],
  ['expired_unfetched', 'memcached_items_expired_unfetched_total', 'counter', 'Items expired without ever being fetched.'],
  ['evicted_unfetched', 'memcached_items_evicted_unfetched_total', 'counter', 'Items evicted without ever being fetched.'],
  ['bytes', 'memcached_current_bytes', 'gauge', 'Current number of bytes used to store items.'],
  ['limit_maxbytes', 'memcached_limit_bytes', 'gauge', 'Number of bytes this server may use for storage (-m).'],
  ['bytes_read', 'memcached_read_bytes_total', 'counter', 'Total bytes read from the network.'],
  ['bytes_written', 'memcached_written_bytes_total', 'counter', 'Total bytes sent to the network.'],
  ['rusage_user', 'memcached_process_user_cpu_seconds_total', 'counter', 'Accumulated user CPU time of the process.'],
  ['rusage_system', 'memcached_process_system_cpu_seconds_total', 'counter', 'Accumulated system CPU time of the process.'],
  ['threads', 'memcached_threads', 'gauge', 'Number of worker threads (-t).'],
];

/** memcached_commands_total{command, status}, as the community exporter labels them. */
const COMMANDS: [stat: string, command: string, status: string][] = [
  ['get_hits', 'get', 'hit'],
  ['get_misses', 'get', 'miss'],
  ['get_expired', 'get', 'expired'],
  ['get_flushed', 'get', 'flushed'],
  ['cmd_set', 'set', 'hit'],
  ['delete_hits', 'delete', 'hit'],
  ['delete_misses', 'delete', 'miss'],
  ['incr_hits', 'incr', 'hit'],
  ['incr_misses', 'incr', 'miss'],
  ['decr_hits', 'decr', 'hit'],
  ['decr_misses', 'decr', 'miss'],
  ['cas_hits', 'cas', 'hit'],
  ['cas_misses', 'cas', 'miss'],
  ['cas_badval', 'cas', 'badval'],
  ['touch_hits', 'touch', 'hit'],
  ['touch_misses', 'touch', 'miss'],
  ['cmd_flush', 'flush', 'hit'],
];

function parseHostPort(s: string, what: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(s.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw new Error(`${what} "${s}" is not host:port (e.g. 127.0.0.1:11211)`);
  return { host: m[1]!, port };
}

/** Builds the registry whose collect() reads every server's stats at scrape time. */
export function memcachedRegistry(servers: string[], timeoutSeconds = 2): Registry {
  const registry = new Registry();
  const eps = servers.map((s) => ({ label: s, ...parseHostPort(s, 'memcached server') }));
  let pending: Promise<Map<string, Record<string, string> | undefined>> | undefined;
  // One round of `stats` per scrape, shared by every metric's collect().
  const read = () => {
    pending ??= Promise.all(eps.map(async (ep) => [ep.label, await memcachedStats(ep, timeoutSeconds).catch(() => undefined)] as const)).then(
      (entries) => new Map(entries),
    );
    return pending;
  };
  const up = new Gauge({
    name: 'memcached_up',
    help: 'Could the memcached server be reached (1) or not (0).',
    labelNames: ['server'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [server, stats] of await read()) this.set({ server }, stats ? 1 : 0);
    },
  });
  void up;
  new Gauge({
    name: 'memcached_version',
    help: 'The version of this memcached server.',
    labelNames: ['server', 'version'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [server, stats] of await read()) if (stats?.version) this.set({ server, version: stats.version }, 1);
    },
  });
  for (const [stat, name, kind, help] of SIMPLE) {
    const opts = { name, help, labelNames: ['server'] as const, registers: [registry] };
    if (kind === 'gauge') {
      new Gauge({
        ...opts,
        async collect() {
          this.reset();
          for (const [server, stats] of await read()) {
            const v = stats ? Number(stats[stat]) : NaN;
            if (Number.isFinite(v)) this.set({ server }, v);
          }
        },
      });
    } else {
      new Counter({
        ...opts,
        async collect() {
          this.reset();
          for (const [server, stats] of await read()) {
            const v = stats ? Number(stats[stat]) : NaN;
            if (Number.isFinite(v)) this.inc({ server }, v);
          }
        },
      });
    }
  }
  new Counter({
    name: 'memcached_commands_total',
    help: 'Total number of commands by command and outcome.',
    labelNames: ['server', 'command', 'status'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [server, stats] of await read()) {
        if (!stats) continue;
        for (const [stat, command, status] of COMMANDS) {
          const v = Number(stats[stat]);
          if (Number.isFinite(v)) this.inc({ server, command, status }, v);
        }
      }
    },
  });
  // The first collect() of a scrape starts the round; clear it once the scrape is served.
  const metrics = registry.metrics.bind(registry);
  registry.metrics = async () => {
    try {
      return await metrics();
    } finally {
      pending = undefined;
    }
  };
  return registry;
}

/** Starts the exporter; resolves once it listens. */
export async function startMemcachedExporter(opts: MemcachedExporterOptions): Promise<MemcachedExporter> {
  if (!opts.servers.length) throw new Error('no memcached server given (--server host:port)');
  const listen = parseHostPort(opts.listen, 'listen address');
  const registry = memcachedRegistry(opts.servers, opts.timeoutSeconds);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : body),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
      );
      return;
    }
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body><h1>osb memcached exporter</h1><a href="/metrics">/metrics</a></body></html>\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  return {
    address: { host: bound.address, port: bound.port },
    registry,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
