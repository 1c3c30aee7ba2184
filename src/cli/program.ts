import { Command, Option } from 'commander';
import { COMPONENTS } from '../config/schema.js';
import pkg from '../../package.json' with { type: 'json' };
import { collect, parseComponents, withOutput, type GlobalOptions } from './options.js';
import { registerExtraCommands } from './extra.js';
import { action } from './action.js';
import { terminalColumns, terminalHasColors, writeErr, writeOut } from '../util/output.js';

const OSB_VERSION = pkg.version;

export function buildProgram(): Command {
  const program = new Command('osb')
    // Pipes and files get plain writes, not Node's streams (util/output.ts); subcommands inherit this.
    .configureOutput({
      writeOut,
      writeErr,
      getOutHelpWidth: () => terminalColumns(1) ?? 80,
      getErrHelpWidth: () => terminalColumns(2) ?? 80,
      getOutHasColors: () => terminalHasColors(1),
      getErrHasColors: () => terminalHasColors(2),
    })
    .description(
      'Deploy the OpenStack backend tier — RabbitMQ, MariaDB (Galera) and Memcached — wait until it is ready,\n' +
        'test it, provision it for OpenStack services and print their connection settings.\n' +
        'Runs real daemons from the OS packages on this host (default target), or renders/applies Kubernetes objects.',
    )
    .version(OSB_VERSION, '-V, --version')
    .option('-f, --values <file>', 'YAML values file (repeatable; later files win)', collect)
    .option('--set <key=value>', 'override one config key, Helm style: --set mariadb.port=13306 (repeatable; KEY=null forgets a remembered value)', collect)
    .option('--reset-values', 'forget values remembered from earlier deploys (like helm --reset-values)')
    .option('--state-dir <dir>', 'where this deployment lives (env OSB_STATE_DIR; default $XDG_STATE_HOME/osb or ~/.local/state/osb)')
    .addOption(new Option('--target <target>', 'where to deploy').choices(['local', 'kubernetes']))
    .option('-q, --quiet', 'print only results and errors')
    .option('-v, --verbose', 'print every progress line')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Examples:
  osb deploy                                 deploy RabbitMQ, MariaDB and Memcached on this host
  osb deploy mariadb --set mariadb.port=13306
  osb status                                 health of every component (exit 0 only when all healthy)
  osb test                                   the helm-test equivalent over real connections
  osb endpoints --service nova --format oslo oslo.config lines for a service
  osb metrics --format prometheus            scrape_configs for every exporter (alert rules: --rules)
  osb destroy --keep-data                    stop everything, keep the data for the next deploy

Config keys (values files or --set): bindAddress, rabbitmq.{enabled,replicas,port,managementPort},
  mariadb.{enabled,replicas,port,maxConnections,innodbBufferPoolMB}, memcached.{enabled,replicas,port,memoryMB,maxConnections},
  openstack.services — see README.md for all.`,
    );

  const g = (cmd: Command) => cmd.optsWithGlobals() as GlobalOptions;

  withOutput(program.command('deploy'))
    .description('deploy components (default: all, in parallel), wait until each answers its protocol, provision OpenStack services; idempotent')
    .argument('[components...]', `any of ${COMPONENTS.join(', ')}`)
    .option('--namespace <ns>', 'Kubernetes namespace (kubernetes target)')
    .option('--context <name>', 'kubeconfig context (kubernetes target)')
    .action(action(async (names: string[], _o, cmd: Command) => (await import('./commands/deploy.js')).deployCommand(parseComponents(names), g(cmd))));

  withOutput(program.command('status'))
    .description('per component: running, pids, address, version, uptime, data size and a live protocol check; exit 0 only when all are healthy')
    .argument('[components...]', `any of ${COMPONENTS.join(', ')}`)
    .option('--namespace <ns>', 'Kubernetes namespace (kubernetes target)')
    .option('--context <name>', 'kubeconfig context (kubernetes target)')
    .action(action(async (names: string[], _o, cmd: Command) => (await import('./commands/status.js')).statusCommand(parseComponents(names), g(cmd))));

  withOutput(program.command('test'))
    .description('the helm-test equivalent over real connections: queue round trip with confirms, table write/read, cache set/get/stats')
    .argument('[components...]', `any of ${COMPONENTS.join(', ')}`)
    .option('--namespace <ns>', 'Kubernetes namespace (kubernetes target)')
    .option('--context <name>', 'kubeconfig context (kubernetes target)')
    .action(action(async (names: string[], _o, cmd: Command) => (await import('./commands/test.js')).testCommand(parseComponents(names), g(cmd))));

  withOutput(program.command('endpoints'))
    .description('addresses and credentials clients need; per OpenStack service with --service')
    .option('--service <name>', 'one OpenStack service (its own credentials)')
    .addOption(new Option('--format <format>', 'output for --service').choices(['oslo', 'json', 'env']).default('oslo'))
    .option('--namespace <ns>', 'Kubernetes namespace (kubernetes target)')
    .action(action(async (o, cmd: Command) => (await import('./commands/endpoints.js')).endpointsCommand({ ...g(cmd), ...o })));

  program
    .command('logs')
    .description("print a component's daemon log")
    .argument('<component>', `one of ${COMPONENTS.join(', ')}`)
    .option('-f, --follow', 'keep printing new lines')
    .option('-n, --lines <n>', 'lines to show', '100')
    .option('--node <ordinal>', 'node of a cluster', '0')
    .action(
      action(async (name: string, o, cmd: Command) => (await import('./commands/logs.js')).logsCommand(parseComponents([name])[0]!, { ...g(cmd), ...o })),
    );

  program
    .command('destroy')
    .description('stop the daemons and remove their state; --keep-data keeps data for the next deploy. Leaves no process behind')
    .argument('[components...]', `any of ${COMPONENTS.join(', ')}`)
    .option('--keep-data', 'stop only; keep data dirs, secrets and config')
    .option('--delete-data', 'kubernetes target: also delete PersistentVolumeClaims')
    .option('--namespace <ns>', 'Kubernetes namespace (kubernetes target)')
    .option('--context <name>', 'kubeconfig context (kubernetes target)')
    .action(
      action(async (names: string[], o, cmd: Command) => (await import('./commands/destroy.js')).destroyCommand(parseComponents(names), { ...g(cmd), ...o })),
    );

  program
    .command('metrics')
    .description('every Prometheus scrape target of the deployment; --format prometheus prints a scrape_configs snippet, --rules the alert rule file')
    .argument('[components...]', `any of ${COMPONENTS.join(', ')}`)
    .addOption(new Option('--format <format>', 'output').choices(['text', 'prometheus']).default('text'))
    .option('--rules', 'print the Prometheus alert rule file (thresholds follow the config)')
    .option('--json', 'print the targets as JSON')
    .option('--namespace <ns>', 'Kubernetes namespace (kubernetes target: the pod DNS names)')
    .option('--textfile', "print the node certificates' expiry for node_exporter's textfile collector (local target, tls.enabled)")
    .action(action(async (names: string[], o, cmd: Command) => (await import('./commands/metrics.js')).metricsCommand(names, { ...g(cmd), ...o })));

  registerExtraCommands(program, action, g);
  return program;
}
