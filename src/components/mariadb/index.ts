import { fail, ok, warn } from '../../model/doctor.js';
import type { Config } from '../../config/schema.js';
import type { Secrets } from '../../config/secrets.js';
import { nodeTlsFiles } from '../../config/tls.js';
import { LABEL } from '../../k8s/objects.js';
import { tlsCaFile } from '../../model/endpoints.js';
import type { LocalInstance } from '../../model/local.js';
import type { MariadbEndpoint } from './client.js';
import { runningPid } from '../../util/process.js';
import { mariadbBackup } from './backup.js';
import { mariadbLogical } from './logical.js';
import type { ComponentDefinition } from '../../model/component.js';
import { nodeDir } from '../../config/state-dir.js';
import { ADMIN_USER, clustered } from '../../model/desired.js';
import { inspectMariadb, type MariadbNodeInfo } from './inspect.js';
import { mariadbClientService, mariadbKubernetesObjects, mariadbTlsServices } from './kubernetes.js';
import { mariadbRestorePlan } from './kubernetes-restore.js';
import { deployGalera, prepareGaleraStart, stopOrphanedSst, waitSynced, wsrepOf } from './local-cluster.js';
import { MARIADB_BINARIES, mariadbLocalInstance, mariadbPaths, mariadbStopCause, reloadMariadbTls } from './local.js';
import { mariadbAlertRules } from './alerts.js';
import { ensureExporterAccount, mysqldExporterInstance } from './local-exporter.js';
import { HAPROXY, PROXY_NAME, proxyInstance, proxyStatus, waitProxySettled } from './local-proxy.js';
import { mariadbScrapeTargets, MYSQLD_EXPORTER_BINARY } from './metrics.js';
import { mariadbPorts, needsProxy, proxyPort } from './ports.js';
import { mariadbSmokeSteps } from './smoke.js';
import { WRITER_LABEL, WRITER_LABEL_VALUE } from './writer.js';

/** osb's admin over TCP to one node (TLS-verified against the node's CA when TLS is on). */
const adminOf = (config: Config, secrets: Secrets, inst: LocalInstance): MariadbEndpoint => ({
  host: inst.host,
  port: inst.port,
  user: ADMIN_USER.mariadb,
  password: secrets.mariadbAdminPassword,
  ...(config.tls.enabled ? { caFile: nodeTlsFiles(inst.dir).ca } : {}),
});

/** What `osb status` says about a Galera node that is not Synced in the Primary component. */
function galeraProblem(g: { state: string; clusterStatus: string; clusterSize: number }): string {
  if (g.clusterStatus === 'Disconnected')
    return 'Disconnected: its Galera provider left every group and does not reconnect by itself; `osb heal` restarts it (under systemd its timer does, within about 30s)';
  if (g.clusterStatus !== 'Primary')
    return `${g.clusterStatus}: cut off from a majority of the cluster (network partition, or the other nodes down); it serves nothing until it sees a majority again (docs/faults.md)`;
  return `not Synced/Primary (${g.state})`;
}

export const mariadb: ComponentDefinition = {
  name: 'mariadb',
  packages: (config) => [
    { binaries: [MARIADB_BINARIES.server, MARIADB_BINARIES.installDb], packages: ['mariadb-server'] },
    // Galera: the provider, mariabackup SST (streamed through socat) and the single-writer proxy.
    ...(clustered(config.mariadb)
      ? [
          {
            binaries: ['/usr/lib/galera/libgalera_smm.so', '/usr/bin/mariadb-backup', '/usr/bin/socat', HAPROXY],
            packages: ['galera-4', 'mariadb-backup', 'socat', 'haproxy'],
          },
        ]
      : []),
    ...(config.metrics.enabled ? [{ binaries: [MYSQLD_EXPORTER_BINARY], packages: ['prometheus-mysqld-exporter'] }] : []),
  ],
  // Measured: idle RSS ~100 MB plus the buffer pool (Galera: a few MB more for its cache); 126 MB on disk fresh.
  sizing: (config) => ({ memoryMB: 100 + config.mariadb.innodbBufferPoolMB + (clustered(config.mariadb) ? 4 : 0), diskMB: 250 }),
  ports: mariadbPorts,
  metrics: { targets: mariadbScrapeTargets, alerts: mariadbAlertRules },
  endpoints(config, secrets, at) {
    const m = config.mariadb;
    const nodes = Array.from({ length: m.replicas }, (_, i) => at.node('mariadb', i, m.port));
    // With Galera, clients use the single writer (the proxy, or the mariadb-writer Service), never a node directly.
    const db =
      at.kind === 'kubernetes' ? at.service(mariadbClientService(config), m.port) : needsProxy(config) ? at.service(PROXY_NAME, proxyPort(config)) : nodes[0]!;
    const socket = at.stateDir && !clustered(m) ? mariadbPaths(nodeDir(at.stateDir, 'mariadb', 'mariadb-0')).socket : undefined;
    return {
      mariadb: {
        host: db.host,
        port: db.port,
        username: ADMIN_USER.mariadb,
        password: secrets.mariadbAdminPassword,
        ...(socket ? { socket } : {}),
        nodes,
        ...tlsCaFile(config, at),
      },
    };
  },
  describeEndpoints: (eps) =>
    eps.mariadb &&
    `mariadb:   ${eps.mariadb.username}:<password>@${eps.mariadb.host}:${eps.mariadb.port}${eps.mariadb.socket ? `   socket ${eps.mariadb.socket}` : ''}`,
  local: {
    instance: mariadbLocalInstance,
    forceBootstrap: true,
    stopLeftovers: stopOrphanedSst,
    // The single-writer proxy (Galera), then one mysqld-exporter per node.
    extras: (config, stateDir, secrets, all) => [
      ...(needsProxy(config) || all ? [proxyInstance(config, stateDir, secrets)] : []),
      ...(config.metrics.enabled || all ? Array.from({ length: config.mariadb.replicas }, (_, i) => mysqldExporterInstance(config, stateDir, secrets, i)) : []),
    ],
    async reconcile(plans, ctx) {
      if (!clustered(ctx.config.mariadb)) return Promise.all(plans.map((p) => ctx.runtime.apply(p, ctx.report)));
      return deployGalera(plans, ctx);
    },
    async beforeExtras(ctx) {
      if (ctx.config.metrics.enabled) await ensureExporterAccount(ctx.config, ctx.runtime.stateDir, ctx.secrets);
    },
    async afterExtras(ctx) {
      // Right after a node rejoined, HAProxy is still counting checks: provisioning must not start on a writer about to move.
      if (needsProxy(ctx.config)) await waitProxySettled(ctx.config, ctx.runtime.stateDir, ctx.report);
    },
    // Unattended starts (systemd, after a crash or a reboot): Galera joins or bootstraps by itself.
    prepare: async (config, _secrets, inst, peers, report) => (clustered(config.mariadb) ? prepareGaleraStart(inst, peers, report) : []),
    stopCause: mariadbStopCause,
    async stuck(config, _secrets, nodes, runtime) {
      if (!clustered(config.mariadb)) return [];
      const out: { node: string; reason: string }[] = [];
      for (const inst of nodes) {
        if (!runtime.runningPid(inst)) continue;
        // non-Primary heals by itself when the partition does; Disconnected (the provider left every group) never does.
        const ws = await wsrepOf(inst);
        if (ws?.clusterStatus === 'Disconnected')
          out.push({ node: inst.name, reason: 'its Galera provider is Disconnected from every group and never reconnects by itself' });
      }
      return out;
    },
    async inspect(config, secrets, inst) {
      const info = await inspectMariadb(adminOf(config, secrets, inst));
      const g = info.galera;
      return {
        version: info.version,
        details: info,
        numbers: {
          connectionsUsed: info.connections.used,
          connectionsMax: info.connections.max,
          ...(info.flowControl ? { flowControlPausedFraction: info.flowControl.pausedFraction, flowControlPausedSeconds: info.flowControl.pausedSeconds } : {}),
        },
        ...(g ? { state: `${g.state}/${g.clusterStatus}` } : {}),
        ...(g && !(g.state === 'Synced' && g.clusterStatus === 'Primary') ? { problem: galeraProblem(g) } : {}),
      };
    },
    summary(_config, nodes) {
      const g = nodes.map((n) => (n.details as MariadbNodeInfo | undefined)?.galera).find(Boolean);
      return g ? `, Galera cluster size ${g.clusterSize} (${g.clusterStatus})` : '';
    },
    async extraStatus(config, stateDir, secrets) {
      if (!needsProxy(config)) return undefined;
      const p = await proxyStatus(config, stateDir, secrets, runningPid);
      const view = p.backends.map((b) => `${b.name}${b.backup ? '(backup)' : ''} ${b.status}`).join(', ');
      return {
        key: 'proxy',
        healthy: p.running && !!p.writer,
        json: p,
        line:
          `mariadb proxy: ${p.running ? `running (pid ${p.pid}) on ${p.address}` : `DOWN (${p.address})`}` +
          (p.writer ? `, writer ${p.writer}` : '') +
          (view ? `; backends: ${view}` : '') +
          (p.error ? ` — ${p.error}` : ''),
      };
    },
    async afterRestart(config, _secrets, inst, runtime, report) {
      if (clustered(config.mariadb)) await waitSynced(inst, runtime, report);
    },
    fdCheck(config, lim) {
      // mariadbd raises its soft limit up to the hard one: it wants 10 + max_connections + 2 * table_open_cache (2000);
      // short of that it cuts table_open_cache (down to 400), then max_connections.
      const name = 'fd limit mariadb';
      const want = 10 + config.mariadb.maxConnections + 1 + 2 * 2000;
      const floor = 10 + config.mariadb.maxConnections + 2 * 400;
      if (lim.hard < floor)
        return fail(
          name,
          `hard open files limit ${lim.hard}: MariaDB would lower max_connections below ${config.mariadb.maxConnections}`,
          `raise the hard limit to at least ${want} (ulimit -Hn ${want} as root, or LimitNOFILE=), or lower mariadb.maxConnections`,
        );
      if (lim.hard < want)
        return warn(name, `hard open files limit ${lim.hard}: MariaDB will shrink table_open_cache (wants ${want} files)`, `raise the hard limit to ${want}`);
      return ok(name, `hard open files limit ${lim.hard} ≥ ${want} MariaDB wants`);
    },
    smoke: (config, secrets, inst) => mariadbSmokeSteps(adminOf(config, secrets, inst)),
    reloadTls: (config, _secrets, inst) => reloadMariadbTls(config, inst),
  },
  kubernetes: {
    objects: mariadbKubernetesObjects,
    restore: mariadbRestorePlan,
    tlsServices: mariadbTlsServices,
    credentialSecrets: { 'mariadb-credentials': { 'admin-password': 'mariadbAdminPassword', 'exporter-password': 'mariadbExporterPassword' } },
    readyMeaning: (config) => (clustered(config.mariadb) ? 'Galera members Synced in the Primary component' : 'server answering'),
    status(config, servers, allPods) {
      if (!clustered(config.mariadb)) return { healthy: true, summary: '', fields: {} };
      const members = servers.filter((p) => p.ready).map((p) => p.name);
      const writer = servers.find((p) => p.labels[WRITER_LABEL] === WRITER_LABEL_VALUE)?.name;
      const writerController = allPods.some((p) => p.labels[LABEL.component] === 'writer-controller' && p.ready);
      return {
        healthy: !!writer && members.includes(writer) && writerController,
        summary: `; writer ${writer ?? 'none'}${writer && !members.includes(writer) ? ' (not Ready)' : ''}${writerController ? '' : ', writer controller not running'}`,
        fields: { writer, writerController },
      };
    },
  },
  backup: { ...mariadbBackup, logical: mariadbLogical },
};
