import type { ComponentName, Config } from '../config/schema.js';
import type { Secrets } from '../config/secrets.js';
import type { BackupHooks } from './backup.js';
import type { K8sObject, RenderContext } from '../k8s/objects.js';
import type { NodeModel } from './desired.js';
import type { DoctorCheck } from './doctor.js';
import type { Endpoints, HostPort } from './endpoints.js';
import type { LocalInstance, LocalRuntime, NodePlan, NodeResult } from './local.js';
import type { AlertOptions, RuleGroup, ScrapeTarget } from './metrics.js';
import type { SmokeStep } from './smoke.js';

/** A port a component binds on the local target, with the config key that sets it. */
export interface PortUse {
  port: number;
  key: string;
}

/** Binaries a component runs on the local target and the Debian/Ubuntu packages that ship them. */
export interface PackageNeed {
  binaries: string[];
  packages: string[];
}

/** How a target places nodes: the address clients dial for node `ordinal` and for a named Service. */
export interface Placement {
  kind: 'local' | 'kubernetes';
  /** Client address of node `ordinal` (its own host and port). */
  node(component: ComponentName, ordinal: number, basePort: number): HostPort;
  /** Address of a load-balanced name (a Kubernetes Service; on the local target the client host). */
  service(name: string, port: number): HostPort;
  /** Local target only: the state dir (unix sockets live there). */
  stateDir?: string;
  /** tls.enabled: the CA bundle's path as the clients see it (local: the state dir's; Kubernetes: where a client pod mounts it). */
  caFile?: string;
}

/** A live look at one local node, for `osb status`. */
export interface NodeInspection {
  version: string;
  /** Component-specific view (Galera state, RabbitMQ cluster, memcached stats); printed in JSON. */
  details: unknown;
  /** False with a reason when the node answers but is not fit to serve (e.g. Galera not Synced). */
  problem?: string;
  /** A short state shown in the STATE column instead of "running" (e.g. Galera's Synced/Primary). */
  state?: string;
  /**
   * The few numbers an operator checks first, read from the same server counters the exporters
   * serve (connections used/max, Galera flow control, queue depth totals, cache hit ratio).
   */
  numbers?: Record<string, number | null>;
}

/** Something a component runs beside its nodes (the Galera proxy), as `osb status` reports it. */
export interface ExtraStatus {
  /** Key in `osb status --json`. */
  key: string;
  healthy: boolean;
  /** One line for the human-readable status. */
  line: string;
  json: unknown;
}

export interface LocalDeployContext {
  config: Config;
  secrets: Secrets;
  runtime: LocalRuntime;
  report: (m: string) => void;
  /** Operator's Galera override (`osb recover --force-bootstrap NODE`). */
  forceBootstrap?: string;
}

/** Everything one backend brings to the local target. */
export interface LocalHooks {
  /** One node: its files, argv, env, ports, probe. */
  instance(config: Config, node: NodeModel, dir: string, secrets: Secrets): LocalInstance;
  /**
   * Processes beside the nodes (the Galera proxy, exporters): planned with the nodes, started by
   * the generic deploy after `reconcile` (through the runtime's plan/apply), stopped with them.
   * Every extra a config could ask for when `all` is true (so that deploy and destroy find the
   * ones a changed config no longer wants).
   */
  extras?(config: Config, stateDir: string, secrets: Secrets, all?: boolean): LocalInstance[];
  /**
   * Brings the planned nodes to the desired state. Default: every node through the runtime's own
   * reconcile, in parallel. Clusters that need an order (Galera) bring their own.
   */
  reconcile?(plans: NodePlan[], ctx: LocalDeployContext): Promise<NodeResult[]>;
  /**
   * Before a supervisor (systemd) starts a node by itself — after a crash or a reboot, with no osb
   * command running: what the daemon needs on its command line this time (e.g. Galera: rejoin at the
   * recovered position, or bootstrap when this node is the most advanced and all are down). Throws
   * (the unit fails, the message lands in the journal) when the node must not start.
   */
  prepare?(config: Config, secrets: Secrets, inst: LocalInstance, peers: LocalInstance[], report: (m: string) => void): Promise<string[]>;
  /**
   * After the nodes, before the extras: what the extras need from the running nodes (e.g. an exporter's
   * account). Idempotent; skipped when every node and extra of the component runs unchanged (no-op deploy).
   */
  beforeExtras?(ctx: LocalDeployContext): Promise<void>;
  /** After the extras were reconciled (changed or not): e.g. wait until the Galera proxy settled on its writer. */
  afterExtras?(ctx: LocalDeployContext): Promise<void>;
  /**
   * `osb status` of a node that is not running, or runs but does not answer: why, from the tail of its own
   * log since its last start (MariaDB's "No space left on device", RabbitMQ paused by pause_minority);
   * undefined when the log says nothing useful.
   */
  stopCause?(inst: LocalInstance): string | undefined;
  /** Live protocol check of one node. */
  inspect(config: Config, secrets: Secrets, inst: LocalInstance): Promise<NodeInspection>;
  /** The component's line in `osb status` (cluster view). */
  summary?(config: Config, nodes: { healthy: boolean; details?: unknown }[]): string;
  /** Status of the extras (e.g. the proxy), when deployed. */
  extraStatus?(config: Config, stateDir: string, secrets: Secrets): Promise<ExtraStatus | undefined>;
  /** Before a node is stopped alone (`osb restart --rolling`): hand its work to its peers (e.g. RabbitMQ's drain). */
  beforeStop?(config: Config, inst: LocalInstance, report: (m: string) => void): Promise<void>;
  /** After a node was restarted alone (`osb restart --rolling`): wait until it is a healthy member again. */
  afterRestart?(config: Config, secrets: Secrets, inst: LocalInstance, runtime: Pick<LocalRuntime, 'runningPid'>, report: (m: string) => void): Promise<void>;
  /**
   * `osb heal` (under systemd a timer of the deployment runs it every 15 s): running nodes stuck in a state
   * their daemon never leaves by itself, e.g. a Galera node Disconnected from every group, or RabbitMQ nodes
   * that recorded a partition that `pause_minority` does not resolve because every node is reachable again.
   * Returns the nodes to restart (one at a time) and why; [] when none. Changes nothing itself.
   */
  stuck?(config: Config, secrets: Secrets, nodes: LocalInstance[], runtime: Pick<LocalRuntime, 'runningPid'>): Promise<{ node: string; reason: string }[]>;
  /** `osb recover --force-bootstrap NODE` applies to this component (a cluster that may refuse to choose a bootstrap node). */
  forceBootstrap?: boolean;
  /**
   * `osb destroy`, after a node's daemon stopped: end processes it started that outlive it (a Galera joiner's
   * state-transfer scripts). Returns how many were ended.
   */
  stopLeftovers?(inst: LocalInstance): number;
  /** `osb doctor`: is the open-files limit this process passes on enough for this daemon? */
  fdCheck?(config: Config, limit: { soft: number; hard: number }): DoctorCheck;
  /**
   * TLS on: make the running node load its certificate files again (same paths, new content)
   * without a restart. Absent: the component cannot, and rotation says to restart it.
   */
  reloadTls?(config: Config, secrets: Secrets, inst: LocalInstance): Promise<void>;
  /** `osb test` steps against one node. */
  smoke(config: Config, secrets: Secrets, inst: LocalInstance): SmokeStep[];
}

export interface KubernetesPodView {
  name: string;
  ready: boolean;
  labels: Record<string, string>;
}

/** Everything one backend brings to the Kubernetes target. */
export interface KubernetesHooks {
  objects(ctx: RenderContext, secrets: Secrets, servicePasswords: Record<string, string>): K8sObject[];
  /** Secrets whose values osb generated (Secret name → key → field of `Secrets`): adopted from the cluster when they exist there. */
  credentialSecrets?: Record<string, Record<string, 'mariadbAdminPassword' | 'rabbitmqAdminPassword' | 'erlangCookie' | 'mariadbExporterPassword'>>;
  /** What a Ready server pod means, for the status summary ("cluster nodes running"). */
  readyMeaning(config: Config): string;
  /** Extra health and summary beyond Ready pods (the Galera writer). */
  status?(config: Config, servers: KubernetesPodView[], allPods: KubernetesPodView[]): { healthy: boolean; summary: string; fields: Record<string, unknown> };
  /** tls.enabled: Services besides `<name>` and `<name>-headless` whose names clients dial, so the certificate carries them (Galera: the writer's). */
  tlsServices?(config: Config): string[];
  /** `osb restore --target kubernetes` (docs/backup.md); absent: this component restores nothing there. Throws OsbError when the config cannot. */
  restore?(ctx: RenderContext, req: KubernetesRestoreRequest): KubernetesRestorePlan;
}

export interface KubernetesRestoreRequest {
  /** Backup id: a folder on the component's backups volume. */
  backup: string;
  /** Point in time, UTC 'YYYY-MM-DD HH:MM:SS' (the CLI converts the operator's local time). */
  toTime?: string;
}

/** A reference to an object in the deployment's namespace, with what it is and how to get it (messages). */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
}

/**
 * What restoring one component on Kubernetes takes; the target runs it generically: requirements,
 * refusals while the workload runs, the check Job (changes nothing), then the restore Job into a fresh
 * claim, the mark, a deploy of the component, the mark removed.
 */
export interface KubernetesRestorePlan {
  /** Objects that must exist already (e.g. the backups volume). */
  requires: (ObjectRef & { what: string; fix: string })[];
  /** The server workload: it must not run while its data is restored (stopped with --replace). */
  workload: ObjectRef & { pods: string[] };
  /** Its PersistentVolumeClaims: they must not exist (deleted with --replace, after the check). */
  claims: string[];
  /** What the check Job needs (its programs) and the Job itself: it reads the backup and changes nothing. */
  checkObjects: K8sObject[];
  checkJob: K8sObject;
  /** Rendered objects of the deployment the restore Job reads (credentials, config), applied after the check. */
  needs: ObjectRef[];
  /** Created after the check: the claim the data goes into; then the restore Job. */
  restoreObjects: K8sObject[];
  restoreJob: K8sObject;
  /** A merge patch set before the workload starts (e.g. which pod bootstraps from the restored data), and its undo once it is Ready. */
  mark?: ObjectRef & { set: Record<string, unknown>; clear: Record<string, unknown> };
}

/** What a backend exposes to Prometheus (docs/metrics.md). */
export interface MetricsHooks {
  /** Every metrics endpoint of this component when `metrics.enabled` (`osb metrics`), wherever the target placed the nodes. */
  targets(config: Config, at: Placement): ScrapeTarget[];
  /** Alert rule groups; thresholds follow the config. */
  alerts(config: Config, opts: AlertOptions): RuleGroup[];
}

/** One backend, whole: the registry (src/components/index.ts) lists one per component folder. */
export interface ComponentDefinition {
  name: ComponentName;
  /** Binaries and packages the local target needs for this config. */
  packages(config: Config): PackageNeed[];
  /** Rough needs of one local node (measured idle RSS plus configured caches; data dir when fresh), for `osb doctor`. */
  sizing(config: Config): { memoryMB: number; diskMB: number };
  /** Every port the local target binds for this config: the one place derived ports are computed. */
  ports(config: Config): PortUse[];
  /** One line of `osb endpoints` (no passwords), when this component is in the endpoints. */
  describeEndpoints(eps: Endpoints): string | undefined;
  /** What clients need (addresses, admin credentials) wherever the target placed the nodes. */
  endpoints(config: Config, secrets: Secrets, at: Placement): Partial<Endpoints>;
  metrics: MetricsHooks;
  local: LocalHooks;
  kubernetes: KubernetesHooks;
  /** `osb backup`, `osb restore`, `osb backup verify` (local target); absent: not part of backups. */
  backup?: BackupHooks;
}
