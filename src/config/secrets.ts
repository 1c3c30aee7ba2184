import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OsbError } from '../util/errors.js';
import { crypto } from '../util/builtin.js';

/** Letters and digits only: safe unescaped in a URL, an ini file and a shell. */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function generatePassword(length = 40): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[crypto().randomInt(ALPHABET.length)];
  return out;
}

export interface Secrets {
  mariadbAdminPassword: string;
  rabbitmqAdminPassword: string;
  erlangCookie: string;
  /**
   * prometheus-mysqld-exporter's own account (`osb_exporter@localhost`). Secrets files written
   * before it existed lack it: `ensureSecrets` adds it on the next deploy.
   */
  mariadbExporterPassword: string;
  /** Per OpenStack service, generated on first provisioning. */
  services: Record<string, string>;
}

export const SECRETS_FILE = 'secrets.json';

export function secretsPath(stateDir: string): string {
  return join(stateDir, SECRETS_FILE);
}

export function readSecrets(stateDir: string): Secrets | undefined {
  const file = secretsPath(stateDir);
  if (!existsSync(file)) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Secrets;
    if (!parsed.mariadbAdminPassword || !parsed.rabbitmqAdminPassword || !parsed.erlangCookie) throw new Error('missing fields');
    parsed.services ??= {};
    parsed.mariadbExporterPassword ??= '';
    return parsed;
  } catch (err) {
    throw new OsbError(
      `secrets file ${file} is damaged (${(err as Error).message})`,
      'restore it from a backup, or run `osb destroy` and deploy again (data will be re-created)',
    );
  }
}

export function writeSecrets(stateDir: string, secrets: Secrets): void {
  const file = secretsPath(stateDir);
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

/** Secrets of this deployment, created (0600) on first use and reused afterwards. */
export function ensureSecrets(stateDir: string): Secrets {
  const existing = readSecrets(stateDir);
  if (existing) {
    if (!existing.mariadbExporterPassword) {
      existing.mariadbExporterPassword = generatePassword();
      writeSecrets(stateDir, existing);
    }
    return existing;
  }
  const fresh: Secrets = {
    mariadbAdminPassword: generatePassword(),
    rabbitmqAdminPassword: generatePassword(),
    erlangCookie: generatePassword(48).toUpperCase(),
    mariadbExporterPassword: generatePassword(),
    services: {},
  };
  writeSecrets(stateDir, fresh);
  return fresh;
}

/** Stand-in secrets for commands that only stop processes of a deployment whose secrets file is gone. */
export const placeholderSecrets = (): Secrets => ({
  mariadbAdminPassword: 'x',
  rabbitmqAdminPassword: 'x',
  erlangCookie: 'x',
  mariadbExporterPassword: 'x',
  services: {},
});
