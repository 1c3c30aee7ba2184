import { writeErr } from '../util/output.js';
import type { Command } from 'commander';
import type { ActionWrapper } from './action.js';
import { collect, type GlobalOptions, withOutput } from './options.js';

/** Commands beyond the core lifecycle (provisioning, clusters, Kubernetes rendering). */
export function registerExtraCommands(program: Command, wrap: ActionWrapper, g: (cmd: Command) => GlobalOptions): void {
  withOutput(program.command('provision'))
    .description('create databases (utf8mb4), users, vhosts and grants for OpenStack services (default: all in openstack.services); idempotent')
    .argument('[services...]', 'services from openstack.services')
    .action(wrap(async (services: string[], _o, cmd: Command) => (await import('./commands/provision.js')).provisionCommand(services, g(cmd))));
  program
    .command('deprovision')
    .description("drop a service's databases, user and vhost (data is lost; needs --yes)")
    .argument('<service>', 'service name')
    .option('--yes', 'confirm dropping its data')
    .option('--databases <list>', 'databases to drop, when osb cannot know them (comma separated)')
    .action(wrap(async (service: string, o, cmd: Command) => (await import('./commands/provision.js')).deprovisionCommand(service, { ...g(cmd), ...o })));
  program
    .command('restart')
    .description('restart components; --rolling goes one node at a time, each healthy (Galera Synced, RabbitMQ quorum members back) before the next')
    .argument('[components...]', 'any of rabbitmq, mariadb, memcached')
    .option('--rolling', 'one node at a time, waiting for health in between')
    .action(
      wrap(async (names: string[], o, cmd: Command) => {
        const { parseComponents } = await import('./options.js');
        return (await import('./commands/cluster.js')).restartCommand(parseComponents(names), { ...g(cmd), ...o });
      }),
    );
  program
    .command('recover')
    .description('bring a fully stopped Galera cluster back from a node you choose, when `osb deploy` refused to choose for you')
    .requiredOption('--force-bootstrap <node>', 'node to bootstrap from, e.g. mariadb-0 (its data wins; writes only on other nodes are lost)')
    .action(wrap(async (o, cmd: Command) => (await import('./commands/cluster.js')).recoverCommand({ ...g(cmd), ...o })));
  program
    .command('heal')
    .description(
      'restart nodes that run but are stuck where their daemon never recovers by itself (Galera Disconnected, a RabbitMQ partition recorded after every node came back); under systemd a timer runs this every 15s',
    )
    .action(wrap(async (_o, cmd: Command) => (await import('./commands/cluster.js')).healCommand(g(cmd))));
  // Hidden: what systemd units run before each start of a node (docs/supervision.md).
  const node = program.command('node', { hidden: true }).description('steps the units of a supervised deployment run');
  node
    .command('prepare')
    .description("write a node's files and decide its start arguments (Galera: join or bootstrap)")
    .argument('<node>', 'e.g. mariadb-1')
    .action(
      wrap(async (name: string, _o, cmd: Command) => {
        const { prepareNode } = await import('../targets/local/node.js');
        const { resolveStateDir } = await import('../config/state-dir.js');
        await prepareNode(resolveStateDir(g(cmd).stateDir), name, (m) => writeErr(`osb: ${m}\n`));
        return 0;
      }),
    );
  // Hidden: how osb runs its own exporters as supervised processes (one per memcached node).
  const exporter = program.command('exporter', { hidden: true }).description("run one of osb's Prometheus exporters in the foreground");
  exporter
    .command('memcached')
    .description('serve memcached `stats` in Prometheus format on /metrics')
    .requiredOption('--listen <host:port>', 'address to serve /metrics on')
    .option('--server <host:port>', 'memcached server (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .action(wrap(async (o: { listen: string; server: string[] }) => (await import('./commands/exporter.js')).memcachedExporterCommand(o)));
  const certs = program.command('certs').description('TLS certificates of the local target (tls.enabled)');
  certs
    .command('rotate')
    .description('issue a new certificate for every node and make each running daemon load it without a restart')
    .argument('[components...]', 'any of rabbitmq, mariadb, memcached (default: all deployed)')
    .option('--ca', "first a new CA (osb's own): old and new CA are trusted until every node carries a certificate from the new one")
    .option('--json', 'print JSON')
    .action(
      wrap(async (names: string[], o: { ca?: boolean }, cmd: Command) => {
        const { parseComponents } = await import('./options.js');
        return (await import('./commands/certs.js')).certsRotateCommand(parseComponents(names), { ...g(cmd), ca: o.ca });
      }),
    );
  certs
    .command('renew')
    .description(
      'renew only the node certificates that are due (past 2/3 of their lifetime, a SAN missing, from a retired CA) and reload them without a restart; nothing due: says so and changes nothing (the daily certs timer runs this)',
    )
    .option('--json', 'print JSON')
    .action(wrap(async (_o, cmd: Command) => (await import('./commands/certs.js')).certsRenewCommand(g(cmd))));
  program
    .command('render')
    .description('print the Kubernetes objects of the desired state as a YAML stream (kubectl apply -f -, Argo CD, Flux); contacts no cluster')
    .argument('[components...]', 'any of rabbitmq, mariadb, memcached (default: every enabled one)')
    .option('--namespace <ns>', 'Kubernetes namespace (default: kubernetes.namespace, "openstack")')
    .action(wrap(async (names: string[], _o, cmd: Command) => (await import('./commands/render.js')).renderCommand(names, g(cmd))));
  program
    .command('completion')
    .description('print a shell completion script (bash, zsh or fish); see README "Shell completion"')
    .argument('<shell>', 'bash, zsh or fish')
    .action(wrap(async (shell: string) => (await import('./commands/completion.js')).completionCommand(shell, program)));
  withOutput(program.command('version'))
    .description("osb's version, the daemon packages installed on this host and the images the Kubernetes target runs")
    .action(wrap(async (_o, cmd: Command) => (await import('./commands/version.js')).versionCommand(g(cmd))));
  withOutput(program.command('doctor'))
    .description(
      'check this host (or, with --target kubernetes, the cluster) before a deploy: packages, supervision, ports, disk, memory, limits, clock, state dir; exit 0 only when a deploy would work',
    )
    .argument('[components...]', 'any of rabbitmq, mariadb, memcached (default: every enabled one)')
    .option('--namespace <ns>', 'Kubernetes namespace (kubernetes target)')
    .option('--context <name>', 'kubeconfig context (kubernetes target)')
    .action(wrap(async (names: string[], _o, cmd: Command) => (await import('./commands/doctor.js')).doctorCommand(names, g(cmd))));
  registerBackupCommands(program, wrap, g);
}

/** `osb backup [verify|list|archive-binlogs]` (local target) and `osb restore` (both targets; docs/backup.md). */
function registerBackupCommands(program: Command, wrap: ActionWrapper, g: (cmd: Command) => GlobalOptions): void {
  const cmds = () => import('./commands/backup.js');
  const backup = program
    .command('backup')
    .description(
      'back up MariaDB (mariadb-backup, from a Synced non-writer Galera node) and the RabbitMQ definitions into a folder with a manifest; ' +
        'with --logical, per-service dumps (mariadb-dump) of the named services and their accounts',
    )
    .argument('[services...]', 'with --logical: services from openstack.services (default: every provisioned one)')
    .option('--incremental', 'only what changed since the newest backup (its chain must be intact)')
    .option('--logical', 'per-service logical dumps (mariadb-dump --single-transaction) and accounts, to load into a running deployment')
    .option('--to <dir>', 'backups folder (default: backup.dir, else <state dir>/backups)')
    .option('--verify', 'then verify the new backup as `osb backup verify` does (files re-read, chain restored again); exit 1 when it fails')
    .option('--json', 'print JSON')
    .action(wrap(async (services: string[], _o, cmd: Command) => (await cmds()).backupCommand(services, { ...g(cmd), ...cmd.opts() })));
  backup
    .command('verify')
    .description(
      'restore a backup (default: the newest) into a scratch server on a free port and check it (a logical backup: tables and row counts); exit 1 when it fails',
    )
    .argument('[backup]', 'backup id or folder')
    .option('--to <dir>', 'backups folder')
    .option('--json', 'print JSON')
    .action(wrap(async (id: string | undefined, _o, cmd: Command) => (await cmds()).verifyCommand(id, { ...g(cmd), ...cmd.opts() })));
  backup
    .command('list')
    .description('backups (physical and logical) with their chain or services, size and verification, and the point-in-time window')
    .option('--to <dir>', 'backups folder')
    .option('--json', 'print JSON')
    .action(wrap(async (_o, cmd: Command) => (await cmds()).listCommand({ ...g(cmd), ...cmd.opts() })));
  backup
    .command('archive-binlogs')
    .description(
      'copy closed MariaDB binlogs into the backups folder (backup.pitr); under systemd `osb deploy` installs a timer that runs it every minute, elsewhere it prints the crontab line',
    )
    .option('--to <dir>', 'backups folder')
    .option('--json', 'print JSON')
    .action(wrap(async (_o, cmd: Command) => (await cmds()).archiveCommand({ ...g(cmd), ...cmd.opts() })));
  program
    .command('restore')
    .description(
      'restore a physical backup into a fresh deployment (another --state-dir, or this one after osb destroy; with --target kubernetes ' +
        'MariaDB into a fresh StatefulSet), or load a logical one into a running deployment; refuses a damaged or incomplete backup before changing anything',
    )
    .argument('<backup>', 'backup id (under the backups folder; on Kubernetes a folder of the mariadb-backups volume) or folder')
    .option('--to-time <time>', "point in time, this host's local 'YYYY-MM-DD HH:MM:SS' (needs backup.pitr and archived binlogs)")
    .option('--service <name>', 'logical backup: load only this service (repeatable; default: every service in it)', collect)
    .option(
      '--replace',
      'logical backup: drop and reload the service databases that already hold data (their current data is lost); kubernetes target: stop the running MariaDB StatefulSet and delete its data claims once the backup is checked',
    )
    .option('--namespace <ns>', 'Kubernetes namespace (kubernetes target)')
    .option('--context <name>', 'kubeconfig context (kubernetes target)')
    .option('--json', 'print JSON')
    .action(wrap(async (id: string, _o, cmd: Command) => (await cmds()).restoreCommand(id, { ...g(cmd), ...cmd.opts() })));
}
