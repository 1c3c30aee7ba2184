import type { Endpoints } from '../model/endpoints.js';
import { findService, servicePassword } from './credentials.js';
import { renderEnv, renderOslo, serviceSettings, settingsJson } from './oslo.js';
import { serviceSpecs } from '../model/services.js';
import type { Config } from '../config/schema.js';
import type { Secrets } from '../config/secrets.js';
import { OsbError, didYouMean } from '../util/errors.js';

/** What a target knows of a deployment, enough to print a service's settings. */
export interface ServiceSource {
  config: Config;
  secrets: Secrets;
  stateDir: string;
}

/** Settings of a provisioned service; never invents a password that was not provisioned. */
function settingsOf(d: ServiceSource, eps: Endpoints, name: string) {
  const spec = findService(d.config, name);
  if (!spec) {
    const hint = didYouMean(
      name,
      serviceSpecs(d.config).map((s) => s.name),
    );
    throw new OsbError(
      `service "${name}" is not in openstack.services`,
      hint ? `did you mean "${hint}"?` : 'add it to openstack.services and run `osb provision`',
      2,
    );
  }
  if (!spec.configuredPassword && !d.secrets.services[name]) {
    throw new OsbError(`service "${name}" has not been provisioned yet`, `run \`osb provision ${name}\` (or \`osb deploy\`)`);
  }
  return serviceSettings(d.config, eps, spec, servicePassword(d.stateDir, d.secrets, spec, false));
}

export function servicesObject(d: ServiceSource, eps: Endpoints): Record<string, ReturnType<typeof settingsJson>> {
  const out: Record<string, ReturnType<typeof settingsJson>> = {};
  for (const spec of serviceSpecs(d.config)) {
    if (!spec.configuredPassword && !d.secrets.services[spec.name]) continue;
    out[spec.name] = settingsJson(settingsOf(d, eps, spec.name));
  }
  return out;
}

/** One service's settings as `osb endpoints --service NAME --format oslo|json|env` prints them. */
export function serviceEndpointsText(d: ServiceSource, eps: Endpoints, service: string, format: 'oslo' | 'json' | 'env' = 'oslo'): string {
  const s = settingsOf(d, eps, service);
  if (format === 'json') return JSON.stringify({ [s.service]: settingsJson(s) }, null, 2);
  if (format === 'env') return renderEnv(s);
  return renderOslo(s);
}
