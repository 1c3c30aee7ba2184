import { createHmac } from 'node:crypto';
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
  podSecurity,
  type RenderContext,
  roleAndBinding,
  secret,
  secretEnv,
  selector,
  serviceAccount,
  shortHash,
} from '../../k8s/objects.js';
import { podProgramSource } from './pod-programs.js';
import { WRITER_LABEL, WRITER_LABEL_VALUE } from './writer.js';

/**
 * Scheduled physical backups on Kubernetes (backup.schedule; docs/backup.md): a `backup-agent`
 * sidecar beside every MariaDB server streams `mariadb-backup --backup` to whoever presents the
 * token, and CronJob `mariadb-backup` picks a Ready non-writer pod, receives the stream onto the
 * `mariadb-backups` PVC and writes the manifest `osb backup` writes.
 */
export const BACKUP_NAME = 'mariadb-backup';
export const BACKUP_PVC = 'mariadb-backups';
export const BACKUP_TOKEN_SECRET = 'mariadb-backup-token';
export const BACKUP_SCRIPTS = 'mariadb-backup-scripts';
/** Port of the backup agent in every MariaDB pod (only the backup Job's pods may reach it). */
export const BACKUP_AGENT_PORT = 4480;
/** uid of the `mysql` user in the official image. */
const MARIADB_UID = 999;

export const backupScheduled = (ctx: RenderContext) => ctx.config.backup.schedule !== undefined;

/** The token a backup client presents to the agent; derived from the admin password, so it is stable across renders. */
export function backupToken(adminPassword: string): string {
  return createHmac('sha256', adminPassword).update('osb mariadb backup-agent token').digest('hex');
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

/** NetworkPolicy ingress rule admitting only the backup Job's pods to the agent port. */
export function backupAgentIngress(): unknown {
  return { from: [{ podSelector: { matchLabels: jobPodSelector() } }], ports: [{ protocol: 'TCP', port: BACKUP_AGENT_PORT }] };
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
  const scripts = {
    'backup-agent.sh': podProgramSource('backup-agent.sh'),
    'backup-job.sh': podProgramSource('backup-job.sh'),
    'backup-pick.mjs': podProgramSource('backup-pick.mjs'),
    'k8s-api.mjs': podProgramSource('k8s-api.mjs'),
  };
  const small = { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '200m', memory: '128Mi' } };
  const target = '/work/target';
  const podSpec = {
    serviceAccountName: BACKUP_NAME,
    automountServiceAccountToken: true,
    restartPolicy: 'Never',
    securityContext: podSecurity(MARIADB_UID),
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
          spec: { backoffLimit: 2, template: { metadata: { labels: labels('mariadb', 'backup') }, spec: podSpec } },
        },
      },
    },
  ];
}
