import pkg from '../../../package.json' with { type: 'json' };
import type { Secrets } from '../../config/secrets.js';
import { ADMIN_USER } from '../../model/desired.js';
import {
  configMap,
  containerSecurity,
  fieldEnv,
  imageRef,
  type K8sObject,
  labels,
  meta,
  NODE_IMAGE,
  podFqdn,
  podSecurity,
  type RenderContext,
  roleAndBinding,
  secret,
  secretEnv,
  selector,
  serviceAccount,
  shortHash,
} from '../../k8s/objects.js';
import { OsbError } from '../../util/errors.js';
import { podProgramSource, shippedModuleSource } from './pod-programs.js';
import { WRITER_LABEL, WRITER_LABEL_VALUE } from './writer.js';
import { crypto } from '../../util/builtin.js';

/**
 * Scheduled physical backups on Kubernetes (backup.schedule; docs/backup.md): a `backup-agent`
 * sidecar beside every MariaDB server streams `mariadb-backup --backup` to whoever presents the
 * token, and CronJob `mariadb-backup` picks a Ready non-writer pod, receives the stream onto the
 * `mariadb-backups` PVC and writes the manifest `osb backup` writes. With backup.pitr, Deployment
 * `mariadb-binlog-archiver` copies every pod's closed binlogs onto the same PVC every minute.
 * Every pod that mounts that ReadWriteOnce claim carries one label and requires to run on the node
 * of the others carrying it (the claim can be attached to one node only).
 */
export const BACKUP_NAME = 'mariadb-backup';
export const BACKUP_PVC = 'mariadb-backups';
export const BACKUP_TOKEN_SECRET = 'mariadb-backup-token';
export const BACKUP_SCRIPTS = 'mariadb-backup-scripts';
/** Port of the backup agent in every MariaDB pod (only the backup Job's pods may reach it). */
export const BACKUP_AGENT_PORT = 4480;
/** uid of the `mysql` user in the official image. */
const MARIADB_UID = 999;

export const BINLOG_ARCHIVER = 'mariadb-binlog-archiver';
/** Every pod that mounts the backups claim carries this label (value: the claim's name). */
export const BACKUPS_VOLUME_LABEL = 'osb.openstack.org/backups-volume';

export const backupScheduled = (ctx: RenderContext) => ctx.config.backup.schedule !== undefined;
/** backup.pitr on Kubernetes: binlogs on in every pod and the archiver; it needs the scheduled backups to roll forward from. */
export function binlogArchiving(ctx: RenderContext): boolean {
  if (!ctx.config.backup.pitr) return false;
  if (!backupScheduled(ctx))
    throw new OsbError(
      'backup.pitr on Kubernetes needs backup.schedule: a point in time is reached from a scheduled backup, and the archiver writes next to those backups',
      'set backup.schedule too (e.g. --set "backup.schedule=30 2 * * *"), or backup.pitr=false',
      2,
    );
  return true;
}

/**
 * Pods mounting the backups claim (ReadWriteOnce: one node) run where the others run: the backup Job,
 * the archiver, the restore Jobs. The first one (no other running) may go anywhere, as it matches its own term.
 */
export function backupsVolumeAffinity(): Record<string, unknown> {
  return {
    podAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: [
        { labelSelector: { matchLabels: { [BACKUPS_VOLUME_LABEL]: BACKUP_PVC } }, topologyKey: 'kubernetes.io/hostname' },
      ],
    },
  };
}

/** The programs and modules of the backups ConfigMap (backup, archiver, restore). */
export function backupScripts(): Record<string, string> {
  return {
    'backup-agent.sh': podProgramSource('backup-agent.sh'),
    'backup-job.sh': podProgramSource('backup-job.sh'),
    'backup-pick.mjs': podProgramSource('backup-pick.mjs'),
    'backup-restore.sh': podProgramSource('backup-restore.sh'),
    'binlog-archiver.mjs': podProgramSource('binlog-archiver.mjs'),
    'restore-check.mjs': podProgramSource('restore-check.mjs'),
    'k8s-api.mjs': podProgramSource('k8s-api.mjs'),
    // The one chain and binlog logic of every restore, compiled from src/components/{backup-chain,mariadb/binlog-archive}.ts.
    'backup-chain.mjs': shippedModuleSource('../backup-chain'),
    'binlog-archive.mjs': shippedModuleSource('binlog-archive'),
  };
}

/** The token a backup client presents to the agent; derived from the admin password, so it is stable across renders. */
export function backupToken(adminPassword: string): string {
  return crypto().createHmac('sha256', adminPassword).update('osb mariadb backup-agent token').digest('hex');
}

const tokenEnv = () => secretEnv('OSB_BACKUP_TOKEN', BACKUP_TOKEN_SECRET, 'token');

/** The sidecar added to the MariaDB StatefulSet when backups are scheduled. */
export function backupAgentContainer(ctx: RenderContext, mounts: { name: string; mountPath: string; subPath?: string; readOnly?: boolean }[]): unknown {
  const m = ctx.config.mariadb;
  return {
    name: 'backup-agent',
    image: imageRef(m),
    command: ['bash', '/osb/backup/backup-agent.sh', 'listen'],
    env: [
      fieldEnv('POD_NAME', 'metadata.name'),
      { name: 'OSB_ADMIN_USER', value: ADMIN_USER.mariadb },
      secretEnv('MARIADB_ADMIN_PASSWORD', 'mariadb-credentials', 'admin-password'),
      tokenEnv(),
      { name: 'OSB_BACKUP_PORT', value: String(BACKUP_AGENT_PORT) },
      { name: 'OSB_GALERA', value: m.replicas > 1 ? '1' : '0' },
      { name: 'OSB_PITR', value: binlogArchiving(ctx) ? '1' : '0' },
      { name: 'TMPDIR', value: '/tmp/backup-agent' },
    ],
    ports: [{ name: 'backup', containerPort: BACKUP_AGENT_PORT, protocol: 'TCP' }],
    // The data dir and the server's socket (shared volumes); its own work folder on the pod's /tmp.
    volumeMounts: [
      ...mounts.filter((v) => ['data', 'etc', 'run-mysqld', 'tmp'].includes(v.name)),
      { name: 'backup-scripts', mountPath: '/osb/backup', readOnly: true },
    ],
    securityContext: containerSecurity(),
    resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '1', memory: '512Mi' } },
  };
}

/** Extra volumes of the MariaDB pod for the sidecar. */
export const backupAgentVolumes = () => [{ name: 'backup-scripts', configMap: { name: BACKUP_SCRIPTS, defaultMode: 0o555 } }];

/** NetworkPolicy ingress rule admitting only the backup Job's pods (and the binlog archiver) to the agent port. */
export function backupAgentIngress(ctx: RenderContext): unknown {
  return {
    from: [{ podSelector: { matchLabels: jobPodSelector() } }, ...(binlogArchiving(ctx) ? [{ podSelector: { matchLabels: archiverSelector() } }] : [])],
    ports: [{ protocol: 'TCP', port: BACKUP_AGENT_PORT }],
  };
}

function archiverSelector(): Record<string, string> {
  const l = labels('mariadb', 'binlog-archiver');
  return {
    'app.kubernetes.io/name': l['app.kubernetes.io/name']!,
    'app.kubernetes.io/instance': l['app.kubernetes.io/instance']!,
    'app.kubernetes.io/component': 'binlog-archiver',
  };
}

function jobPodSelector(): Record<string, string> {
  const l = labels('mariadb', 'backup');
  return {
    'app.kubernetes.io/name': l['app.kubernetes.io/name']!,
    'app.kubernetes.io/instance': l['app.kubernetes.io/instance']!,
    'app.kubernetes.io/component': 'backup',
  };
}

/** Token Secret, scripts, PVC, the picker's account (list pods) and the CronJob. */
export function backupObjects(ctx: RenderContext, secrets: Secrets): K8sObject[] {
  const m = ctx.config.mariadb;
  const b = ctx.config.backup;
  const scripts = backupScripts();
  const small = { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '200m', memory: '128Mi' } };
  const target = '/work/target';
  const podSpec = {
    serviceAccountName: BACKUP_NAME,
    automountServiceAccountToken: true,
    restartPolicy: 'Never',
    securityContext: podSecurity(MARIADB_UID),
    affinity: backupsVolumeAffinity(),
    initContainers: [
      {
        name: 'pick',
        image: NODE_IMAGE,
        command: ['node', '/osb/backup/backup-pick.mjs'],
        env: [
          {
            name: 'OSB_POD_SELECTOR',
            value: Object.entries(selector('mariadb'))
              .map(([k, v]) => `${k}=${v}`)
              .join(','),
          },
          { name: 'OSB_WRITER_LABEL', value: WRITER_LABEL },
          { name: 'OSB_WRITER_VALUE', value: WRITER_LABEL_VALUE },
          { name: 'OSB_REPLICAS', value: String(m.replicas) },
          { name: 'OSB_TARGET_FILE', value: target },
        ],
        volumeMounts: [
          { name: 'work', mountPath: '/work' },
          { name: 'backup-scripts', mountPath: '/osb/backup', readOnly: true },
        ],
        securityContext: containerSecurity(true),
        resources: small,
      },
    ],
    containers: [
      {
        name: 'backup',
        image: imageRef(m),
        command: ['bash', '/osb/backup/backup-job.sh'],
        env: [
          tokenEnv(),
          { name: 'OSB_BACKUP_PORT', value: String(BACKUP_AGENT_PORT) },
          { name: 'OSB_TARGET_FILE', value: target },
          { name: 'OSB_BACKUP_ROOT', value: '/backups' },
          { name: 'OSB_GALERA', value: m.replicas > 1 ? '1' : '0' },
          { name: 'OSB_VERSION', value: pkg.version },
          ...(b.keep.count !== undefined ? [{ name: 'OSB_KEEP_COUNT', value: String(b.keep.count) }] : []),
        ],
        volumeMounts: [
          { name: 'work', mountPath: '/work', readOnly: true },
          { name: 'backups', mountPath: '/backups' },
          { name: 'backup-scripts', mountPath: '/osb/backup', readOnly: true },
          // bash writes a here-document bigger than a pipe buffer (the manifest) to a temp file.
          { name: 'tmp', mountPath: '/tmp' },
        ],
        securityContext: containerSecurity(true),
        resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '1', memory: '256Mi' } },
      },
    ],
    volumes: [
      { name: 'work', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
      { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
      { name: 'backups', persistentVolumeClaim: { claimName: BACKUP_PVC } },
      { name: 'backup-scripts', configMap: { name: BACKUP_SCRIPTS, defaultMode: 0o555 } },
    ],
  };
  return [
    secret(ctx, BACKUP_TOKEN_SECRET, 'mariadb', 'credentials', { token: backupToken(secrets.mariadbAdminPassword) }),
    configMap(ctx, BACKUP_SCRIPTS, 'mariadb', 'backup', scripts),
    {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: meta(ctx, BACKUP_PVC, 'mariadb', 'backup'),
      spec: {
        accessModes: ['ReadWriteOnce'],
        ...(b.volume.storageClass ? { storageClassName: b.volume.storageClass } : {}),
        resources: { requests: { storage: b.volume.size } },
      },
    },
    serviceAccount(ctx, 'mariadb', BACKUP_NAME, 'backup'),
    ...roleAndBinding(ctx, 'mariadb', BACKUP_NAME, [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }], BACKUP_NAME, 'backup'),
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta(ctx, BACKUP_NAME, 'mariadb', 'backup'),
      // The Job's pods only call the API server and the agents: no ingress.
      spec: { podSelector: { matchLabels: jobPodSelector() }, policyTypes: ['Ingress'] },
    },
    {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: meta(ctx, BACKUP_NAME, 'mariadb', 'backup', { 'osb.openstack.org/config-hash': shortHash({ scripts, podSpec }) }),
      spec: {
        schedule: b.schedule!,
        // Never two backups at once (the agent serves one stream at a time anyway).
        concurrencyPolicy: 'Forbid',
        startingDeadlineSeconds: 600,
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
          metadata: { labels: labels('mariadb', 'backup') },
          spec: { backoffLimit: 2, template: { metadata: { labels: { ...labels('mariadb', 'backup'), [BACKUPS_VOLUME_LABEL]: BACKUP_PVC } }, spec: podSpec } },
        },
      },
    },
    ...(binlogArchiving(ctx) ? binlogArchiverObjects(ctx, scripts) : []),
  ];
}

/**
 * backup.pitr: Deployment `mariadb-binlog-archiver` (one replica; Recreate: never two writers of an
 * index) runs `binlog-archiver.mjs` in the node image. Every 60 s it asks each pod's backup agent (by
 * its stable DNS name) to close the current binlog and copies the closed ones it lacks onto the backups
 * claim. No API access, no ingress.
 */
function binlogArchiverObjects(ctx: RenderContext, scripts: Record<string, string>): K8sObject[] {
  const m = ctx.config.mariadb;
  const pods = Array.from({ length: m.replicas }, (_, i) => `mariadb-${i}=${podFqdn(ctx, 'mariadb', i)}`).join(',');
  const podSpec = {
    automountServiceAccountToken: false,
    securityContext: podSecurity(MARIADB_UID),
    affinity: backupsVolumeAffinity(),
    terminationGracePeriodSeconds: 10,
    containers: [
      {
        name: 'archiver',
        image: NODE_IMAGE,
        command: ['node', '/osb/backup/binlog-archiver.mjs'],
        env: [
          tokenEnv(),
          { name: 'OSB_BACKUP_PORT', value: String(BACKUP_AGENT_PORT) },
          { name: 'OSB_BACKUP_ROOT', value: '/backups' },
          { name: 'OSB_PODS', value: pods },
          { name: 'OSB_INTERVAL_SECONDS', value: '60' },
          { name: 'OSB_HEARTBEAT', value: '/tmp/heartbeat' },
        ],
        volumeMounts: [
          { name: 'backups', mountPath: '/backups' },
          { name: 'backup-scripts', mountPath: '/osb/backup', readOnly: true },
          { name: 'tmp', mountPath: '/tmp' },
        ],
        // A pass that has not ended for 15 minutes (the agent calls time out long before) is restarted.
        livenessProbe: {
          exec: { command: ['sh', '-c', '[ $(( $(date +%s) - $(stat -c %Y /tmp/heartbeat) )) -lt 900 ]'] },
          initialDelaySeconds: 120,
          periodSeconds: 60,
          timeoutSeconds: 5,
          failureThreshold: 3,
        },
        securityContext: containerSecurity(true),
        resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '500m', memory: '128Mi' } },
      },
    ],
    volumes: [
      { name: 'backups', persistentVolumeClaim: { claimName: BACKUP_PVC } },
      { name: 'backup-scripts', configMap: { name: BACKUP_SCRIPTS, defaultMode: 0o555 } },
      { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
    ],
  };
  return [
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta(ctx, BINLOG_ARCHIVER, 'mariadb', 'binlog-archiver'),
      // It only calls the agents: no ingress.
      spec: { podSelector: { matchLabels: archiverSelector() }, policyTypes: ['Ingress'] },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(ctx, BINLOG_ARCHIVER, 'mariadb', 'binlog-archiver'),
      spec: {
        replicas: 1,
        strategy: { type: 'Recreate' },
        selector: { matchLabels: archiverSelector() },
        template: {
          metadata: {
            labels: { ...labels('mariadb', 'binlog-archiver'), [BACKUPS_VOLUME_LABEL]: BACKUP_PVC },
            annotations: { 'osb.openstack.org/config-hash': shortHash({ scripts, podSpec }) },
          },
          spec: podSpec,
        },
      },
    },
  ];
}
