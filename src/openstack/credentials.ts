import type { Config } from '../config/schema.js';
import { generatePassword, writeSecrets, type Secrets } from '../config/secrets.js';
import { serviceSpecs, type ServiceSpec } from '../model/services.js';

/** Password of a service: the configured one, else the stored one, else a new one (saved, 0600). */
export function servicePassword(stateDir: string, secrets: Secrets, spec: ServiceSpec, persist = true): string {
  if (spec.configuredPassword) return spec.configuredPassword;
  let pw = secrets.services[spec.name];
  if (!pw) {
    pw = generatePassword();
    secrets.services[spec.name] = pw;
    if (persist) writeSecrets(stateDir, secrets);
  }
  return pw;
}

export function findService(config: Config, name: string): ServiceSpec | undefined {
  return serviceSpecs(config).find((s) => s.name === name);
}
