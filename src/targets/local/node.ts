import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { definition } from '../../components/index.js';
import type { LocalInstance } from '../../model/local.js';
import { OsbError } from '../../util/errors.js';
import { openDeployment } from './context.js';
import { localExtras, localInstances } from './instances.js';
import { writeInstanceFiles } from './runner.js';
import { dataDisk, diskFullMessage } from './status.js';
import { ONE_SHOT_ARGS } from './supervisor.js';
import { START_ENV_FILE } from './systemd.js';

/**
 * `osb node prepare NODE`: what a unit runs before each start of its daemon (ExecStartPre), whether
 * `osb deploy` started it or systemd restarts it after a crash or a reboot. Writes the node's files,
 * then the daemon's extra args for this start into osb-start.env: the ones `osb deploy` chose (a
 * one-shot file), else the component's own decision (Galera: join or bootstrap). Exits non-zero with
 * the reason (in the journal) when the node must not start.
 */
export async function prepareNode(stateDir: string, name: string, report: (m: string) => void): Promise<string[]> {
  const d = openDeployment({ stateDir });
  let found: { inst: LocalInstance; peers: LocalInstance[] } | undefined;
  for (const [component, list] of localInstances(d.config, d.stateDir, d.secrets)) {
    const all = [...list, ...localExtras(d.config, d.stateDir, d.secrets, component)];
    const inst = all.find((i) => i.name === name);
    if (inst) found = { inst, peers: list };
  }
  if (!found)
    throw new OsbError(`no node "${name}" in the deployment at ${d.stateDir}`, 'run `osb deploy` to rewrite the units, or `osb destroy` to remove them');
  const { inst, peers } = found;
  // A node started on a full filesystem fails again at once, and a Galera joiner stalls its peers' commits
  // (flow control) until it does: refuse, so that systemd gives up after its start limit (docs/faults.md).
  const disk = peers.includes(inst) ? dataDisk(inst) : undefined;
  if (disk?.full) {
    throw new OsbError(
      `${inst.name} must not start: ${diskFullMessage(disk)}`,
      `free space on ${disk.mount}, then start it again: \`osb deploy\` (under systemd: systemctl restart the node's unit)`,
    );
  }
  writeInstanceFiles(inst);
  const oneShot = join(inst.dir, ONE_SHOT_ARGS);
  let args: string[];
  if (existsSync(oneShot)) {
    // Chosen by the `osb deploy` that is starting this unit right now.
    args = JSON.parse(readFileSync(oneShot, 'utf8')) as string[];
    rmSync(oneShot, { force: true });
  } else {
    if (inst.initialize && !inst.isInitialized() && d.state.instances[inst.name]) {
      throw new OsbError(
        `${inst.name} must not start: it ran before, and its data is gone (${inst.dir})`,
        `if the disk was replaced on purpose, rebuild it from its peers with \`osb deploy ${inst.component}\`; otherwise restore the data first`,
      );
    }
    // Only a node decides how to (re)join its cluster; processes beside the nodes (proxy, exporters) just start.
    const isNode = peers.includes(inst);
    args = (isNode ? await definition(inst.component).local.prepare?.(d.config, d.secrets, inst, peers, report) : undefined) ?? [];
  }
  writeFileSync(join(inst.dir, START_ENV_FILE), `OSB_START_ARGS=${args.join(' ')}\n`, { mode: 0o600 });
  report(`${inst.name}: starting${args.length ? ` with ${args.join(' ')}` : ''}`);
  return args;
}
