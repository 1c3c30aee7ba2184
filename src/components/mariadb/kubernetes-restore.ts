import { ADMIN_USER } from '../../model/desired.js';
import type { KubernetesRestorePlan, KubernetesRestoreRequest } from '../../model/component.js';
import {
  configMap,
  containerSecurity,
  imageRef,
  type K8sObject,
  labels,
  meta,
  NODE_IMAGE,
  podSecurity,
  pvcTemplate,
  type RenderContext,
  resources,
  secretEnv,
  shortHash,
} from '../../k8s/objects.js';
import { OsbError } from '../../util/errors.js';
import { BACKUP_PVC, BACKUP_SCRIPTS, BACKUPS_VOLUME_LABEL, backupScripts, backupsVolumeAffinity } from './kubernetes-backup.js';
import { GALERA_STATE_CONFIGMAP, MARIADB_DATA_DIR, MARIADB_TUNING_KEY } from './kubernetes.js';

/** uid of the `mysql` user in the official image (the owner of the data and of the backups). */
const MARIADB_UID = 999;

/**
 * `osb restore --target kubernetes` for MariaDB (docs/backup.md): Job `mariadb-restore-check-<hash>`
 * checks the chain on the backups claim (`restore-check.mjs`, the chain logic of the local restore,
 * read-only); then, the StatefulSet not running, claim `data-mariadb-0` is created (the name the
 * StatefulSet adopts for pod 0) and Job `mariadb-restore-<hash>` checks again (init container), then
 * prepares the chain into it and replays binlogs up to the time (`backup-restore.sh`, the server's
 * image, the server started alone). With Galera, key `restore` of ConfigMap mariadb-galera-state
 * lets pod 0 bootstrap from that data while the others, empty, join by SST.
 */
export function mariadbRestorePlan(ctx: RenderContext, req: KubernetesRestoreRequest): KubernetesRestorePlan {
  const m = ctx.config.mariadb;
  if (!m.volume.enabled)
    throw new OsbError(
      'mariadb.volume.enabled=false: the pods keep their data in emptyDirs, so there is no claim to restore into',
      'restore into a deployment with volumes (mariadb.volume.enabled=true)',
      2,
    );
  const pods = Array.from({ length: m.replicas }, (_, i) => `mariadb-${i}`);
  const claims = pods.map((p) => `data-${p}`);
  const hash = shortHash({ backup: req.backup, toTime: req.toTime ?? null });
  const scripts = backupScripts();
  const small = { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '500m', memory: '256Mi' } };
  const podLabels = { ...labels('mariadb', 'restore'), [BACKUPS_VOLUME_LABEL]: BACKUP_PVC };
  const checkContainer = (planFile?: string) => ({
    name: 'check',
    image: NODE_IMAGE,
    command: ['node', '/osb/backup/restore-check.mjs'],
    env: [
      { name: 'OSB_BACKUP', value: req.backup },
      { name: 'OSB_BACKUP_ROOT', value: '/backups' },
      ...(req.toTime ? [{ name: 'OSB_TO_TIME', value: req.toTime }] : []),
      ...(planFile ? [{ name: 'OSB_PLAN_FILE', value: planFile }] : []),
      // --to-time is UTC here: the check and mariadb-binlog --stop-datetime read it in the pod's zone.
      { name: 'TZ', value: 'UTC' },
    ],
    volumeMounts: [
      { name: 'backups', mountPath: '/backups', readOnly: true },
      { name: 'backup-scripts', mountPath: '/osb/backup', readOnly: true },
      ...(planFile ? [{ name: 'work', mountPath: '/work' }] : []),
    ],
    securityContext: containerSecurity(true),
    resources: small,
  });
  const common = {
    restartPolicy: 'Never',
    automountServiceAccountToken: false,
    securityContext: podSecurity(MARIADB_UID),
    affinity: backupsVolumeAffinity(),
  };
  const backupsVolume = { name: 'backups', persistentVolumeClaim: { claimName: BACKUP_PVC, readOnly: true } };
  const scriptsVolume = { name: 'backup-scripts', configMap: { name: BACKUP_SCRIPTS, defaultMode: 0o555 } };
  const job = (name: string, spec: Record<string, unknown>): K8sObject => ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: meta(ctx, name, 'mariadb', 'restore'),
    // A refusal or a failure is final: a retry would meet a half-filled claim.
    spec: { backoffLimit: 0, template: { metadata: { labels: podLabels }, spec: { ...common, ...spec } } },
  });
  const checkJob = job(`mariadb-restore-check-${hash}`, { containers: [checkContainer()], volumes: [backupsVolume, scriptsVolume] });
  const claim: K8sObject = { ...pvcTemplate('mariadb', m.volume), metadata: { ...meta(ctx, claims[0]!, 'mariadb', 'server') } };
  const restoreJob = job(`mariadb-restore-${hash}`, {
    initContainers: [checkContainer('/work/plan')],
    containers: [
      {
        name: 'restore',
        image: imageRef(m),
        command: ['bash', '/osb/backup/backup-restore.sh'],
        env: [
          { name: 'OSB_PLAN_FILE', value: '/work/plan' },
          { name: 'OSB_TUNING_CNF', value: `/osb/etc/${MARIADB_TUNING_KEY}` },
          { name: 'OSB_ADMIN_USER', value: ADMIN_USER.mariadb },
          secretEnv('MARIADB_ADMIN_PASSWORD', 'mariadb-credentials', 'admin-password'),
          { name: 'TZ', value: 'UTC' },
        ],
        volumeMounts: [
          { name: 'data', mountPath: MARIADB_DATA_DIR },
          { name: 'backups', mountPath: '/backups', readOnly: true },
          { name: 'work', mountPath: '/work', readOnly: true },
          { name: 'backup-scripts', mountPath: '/osb/backup', readOnly: true },
          { name: 'etc', mountPath: `/osb/etc/${MARIADB_TUNING_KEY}`, subPath: MARIADB_TUNING_KEY, readOnly: true },
          { name: 'tmp', mountPath: '/tmp' },
        ],
        securityContext: containerSecurity(true),
        // mariadb-backup --prepare and the server that replays the binlogs: the server's own sizing.
        resources: resources(m.resources),
      },
    ],
    volumes: [
      { name: 'data', persistentVolumeClaim: { claimName: claims[0] } },
      backupsVolume,
      scriptsVolume,
      { name: 'etc', configMap: { name: 'mariadb-etc' } },
      { name: 'work', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
      { name: 'tmp', emptyDir: {} },
    ],
  });
  return {
    requires: [
      {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        name: BACKUP_PVC,
        what: 'the backups volume',
        fix: 'backups land on it with backup.schedule (osb deploy --target kubernetes); restore from a namespace that has it',
      },
    ],
    workload: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'mariadb', pods },
    claims,
    checkObjects: [configMap(ctx, BACKUP_SCRIPTS, 'mariadb', 'backup', scripts)],
    checkJob,
    needs: [
      { apiVersion: 'v1', kind: 'Secret', name: 'mariadb-credentials' },
      { apiVersion: 'v1', kind: 'ConfigMap', name: 'mariadb-etc' },
      ...(m.replicas > 1 ? [{ apiVersion: 'v1', kind: 'ConfigMap', name: GALERA_STATE_CONFIGMAP }] : []),
    ],
    restoreObjects: [claim],
    restoreJob,
    ...(m.replicas > 1
      ? {
          mark: {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            name: GALERA_STATE_CONFIGMAP,
            set: { data: { restore: JSON.stringify({ pod: pods[0], backup: req.backup, ...(req.toTime ? { toTime: req.toTime } : {}) }) } },
            clear: { data: { restore: null } },
          },
        }
      : {}),
  };
}
