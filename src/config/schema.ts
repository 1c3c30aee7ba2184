import { z } from './zod.js';
import { cronProblem } from '../util/cron.js';

export const COMPONENTS = ['rabbitmq', 'mariadb', 'memcached'] as const;
export type ComponentName = (typeof COMPONENTS)[number];

const port = z.int().check(z.minimum(1), z.maximum(65535));
const replicas = z.int().check(z.minimum(1), z.maximum(9));
const dnsLabel = z
  .string()
  .check(z.regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a DNS label (lowercase letters, digits and "-", at most 63 characters)'));
const quantity = z.string().check(z.regex(/^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/, 'must be a Kubernetes quantity such as 8Gi or 500Mi'));
const ipv4 = z
  .string()
  .check(z.refine((s) => /^\d{1,3}(\.\d{1,3}){3}$/.test(s) && s.split('.').every((o) => Number(o) <= 255), 'must be an IPv4 address such as 127.0.0.1'));

/** `<component>.imageDigest`: pins the image (`image@sha256:...`), so a moved tag cannot change what runs. */
const imageDigest = z.optional(
  z
    .string()
    .check(z.regex(/^sha256:[0-9a-f]{64}$/, 'must be an image digest such as sha256:<64 lowercase hex digits> (see `docker buildx imagetools inspect IMAGE`)')),
);

const volume = z.strictObject({
  enabled: z._default(z.boolean(), true),
  size: z._default(quantity, '5Gi'),
  storageClass: z.optional(z.string()),
});

const resources = z.strictObject({
  cpuRequest: z._default(quantity, '100m'),
  memoryRequest: z._default(quantity, '256Mi'),
  cpuLimit: z._default(quantity, '2'),
  memoryLimit: z._default(quantity, '1Gi'),
});

/**
 * Passwords a user may set for a service. Only characters that need no escaping anywhere
 * they end up: a URL (no %-encoding), oslo.config (`$` interpolates), Keystone's migration
 * tool (its configparser rejects `%`) and a shell.
 */
export const SAFE_PASSWORD = /^[A-Za-z0-9._~-]+$/;
export const userPassword = z.string().check(
  z.minLength(16, 'must be at least 16 characters'),
  z.refine((s: string) => SAFE_PASSWORD.test(s), {
    message:
      'may only use letters, digits and . _ ~ - : characters such as @ : / # would need URL-encoding, and the "%" that encoding produces breaks keystone-manage db_sync (its configparser rejects "%")',
  }),
);

export const rabbitmqSchema = z.strictObject({
  enabled: z._default(z.boolean(), true),
  replicas: z._default(replicas, 1),
  port: z._default(port, 5672),
  managementPort: z._default(port, 15672),
  /** rabbitmq_prometheus listener of node 0 (node i: +i); RabbitMQ's own default. */
  prometheusPort: z._default(port, 15692),
  /**
   * AMQPS port of node 0 when TLS is on but not required; default port + 10. With tls.require, AMQPS takes rabbitmq.port itself.
   * Kubernetes: every pod's AMQPS port, with or without tls.require; default 5671.
   */
  tlsPort: z.optional(port),
  /** Erlang distribution port of node 0; default: port + 20000 (RabbitMQ's own rule). */
  distPort: z.optional(port),
  /** Private epmd for this deployment; default: port - 1000. */
  epmdPort: z.optional(port),
  /** `pause_minority`: a minority partition stops serving instead of diverging (see docs/clusters). */
  partitionHandling: z._default(z.enum(['pause_minority', 'autoheal']), 'pause_minority'),
  /**
   * Erlang's net_ticktime: a peer silent for 0.75-1.25x this long is down (partition, hung node). RabbitMQ's
   * default 60 s left a cut-off node serving for over a minute; 10 s was measured in docs/faults.md.
   */
  netTicktimeSeconds: z._default(z.int().check(z.minimum(5), z.maximum(600)), 10),
  memoryHighWatermark: z._default(z.number().check(z.gt(0), z.lt(1)), 0.4),
  image: z._default(z.string(), 'docker.io/library/rabbitmq:4.1-management'),
  imageDigest,
  volume: z.prefault(volume, {}),
  resources: z.prefault(resources, {}),
});

export const mariadbSchema = z.strictObject({
  enabled: z._default(z.boolean(), true),
  replicas: z._default(replicas, 1),
  port: z._default(port, 3306),
  maxConnections: z._default(z.int().check(z.minimum(10), z.maximum(100000)), 500),
  innodbBufferPoolMB: z._default(z.int().check(z.minimum(8), z.maximum(1048576)), 128),
  /** Single-writer proxy (HAProxy) in front of Galera when replicas > 1; default: port + 9. */
  proxyPort: z.optional(port),
  /** Galera group port of node 0; IST is galeraPort+10+i, SST galeraPort+20+i on the local target. */
  galeraPort: z._default(port, 4567),
  /** prometheus-mysqld-exporter of node 0 (node i: +i); the exporter's well-known port. */
  exporterPort: z._default(port, 9104),
  /** HAProxy's built-in Prometheus exporter (replicas > 1). */
  proxyMetricsPort: z._default(port, 8404),
  image: z._default(z.string(), 'docker.io/library/mariadb:10.11'),
  /** Kubernetes: the mysqld-exporter sidecar of every MariaDB pod (metrics.enabled). */
  exporterImage: z._default(z.string(), 'quay.io/prometheus/mysqld-exporter:v0.15.1'),
  imageDigest,
  volume: z.prefault(volume, {}),
  resources: z.prefault(resources, {}),
});

export const memcachedSchema = z.strictObject({
  enabled: z._default(z.boolean(), true),
  replicas: z._default(replicas, 1),
  port: z._default(port, 11211),
  memoryMB: z._default(z.int().check(z.minimum(8), z.maximum(1048576)), 64),
  maxConnections: z._default(z.int().check(z.minimum(10), z.maximum(1000000)), 1024),
  threads: z._default(z.int().check(z.minimum(1), z.maximum(64)), 2),
  /** osb's memcached exporter of node 0 (node i: +i); the community memcached_exporter's port. */
  exporterPort: z._default(port, 9150),
  image: z._default(z.string(), 'docker.io/library/memcached:1.6'),
  /** Kubernetes: the memcached exporter sidecar of every memcached pod (metrics.enabled). */
  exporterImage: z._default(z.string(), 'quay.io/prometheus/memcached-exporter:v0.14.4'),
  imageDigest,
  resources: z.prefault(resources, {}),
});

const serviceEntry = z.strictObject({
  name: dnsLabel.check(z.refine((s: string) => /^[a-z][a-z0-9_]*$/.test(s.replace(/-/g, '_')), 'must start with a letter')),
  databases: z.optional(z.array(z.string().check(z.regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be a database name ([a-z][a-z0-9_]*)')))),
  messaging: z.optional(z.boolean()),
  cache: z.optional(z.boolean()),
  password: z.optional(userPassword),
});

export const openstackSchema = z.strictObject({
  /** Names from the catalogue, or objects for services not in it. */
  services: z._default(z.array(z.union([dnsLabel, serviceEntry])), ['keystone', 'glance', 'placement', 'nova', 'neutron', 'cinder']),
  provision: z._default(z.boolean(), true),
});

export const kubernetesSchema = z.strictObject({
  namespace: z._default(dnsLabel, 'openstack'),
  context: z.optional(z.string()),
  clusterDomain: z._default(z.string(), 'cluster.local'),
  waitTimeoutSeconds: z._default(z.int().check(z.minimum(1), z.maximum(86400)), 600),
});

const hostName = z.string().check(z.regex(/^[A-Za-z0-9.:-]+$/, 'must be a DNS name or an IP address'));

export const tlsSchema = z
  .strictObject({
    /** Off by default for one release; see docs/tls.md. */
    enabled: z._default(z.boolean(), false),
    /** Refuse plain-text clients: MariaDB require_secure_transport, RabbitMQ's plain listener closed, memcached TLS-only. */
    require: z._default(z.boolean(), false),
    /** Operator's CA bundle; with certFile and keyFile, osb issues nothing and uses these for every node. */
    caFile: z.optional(z.string()),
    certFile: z.optional(z.string()),
    keyFile: z.optional(z.string()),
    /** Lifetime of the node certificates osb issues; renewed past 2/3 of it. */
    certDays: z._default(z.int().check(z.minimum(1), z.maximum(3650)), 365),
    /** Lifetime of osb's own CA. */
    caDays: z._default(z.int().check(z.minimum(1), z.maximum(36500)), 3650),
    /** More names or addresses clients dial (e.g. a VIP or a DNS name in front of the host). */
    extraSans: z._default(z.array(hostName), []),
    /**
     * Kubernetes: cert-manager issues the certificates (one `Certificate`, cert-manager.io/v1, per
     * component, writing the same `<component>-tls` Secret) instead of osb's CA. The issuer must put
     * `ca.crt` into the Secret (CA, Vault, self-signed issuers do; ACME does not). docs/tls.md.
     */
    certManager: z.optional(
      z.strictObject({
        issuer: z.strictObject({
          name: z.string().check(z.minLength(1)),
          /** `Issuer` (in the deployment's namespace) or `ClusterIssuer`; an external issuer's own kind with its `group`. */
          kind: z._default(z.string().check(z.minLength(1)), 'Issuer'),
          group: z._default(z.string().check(z.minLength(1)), 'cert-manager.io'),
        }),
      }),
    ),
  })
  .check(
    z.superRefine((t, ctx) => {
      if (t.require && !t.enabled) ctx.addIssue({ code: 'custom', path: ['require'], message: 'needs tls.enabled=true (set both, or unset tls.require)' });
      const given = [t.caFile, t.certFile, t.keyFile].filter(Boolean).length;
      if (given > 0 && given < 3)
        ctx.addIssue({
          code: 'custom',
          path: ['certFile'],
          message: 'operator certificates need all three of tls.caFile, tls.certFile and tls.keyFile (or none: osb issues its own)',
        });
      if (t.certManager) {
        if (!t.enabled) ctx.addIssue({ code: 'custom', path: ['certManager'], message: 'needs tls.enabled=true (set both, or unset tls.certManager)' });
        if (given > 0)
          ctx.addIssue({
            code: 'custom',
            path: ['certManager'],
            message: 'cert-manager issues the certificates: unset tls.caFile, tls.certFile and tls.keyFile, or unset tls.certManager',
          });
        const i = t.certManager.issuer;
        if (i.group === 'cert-manager.io' && i.kind !== 'Issuer' && i.kind !== 'ClusterIssuer')
          ctx.addIssue({
            code: 'custom',
            path: ['certManager', 'issuer', 'kind'],
            message: `cert-manager.io has the kinds Issuer and ClusterIssuer, not "${i.kind}" (an external issuer needs its own tls.certManager.issuer.group)`,
          });
      }
    }),
  );
const CRON_SHAPE = /^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4}\S+)$/;

export const backupSchema = z.strictObject({
  /** Where backups land (each in its own folder); default: <state dir>/backups. */
  dir: z.optional(z.string().check(z.minLength(1))),
  /** Retention, applied after a successful backup; the newest chain is always kept. */
  keep: z.prefault(
    z.strictObject({
      /** Full-backup chains (a full backup and its incrementals) to keep. */
      count: z.optional(z.int().check(z.minimum(1), z.maximum(10000))),
      /** Remove chains whose newest backup is older than this many days. */
      maxAgeDays: z.optional(z.number().check(z.gt(0), z.maximum(36500))),
    }),
    {},
  ),
  /** Binary logs on (log_bin, Galera GTIDs), archived by every `osb backup` and `osb backup archive-binlogs`: point-in-time restore. */
  pitr: z._default(z.boolean(), false),
  /** Port of the scratch server `osb backup verify` starts; default: the first free port from mariadb.port + 90. */
  verifyPort: z.optional(port),
  /**
   * Cron expression (5 fields, or @hourly/@daily/...) of scheduled full backups (docs/backup.md). Local
   * target under systemd: `osb deploy` installs `osb-<id>-backup.timer` (OnCalendar= converted from it,
   * Persistent=true) running `osb backup`; without systemd, deploy prints the crontab line to add.
   * Kubernetes: a CronJob.
   */
  schedule: z.optional(
    z.string().check(
      z.trim(),
      z.regex(CRON_SHAPE, 'a cron expression of 5 fields (minute hour day-of-month month day-of-week), e.g. "30 2 * * *", or @daily/@hourly'),
      z.superRefine((s: string, ctx) => {
        // The shape is reported by the regex above: one message, not two.
        const problem = CRON_SHAPE.test(s) ? cronProblem(s) : undefined;
        if (problem) ctx.addIssue({ code: 'custom', message: `not a valid cron expression: ${problem} (e.g. "30 2 * * *", or @daily)` });
      }),
    ),
  ),
  /**
   * Local target: every scheduled backup is then verified as `osb backup verify` does (its files
   * re-read, the chain restored again into a scratch server, table checksums compared); the timer's
   * run fails when it does not verify.
   */
  verify: z._default(z.boolean(), false),
  /** Kubernetes: the PersistentVolumeClaim the scheduled backups land on. */
  volume: z.prefault(
    z.strictObject({
      size: z._default(quantity, '20Gi'),
      storageClass: z.optional(z.string()),
    }),
    {},
  ),
});

/** Prometheus endpoints beside every node (docs/metrics.md). */
export const metricsSchema = z.strictObject({
  /** Exporters run beside the nodes (local target: processes; Kubernetes: sidecars and the RabbitMQ plugin). */
  enabled: z._default(z.boolean(), true),
  /**
   * Kubernetes: also render a PodMonitor per component and a PrometheusRule (monitoring.coreos.com/v1).
   * Off by default: rendering cannot see whether the cluster has the Prometheus Operator's CRDs.
   */
  prometheusOperator: z._default(z.boolean(), false),
});

export const configSchema = z.strictObject({
  bindAddress: z._default(ipv4, '127.0.0.1'),
  target: z._default(z.enum(['local', 'kubernetes']), 'local'),
  rabbitmq: z.prefault(rabbitmqSchema, {}),
  mariadb: z.prefault(mariadbSchema, {}),
  memcached: z.prefault(memcachedSchema, {}),
  openstack: z.prefault(openstackSchema, {}),
  kubernetes: z.prefault(kubernetesSchema, {}),
  tls: z.prefault(tlsSchema, {}),
  backup: z.prefault(backupSchema, {}),
  metrics: z.prefault(metricsSchema, {}),
});

export type Config = z.infer<typeof configSchema>;
export type RabbitmqConfig = z.infer<typeof rabbitmqSchema>;
export type MariadbConfig = z.infer<typeof mariadbSchema>;
export type BackupConfig = z.infer<typeof backupSchema>;
export type MemcachedConfig = z.infer<typeof memcachedSchema>;
