import type { Secrets } from '../../src/config/secrets.js';

/** Fixed credentials so that the golden files do not depend on random passwords. */
export const FIXED_SECRETS = (): Secrets => ({
  mariadbAdminPassword: 'MariadbAdminPasswordForGoldenTests0000000',
  rabbitmqAdminPassword: 'RabbitmqAdminPasswordForGoldenTests000000',
  erlangCookie: 'ERLANGCOOKIEFORGOLDENTESTS000000000000000000000000',
  mariadbExporterPassword: 'MariadbExporterPasswordForGoldenTests0000',
  services: Object.fromEntries(['keystone', 'glance', 'placement', 'nova', 'neutron', 'cinder'].map((s) => [s, `${s}PasswordForGoldenTests`.padEnd(40, '0')])),
});
