// osb: which MariaDB pod the backup CronJob reads from (init container `pick`; see docs/backup.md).
// A Ready server pod that is not the writer (the pod the writer controller labels): a backup never
// desyncs the pod clients write to. A single server is its own writer and is read anyway. Writes
// "<pod name> <pod IP>" to $OSB_TARGET_FILE; exits 1, naming why, when no pod qualifies.
import { writeFileSync } from 'node:fs';
import { apiClient, env, podNamespace } from './k8s-api.mjs';

const log = (m) => process.stdout.write('osb backup-pick: ' + m + '\n');

/** The pod to back up from a PodList's items, or { error }. Pure: the unit tests call it. */
export function pickBackupPod(pods, { writerLabel, writerValue, replicas }) {
  const ready = (p) => !p.metadata.deletionTimestamp && p.status?.podIP && (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
  const candidates = pods.filter(ready).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  if (replicas <= 1) return candidates[0] ? { pod: candidates[0] } : { error: 'the MariaDB server pod is not Ready' };
  const readers = candidates.filter((p) => p.metadata.labels?.[writerLabel] !== writerValue);
  if (!readers.length) return { error: `no Ready MariaDB pod other than the writer (${candidates.length} Ready): a backup never reads from the writer` };
  // The highest ordinal first: the writer controller prefers low ordinals, so this one moves least.
  return { pod: readers[readers.length - 1] };
}

async function main() {
  const api = apiClient();
  const ns = podNamespace();
  const list = await api('GET', `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(env('OSB_POD_SELECTOR'))}`);
  const r = pickBackupPod(list.items ?? [], {
    writerLabel: env('OSB_WRITER_LABEL'),
    writerValue: env('OSB_WRITER_VALUE'),
    replicas: Number(env('OSB_REPLICAS')),
  });
  if (r.error) {
    log(r.error);
    process.exit(1);
  }
  writeFileSync(env('OSB_TARGET_FILE'), r.pod.metadata.name + ' ' + r.pod.status.podIP + '\n');
  log('backing up from ' + r.pod.metadata.name + ' (' + r.pod.status.podIP + ')');
}

if (import.meta.url === 'file://' + process.argv[1]) {
  main().catch((err) => {
    log(String(err?.message ?? err));
    process.exit(1);
  });
}
