import type { Endpoints } from '../../model/endpoints.js';
import { findService, servicePassword } from '../../openstack/credentials.js';
import { renderEnv, renderOslo, serviceSettings, settingsJson } from '../../openstack/oslo.js';
import { serviceSpecs } from '../../model/services.js';
import type { Deployment } from '../../targets/local/context.js';
import { OsbError, didYouMean } from '../../util/errors.js';
import { print } from './format.js';

/** Settings of a provisioned service; never invents a password that was not provisioned. */
function settingsOf(d: Deployment, eps: Endpoints, name: string) {
  const spec = findService(d.config, name);
  if (!spec) {
    const hint = didYouMean(name, serviceSpecs(d.config).map((s) => s.name));
    throw new OsbError(`service "${name}" is not in openstack.services`, hint ? `did you mean "${hint}"?` : 'add it to openstack.services and run `osb provision`', 2);
  }
  if (!spec.configuredPassword && !d.secrets.services[name]) {
    throw new OsbError(`service "${name}" has not been provisioned yet`, `run \`osb provision ${name}\` (or \`osb deploy\`)`);
  }
  return serviceSettings(d.config, eps, spec, servicePassword(d.stateDir, d.secrets, spec, false));
}

export function servicesObject(d: Deployment, eps: Endpoints): Record<string, ReturnType<typeof settingsJson>> {
  const out: Record<string, ReturnType<typeof settingsJson>> = {};
  for (const spec of serviceSpecs(d.config)) {
    if (!spec.configuredPassword && !d.secrets.services[spec.name]) continue;
    out[spec.name] = settingsJson(settingsOf(d, eps, spec.name));
  }
  return out;
}

export async function serviceEndpointsCommand(d: Deployment, eps: Endpoints, o: { service?: string; format?: string }): Promise<number> {
  const s = settingsOf(d, eps, o.service!);
  if (o.format === 'json') print(JSON.stringify({ [s.service]: settingsJson(s) }, null, 2));
  else if (o.format === 'env') print(renderEnv(s));
  else print(renderOslo(s));
  return 0;
}
