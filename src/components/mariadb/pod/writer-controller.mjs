// osb: single-writer controller of the Galera cluster, the `mariadb-writer-controller` Deployment (see docs/kubernetes.md).
//
// Every OSB_POLL_MS it lists the MariaDB pods, asks `chooseGaleraWriter` (the shipped
// writer-decision.mjs) who should hold the writer label, removes the label from whoever should not
// hold it and only then labels the new writer (never two pods behind the `mariadb-writer` Service).
// The label is added with the listed pod's resourceVersion as a precondition, so a pod that changed
// meanwhile is re-examined first. It writes a heartbeat file every round (the liveness probe checks
// it). OSB_API_URL (e.g. `kubectl proxy`'s http://127.0.0.1:8001) replaces the in-cluster API address.
import { writeFileSync } from 'node:fs';
import { apiClient, env, exitOnTermination, mergePatch, sleep } from './k8s-api.mjs';
import { chooseGaleraWriter, WRITER_LABEL, WRITER_LABEL_VALUE } from './writer-decision.mjs';

const ns = env('POD_NAMESPACE');
const statefulSet = env('OSB_STATEFULSET');
const pollMs = Number(process.env.OSB_POLL_MS || 2000);
const heartbeat = process.env.OSB_HEARTBEAT || '/tmp/heartbeat';
const podsPath = '/api/v1/namespaces/' + ns + '/pods';
const listPath = podsPath + '?labelSelector=' + encodeURIComponent(env('OSB_POD_SELECTOR'));
const log = (m) => console.log(new Date().toISOString() + ' osb-writer: ' + m);
const api = apiClient({ timeoutMs: 10000 });

const ordinalOf = (name) => {
  const m = /^(.*)-(\d+)$/.exec(name);
  return m && m[1] === statefulSet ? Number(m[2]) : -1;
};
const patchLabel = (name, value, resourceVersion) =>
  mergePatch(api, podsPath + '/' + name, { metadata: { ...(resourceVersion ? { resourceVersion } : {}), labels: { [WRITER_LABEL]: value } } });

exitOnTermination(log, 'exiting, the writer label stays where it is', 0);
log('watching the pods of StatefulSet ' + statefulSet + ' in ' + ns + ' every ' + pollMs + ' ms');
let last = '';
for (;;) {
  try {
    const items = (await api('GET', listPath)).items || [];
    const pods = items
      .filter((p) => ordinalOf(p.metadata.name) >= 0)
      .map((p) => ({
        name: p.metadata.name,
        ordinal: ordinalOf(p.metadata.name),
        ready: (p.status?.conditions || []).some((c) => c.type === 'Ready' && c.status === 'True'),
        deleting: !!p.metadata.deletionTimestamp,
        labels: p.metadata.labels || {},
        resourceVersion: p.metadata.resourceVersion,
      }));
    const d = chooseGaleraWriter(pods);
    for (const name of d.unlabel) {
      await patchLabel(name, null);
      log('removed the writer label from ' + name);
    }
    if (d.label) {
      await patchLabel(d.label, WRITER_LABEL_VALUE, pods.find((p) => p.name === d.label).resourceVersion);
      log('writer: ' + d.label + ' (' + d.reason + ')');
    } else if (d.reason !== last) log(d.reason);
    last = d.reason;
  } catch (err) {
    log('Kubernetes API error, retrying: ' + err.message);
    last = '';
  }
  try {
    writeFileSync(heartbeat, String(Date.now()));
  } catch {}
  await sleep(pollMs);
}
