import type { Command } from 'commander';
import type { ActionWrapper } from './main.js';
import type { GlobalOptions } from './options.js';

/** Commands beyond the core lifecycle (provisioning, clusters, Kubernetes rendering). */
export function registerExtraCommands(program: Command, wrap: ActionWrapper, g: (cmd: Command) => GlobalOptions): void {
  {
    program
      .command('provision')
      .description('create databases (utf8mb4), users, vhosts and grants for OpenStack services (default: all in openstack.services); idempotent')
      .argument('[services...]', 'services from openstack.services')
      .option('--json', 'print JSON')
      .action(wrap(async (services: string[], _o, cmd: Command) => (await import('./commands/provision.js')).provisionCommand(services, g(cmd))));
    program
      .command('deprovision')
      .description("drop a service's databases, user and vhost (data is lost; needs --yes)")
      .argument('<service>', 'service name')
      .option('--yes', 'confirm dropping its data')
      .option('--databases <list>', 'databases to drop, when osb cannot know them (comma separated)')
      .action(wrap(async (service: string, o, cmd: Command) => (await import('./commands/provision.js')).deprovisionCommand(service, { ...g(cmd), ...o })));
  }
}
