// osb: Galera start coordinator of one MariaDB pod, the `galera-decide` init container (see docs/kubernetes.md).
//
// Publishes the position `galera-recover` found to the `mariadb-galera-state` ConfigMap (one key per
// pod, stamped with the pod's uid so a previous incarnation's entry is never trusted), then loops:
// reads every pod's entry and readiness, builds GaleraNodeView[] and calls decideGaleraStart. It
// exits with /run/osb/galera-mode = bootstrap or join; while the decision is to wait (or refuse), it
// logs why — `osb deploy` shows that line. start.sh consumes a `bootstrap` decision: it is one-shot.
// After `osb restore --target kubernetes`, key `restore` of that ConfigMap names the pod holding the
// restored data ({"pod": ..., "backup": ...}; osb removes it once the cluster is Ready): while no pod
// runs, that pod has data and every other pod has none, it bootstraps (the decision's forceBootstrap,
// as `osb recover --force-bootstrap` locally) instead of the refusal a lone data dir would get.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { decideGaleraStart } from './galera-decision.mjs';
import { apiClient, env, exitOnTermination, mergePatch, podNamespace, sleep } from './k8s-api.mjs';

const RUN = process.env.OSB_RUN_DIR || '/run/osb';
const me = env('POD_NAME');
const myUid = env('POD_UID');
const statefulSet = env('OSB_STATEFULSET');
const names = Array.from({ length: Number(env('OSB_REPLICAS')) }, (_, i) => statefulSet + '-' + i);
const ns = podNamespace();
const pollMs = Number(process.env.OSB_POLL_MS || 5000);
const cmPath = '/api/v1/namespaces/' + ns + '/configmaps/' + env('OSB_GALERA_STATE');
const podsPath = '/api/v1/namespaces/' + ns + '/pods?labelSelector=' + encodeURIComponent(env('OSB_POD_SELECTOR'));
const log = (m) => console.log('osb-galera ' + me + ': ' + m);
const api = apiClient({ timeoutMs: 15000 });

exitOnTermination(log, 'the pod is being deleted, no decision taken');

function decide(mode) {
  writeFileSync(RUN + '/galera-mode.tmp', mode + '\n');
  renameSync(RUN + '/galera-mode.tmp', RUN + '/galera-mode');
}

const position = JSON.parse(readFileSync(RUN + '/position.json', 'utf8'));
log('recovered position ' + JSON.stringify(position));
for (;;) {
  try {
    await mergePatch(api, cmPath, { data: { [me]: JSON.stringify({ ...position, podUid: myUid }) } });
    break;
  } catch (err) {
    log('cannot publish the position yet: ' + err.message);
    await sleep(pollMs);
  }
}

let last = '';
for (;;) {
  try {
    const cm = await api('GET', cmPath);
    const pods = await api('GET', podsPath);
    const byName = new Map(pods.items.map((p) => [p.metadata.name, p]));
    const views = [];
    const silent = [];
    for (const name of names) {
      const pod = byName.get(name);
      const main = pod && (pod.status.containerStatuses || []).find((c) => c.name === 'mariadb');
      const running = name !== me && !!main?.state?.running;
      const primary = running && (pod.status.conditions || []).some((c) => c.type === 'Ready' && c.status === 'True');
      let pub = null;
      try {
        pub = JSON.parse(cm.data?.[name] || 'null');
      } catch {}
      const current = !!(pub && pod && pub.podUid === pod.metadata.uid);
      if (!current && !running) silent.push(name);
      views.push(
        current
          ? { name, running, primary, hasData: !!pub.hasData, uuid: pub.uuid || undefined, seqno: pub.seqno, safeToBootstrap: !!pub.safeToBootstrap }
          : { name, running, primary, hasData: true },
      );
    }
    let restore = null;
    try {
      restore = JSON.parse(cm.data?.restore || 'null');
    } catch {}
    const restored = restore && !views.some((v) => v.running) && !silent.length && views.every((v) => (v.name === restore.pod ? v.hasData : !v.hasData));
    let message;
    if (silent.length && !views.some((v) => v.primary)) {
      message = 'waiting for ' + silent.join(', ') + ' to publish a recovered position';
    } else {
      const d = decideGaleraStart(views, restored ? { forceBootstrap: restore.pod } : {});
      if (restored) d.reason = 'restored from backup ' + restore.backup + ' into ' + restore.pod + ', the others join by SST; ' + d.reason;
      if (d.kind === 'join' && d.start.includes(me)) {
        decide('join');
        log('join: ' + d.reason);
        process.exit(0);
      }
      if ((d.kind === 'form' || d.kind === 'recover') && d.bootstrap === me) {
        decide('bootstrap');
        log(d.kind + ', this pod bootstraps: ' + d.reason);
        process.exit(0);
      }
      const waitingFor = d.kind === 'join' || d.kind === 'healthy' ? 'the Primary component' : d.bootstrap + ' to bootstrap';
      message = d.kind === 'refuse' ? 'refusing to start: ' + d.reason : 'waiting for ' + waitingFor + (d.reason ? ' (' + d.reason + ')' : '');
    }
    if (message !== last) log(message);
    last = message;
  } catch (err) {
    log('Kubernetes API error, retrying: ' + err.message);
  }
  await sleep(pollMs);
}
