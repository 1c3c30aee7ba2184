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
  /** Written by the daemon itself; holds the pid osb supervises. */
  pidFile: string;
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
}
