import { localEndpoints } from '../../targets/local/endpoints.js';
import { adminAccess } from '../../openstack/provision.js';
import { openDeployment } from '../../targets/local/context.js';
import { withStateLock } from '../../targets/local/lock.js';
import { CATALOGUE } from '../../model/catalogue.js';
import { deprovisionService, provisionServices } from '../../openstack/provision.js';
import { serviceSpecs } from '../../model/services.js';
import { OsbError } from '../../util/errors.js';
import { type GlobalOptions, sources } from '../options.js';
import { table } from '../../util/format.js';
import { emit, print } from './target.js';

export async function provisionCommand(services: string[], o: GlobalOptions): Promise<number> {
  const d = openDeployment(sources(o));
  const results = await withStateLock(d.stateDir, () =>
    provisionServices(d.config, adminAccess(localEndpoints(d.config, d.secrets, d.stateDir)), d.secrets, d.stateDir, services),
  );
  const text = table([
    ['SERVICE', 'DATABASES', 'VHOST', 'RESULT'],
    ...results.map((r) => [
      r.service,
      r.databases.join(',') || '-',
      r.vhost ?? '-',
      `${r.changed ? 'provisioned' : 'unchanged'}${r.repaired ? ` (${r.repaired})` : ''}`,
    ]),
  ]);
  return emit({ exitCode: 0, json: results, text }, o);
}

export async function deprovisionCommand(service: string, o: GlobalOptions & { yes?: boolean; databases?: string }): Promise<number> {
  const d = openDeployment(sources(o));
  const spec = serviceSpecs(d.config).find((s) => s.name === service);
  const databases = o.databases
    ? o.databases.split(',')
    : spec
      ? Object.keys(spec.databases)
      : CATALOGUE[service]
        ? Object.keys(CATALOGUE[service]!.databases)
        : undefined;
  if (!databases) throw new OsbError(`osb does not know the databases of "${service}"`, `name them: osb deprovision ${service} --databases db1,db2 --yes`, 2);
  if (!o.yes) {
    throw new OsbError(`deprovision drops databases ${databases.join(', ')}, user and vhost of "${service}" — their data is lost`, `add --yes to confirm`, 2);
  }
  await withStateLock(d.stateDir, () =>
    deprovisionService(adminAccess(localEndpoints(d.config, d.secrets, d.stateDir)), d.secrets, d.stateDir, service, databases),
  );
  print(`deprovisioned ${service}: dropped ${databases.join(', ')}, its user and vhost`);
  if (spec) print(`note: ${service} is still in openstack.services; the next \`osb deploy\` provisions it again`);
  return 0;
}
