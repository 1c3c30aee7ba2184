import { writeErr } from '../../util/output.js';
import { describeEndpoints } from '../../components/index.js';
import type { Outcome, Target, TargetSources } from '../../model/target.js';
import { serviceEndpointsText, servicesObject } from '../../openstack/service-endpoints.js';
import { OsbError } from '../../util/errors.js';
import { table } from '../../util/format.js';
import type { KubeApi } from './api.js';
import { kubernetesEndpoints, openKubernetes, renderContext, type KubernetesDeployment } from './context.js';

const lines = (...l: (string | false | undefined)[]) => l.filter((x): x is string => typeof x === 'string').join('\n');

/** The Kubernetes target: the same desired state as objects, applied to a cluster and waited on. */
export function kubernetesTarget(src: TargetSources): Target {
  /** Config, namespace and context are checked first; the client library loads only after that. */
  async function open(): Promise<{ d: KubernetesDeployment; api: KubeApi }> {
    const d = openKubernetes(src);
    const { connectKubernetes } = await import('./api.js');
    return { d, api: await connectKubernetes(d.context) };
  }

  return {
    kind: 'kubernetes',

    async deploy(req): Promise<Outcome> {
      const { d, api } = await open();
      const { deployKubernetes } = await import('./ops.js');
      req.log(`deploying to namespace ${d.namespace} (context ${api.context}, ${api.server}), waiting up to ${d.config.kubernetes.waitTimeoutSeconds}s`);
      const t0 = Date.now();
      const r = await deployKubernetes(api, d, { components: req.components, report: req.log });
      const seconds = ((Date.now() - t0) / 1000).toFixed(1);
      return {
        exitCode: 0,
        json: r,
        text: lines(
          r.pruned.length > 0 && `pruned: ${r.pruned.join(', ')}`,
          r.changed
            ? `deployed to ${d.namespace} in ${seconds}s: ${r.created.length} created, ${r.configured.length} configured, ${r.unchanged.length} unchanged, ${r.pruned.length} pruned`
            : `no change: everything already deployed as configured in ${d.namespace} (${seconds}s)`,
        ),
      };
    },

    async status(req): Promise<Outcome> {
      const { d, api } = await open();
      const { statusKubernetes } = await import('./ops.js');
      const s = await statusKubernetes(api, d, req.components);
      const rows = [['COMPONENT', 'POD', 'PHASE', 'READY', 'RESTARTS', 'NODE', 'PROBLEM']];
      for (const c of s.components)
        for (const p of c.pods) rows.push([c.component, p.name, p.phase, p.ready ? 'yes' : 'no', String(p.restarts), p.node ?? '-', p.problem ?? '-']);
      return {
        exitCode: s.healthy ? 0 : 1,
        json: s,
        text: lines(
          rows.length > 1 && table(rows),
          ...s.components.map((c) => `${c.component}: ${c.summary}`),
          s.healthy
            ? `all healthy (namespace ${s.namespace}, context ${s.context})`
            : 'NOT healthy: run `osb deploy --target kubernetes` to converge and see why',
        ),
      };
    },

    async test(req): Promise<Outcome> {
      const { d, api } = await open();
      const { testKubernetes } = await import('./ops.js');
      const results = await testKubernetes(api, d, req.components, { report: req.log });
      const failed = results.filter((r) => !r.ok);
      return {
        exitCode: failed.length ? 1 : 0,
        json: results,
        text: lines(
          ...results.flatMap((r) => [
            `${r.ok ? 'PASS' : 'FAIL'} ${r.pod} (${r.phase})`,
            r.log
              .trimEnd()
              .split('\n')
              .map((l) => `  ${l}`)
              .join('\n'),
          ]),
          failed.length ? `FAILED: ${failed.map((f) => f.pod).join(', ')}` : `passed: ${results.length} test pod(s)`,
        ),
      };
    },

    async endpoints(req): Promise<Outcome> {
      // The addresses follow from the config alone; the credentials are the cluster's when it is reachable.
      const d = openKubernetes(src);
      try {
        const { connectKubernetes } = await import('./api.js');
        const { adoptClusterSecrets } = await import('./apply.js');
        const api = await connectKubernetes(d.context);
        await adoptClusterSecrets(api, d.namespace, d.secrets, new Set());
      } catch (err) {
        if (!req.json && !req.quiet) writeErr(`osb: warning: credentials from the state dir (cluster not read: ${(err as Error).message.split('\n')[0]})\n`);
      }
      const eps = kubernetesEndpoints(renderContext(d), d.secrets);
      if (req.service) return { exitCode: 0, json: undefined, text: serviceEndpointsText(d, eps, req.service, req.format) };
      const services = d.config.openstack.provision ? servicesObject(d, eps) : undefined;
      return {
        exitCode: 0,
        json: { ...eps, ...(services ? { services } : {}) },
        text: lines(...describeEndpoints(eps), `in-cluster addresses (namespace ${d.namespace}); passwords: osb endpoints --target kubernetes --json`),
      };
    },

    async destroy(req): Promise<Outcome> {
      if (req.keepData) throw new OsbError('--keep-data is for the local target', 'on Kubernetes data is kept unless you pass --delete-data', 2);
      const { d, api } = await open();
      const { destroyKubernetes } = await import('./ops.js');
      const r = await destroyKubernetes(api, d, req.components, req.deleteData);
      return {
        exitCode: 0,
        json: r,
        text: lines(
          `deleted ${r.deleted.length} object(s) from ${d.namespace}`,
          r.deletedClaims.length > 0 && `deleted PersistentVolumeClaims (data): ${r.deletedClaims.join(', ')}`,
          r.keptClaims.length > 0 && `kept PersistentVolumeClaims (data): ${r.keptClaims.join(', ')} — pass --delete-data to delete them`,
        ),
      };
    },

    async restore(req): Promise<Outcome> {
      if (req.services?.length)
        throw new OsbError(
          '--service is for logical backups, which the Kubernetes target does not take',
          'restore a physical backup (a folder of the mariadb-backups volume) without --service',
          2,
        );
      const { d, api } = await open();
      const { restoreKubernetes } = await import('./restore.js');
      req.log(`restoring into namespace ${d.namespace} (context ${api.context}, ${api.server})`);
      const r = await restoreKubernetes(api, d, { backup: req.backup, toTime: req.toTime, replace: req.replace, report: req.log });
      return {
        exitCode: 0,
        json: r,
        text: lines(
          r.replaced.length > 0 && `replaced: ${r.replaced.join(', ')}`,
          `restored ${r.backup}${r.toTimeUtc ? ` rolled forward to ${r.toTimeUtc} UTC` : ''} (${r.component}) into namespace ${r.namespace} in ${r.seconds.toFixed(1)}s: ${r.checked}`,
        ),
      };
    },
  };
}
