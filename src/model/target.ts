import type { ComponentName } from '../config/schema.js';
import type { Progress } from '../util/progress.js';

/** What a command produced: data for `--json`, text for a terminal, and the exit code. */
export interface Outcome {
  exitCode: number;
  json: unknown;
  text: string;
}

export interface TargetRequest {
  components: ComponentName[];
  progress: Progress;
  /** Progress lines outside task lists (quiet: dropped). */
  log: (line: string) => void;
  quiet?: boolean;
}

export interface EndpointsRequest {
  service?: string;
  format?: 'oslo' | 'json' | 'env';
  /** The caller prints JSON (warnings must not go to stdout or pollute it). */
  json?: boolean;
  quiet?: boolean;
}

/**
 * Where a deployment lives. The CLI picks one (--target, or the `target` config key) and calls
 * it; every command that both targets support goes through here.
 */
export interface Target {
  readonly kind: 'local' | 'kubernetes';
  deploy(req: TargetRequest): Promise<Outcome>;
  status(req: TargetRequest): Promise<Outcome>;
  /** The helm-test equivalent; `onLine` streams results as they come (text mode). */
  test(req: TargetRequest & { onLine?: (line: string) => void }): Promise<Outcome>;
  endpoints(req: EndpointsRequest): Promise<Outcome>;
  destroy(req: TargetRequest & { keepData?: boolean; deleteData?: boolean }): Promise<Outcome>;
  /** `osb restore`: a backup into a fresh deployment; refuses a damaged chain before changing anything (docs/backup.md). */
  restore(req: RestoreRequest): Promise<Outcome>;
}

export interface RestoreRequest {
  /** Backup id (or, locally, a folder). */
  backup: string;
  /** Point in time, this host's local 'YYYY-MM-DD HH:MM:SS'. */
  toTime?: string;
  /** Logical backups (local target): only these services. */
  services?: string[];
  /** Logical backups: drop and reload databases that hold data. Kubernetes: stop the running workload and delete its data claims once the backup is checked. */
  replace?: boolean;
  progress: Progress;
  log: (line: string) => void;
}

/** Where a deployment's config and state come from: values files, --set, the state dir; Kubernetes' namespace and context. */
export interface TargetSources {
  values?: string[];
  set?: string[];
  stateDir?: string;
  resetValues?: boolean;
  namespace?: string;
  context?: string;
}
