import type { ComponentName } from '../../config/schema.js';
import { OsbError } from '../../util/errors.js';
import type { KubeApi } from '../../targets/kubernetes/api.js';
import { kubernetesEndpoints as endpointsOf, openKubernetes, renderContext, type KubernetesDeployment } from '../../targets/kubernetes/context.js';
import { type GlobalOptions, sources, verbosity } from '../options.js';
import { print, table } from './format.js';

type KOptions = GlobalOptions & { keepData?: boolean; deleteData?: boolean; service?: string; format?: 'oslo' | 'json' | 'env' };

/** Config, namespace and context are checked first; the client library loads only after that. */
async function open(o: KOptions): Promise<{ d: KubernetesDeployment; api: KubeApi }> {
  const d = openKubernetes({ ...sources(o), namespace: o.namespace, context: o.context });
  const { connectKubernetes } = await import('../../targets/kubernetes/api.js');
  return { d, api: await connectKubernetes(d.context) };
}

function logger(o: GlobalOptions): (line: string) => void {
  const v = verbosity(o);
  return v === 'quiet' ? () => {} : (line) => process.stderr.write(`  ${line}\n`);
}

export async function kubernetesDeploy(components: ComponentName[], o: KOptions): Promise<number> {
  const { d, api } = await open(o);
  const { deployKubernetes } = await import('../../targets/kubernetes/ops.js');
  const log = logger(o);
  log(`deploying to namespace ${d.namespace} (context ${api.context}, ${api.server}), waiting up to ${d.config.kubernetes.waitTimeoutSeconds}s`);
  const t0 = Date.now();
  const r = await deployKubernetes(api, d, { components, report: log });
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  if (o.json) {
    print(JSON.stringify(r, null, 2));
    return 0;
  }
  if (r.pruned.length) print(`pruned: ${r.pruned.join(', ')}`);
  print(r.changed
    ? `deployed to ${d.namespace} in ${seconds}s: ${r.created.length} created, ${r.configured.length} configured, ${r.unchanged.length} unchanged, ${r.pruned.length} pruned`
    : `no change: everything already deployed as configured in ${d.namespace} (${seconds}s)`);
  return 0;
}

export async function kubernetesStatus(components: ComponentName[], o: KOptions): Promise<number> {
  const { d, api } = await open(o);
  const { statusKubernetes } = await import('../../targets/kubernetes/ops.js');
  const s = await statusKubernetes(api, d, components);
  if (o.json) {
    print(JSON.stringify(s, null, 2));
    return s.healthy ? 0 : 1;
  }
  const rows = [['COMPONENT', 'POD', 'PHASE', 'READY', 'RESTARTS', 'NODE', 'PROBLEM']];
  for (const c of s.components) for (const p of c.pods) rows.push([c.component, p.name, p.phase, p.ready ? 'yes' : 'no', String(p.restarts), p.node ?? '-', p.problem ?? '-']);
  if (rows.length > 1) print(table(rows));
  for (const c of s.components) print(`${c.component}: ${c.summary}`);
  print(s.healthy ? `all healthy (namespace ${s.namespace}, context ${s.context})` : 'NOT healthy: run `osb deploy --target kubernetes` to converge and see why');
  return s.healthy ? 0 : 1;
}

export async function kubernetesTest(components: ComponentName[], o: KOptions): Promise<number> {
  const { d, api } = await open(o);
  const { testKubernetes } = await import('../../targets/kubernetes/ops.js');
  const results = await testKubernetes(api, d, components, { report: logger(o) });
  const failed = results.filter((r) => !r.ok);
  if (o.json) print(JSON.stringify(results, null, 2));
  else {
    for (const r of results) {
      print(`${r.ok ? 'PASS' : 'FAIL'} ${r.pod} (${r.phase})`);
      print(r.log.trimEnd().split('\n').map((l) => `  ${l}`).join('\n'));
    }
    print(failed.length ? `FAILED: ${failed.map((f) => f.pod).join(', ')}` : `passed: ${results.length} test pod(s)`);
  }
  return failed.length ? 1 : 0;
}

export async function kubernetesEndpoints(o: KOptions): Promise<number> {
  // The addresses follow from the config alone; the credentials are the cluster's when it is reachable.
  const d = openKubernetes({ ...sources(o), namespace: o.namespace, context: o.context });
  try {
    const { connectKubernetes } = await import('../../targets/kubernetes/api.js');
    const { adoptClusterSecrets } = await import('../../targets/kubernetes/apply.js');
    const api = await connectKubernetes(d.context);
    await adoptClusterSecrets(api, d.namespace, d.secrets, new Set());
  } catch (err) {
    if (!o.json && !o.quiet) process.stderr.write(`osb: warning: credentials from the state dir (cluster not read: ${(err as Error).message.split('\n')[0]})\n`);
  }
  const eps = endpointsOf(renderContext(d), d.secrets);
  const { serviceEndpointsCommand, servicesObject } = await import('./service-endpoints.js');
  const dep = { stateDir: d.stateDir, config: d.config, secrets: d.secrets, state: { version: 1 as const, userValues: d.userValues, instances: {} } };
  if (o.service) return serviceEndpointsCommand(dep, eps, o);
  const services = d.config.openstack.provision ? servicesObject(dep, eps) : undefined;
  if (o.json) {
    print(JSON.stringify({ ...eps, ...(services ? { services } : {}) }, null, 2));
    return 0;
  }
  if (eps.rabbitmq) print(`rabbitmq:  amqp://${eps.rabbitmq.username}:<password>@${eps.rabbitmq.hosts.join(',')}/   management ${eps.rabbitmq.managementUrl}`);
  if (eps.mariadb) print(`mariadb:   ${eps.mariadb.username}:<password>@${eps.mariadb.host}:${eps.mariadb.port}`);
  if (eps.memcached) print(`memcached: ${eps.memcached.servers.join(',')}`);
  print(`in-cluster addresses (namespace ${d.namespace}); passwords: osb endpoints --target kubernetes --json`);
  return 0;
}

export async function kubernetesDestroy(components: ComponentName[], o: KOptions): Promise<number> {
  if (o.keepData) throw new OsbError('--keep-data is for the local target', 'on Kubernetes data is kept unless you pass --delete-data', 2);
  const { d, api } = await open(o);
  const { destroyKubernetes } = await import('../../targets/kubernetes/ops.js');
  const r = await destroyKubernetes(api, d, components, o.deleteData);
  print(`deleted ${r.deleted.length} object(s) from ${d.namespace}`);
  if (r.deletedClaims.length) print(`deleted PersistentVolumeClaims (data): ${r.deletedClaims.join(', ')}`);
  if (r.keptClaims.length) print(`kept PersistentVolumeClaims (data): ${r.keptClaims.join(', ')} — pass --delete-data to delete them`);
  return 0;
}
