import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../config/schema.js';
import type { Secrets } from '../../config/secrets.js';
import { nodeDir } from '../../config/state-dir.js';
import { ADMIN_USER } from '../../model/desired.js';
import { clientHost, tlsCaFile, type HostPort } from '../../model/endpoints.js';
import type { LocalInstance } from '../../model/local.js';
import { withMariadb } from './client.js';
import { mariadbPaths } from './local.js';
import { renderHaproxyMetricsFrontend } from './metrics.js';
import { proxyPort } from './ports.js';
import { currentWriter, parseShowStat, renderGaleraCheck, renderHaproxyCfg, type ProxyServerState } from './proxy.js';
import { childProcess, net } from '../../util/builtin.js';

export const PROXY_NAME = 'mariadb-proxy';
export const HAPROXY = '/usr/sbin/haproxy';

function proxyBackends(config: Config, stateDir: string) {
  const host = clientHost(config);
  return Array.from({ length: config.mariadb.replicas }, (_, i) => ({
    name: `mariadb-${i}`,
    address: { host, port: config.mariadb.port + i },
    socket: mariadbPaths(nodeDir(stateDir, 'mariadb', `mariadb-${i}`)).socket,
  }));
}

export function proxyInstance(config: Config, stateDir: string, secrets: Secrets): LocalInstance {
  const dir = join(stateDir, 'mariadb', 'proxy');
  const host = clientHost(config);
  const port = proxyPort(config);
  const cfg = join(dir, 'haproxy.cfg');
  const check = join(dir, 'galera-check');
  const statsSocket = join(dir, 'haproxy.sock');
  const backends = proxyBackends(config, stateDir);
  return {
    component: 'mariadb',
    ordinal: -1,
    name: PROXY_NAME,
    dir,
    dirs: [],
    files: [
      {
        path: cfg,
        content:
          renderHaproxyCfg(backends, { listen: { host: config.bindAddress, port }, statsSocket, checkScript: check }) +
          (config.metrics.enabled ? `\n${renderHaproxyMetricsFrontend(config)}` : ''),
        mode: 0o600,
      },
      { path: check, content: renderGaleraCheck(backends, userInfo().username), mode: 0o700 },
    ],
    command: HAPROXY,
    args: ['-D', '-f', cfg, '-p', join(dir, 'haproxy.pid')],
    // Under systemd: master-worker mode with sd_notify instead of daemonising.
    foreground: { args: ['-Ws', '-f', cfg, '-p', join(dir, 'haproxy.pid')], notify: true },
    limitNofile: 65536,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    pidFile: join(dir, 'haproxy.pid'),
    logFile: join(dir, 'console.log'),
    consoleLog: join(dir, 'console.log'),
    ports: [
      { port, key: 'mariadb.proxyPort' },
      ...(config.metrics.enabled ? [{ port: config.mariadb.proxyMetricsPort, key: 'mariadb.proxyMetricsPort' }] : []),
    ],
    host,
    port,
    cmdlineMarker: cfg,
    stopTimeoutMs: 5000,
    startTimeoutMs: 30_000,
    isInitialized: () => true,
    async probe() {
      // Through the proxy to a healthy writer, as a client would.
      await withMariadb(
        { host, port, user: ADMIN_USER.mariadb, password: secrets.mariadbAdminPassword, ...tlsCaFile(config, { stateDir }) },
        (c) => c.query('SELECT 1'),
        1500,
      );
    },
  };
}

/** Runs the proxy's own health check for one backend, with the arguments HAProxy gives it. */
function checkPasses(script: string, b: { address: HostPort }): Promise<boolean> {
  return new Promise((resolve) => {
    childProcess().execFile(script, ['', '', b.address.host, String(b.address.port)], { timeout: 3000, env: { PATH: '/usr/bin:/bin' } }, (err) =>
      resolve(!err),
    );
  });
}

/**
 * Waits (bounded; never fails the deploy) until HAProxy agrees with its health check on every
 * backend — UP where galera-check passes, DOWN where it fails, none half-way (`UP 1/2`,
 * `DOWN 1/2`). Right after a node rejoined, or a donor resynced, the proxy is still counting
 * checks and will soon move the writer back, closing every session on the backup
 * (`on-marked-up shutdown-backup-sessions`) — including the connection `osb deploy` provisions
 * the OpenStack services with, which then failed with "Connection lost".
 */
export async function waitProxySettled(config: Config, stateDir: string, report: (m: string) => void, timeoutMs = 15_000): Promise<boolean> {
  const dir = join(stateDir, 'mariadb', 'proxy');
  const backends = proxyBackends(config, stateDir);
  const deadline = Date.now() + timeoutMs;
  let said = false;
  for (;;) {
    try {
      const view = parseShowStat(await haproxyCommand(join(dir, 'haproxy.sock'), 'show stat'));
      const passes = await Promise.all(backends.map((b) => checkPasses(join(dir, 'galera-check'), b)));
      const settled = backends.every((b, i) => view.find((v) => v.name === b.name)?.status === (passes[i] ? 'UP' : 'DOWN'));
      if (settled && currentWriter(view)) return true;
    } catch {
      /* not answering yet: try again */
    }
    if (Date.now() > deadline) {
      report(`${PROXY_NAME}: backends still changing state after ${Math.round(timeoutMs / 1000)}s; continuing`);
      return false;
    }
    if (!said) report(`${PROXY_NAME}: waiting for the proxy to settle on its writer`);
    said = true;
    await new Promise((r) => setTimeout(r, 250));
  }
}

export interface ProxyStatus {
  name: string;
  address: string;
  running: boolean;
  pid?: number;
  writer?: string;
  backends: ProxyServerState[];
  error?: string;
}

function haproxyCommand(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net().createConnection(socket);
    let out = '';
    s.setTimeout(1500, () => s.destroy(new Error('haproxy stats socket timed out')));
    s.on('connect', () => s.end(`${command}\n`));
    s.on('data', (d) => (out += d.toString()));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
}

export async function proxyStatus(
  config: Config,
  stateDir: string,
  secrets: Secrets,
  runningPid: (p: { pidFile: string; cmdlineMarker: string }) => number | undefined,
): Promise<ProxyStatus> {
  const inst = proxyInstance(config, stateDir, secrets);
  const pid = runningPid(inst);
  const base: ProxyStatus = { name: PROXY_NAME, address: `${inst.host}:${inst.port}`, running: !!pid, pid, backends: [] };
  if (!pid) return { ...base, error: 'not running' };
  const sock = join(inst.dir, 'haproxy.sock');
  if (!existsSync(sock)) return { ...base, error: 'no stats socket' };
  try {
    const backends = parseShowStat(await haproxyCommand(sock, 'show stat'));
    const writer = currentWriter(backends);
    return { ...base, backends, writer, ...(writer ? {} : { error: 'no healthy backend' }) };
  } catch (err) {
    return { ...base, error: (err as Error).message };
  }
}
