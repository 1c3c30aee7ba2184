// The baseline: each daemon started by hand from the same Debian binaries with a minimal,
// private config (the distribution's defaults plus only what isolation needs: paths, ports,
// loopback), timed from spawn to its first protocol answer.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import mysql from 'mysql2/promise';
import { registry } from './cleanup.mjs';
import { lastLines, now, run, waitFor } from './util.mjs';

const BIN = {
  memcached: '/usr/bin/memcached',
  mariadbd: '/usr/sbin/mariadbd',
  installDb: '/usr/bin/mariadb-install-db',
  rabbitmq: '/usr/lib/rabbitmq/bin/rabbitmq-server',
  epmd: '/usr/bin/epmd',
};

/** Starts a daemon in its own process group (so a stop reaches its children), output to a log. */
function startDaemon(cmd, args, { env, cwd, log }) {
  const fd = openSync(log, 'a');
  const child = spawn(cmd, args, { cwd, env: env ?? process.env, detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  registry.child(child);
  child.on('error', () => {});
  return child;
}

async function stopDaemon(child, timeoutMs = 30_000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  try {
    child.kill('SIGTERM');
  } catch {
    /* gone */
  }
  const t = setTimeout(() => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, timeoutMs);
  await exited;
  clearTimeout(t);
}

function exitedEarly(child, log) {
  if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited (${child.exitCode ?? child.signalCode}); see ${log}`);
}

// ---------------------------------------------------------------- memcached

/** memcached `version` over a raw socket: the cheapest protocol answer there is. */
export function memcachedVersion(port, host = '127.0.0.1', timeoutMs = 1000) {
  return new Promise((resolve, reject) => {
    const s = createConnection({ host, port });
    let buf = '';
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error('timeout'));
    }, timeoutMs);
    s.on('connect', () => s.write('version\r\n'));
    s.on('data', (d) => {
      buf += d;
      if (buf.includes('\r\n')) {
        clearTimeout(t);
        s.destroy();
        if (buf.startsWith('VERSION')) resolve(buf.trim().slice(8));
        else reject(new Error(buf.trim()));
      }
    });
    s.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

/** Debian's /etc/memcached.conf (-m 64, loopback, a pid file) with a private port; default threads and connections. */
export async function startBareMemcached(dir, port) {
  mkdirSync(dir, { recursive: true });
  const log = join(dir, 'memcached.log');
  const t0 = now();
  const child = startDaemon(BIN.memcached, ['-u', userInfo().username, '-l', '127.0.0.1', '-p', String(port), '-m', '64', '-P', join(dir, 'memcached.pid')], {
    cwd: dir,
    log,
  });
  await waitFor(
    async () => {
      exitedEarly(child, log);
      await memcachedVersion(port);
      return true;
    },
    { timeoutMs: 30_000, intervalMs: 5, what: 'bare memcached' },
  );
  const readyS = (now() - t0) / 1000;
  return { name: 'memcached', dir, port, readyS, stop: () => stopDaemon(child) };
}

// ---------------------------------------------------------------- mariadb

export function bareMariadbPaths(dir) {
  return { cnf: join(dir, 'my.cnf'), data: join(dir, 'data'), socket: join(dir, 'run', 'mysqld.sock'), log: join(dir, 'mariadb.err') };
}

/**
 * A private defaults file with only paths and port: everything else is the server's compiled-in
 * default, which is what Debian's /etc/mysql leaves almost untouched (its 50-server.cnf adds only
 * bind-address 127.0.0.1, charset and log expiry).
 */
export async function startBareMariadb(dir, port) {
  const p = bareMariadbPaths(dir);
  for (const d of [p.data, join(dir, 'run'), join(dir, 'tmp')]) mkdirSync(d, { recursive: true });
  writeFileSync(
    p.cnf,
    [
      '[mysqld]',
      `user = ${userInfo().username}`,
      `datadir = ${p.data}`,
      `socket = ${p.socket}`,
      `pid-file = ${join(dir, 'run', 'mysqld.pid')}`,
      `port = ${port}`,
      'bind-address = 127.0.0.1',
      `log-error = ${p.log}`,
      `tmpdir = ${join(dir, 'tmp')}`,
      '[client]',
      `socket = ${p.socket}`,
      '',
    ].join('\n'),
  );
  const t0 = now();
  const inst = await run(BIN.installDb, [`--defaults-file=${p.cnf}`, '--skip-test-db', '--auth-root-authentication-method=socket'], { timeoutMs: 120_000 });
  if (inst.code !== 0) throw new Error(`mariadb-install-db failed: ${lastLines(inst.stderr || inst.stdout)}`);
  const installS = (now() - t0) / 1000;
  const t1 = now();
  const child = startDaemon(BIN.mariadbd, [`--defaults-file=${p.cnf}`], { cwd: dir, log: join(dir, 'console.log') });
  await waitFor(
    async () => {
      exitedEarly(child, p.log);
      const c = await mysql.createConnection({ socketPath: p.socket, user: userInfo().username, connectTimeout: 1000 });
      try {
        await c.query('SELECT 1');
      } finally {
        c.destroy();
      }
      return true;
    },
    { timeoutMs: 120_000, intervalMs: 20, what: 'bare mariadbd' },
  );
  const startS = (now() - t1) / 1000;
  return {
    name: 'mariadb',
    dir,
    port,
    socket: p.socket,
    installS,
    startS,
    readyS: installS + startS,
    stop: () => stopDaemon(child, 60_000),
  };
}

// ---------------------------------------------------------------- rabbitmq

/**
 * A RabbitMQ node with the package's defaults (no plugins unless given, guest on loopback), isolated the way
 * the notes describe: private HOME and cookie, node name, ports, epmd port, mnesia and log dirs,
 * an empty env file instead of /etc/rabbitmq/rabbitmq-env.conf.
 */
export async function startBareRabbitmq(dir, { port, distPort, epmdPort, plugins = [], managementPort, prometheusPort }) {
  const home = join(dir, 'home');
  for (const d of [home, join(dir, 'mnesia'), join(dir, 'log')]) mkdirSync(d, { recursive: true });
  writeFileSync(join(home, '.erlang.cookie'), randomBytes(20).toString('hex'), { mode: 0o400 });
  chmodSync(join(home, '.erlang.cookie'), 0o400);
  // With plugins: only their ports are moved off the defaults (15672/15692 may be taken on this host).
  const conf = ['# bare baseline: package defaults'];
  if (plugins.includes('rabbitmq_management')) conf.push(`management.tcp.port = ${managementPort}`, 'management.tcp.ip = 127.0.0.1');
  if (plugins.includes('rabbitmq_prometheus')) conf.push(`prometheus.tcp.port = ${prometheusPort}`, 'prometheus.tcp.ip = 127.0.0.1');
  writeFileSync(join(dir, 'rabbitmq.conf'), `${conf.join('\n')}\n`);
  writeFileSync(join(dir, 'advanced.config'), '[].\n');
  writeFileSync(join(dir, 'enabled_plugins'), `[${plugins.join(',')}].\n`);
  writeFileSync(join(dir, 'rabbitmq-env.conf'), '# empty: keeps /etc/rabbitmq/rabbitmq-env.conf out\n');
  const env = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: home,
    LANG: 'C.UTF-8',
    RABBITMQ_NODENAME: `bench-bare-${port}@localhost`,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_PID_FILE: join(dir, 'rabbitmq.pid'),
    RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'),
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: '127.0.0.1',
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
  };
  registry.epmd(epmdPort);
  const t0 = now();
  const epmd = startDaemon(BIN.epmd, ['-port', String(epmdPort), '-address', '127.0.0.1'], { cwd: dir, log: join(dir, 'log', 'epmd.log') });
  const log = join(dir, 'log', 'console.log');
  const child = startDaemon(BIN.rabbitmq, [], { cwd: dir, env, log });
  const url = `amqp://guest:guest@127.0.0.1:${port}`;
  await waitFor(
    async () => {
      exitedEarly(child, log);
      const c = await amqp.connect(url, { timeout: 2000 });
      c.on('error', () => {});
      await c.close();
      return true;
    },
    { timeoutMs: 180_000, intervalMs: 50, what: 'bare rabbitmq (AMQP connection.open)' },
  );
  const readyS = (now() - t0) / 1000;
  return {
    name: 'rabbitmq',
    dir,
    port,
    epmdPort,
    url,
    readyS,
    async stop() {
      await stopDaemon(child, 60_000);
      await stopDaemon(epmd, 5_000);
    },
  };
}
