import type { ComponentName } from '../config/schema.js';

export interface RenderedFile {
  path: string;
  content: string;
  /** Defaults to 0o644; secrets use 0o600 or 0o400. */
  mode?: number;
}

/**
 * Everything the local target needs to run one node of one component. Built by the
 * component (it knows its daemon); executed by the local target (it knows processes).
 */
export interface LocalInstance {
  component: ComponentName;
  ordinal: number;
  name: string;
  dir: string;
  /** Directories created (0700) before anything else. */
  dirs: string[];
  files: RenderedFile[];
  command: string;
  args: string[];
  env: Record<string, string>;
  /** Written by the daemon itself (or, for a process that `writesNoPidFile`, by the local target); holds the pid osb supervises. */
  pidFile: string;
  /** The process writes no pid file (an exporter): the local target writes the pid it started. */
  writesNoPidFile?: boolean;
  /** The daemon's own log (what `osb logs` shows). */
  logFile: string;
  /** stdout/stderr of the process osb started. */
  consoleLog: string;
  ports: { port: number; key: string }[];
  host: string;
  port: number;
  /** True when the data dir holds an initialised instance. */
  isInitialized(): boolean;
  /** One-time data dir initialisation (e.g. mariadb-install-db). */
  initialize?(): Promise<void>;
  /** One protocol round trip; resolves when the daemon answers, throws otherwise. */
  probe(): Promise<void>;
  /** Runs after the first successful probe of a start: accounts, hardening. Idempotent. */
  afterReady?(): Promise<void>;
  /** Helpers that must run before the daemon (e.g. a private epmd). */
  helpers?: LocalHelper[];
  /** Substring that the daemon's /proc/PID/cmdline must contain (guards against pid reuse). */
  cmdlineMarker: string;
  /** How long a graceful stop may take before SIGKILL. */
  stopTimeoutMs: number;
  startTimeoutMs: number;
  /**
   * Under a supervisor (systemd) the daemon runs in the foreground: these args replace `args` when they
   * differ (e.g. HAProxy's -Ws instead of -D); `notify`: it reports readiness with sd_notify.
   */
  foreground?: { args?: string[]; notify?: boolean };
  /** Open files the daemon needs (systemd LimitNOFILE=). */
  limitNofile?: number;
}

export interface LocalHelper {
  name: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  pidFile: string;
  cmdlineMarker: string;
  /** Resolves when the helper serves. */
  probe(): Promise<void>;
  /** Under a supervisor: the foreground args, when they differ from `args`. */
  foreground?: { args?: string[]; notify?: boolean };
}

export type NodeAction = 'unchanged' | 'started' | 'restarted' | 'recovered';

/** What happened to one node (or proxy/helper process) during a deploy. */
export interface NodeResult {
  name: string;
  address: string;
  action: NodeAction;
  reason?: string;
  pid: number;
}

/** What must happen to one node, decided before anything changes. */
export interface NodePlan {
  inst: LocalInstance;
  hash: string;
  pid: number | undefined;
  action: NodeAction;
  reason?: string;
}

/**
 * What the local target lends a component's own orchestration (Galera formation, the proxy):
 * the shared per-node steps. Implemented in src/targets/local; components only call it.
 */
export interface LocalRuntime {
  readonly stateDir: string;
  /** Plans a process: compares its fingerprint and pid with the recorded state. */
  plan(inst: LocalInstance): NodePlan;
  /** The default reconcile of one planned node: stop if changed, start, wait until ready, record. */
  apply(plan: NodePlan, report: (m: string) => void): Promise<NodeResult>;
  /** Writes files, initialises, starts helpers and the daemon, waits until its probe answers; returns its pid. */
  start(inst: LocalInstance, opts?: { extraArgs?: string[]; onProgress?: (m: string) => void }): Promise<number>;
  stop(inst: LocalInstance): Promise<boolean>;
  runningPid(inst: Pick<LocalInstance, 'pidFile' | 'cmdlineMarker'>): number | undefined;
  /** Records a started process in the state file (its fingerprint and ports). */
  record(plan: NodePlan): void;
  /** True when this process was started before (it has a record in the state file). */
  known(name: string): boolean;
}
