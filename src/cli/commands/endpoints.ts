import { deployedComponents, openDeployment } from '../../targets/local/context.js';
import { localEndpoints } from '../../targets/local/endpoints.js';
import { type GlobalOptions, sources } from '../options.js';
import { print } from './format.js';
import { targetOf } from './target.js';

export interface EndpointsOptions extends GlobalOptions {
  service?: string;
  format?: 'oslo' | 'json' | 'env';
}

export async function endpointsCommand(o: EndpointsOptions): Promise<number> {
  if (targetOf(o) === 'kubernetes') return (await import('./kubernetes.js')).kubernetesEndpoints(o);
  const d = openDeployment(sources(o));
  const eps = localEndpoints(d.config, d.secrets, d.stateDir);
  // Only what this deployment runs: `osb deploy memcached` alone gives no broker address.
  const deployed = deployedComponents(d);
  for (const c of ['rabbitmq', 'mariadb', 'memcached'] as const) if (!deployed.includes(c)) delete eps[c];
  if (o.service) return (await import('./service-endpoints.js')).serviceEndpointsCommand(d, eps, o);
  const services = d.config.openstack.provision ? (await import('./service-endpoints.js')).servicesObject(d, eps) : undefined;
  if (o.json) {
    print(JSON.stringify({ ...eps, ...(services ? { services } : {}) }, null, 2));
    return 0;
  }
  if (eps.rabbitmq) print(`rabbitmq:  amqp://${eps.rabbitmq.username}:<password>@${eps.rabbitmq.hosts.join(',')}/   management ${eps.rabbitmq.managementUrl}`);
  if (eps.mariadb) print(`mariadb:   ${eps.mariadb.username}:<password>@${eps.mariadb.host}:${eps.mariadb.port}${eps.mariadb.socket ? `   socket ${eps.mariadb.socket}` : ''}`);
  if (eps.memcached) print(`memcached: ${eps.memcached.servers.join(',')}`);
  print('passwords: osb endpoints --json; per service: osb endpoints --service NAME --format oslo');
  return 0;
}
