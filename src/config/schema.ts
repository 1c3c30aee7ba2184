import { z } from './zod.js';
import { cronProblem } from '../util/cron.js';

export const COMPONENTS = ['rabbitmq', 'mariadb', 'memcached'] as const;
export type ComponentName = (typeof COMPONENTS)[number];

const port = z.int().min(1).max(65535);
const replicas = z.int().min(1).max(9);
const dnsLabel = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a DNS label (lowercase letters, digits and "-", at most 63 characters)');
const quantity = z.string().regex(/^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/, 'must be a Kubernetes quantity such as 8Gi or 500Mi');
const ipv4 = z
  .string()
  .refine((s) => /^\d{1,3}(\.\d{1,3}){3}$/.test(s) && s.split('.').every((o) => Number(o) <= 255), 'must be an IPv4 address such as 127.0.0.1');

/** `<component>.imageDigest`: pins the image (`image@sha256:...`), so a moved tag cannot change what runs. */
const imageDigest = z
  .string()
  .regex(/^sha256:[0-9a-f]{64}$/, 'must be an image digest such as sha256:<64 lowercase hex digits> (see `docker buildx imagetools inspect IMAGE`)')
  .optional();

const volume = z.strictObject({
  enabled: z.boolean().default(true),
  size: quantity.default('5Gi'),
  storageClass: z.string().optional(),
});

const resources = z.strictObject({
  cpuRequest: quantity.default('100m'),
  memoryRequest: quantity.default('256Mi'),
  cpuLimit: quantity.default('2'),
  memoryLimit: quantity.default('1Gi'),
});

/**
 * Passwords a user may set for a service. Only characters that need no escaping anywhere
 * they end up: a URL (no %-encoding), oslo.config (`$` interpolates), Keystone's migration
 * tool (its configparser rejects `%`) and a shell.
 */
export const SAFE_PASSWORD = /^[A-Za-z0-9._~-]+$/;
export const userPassword = z
  .string()
  .min(16, 'must be at least 16 characters')
  .refine((s) => SAFE_PASSWORD.test(s), {
    message:
      'may only use letters, digits and . _ ~ - : characters such as @ : / # would need URL-encoding, and the "%" that encoding produces breaks keystone-manage db_sync (its configparser rejects "%")',
  });

export const rabbitmqSchema = z.strictObject({
  enabled: z.boolean().default(true),
  replicas: replicas.default(1),
  port: port.default(5672),
  managementPort: port.default(15672),
  /** rabbitmq_prometheus listener of node 0 (node i: +i); RabbitMQ's own default. */
  prometheusPort: port.default(15692),
  /**
   * AMQPS port of node 0 when TLS is on but not required; default port + 10. With tls.require, AMQPS takes rabbitmq.port itself.
   * Kubernetes: every pod's AMQPS port, with or without tls.require; default 5671.
   */
  tlsPort: port.optional(),
  /** Erlang distribution port of node 0; default: port + 20000 (RabbitMQ's own rule). */
  distPort: port.optional(),
  /** Private epmd for this deployment; default: port - 1000. */
  epmdPort: port.optional(),
  /** `pause_minority`: a minority partition stops serving instead of diverging (see docs/clusters). */
  partitionHandling: z.enum(['pause_minority', 'autoheal']).default('pause_minority'),
  /**
   * Erlang's net_ticktime: a peer silent for 0.75-1.25x this long is down (partition, hung node). RabbitMQ's
   * default 60 s left a cut-off node serving for over a minute; 10 s was measured in docs/faults.md.
   */
  netTicktimeSeconds: z.int().min(5).max(600).default(10),
  memoryHighWatermark: z.number().gt(0).lt(1).default(0.4),
  image: z.string().default('docker.io/library/rabbitmq:4.1-management'),
  imageDigest,
  volume: volume.prefault({}),
  resources: resources.prefault({}),
});

export const mariadbSchema = z.strictObject({
  enabled: z.boolean().default(true),
  replicas: replicas.default(1),
  port: port.default(3306),
  maxConnections: z.int().min(10).max(100000).default(500),
  innodbBufferPoolMB: z.int().min(8).max(1048576).default(128),
  /** Single-writer proxy (HAProxy) in front of Galera when replicas > 1; default: port + 9. */
  proxyPort: port.optional(),
  /** Galera group port of node 0; IST is galeraPort+10+i, SST galeraPort+20+i on the local target. */
  galeraPort: port.default(4567),
  /** prometheus-mysqld-exporter of node 0 (node i: +i); the exporter's well-known port. */
  exporterPort: port.default(9104),
  /** HAProxy's built-in Prometheus exporter (replicas > 1). */
  proxyMetricsPort: port.default(8404),
  image: z.string().default('docker.io/library/mariadb:10.11'),
  /** Kubernetes: the mysqld-exporter sidecar of every MariaDB pod (metrics.enabled). */
  exporterImage: z.string().default('quay.io/prometheus/mysqld-exporter:v0.15.1'),
  imageDigest,
  volume: volume.prefault({}),
  resources: resources.prefault({}),
});

export const memcachedSchema = z.strictObject({
  enabled: z.boolean().default(true),
  replicas: replicas.default(1),
  port: port.default(11211),
  memoryMB: z.int().min(8).max(1048576).default(64),
  maxConnections: z.int().min(10).max(1000000).default(1024),
  threads: z.int().min(1).max(64).default(2),
  /** osb's memcached exporter of node 0 (node i: +i); the community memcached_exporter's port. */
  exporterPort: port.default(9150),
  image: z.string().default('docker.io/library/memcached:1.6'),
  /** Kubernetes: the memcached exporter sidecar of every memcached pod (metrics.enabled). */
  exporterImage: z.string().default('quay.io/prometheus/memcached-exporter:v0.14.4'),
  imageDigest,
  resources: resources.prefault({}),
});

const serviceEntry = z.strictObject({
  name: dnsLabel.refine((s) => /^[a-z][a-z0-9_]*$/.test(s.replace(/-/g, '_')), 'must start with a letter'),
  databases: z.array(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be a database name ([a-z][a-z0-9_]*)')).optional(),
  messaging: z.boolean().optional(),
  cache: z.boolean().optional(),
  password: userPassword.optional(),
});

export const openstackSchema = z.strictObject({
  /** Names from the catalogue, or objects for services not in it. */
  services: z.array(z.union([dnsLabel, serviceEntry])).default(['keystone', 'glance', 'placement', 'nova', 'neutron', 'cinder']),
  provision: z.boolean().default(true),
});

export const kubernetesSchema = z.strictObject({
  namespace: dnsLabel.default('openstack'),
  context: z.string().optional(),
  clusterDomain: z.string().default('cluster.local'),
  waitTimeoutSeconds: z.int().min(1).max(86400).default(600),
});

const hostName = z.string().regex(/^[A-Za-z0-9.:-]+$/, 'must be a DNS name or an IP address');

export const tlsSchema = z
  .strictObject({
    /** Off by default for one release; see docs/tls.md. */
    enabled: z.boolean().default(false),
    /** Refuse plain-text clients: MariaDB require_secure_transport, RabbitMQ's plain listener closed, memcached TLS-only. */
    require: z.boolean().default(false),
    /** Operator's CA bundle; with certFile and keyFile, osb issues nothing and uses these for every node. */
    caFile: z.string().optional(),
    certFile: z.string().optional(),
    keyFile: z.string().optional(),
    /** Lifetime of the node certificates osb issues; renewed past 2/3 of it. */
    certDays: z.int().min(1).max(3650).default(365),
    /** Lifetime of osb's own CA. */
    caDays: z.int().min(1).max(36500).default(3650),
    /** More names or addresses clients dial (e.g. a VIP or a DNS name in front of the host). */
    extraSans: z.array(hostName).default([]),
    /**
     * Kubernetes: cert-manager issues the certificates (one `Certificate`, cert-manager.io/v1, per
     * component, writing the same `<component>-tls` Secret) instead of osb's CA. The issuer must put
     * `ca.crt` into the Secret (CA, Vault, self-signed issuers do; ACME does not). docs/tls.md.
     */
    certManager: z
      .strictObject({
        issuer: z.strictObject({
          name: z.string().min(1),
          /** `Issuer` (in the deployment's namespace) or `ClusterIssuer`; an external issuer's own kind with its `group`. */
          kind: z.string().min(1).default('Issuer'),
          group: z.string().min(1).default('cert-manager.io'),
        }),
      })
      .optional(),
  })
  .superRefine((t, ctx) => {
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
  });
const CRON_SHAPE = /^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4}\S+)$/;

export const backupSchema = z.strictObject({
  /** Where backups land (each in its own folder); default: <state dir>/backups. */
  dir: z.string().min(1).optional(),
  /** Retention, applied after a successful backup; the newest chain is always kept. */
  keep: z
    .strictObject({
      /** Full-backup chains (a full backup and its incrementals) to keep. */
      count: z.int().min(1).max(10000).optional(),
      /** Remove chains whose newest backup is older than this many days. */
      maxAgeDays: z.number().gt(0).max(36500).optional(),
    })
    .prefault({}),
  /** Binary logs on (log_bin, Galera GTIDs), archived by every `osb backup` and `osb backup archive-binlogs`: point-in-time restore. */
  pitr: z.boolean().default(false),
  /** Port of the scratch server `osb backup verify` starts; default: the first free port from mariadb.port + 90. */
  verifyPort: port.optional(),
  /**
   * Cron expression (5 fields, or @hourly/@daily/...) of scheduled full backups (docs/backup.md). Local
   * target under systemd: `osb deploy` installs `osb-<id>-backup.timer` (OnCalendar= converted from it,
   * Persistent=true) running `osb backup`; without systemd, deploy prints the crontab line to add.
   * Kubernetes: a CronJob.
   */
  schedule: z
    .string()
    .trim()
    .regex(CRON_SHAPE, 'a cron expression of 5 fields (minute hour day-of-month month day-of-week), e.g. "30 2 * * *", or @daily/@hourly')
    .superRefine((s, ctx) => {
      // The shape is reported by the regex above: one message, not two.
      const problem = CRON_SHAPE.test(s) ? cronProblem(s) : undefined;
      if (problem) ctx.addIssue({ code: 'custom', message: `not a valid cron expression: ${problem} (e.g. "30 2 * * *", or @daily)` });
    })
    .optional(),
  /**
   * Local target: every scheduled backup is then verified as `osb backup verify` does (its files
   * re-read, the chain restored again into a scratch server, table checksums compared); the timer's
   * run fails when it does not verify.
   */
  verify: z.boolean().default(false),
  /** Kubernetes: the PersistentVolumeClaim the scheduled backups land on. */
  volume: z
    .strictObject({
      size: quantity.default('20Gi'),
      storageClass: z.string().optional(),
    })
    .prefault({}),
});

/** Prometheus endpoints beside every node (docs/metrics.md). */
export const metricsSchema = z.strictObject({
  /** Exporters run beside the nodes (local target: processes; Kubernetes: sidecars and the RabbitMQ plugin). */
  enabled: z.boolean().default(true),
  /**
   * Kubernetes: also render a PodMonitor per component and a PrometheusRule (monitoring.coreos.com/v1).
   * Off by default: rendering cannot see whether the cluster has the Prometheus Operator's CRDs.
   */
  prometheusOperator: z.boolean().default(false),
});

export const configSchema = z.strictObject({
  bindAddress: ipv4.default('127.0.0.1'),
  target: z.enum(['local', 'kubernetes']).default('local'),
  rabbitmq: rabbitmqSchema.prefault({}),
  mariadb: mariadbSchema.prefault({}),
  memcached: memcachedSchema.prefault({}),
  openstack: openstackSchema.prefault({}),
  kubernetes: kubernetesSchema.prefault({}),
  tls: tlsSchema.prefault({}),
  backup: backupSchema.prefault({}),
  metrics: metricsSchema.prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type RabbitmqConfig = z.infer<typeof rabbitmqSchema>;
export type MariadbConfig = z.infer<typeof mariadbSchema>;
export type BackupConfig = z.infer<typeof backupSchema>;
export type MemcachedConfig = z.infer<typeof memcachedSchema>;
