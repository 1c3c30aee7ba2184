import type { ComponentName, Config } from '../config/schema.js';
import type { Secrets } from '../config/secrets.js';
import type { Endpoints } from './endpoints.js';
import type { LocalInstance, LocalRuntime } from './local.js';
import type { ServiceSpec } from './services.js';

/** One file of a backup: path relative to the backup folder, size and SHA-256. */
export interface BackupFile {
  path: string;
  size: number;
  sha256: string;
}

/** `manifest.json` of one backup folder. Everything needed to check it before a restore touches anything. */
export interface BackupManifest {
  format: 1;
  /** The folder name; unique and sortable (UTC time of the start). */
  id: string;
  /** Physical (`full`, `incremental`: the whole deployment) or `logical` (per-service dumps, `osb backup --logical`). */
  kind: 'full' | 'incremental' | 'logical';
  /** The backup an incremental applies on top of (its folder name, a sibling of this one). */
  parent?: string;
  /** Logical backups: the OpenStack services it holds (each restorable on its own). */
  services?: string[];
  startedAt: string;
  finishedAt: string;
  osbVersion: string;
  /** The deployment's values (no secrets): a restore into an empty state dir reuses them. */
  userValues: Record<string, unknown>;
  /** Per component, what its backup hook recorded (server version, positions, contents...). */
  components: Partial<Record<ComponentName, Record<string, unknown>>>;
  /** Every file of the backup except manifest.json itself. */
  files: BackupFile[];
  totalBytes: number;
}

export interface BackupTakeContext {
  config: Config;
  secrets: Secrets;
  stateDir: string;
  /** This component's folder inside the backup folder (created, empty). */
  dir: string;
  /** The parent backup's folder for this component, when an incremental is asked for. */
  parentDir?: string;
  /** The parent's manifest section for this component. */
  parentPart?: Record<string, unknown>;
  /** The running nodes of this component. */
  nodes: LocalInstance[];
  /** The proxy's current writer, when there is one (Galera). */
  writer?: string;
  report: (m: string) => void;
}

export interface BackupChainLink {
  /** This component's folder inside one backup of the chain, oldest (the full backup) first. */
  dir: string;
  part: Record<string, unknown>;
  manifest: BackupManifest;
}

export interface RestoreDataContext {
  config: Config;
  secrets: Secrets;
  runtime: LocalRuntime;
  /** The chain, full backup first, the backup to restore last. */
  chain: BackupChainLink[];
  /** The node instances of the target deployment. */
  nodes: LocalInstance[];
  /** Point-in-time: replay archived logs up to this local time ('YYYY-MM-DD HH:MM:SS'). */
  toTime?: string;
  /** Root of the backups (archived binlogs live there). */
  backupRoot: string;
  /** A scratch folder the hook may use (removed afterwards). */
  workDir: string;
  report: (m: string) => void;
}

export interface RestoredCheck {
  ok: boolean;
  problems: string[];
  /** Component-specific facts (table checksums, newest row time...). */
  facts: Record<string, unknown>;
}

export interface ScratchVerifyContext {
  config: Config;
  /** Secrets of the backed-up deployment (service passwords, for logging in as each service). */
  secrets: Secrets;
  chain: BackupChainLink[];
  workDir: string;
  port: number;
  host: string;
  report: (m: string) => void;
}

export interface LogicalTakeContext {
  config: Config;
  secrets: Secrets;
  stateDir: string;
  /** This component's folder inside the backup folder (created, empty). */
  dir: string;
  /** The running nodes of this component. */
  nodes: LocalInstance[];
  /** The services asked for (from openstack.services), or every configured one. */
  services: ServiceSpec[];
  /** The user named the services: one that is not provisioned is an error, not skipped. */
  explicit: boolean;
  report: (m: string) => void;
}

export interface LogicalRestoreContext {
  config: Config;
  secrets: Secrets;
  /** The target deployment's client endpoints (the writer: the proxy on Galera). */
  endpoints: Endpoints;
  /** This component's folder inside the backup and its manifest section. */
  dir: string;
  part: Record<string, unknown>;
  /** The services to restore (a subset of the backup's). */
  services: string[];
  /** Drop and reload databases that already hold data (otherwise refused). */
  replace: boolean;
  /** A private scratch folder (0700, removed afterwards). */
  workDir: string;
  report: (m: string) => void;
}

export interface LogicalVerifyContext {
  dir: string;
  part: Record<string, unknown>;
  /** The backed-up services' passwords (each logs in to its databases as its oslo.db URL does). */
  passwords: Record<string, string>;
  workDir: string;
  port: number;
  host: string;
  report: (m: string) => void;
}

/** Per-service logical dumps: `osb backup --logical`, `osb restore` of one, `osb backup verify` of one. */
export interface LogicalBackupHooks {
  /** Dumps the services' data and accounts into ctx.dir; returns the services dumped and its manifest section. */
  take(ctx: LogicalTakeContext): Promise<{ services: string[]; part: Record<string, unknown> }>;
  /** Restore, checks that change nothing (target reachable, its databases empty unless `replace`); throws naming what is wrong. */
  restorePreflight(ctx: LogicalRestoreContext): Promise<void>;
  /** Loads the services' data and re-creates their accounts in the running target; returns problems found by checking it afterwards. */
  restore(ctx: LogicalRestoreContext): Promise<RestoredCheck>;
  /** Loads the dumps into a scratch private server and checks them; removes it afterwards. */
  verifyScratch(ctx: LogicalVerifyContext): Promise<RestoredCheck>;
}

/** What a component brings to `osb backup` / `osb restore` / `osb backup verify`. */
export interface BackupHooks {
  /** Takes this component's part of a backup into ctx.dir; returns its manifest section. */
  take(ctx: BackupTakeContext): Promise<Record<string, unknown>>;
  /** Supports `--incremental` (otherwise an incremental backup holds a full copy of this component). */
  incremental?: boolean;
  /** Supports `--logical` per-service dumps. */
  logical?: LogicalBackupHooks;
  /** Restore, step 0: checks that need no change (e.g. the binlogs a --to-time needs); throws naming what is wrong. */
  restorePreflight?(ctx: { chain: BackupChainLink[]; toTime?: string; backupRoot: string }): Promise<void>;
  /**
   * Restore, step 1, before the component's nodes start: put the chain's data in place (node 0)
   * and return the deploy override it needs (e.g. bootstrap the cluster from node 0).
   */
  restoreData?(ctx: RestoreDataContext): Promise<{ forceBootstrap?: string }>;
  /** Restore, step 2, after the deployment runs (e.g. import RabbitMQ definitions). */
  restoreAfterStart?(ctx: {
    config: Config;
    secrets: Secrets;
    part: Record<string, unknown>;
    dir: string;
    nodes: LocalInstance[];
    report: (m: string) => void;
  }): Promise<void>;
  /** Restores the chain into a scratch private server and checks it; removes it afterwards. */
  verifyScratch?(ctx: ScratchVerifyContext): Promise<RestoredCheck>;
  /** Point-in-time logs: copies closed logs of the running nodes into the backup root; returns what it copied. */
  archiveLogs?(ctx: {
    config: Config;
    nodes: LocalInstance[];
    backupRoot: string;
    stateDir: string;
    report: (m: string) => void;
  }): Promise<{ copied: string[]; window?: { from?: string; to?: string } }>;
}
