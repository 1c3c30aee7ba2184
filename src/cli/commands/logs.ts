import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { ComponentName } from '../../config/schema.js';
import { OsbError } from '../../util/errors.js';
import { openDeployment } from '../../targets/local/context.js';
import { localInstances } from '../../targets/local/instances.js';
import { type GlobalOptions, sources } from '../options.js';

export async function logsCommand(component: ComponentName, o: GlobalOptions & { follow?: boolean; lines?: string; node?: string }): Promise<number> {
  const d = openDeployment(sources(o));
  const list = localInstances(d.config, d.stateDir, d.secrets, [component]).get(component);
  if (!list) throw new OsbError(`${component} is not enabled in this deployment`, 'see `osb status`');
  const ordinal = Number(o.node ?? 0);
  const inst = list[ordinal];
  if (!inst) throw new OsbError(`${component} has no node ${o.node} (it has ${list.length})`, `use --node 0..${list.length - 1}`, 2);
  const lines = Number(o.lines ?? 100);
  if (!Number.isInteger(lines) || lines < 0) throw new OsbError(`--lines ${o.lines} is not a number of lines`, 'e.g. --lines 200', 2);
  if (!existsSync(inst.logFile)) throw new OsbError(`no log yet at ${inst.logFile}`, `has ${component} been deployed? run \`osb deploy ${component}\``);
  // tail(1) handles rotation and follow (-F) the way operators expect.
  const child = spawn('tail', ['-n', String(lines), ...(o.follow ? ['-F'] : []), inst.logFile], { stdio: 'inherit' });
  return new Promise((resolve) => {
    child.on('close', (code) => resolve(code ?? 0));
    process.on('SIGINT', () => child.kill('SIGINT'));
  });
}
