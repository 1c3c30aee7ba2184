import { existsSync, readdirSync, rmSync } from 'node:fs';
import type { ComponentName, Config } from '../../config/schema.js';
import { COMPONENTS } from '../../config/schema.js';
import { placeholderSecrets, readSecrets } from '../../config/secrets.js';
import type { LocalInstance } from '../../model/local.js';
import { definition } from '../../components/index.js';
import { localExtras, localInstances } from './instances.js';
import { withStateLock } from './lock.js';
import { supervisorFor } from './supervisor.js';
import { scheduledJobs } from './schedules.js';
import { componentDir, resolveStateDir } from '../../config/state-dir.js';
import { stopHelper, stopInstance } from './runner.js';
import { readState, stateFile, writeState } from './state.js';
import { validateConfig } from '../../config/load.js';
import type { Progress } from '../../util/progress.js';

export interface DestroyOptions {
  stateDir?: string;
  components?: ComponentName[];
  keepData?: boolean;
  progress: Progress;
}

export interface DestroyResult {
  stateDir: string;
  stopped: string[];
  removed: string[];
  nothingDeployed: boolean;
}

/** Node dirs on disk can outnumber the config (replicas lowered): stop what exists. */
function configCoveringDisk(config: Config, stateDir: string): Config {
  const copy = structuredClone(config);
  for (const c of COMPONENTS) {
    const dir = componentDir(stateDir, c);
    const onDisk = existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith(`${c}-`)).length : 0;
    copy[c].replicas = Math.max(copy[c].replicas, onDisk);
    copy[c].enabled = copy[c].enabled || onDisk > 0;
  }
  return copy;
}

export async function destroyLocal(opts: DestroyOptions): Promise<DestroyResult> {
  const stateDir = resolveStateDir(opts.stateDir);
  const state = readState(stateDir);
  const secrets = readSecrets(stateDir);
  if (!existsSync(stateDir) || (!state && !secrets && !COMPONENTS.some((c) => existsSync(componentDir(stateDir, c))))) {
    return { stateDir, stopped: [], removed: [], nothingDeployed: true };
  }
  return withStateLock(stateDir, async () => {
    const config = configCoveringDisk(validateConfig(state?.userValues ?? {}), stateDir);
    const targets = opts.components?.length ? opts.components : [...COMPONENTS];
    const fakeSecrets = secrets ?? placeholderSecrets();
    const instances = localInstances(config, stateDir, fakeSecrets, targets);
    const stopped: string[] = [];
    const removed: string[] = [];
    // Units first (systemd would restart what is killed), then whatever still runs detached.
    const supervisor = supervisorFor(stateDir);
    const everything = targets.length === COMPONENTS.length;
    if (supervisor.choice.kind === 'systemd') {
      // Scheduled jobs first (nothing may start a backup of what is going away): those of what stays are kept.
      const stays = everything ? [] : COMPONENTS.filter((c) => !targets.includes(c) && Object.keys(state?.instances ?? {}).some((n) => n.startsWith(`${c}-`)));
      const change = await supervisor.schedule(scheduledJobs(config, stateDir, stays));
      removed.push(...change.removedFiles);
      const all = [...instances].flatMap(([c, list]) => [...list, ...localExtras(config, stateDir, fakeSecrets, c)]);
      const active = await Promise.all(all.map(async (i) => ((await supervisor.status(i))?.activeState ?? 'inactive') !== 'inactive'));
      removed.push(...(await supervisor.uninstall(all, everything)));
      stopped.push(...all.filter((_, k) => active[k]).map((i) => i.name));
    }
    await opts.progress.run(
      [...instances].map(([component, list]) => ({
        title: `${component}: stop${opts.keepData ? '' : ' and remove'}`,
        task: async (report: (m: string) => void) => {
          await Promise.all(
            list.map(async (inst: LocalInstance) => {
              if ((await stopInstance(inst, !opts.keepData)) && !stopped.includes(inst.name)) {
                stopped.push(inst.name);
                report(`${inst.name} stopped`);
              }
              const leftovers = definition(component).local.stopLeftovers?.(inst) ?? 0;
              if (leftovers) report(`${inst.name}: ended ${leftovers} process(es) it had started (a state transfer)`);
            }),
          );
          const extras = localExtras(config, stateDir, fakeSecrets, component, true);
          for (const extra of extras) if ((await stopInstance(extra)) && !stopped.includes(extra.name)) stopped.push(extra.name);
          const helpers = new Map(list.flatMap((i) => i.helpers ?? []).map((h) => [h.pidFile, h]));
          for (const h of helpers.values()) await stopHelper(h);
          if (!opts.keepData) {
            rmSync(componentDir(stateDir, component), { recursive: true, force: true });
            removed.push(componentDir(stateDir, component));
            if (state) for (const i of [...list, ...extras]) delete state.instances[i.name];
          }
        },
      })),
      { concurrent: true },
    );
    if (!opts.keepData) {
      const left = COMPONENTS.filter((c) => existsSync(componentDir(stateDir, c)));
      if (left.length === 0) {
        for (const f of ['secrets.json', 'state.json', 'osb.lock.tmp']) rmSync(`${stateDir}/${f}`, { force: true });
        removed.push(stateFile(stateDir));
      } else if (state) writeState(stateDir, state);
    }
    return { stateDir, stopped, removed, nothingDeployed: false };
  });
}
