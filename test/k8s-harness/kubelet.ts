/**
 * A LOCAL STAND-IN FOR THE KUBELET (and for the StatefulSet/Job controllers, kube-proxy and cluster DNS),
 * for tests: it takes the RENDERED StatefulSet, Deployment, Job and Pod objects and runs their containers
 * as local processes, with this machine's Debian binaries standing in for the images (MariaDB 10.11 +
 * galera-4, RabbitMQ 3.10, memcached, and this machine's node for node:24-alpine). The Kubernetes API is
 * the in-process stand-in (test/unit/kubernetes-standin.ts); the programs reach it through OSB_API_URL.
 *
 * Kubernetes' rules it follows:
 * - a pod is a sandbox: its own network namespace (a veth on a bridge, a fresh pod IP per incarnation) and
 *   UTS namespace (hostname = pod name), shared by all its containers;
 * - init containers run once per pod, in order, each to success (retried with back-off on failure);
 * - a container that exits is restarted alone, per restartPolicy, with the kubelet's back-off (10 s,
 *   doubling, at most 5 min); the pod's emptyDirs survive that; init containers do not rerun;
 * - deleting a pod: preStop, SIGTERM to each container's PID 1, SIGKILL after the grace period; a new pod
 *   of the same name gets a new uid, new IP and fresh emptyDirs, and keeps the PVC's directory;
 * - each container: its own mount and PID namespaces (the command is PID 1), a root filesystem of this
 *   machine's /usr and a private copy of /etc plus the image's files, the volume mounts (subPath too),
 *   read-only root when asked, run as runAsUser/runAsGroup with fsGroup as supplementary group, no
 *   capabilities, no_new_privs;
 * - volumes: emptyDir = root-owned 0777 directory given to fsGroup (setgid), as the kubelet does;
 *   configMap/secret = root-owned files with defaultMode and group fsGroup; a PVC = a root-owned 0777
 *   directory WITHOUT fsGroup, as local-path-provisioner (kind, k3s) gives, one per claim name (a
 *   StatefulSet's `<template>-<pod>` or a claim a Job/Deployment names), kept until deleteClaim; the
 *   service account token; (one node: pod affinity is met by construction);
 * - env: value (with $(VAR) expansion), secretKeyRef, configMapKeyRef, fieldRef (metadata.name, .namespace,
 *   .uid, status.podIP, spec.nodeName, spec.serviceAccountName), resourceFieldRef (limits/requests);
 * - exec probes (startup, readiness, liveness) run inside the container's namespaces; readiness makes the
 *   pod Ready in the API; a failed liveness probe restarts the container;
 * - DNS: one hosts file for the cluster (pod FQDNs `<host>.<subdomain>.<ns>.svc.<domain>`, Services),
 *   bind-mounted as every container's /etc/hosts;
 * - CronJobs fire when the test says (runCronJob), as a Job from their jobTemplate;
 * - Services: a ClusterIP Service gets a virtual IP in the "node" network namespace with a TCP forwarder
 *   (socat) to ONE Ready endpoint, re-pointed when the endpoints change (kube-proxy balances over all).
 *
 * Everything runs in network namespaces the harness creates (10.244.0.0/24 pods, 10.96.0.0/24 Services)
 * and private mount namespaces: nothing is mounted or configured on the host. `stop()` kills every
 * process, and a watchdog does the same if the test process dies.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import type { ApiStandIn } from '../unit/kubernetes-standin.js';

type Obj = { apiVersion: string; kind: string; metadata: Record<string, any>; [k: string]: any };
type Container = Record<string, any>;

const HERE = dirname(new URL(import.meta.url).pathname);
const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Port of the API forwarder in the node namespace (port block 120). */
const API_PORT = 32001;
const API_VIP = '10.96.0.1';
const NODE_IP = '10.244.0.1';

/** What an image contributes besides this machine's /usr: its env, entrypoint, and files. */
interface ImageProfile {
  env: Record<string, string>;
  entrypoint: string[];
  cmd: string[];
  /** Directories bind-mounted over the container's paths (the image's own files). */
  overlays: { src: string; dst: string; readOnly?: boolean }[];
  /** Directories the image has, created in the container's root (owner uid). */
  dirs: { path: string; uid: number; mode: number }[];
}

function quote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

export interface ContainerRun {
  name: string;
  init: boolean;
  spec: Container;
  restartCount: number;
  state: 'waiting' | 'running' | 'terminated';
  reason?: string;
  exitCode?: number;
  lastExitCode?: number;
  started: boolean;
  ready: boolean;
  startedAt?: string;
  /** The process we spawned (nsenter → unshare); the container's PID 1 is its child. */
  proc?: ChildProcess;
  log: string;
  logs: string[];
  exited?: Promise<number>;
}

export class Pod {
  uid = '';
  ip = '';
  sandbox?: ChildProcess;
  containers: ContainerRun[] = [];
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed' = 'Pending';
  deleting = false;
  /** Resolves when the pod's containers have finished (restartPolicy Never/OnFailure) or the pod is gone. */
  done: Promise<void>;
  private resolveDone!: () => void;
  constructor(
    readonly name: string,
    readonly owner: string,
    readonly labels: Record<string, string>,
    readonly spec: Record<string, any>,
    readonly dir: string,
    readonly claims: Record<string, string>,
  ) {
    this.done = new Promise((r) => (this.resolveDone = r));
  }
  finish() {
    this.resolveDone();
  }
  container(name: string): ContainerRun {
    const c = this.containers.find((x) => x.name === name);
    if (!c) throw new Error(`pod ${this.name} has no container ${name}`);
    return c;
  }
  /** The container's PID 1 (the child of `unshare --fork`). */
  pid1(name: string): number | undefined {
    const p = this.container(name).proc?.pid;
    if (!p) return undefined;
    try {
      const kids = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
      return kids.length ? Number(kids[0]) : undefined;
    } catch {
      return undefined;
    }
  }
  /** Everything a container printed, all runs. */
  logsOf(name: string): string {
    const c = this.container(name);
    return [...c.logs, c.log].join('');
  }
}

export interface KubeletOptions {
  /** The rendered objects (renderObjects). */
  objects: Obj[];
  standin: ApiStandIn;
  namespace: string;
  clusterDomain?: string;
  /** A fresh directory the harness owns (deleted by stop()). */
  root: string;
  /** Faster back-off for tests that restart containers often (default: the kubelet's 10 s). */
  backoffBaseMs?: number;
  log?: (line: string) => void;
}

export class LocalKubelet {
  readonly pods = new Map<string, Pod>();
  private node?: ChildProcess;
  private apiForward?: Server;
  private procs = new Set<ChildProcess>();
  private ipNext = 10;
  private vipNext = 10;
  private serviceVips = new Map<string, string>();
  private proxies = new Map<string, { target: string; proc: ChildProcess }>();
  private kubeProxy?: NodeJS.Timeout;
  private stopped = false;
  private vethNext = 0;
  private readonly ns: string;
  private readonly domain: string;
  private readonly hostsFile: string;
  private readonly pidFile: string;
  private readonly images: Record<string, ImageProfile> = {};
  readonly events: string[] = [];

  constructor(private readonly o: KubeletOptions) {
    this.ns = o.namespace;
    this.domain = o.clusterDomain ?? 'cluster.local';
    this.hostsFile = join(o.root, 'hosts');
    this.pidFile = join(o.root, 'pids');
  }

  private note(line: string) {
    const l = `${new Date().toISOString()} kubelet: ${line}`;
    this.events.push(l);
    this.o.log?.(l);
  }

  find(kind: string, name: string): Obj {
    const x = this.o.objects.find((y) => y.kind === kind && y.metadata.name === name);
    if (!x) throw new Error(`no rendered ${kind} ${name}`);
    return x;
  }

  // ---------------------------------------------------------------- infrastructure

  async start(): Promise<void> {
    mkdirSync(this.o.root, { recursive: true });
    writeFileSync(this.pidFile, '');
    // The watchdog: if this test process dies, every process the harness started is killed.
    const dog = spawn(
      'bash',
      [
        '-c',
        `while kill -0 ${process.pid} 2>/dev/null && [ -e ${quote(this.pidFile)} ]; do sleep 2; done; [ -e ${quote(this.pidFile)} ] && for p in $(cat ${quote(this.pidFile)}); do kill -9 "$p" 2>/dev/null; done; sleep 1; rm -rf ${quote(this.o.root)}; exit 0`,
      ],
      { detached: true, stdio: 'ignore' },
    );
    dog.unref();
    this.prepareImages();
    // The node: a network namespace holding the bridge, the Service VIPs and the API forwarder.
    this.node = await this.sandbox('node');
    const n = String(this.node.pid);
    this.sh('nsenter', [
      '-t',
      n,
      '-n',
      'sh',
      '-ec',
      `ip link set lo up; ip link add osbbr0 type bridge; ip addr add ${NODE_IP}/24 dev osbbr0; ip link set osbbr0 up; ip addr add ${API_VIP}/32 dev lo`,
    ]);
    // The API: the stand-in listens on 127.0.0.1 of this namespace; a unix socket crosses into the node's.
    const sock = join(this.o.root, 'api.sock');
    this.apiForward = createServer((c) => {
      const up = createConnection({ host: '127.0.0.1', port: this.o.standin.port });
      c.pipe(up).pipe(c);
      up.on('error', () => c.destroy());
      c.on('error', () => up.destroy());
    });
    await new Promise<void>((r) => this.apiForward!.listen(sock, r));
    this.spawnTracked('nsenter', ['-t', n, '-n', 'socat', `TCP-LISTEN:${API_PORT},bind=${API_VIP},fork,reuseaddr`, `UNIX-CONNECT:${sock}`]);
    for (const svc of this.o.objects.filter((x) => x.kind === 'Service' && x.spec.clusterIP !== 'None')) {
      const vip = `10.96.0.${this.vipNext++}`;
      this.serviceVips.set(svc.metadata.name, vip);
      this.sh('nsenter', ['-t', n, '-n', 'ip', 'addr', 'add', `${vip}/32`, 'dev', 'lo']);
    }
    writeFileSync(
      join(this.o.root, 'resolv.conf'),
      `search ${this.ns}.svc.${this.domain} svc.${this.domain} ${this.domain}\nnameserver 127.0.0.1\noptions ndots:5 timeout:1 attempts:1\n`,
    );
    this.writeHosts();
    this.kubeProxy = setInterval(() => this.syncProxies(), 300);
  }

  /** The API address the pod programs use (OSB_API_URL: plain http to the stand-in). */
  get apiUrl() {
    return `http://${API_VIP}:${API_PORT}`;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.kubeProxy) clearInterval(this.kubeProxy);
    await Promise.all([...this.pods.values()].map((p) => this.deletePod(p.name, { gracePeriodSeconds: 0 }).catch(() => {})));
    for (const p of this.procs) this.kill(p, 'SIGKILL');
    await sleep(200);
    this.apiForward?.close();
    rmSync(this.pidFile, { force: true });
    rmSync(this.o.root, { recursive: true, force: true });
  }

  private sh(cmd: string, args: string[]): string {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  private spawnTracked(cmd: string, args: string[], opts: Parameters<typeof spawn>[2] = {}): ChildProcess {
    const p = spawn(cmd, args, { stdio: 'ignore', ...opts });
    this.procs.add(p);
    if (p.pid) appendFileSync(this.pidFile, `${p.pid}\n`);
    p.on('exit', () => this.procs.delete(p));
    return p;
  }

  private kill(p: ChildProcess | undefined, signal: NodeJS.Signals) {
    if (p && p.exitCode === null && p.signalCode === null) {
      try {
        p.kill(signal);
      } catch {}
    }
  }

  /** A process holding new network and UTS namespaces (the pod's "pause" container). */
  private async sandbox(hostname: string): Promise<ChildProcess> {
    const p = this.spawnTracked('unshare', ['--net', '--uts', '--', 'sh', '-c', `hostname ${hostname} && exec sleep infinity`]);
    const mine = readlinkSync('/proc/self/ns/net');
    for (let i = 0; i < 100; i++) {
      try {
        if (readlinkSync(`/proc/${p.pid}/ns/net`) !== mine && readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').startsWith('sleep')) return p;
      } catch {}
      await sleep(20);
    }
    this.kill(p, 'SIGKILL');
    throw new Error('the sandbox did not get its own network namespace');
  }

  /** The images: this machine's binaries plus the few files the official images add. */
  private prepareImages() {
    const img = join(this.o.root, 'images');
    // mariadb:10.11 — /etc/mysql as the image has it (Debian's layout with the docker-library edits:
    // bind-address/log/user commented out, no name resolution), its entrypoint in /usr/local/bin.
    const etcMysql = join(img, 'mariadb', 'etc-mysql');
    cpSync('/etc/mysql', etcMysql, { recursive: true });
    for (const f of this.sh('find', [etcMysql, '-name', '*.cnf', '-type', 'f']).split('\n').filter(Boolean)) {
      writeFileSync(f, readFileSync(f, 'utf8').replace(/^(bind-address|log|user\s)/gm, '#$1'));
    }
    writeFileSync(join(etcMysql, 'conf.d', '05-skipcache.cnf'), '[mariadb]\nhost-cache-size=0\nskip-name-resolve\n');
    const bin = join(img, 'mariadb', 'bin');
    mkdirSync(bin, { recursive: true });
    cpSync(join(HERE, 'images', 'mariadb', 'docker-entrypoint.sh'), join(bin, 'docker-entrypoint.sh'));
    chmodSync(join(bin, 'docker-entrypoint.sh'), 0o755);
    this.images.mariadb = {
      env: { PATH: IMAGE_PATH, MARIADB_VERSION: '1:10.11' },
      entrypoint: ['docker-entrypoint.sh'],
      cmd: ['mariadbd'],
      overlays: [
        { src: etcMysql, dst: '/etc/mysql' },
        { src: bin, dst: '/usr/local/bin', readOnly: true },
      ],
      dirs: [
        { path: '/var/lib/mysql', uid: 999, mode: 0o755 },
        { path: '/run/mysqld', uid: 999, mode: 0o755 },
      ],
    };
    // rabbitmq: Debian's 3.10 scripts on PATH, HOME as in the image.
    this.images.rabbitmq = {
      env: { PATH: `/usr/lib/rabbitmq/bin:${IMAGE_PATH}`, HOME: '/var/lib/rabbitmq', RABBITMQ_DATA_DIR: '/var/lib/rabbitmq' },
      entrypoint: [],
      cmd: ['rabbitmq-server'],
      overlays: [],
      dirs: [
        { path: '/var/lib/rabbitmq', uid: 999, mode: 0o755 },
        { path: '/etc/rabbitmq', uid: 999, mode: 0o755 },
        { path: '/var/log/rabbitmq', uid: 999, mode: 0o755 },
      ],
    };
    this.images.memcached = { env: { PATH: IMAGE_PATH }, entrypoint: ['memcached'], cmd: [], overlays: [], dirs: [] };
    this.images.node = { env: { PATH: IMAGE_PATH, NODE_VERSION: process.versions.node }, entrypoint: [], cmd: ['node'], overlays: [], dirs: [] };
    // Exporter sidecars (metrics.enabled): Debian's prometheus-mysqld-exporter (0.14) stands in for the
    // mysqld-exporter image; no Debian package has the community memcached exporter, so its stand-in only
    // runs (a sidecar must be running for its pod to be Ready) — its metrics are not checked here.
    this.images['mysqld-exporter'] = { env: { PATH: IMAGE_PATH }, entrypoint: ['/usr/bin/prometheus-mysqld-exporter'], cmd: [], overlays: [], dirs: [] };
    this.images['memcached-exporter'] = {
      env: { PATH: IMAGE_PATH },
      entrypoint: ['/bin/sh', '-c', 'exec sleep infinity', 'memcached-exporter'],
      cmd: [],
      overlays: [],
      dirs: [],
    };
  }

  private image(ref: string): ImageProfile {
    const name = ref
      .replace(/@.*$/, '')
      .replace(/:[^/:]*$/, '')
      .split('/')
      .pop()!;
    const p = this.images[name];
    if (!p) throw new Error(`the harness has no stand-in for image ${ref}`);
    return p;
  }

  // ---------------------------------------------------------------- DNS and Services

  private fqdn(svc: string) {
    return `${svc}.${this.ns}.svc.${this.domain}`;
  }

  private apiPod(name: string): Obj | undefined {
    return this.o.standin.find('Pod', this.ns, name);
  }

  private isReady(p: Obj | undefined) {
    return !!p && !p.metadata.deletionTimestamp && (p.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
  }

  private selected(selector: Record<string, string>): Pod[] {
    return [...this.pods.values()]
      .filter((p) => p.ip && !p.deleting)
      .filter((p) => {
        const labels = this.apiPod(p.name)?.metadata.labels ?? p.labels;
        return Object.entries(selector).every(([k, v]) => labels[k] === v);
      })
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The cluster DNS stand-in: rewritten in place (same inode), so every bind-mounted copy sees it. */
  private writeHosts() {
    const lines = [
      '127.0.0.1 localhost',
      '::1 localhost ip6-localhost ip6-loopback',
      `${API_VIP} ${this.fqdn('kubernetes').replace(`.${this.ns}.`, '.default.')} kubernetes.default kubernetes`,
    ];
    for (const p of [...this.pods.values()].filter((x) => x.ip && !x.deleting)) {
      const sub = p.spec.subdomain;
      lines.push(sub ? `${p.ip} ${p.spec.hostname ?? p.name}.${this.fqdn(sub)} ${p.spec.hostname ?? p.name}` : `${p.ip} ${p.name}`);
    }
    for (const svc of this.o.objects.filter((x) => x.kind === 'Service')) {
      const name = svc.metadata.name;
      if (svc.spec.clusterIP === 'None') {
        const pods = this.selected(svc.spec.selector ?? {}).filter((p) => svc.spec.publishNotReadyAddresses || this.isReady(this.apiPod(p.name)));
        for (const p of pods) lines.push(`${p.ip} ${this.fqdn(name)}`);
      } else {
        lines.push(`${this.serviceVips.get(name)} ${this.fqdn(name)} ${name}.${this.ns} ${name}`);
      }
    }
    const text = lines.join('\n') + '\n';
    if (!existsSync(this.hostsFile) || readFileSync(this.hostsFile, 'utf8') !== text) writeFileSync(this.hostsFile, text);
  }

  /** kube-proxy stand-in: each ClusterIP Service port forwards to one Ready endpoint (lowest pod name). */
  private syncProxies() {
    if (this.stopped) return;
    this.writeHosts();
    for (const svc of this.o.objects.filter((x) => x.kind === 'Service' && x.spec.clusterIP !== 'None')) {
      const vip = this.serviceVips.get(svc.metadata.name)!;
      const ready = this.selected(svc.spec.selector ?? {}).filter((p) => this.isReady(this.apiPod(p.name)));
      for (const port of svc.spec.ports as { port: number; targetPort?: number | string }[]) {
        const key = `${svc.metadata.name}:${port.port}`;
        const target = ready[0] ? `${ready[0].ip}:${this.targetPort(ready[0], port)}` : '';
        const cur = this.proxies.get(key);
        if (cur && cur.target === target) continue;
        // Only the listener is replaced: connections already forwarded stay (as with conntrack).
        if (cur) {
          this.kill(cur.proc, 'SIGTERM');
          this.proxies.delete(key);
        }
        if (!target) continue;
        this.note(`service ${svc.metadata.name}:${port.port} → ${ready[0]!.name} (${target})`);
        const proc = this.spawnTracked('nsenter', [
          '-t',
          String(this.node!.pid),
          '-n',
          'socat',
          `TCP-LISTEN:${port.port},bind=${vip},fork,reuseaddr`,
          `TCP:${target}`,
        ]);
        this.proxies.set(key, { target, proc });
      }
    }
  }

  private targetPort(pod: Pod, port: { port: number; targetPort?: number | string }): number {
    const t = port.targetPort ?? port.port;
    if (typeof t === 'number') return t;
    for (const c of pod.spec.containers as Container[]) for (const p of c.ports ?? []) if (p.name === t) return p.containerPort;
    return port.port;
  }

  // ---------------------------------------------------------------- controllers

  /** A PersistentVolumeClaim's directory, provisioned on first use: a non-fsGroup provisioner (local-path, hostPath-backed) gives a root-owned 0777 directory. */
  claimDir(claim: string): string {
    const dir = join(this.o.root, 'pvc', claim);
    if (!existsSync(dir)) {
      mkdirSync(dir, { recursive: true });
      chmodSync(dir, 0o777);
      this.note(`provisioned PVC ${claim}`);
    }
    return dir;
  }

  /** Deletes a claim and its data (the provisioner's reclaim policy Delete). */
  deleteClaim(claim: string): void {
    rmSync(join(this.o.root, 'pvc', claim), { recursive: true, force: true });
    this.note(`deleted PVC ${claim}`);
  }

  /** More rendered objects (e.g. the Jobs `osb restore` creates), for the controllers below to run. */
  addObjects(objects: Obj[]): void {
    for (const o of objects) {
      const i = this.o.objects.findIndex((x) => x.kind === o.kind && x.metadata.name === o.metadata.name);
      if (i >= 0) this.o.objects.splice(i, 1);
      this.o.objects.push(o);
    }
  }

  /** Volumes of a pod that name a claim (Jobs, Deployments): mounted from the claim's directory. */
  private standaloneClaims(spec: Record<string, any>): Record<string, string> {
    const claims: Record<string, string> = {};
    for (const v of spec.volumes ?? []) if (v.persistentVolumeClaim) claims[v.name] = this.claimDir(v.persistentVolumeClaim.claimName);
    return claims;
  }

  /** The StatefulSet controller: pod `<sts>-<ordinal>` with its PVCs (kept across re-creations). */
  async createStatefulSetPod(stsName: string, ordinal: number): Promise<Pod> {
    const sts = this.find('StatefulSet', stsName);
    const name = `${stsName}-${ordinal}`;
    const claims: Record<string, string> = {};
    // `<template>-<pod>`: the claim the StatefulSet creates, or adopts when it exists already.
    for (const t of sts.spec.volumeClaimTemplates ?? []) claims[t.metadata.name] = this.claimDir(`${t.metadata.name}-${name}`);
    const labels = { ...sts.spec.template.metadata.labels, 'statefulset.kubernetes.io/pod-name': name, 'apps.kubernetes.io/pod-index': String(ordinal) };
    const spec = { ...structuredClone(sts.spec.template.spec), hostname: name, subdomain: sts.spec.serviceName };
    return this.runPod(name, `StatefulSet/${stsName}`, labels, spec, claims);
  }

  /** Every pod of a StatefulSet at once (podManagementPolicy Parallel). */
  async createStatefulSet(stsName: string): Promise<Pod[]> {
    const sts = this.find('StatefulSet', stsName);
    return Promise.all(Array.from({ length: sts.spec.replicas as number }, (_, i) => this.createStatefulSetPod(stsName, i)));
  }

  /** The Deployment controller (one replica). */
  async createDeploymentPod(name: string): Promise<Pod> {
    const dep = this.find('Deployment', name);
    return this.runPod(
      `${name}-${Math.random().toString(36).slice(2, 7)}`,
      `Deployment/${name}`,
      { ...dep.spec.template.metadata.labels },
      structuredClone(dep.spec.template.spec),
      this.standaloneClaims(dep.spec.template.spec),
    );
  }

  /** The CronJob controller, fired now: one Job from its jobTemplate, run like runJob. */
  async runCronJob(name: string): Promise<{ pod: Pod; exitCode: number; job: string }> {
    const cj = this.find('CronJob', name);
    const job = `${name}-${Math.floor(Date.now() / 60000)}`;
    this.addObjects([
      { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: job, labels: cj.spec.jobTemplate.metadata?.labels ?? {} }, spec: cj.spec.jobTemplate.spec },
    ]);
    return { ...(await this.runJob(job)), job };
  }

  /** The Job controller: one pod; resolves with its container's last exit code once it succeeded or gave up. */
  async runJob(name: string): Promise<{ pod: Pod; exitCode: number }> {
    const job = this.find('Job', name);
    const pod = await this.runPod(
      `${name}-${Math.random().toString(36).slice(2, 7)}`,
      `Job/${name}`,
      { ...job.spec.template.metadata.labels, 'job-name': name },
      structuredClone(job.spec.template.spec),
      this.standaloneClaims(job.spec.template.spec),
      job.spec.backoffLimit ?? 6,
    );
    await pod.done;
    return { pod, exitCode: pod.containers.at(-1)!.exitCode ?? -1 };
  }

  /** A bare rendered Pod (the test pods, restartPolicy Never). */
  async runBarePod(name: string): Promise<{ pod: Pod; exitCode: number }> {
    const o = this.find('Pod', name);
    const pod = await this.runPod(name, `Pod/${name}`, { ...o.metadata.labels }, structuredClone(o.spec), {});
    await pod.done;
    return { pod, exitCode: pod.containers.at(-1)!.exitCode ?? -1 };
  }

  // ---------------------------------------------------------------- pods

  private async runPod(
    name: string,
    owner: string,
    labels: Record<string, string>,
    spec: Record<string, any>,
    claims: Record<string, string>,
    backoffLimit = Infinity,
  ): Promise<Pod> {
    if (this.pods.has(name)) throw new Error(`pod ${name} exists`);
    const incarnation = Math.random().toString(36).slice(2, 8);
    const pod = new Pod(name, owner, labels, spec, join(this.o.root, 'pods', `${name}-${incarnation}`), claims);
    this.pods.set(name, pod);
    const api = this.o.standin.put({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: this.ns, labels: { ...labels } },
      spec: { ...spec, nodeName: 'osb-local-node' },
    } as Obj);
    pod.uid = api.metadata.uid;
    mkdirSync(pod.dir, { recursive: true });
    pod.sandbox = await this.sandbox(name);
    pod.ip = `10.244.0.${this.ipNext++}`;
    const veth = `vp${this.vethNext++}`;
    const n = String(this.node!.pid);
    this.sh('nsenter', ['-t', n, '-n', 'ip', 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', String(pod.sandbox.pid)]);
    this.sh('nsenter', ['-t', n, '-n', 'ip', 'link', 'set', veth, 'master', 'osbbr0', 'up']);
    this.sh('nsenter', [
      '-t',
      String(pod.sandbox.pid),
      '-n',
      'sh',
      '-ec',
      `ip link set lo up; ip addr add ${pod.ip}/24 dev eth0; ip link set eth0 up; ip route add default via ${NODE_IP}`,
    ]);
    this.prepareVolumes(pod);
    const mk = (c: Container, init: boolean): ContainerRun => ({
      name: c.name,
      init,
      spec: c,
      restartCount: 0,
      state: 'waiting',
      reason: init ? undefined : 'PodInitializing',
      started: false,
      ready: false,
      log: '',
      logs: [],
    });
    pod.containers = [...(spec.initContainers ?? []).map((c: Container) => mk(c, true)), ...spec.containers.map((c: Container) => mk(c, false))];
    this.writeHosts();
    this.syncStatus(pod);
    this.note(`pod ${name} (uid ${pod.uid}) started, IP ${pod.ip}`);
    void this.lifecycle(pod, backoffLimit);
    return pod;
  }

  private fsGroup(pod: Pod): number | undefined {
    return pod.spec.securityContext?.fsGroup;
  }

  private volumeDir(pod: Pod, name: string) {
    return join(pod.dir, 'volumes', name);
  }

  private prepareVolumes(pod: Pod) {
    const fsg = this.fsGroup(pod);
    const give = (path: string, mode: number) => {
      if (fsg !== undefined) chownSync(path, 0, fsg);
      chmodSync(path, mode);
    };
    const files = (dir: string, data: Record<string, string | Buffer>, items: { key: string; path: string; mode?: number }[] | undefined, mode: number) => {
      mkdirSync(dir, { recursive: true });
      give(dir, fsg !== undefined ? 0o2777 : 0o777);
      for (const it of items ?? Object.keys(data).map((key) => ({ key, path: key, mode: undefined as number | undefined }))) {
        const f = join(dir, it.path);
        mkdirSync(dirname(f), { recursive: true });
        writeFileSync(f, data[it.key]!);
        give(f, it.mode ?? mode);
      }
    };
    const volumes = [...(pod.spec.volumes ?? [])];
    if (pod.spec.automountServiceAccountToken !== false && pod.spec.serviceAccountName)
      volumes.push({ name: '__serviceaccount', serviceAccount: pod.spec.serviceAccountName });
    for (const v of volumes) {
      const dir = this.volumeDir(pod, v.name);
      if (v.emptyDir) {
        mkdirSync(dir, { recursive: true });
        give(dir, fsg !== undefined ? 0o2777 : 0o777);
      } else if (v.configMap) {
        const cm = this.find('ConfigMap', v.configMap.name);
        files(dir, cm.data ?? {}, v.configMap.items, v.configMap.defaultMode ?? 0o644);
      } else if (v.secret) {
        const s = this.find('Secret', v.secret.secretName);
        const data = Object.fromEntries(Object.entries(s.data ?? {}).map(([k, x]) => [k, Buffer.from(x as string, 'base64')]));
        files(dir, data, v.secret.items, v.secret.defaultMode ?? 0o644);
      } else if (v.serviceAccount) {
        files(dir, { token: `token-of-${v.serviceAccount}`, namespace: this.ns }, undefined, 0o644);
      } else if (v.persistentVolumeClaim) {
        // bound below by name
      } else {
        throw new Error(`the harness does not support volume ${JSON.stringify(v)}`);
      }
    }
  }

  private resolveEnv(pod: Pod, c: Container): Record<string, string> {
    const img = this.image(c.image);
    const out: Record<string, string> = {
      ...img.env,
      HOSTNAME: pod.name,
      KUBERNETES_SERVICE_HOST: API_VIP,
      KUBERNETES_SERVICE_PORT: String(API_PORT),
      OSB_API_URL: this.apiUrl,
    };
    if (!out.HOME) out.HOME = '/';
    const expand = (s: string) => s.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, k) => (k in out ? out[k]! : m));
    const field = (path: string): string => {
      const v = (
        {
          'metadata.name': pod.name,
          'metadata.namespace': this.ns,
          'metadata.uid': pod.uid,
          'status.podIP': pod.ip,
          'spec.nodeName': 'osb-local-node',
          'spec.serviceAccountName': pod.spec.serviceAccountName ?? 'default',
        } as Record<string, string>
      )[path];
      if (v === undefined) throw new Error(`fieldRef ${path} is not supported by the harness`);
      return v;
    };
    for (const e of c.env ?? []) {
      if (e.value !== undefined) out[e.name] = expand(e.value);
      else if (e.valueFrom?.secretKeyRef) {
        const r = e.valueFrom.secretKeyRef;
        out[e.name] = Buffer.from(this.find('Secret', r.name).data[r.key], 'base64').toString('utf8');
      } else if (e.valueFrom?.configMapKeyRef) {
        const r = e.valueFrom.configMapKeyRef;
        out[e.name] = this.find('ConfigMap', r.name).data[r.key];
      } else if (e.valueFrom?.fieldRef) out[e.name] = field(e.valueFrom.fieldRef.fieldPath);
      else if (e.valueFrom?.resourceFieldRef) {
        const r = e.valueFrom.resourceFieldRef;
        const [kind, res] = r.resource.split('.');
        out[e.name] = String(c.resources?.[kind]?.[res] ?? '');
      } else throw new Error(`env ${e.name}: unsupported source`);
    }
    return out;
  }

  /** The bash script (run as root in the new mount/PID namespaces) that builds the root and execs the container. */
  private containerScript(pod: Pod, c: ContainerRun, runDir: string): string {
    const spec = c.spec;
    const img = this.image(spec.image);
    const sc = { ...pod.spec.securityContext, ...spec.securityContext };
    const uid = sc.runAsUser ?? 0;
    const gid = sc.runAsGroup ?? uid;
    const groups = [...new Set([gid, ...(sc.fsGroup !== undefined ? [sc.fsGroup] : []), ...(sc.supplementalGroups ?? [])])];
    const argv = spec.command ? [...spec.command, ...(spec.args ?? [])] : [...img.entrypoint, ...(spec.args ?? img.cmd)];
    const env = this.resolveEnv(pod, spec);
    const expand = (s: string) => s.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, k) => (k in env ? env[k]! : m));
    const R = join(runDir, 'root');
    mkdirSync(R, { recursive: true });
    const L: string[] = ['set -eu', `R=${quote(R)}`, 'mount -t tmpfs -o mode=0755 tmpfs "$R"', 'cd "$R"'];
    L.push('mkdir -p usr dev proc sys tmp run var/lib var/log var/tmp root home opt srv mnt', 'chmod 1777 tmp var/tmp');
    for (const l of ['bin', 'sbin', 'lib', 'lib64']) {
      try {
        L.push(`ln -s ${quote(readlinkSync(`/${l}`))} ${l}`);
      } catch {}
    }
    L.push('ln -s /run var/run', 'ln -s /run/lock var/lock');
    L.push('mount --rbind /usr usr', 'mount -o remount,bind,ro usr');
    L.push('cp -a /etc etc', 'mount --rbind /dev dev', 'mount --rbind /sys sys', 'mount -t proc proc proc');
    // Replace (never write through) files that may be symlinks in the copy of /etc.
    L.push('rm -f etc/resolv.conf etc/hosts etc/hostname', ': > etc/hosts');
    L.push(
      `cp ${quote(join(this.o.root, 'resolv.conf'))} etc/resolv.conf 2>/dev/null || : > etc/resolv.conf`,
      `printf '%s\\n' ${quote(pod.name)} > etc/hostname`,
    );
    L.push(`mount --bind ${quote(this.hostsFile)} etc/hosts`);
    for (const d of img.dirs) L.push(`mkdir -p ".${d.path}" && chown ${d.uid}:${d.uid} ".${d.path}" && chmod ${d.mode.toString(8)} ".${d.path}"`);
    for (const ov of img.overlays) {
      L.push(`mkdir -p ".${ov.dst}"`, `mount --bind ${quote(ov.src)} ".${ov.dst}"`);
      if (ov.readOnly) L.push(`mount -o remount,bind,ro ".${ov.dst}"`);
    }
    const mounts = [...(spec.volumeMounts ?? [])];
    if (pod.spec.automountServiceAccountToken !== false && pod.spec.serviceAccountName)
      mounts.push({ name: '__serviceaccount', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true });
    for (const m of mounts) {
      const base = pod.claims[m.name] ?? this.volumeDir(pod, m.name);
      const src = m.subPath ? join(base, m.subPath) : base;
      const dst = `.${m.mountPath.replace(/^\/var\/run\//, '/run/')}`;
      L.push(`if [ -d ${quote(src)} ]; then mkdir -p "${dst}"; else mkdir -p "$(dirname "${dst}")"; [ -e "${dst}" ] || : > "${dst}"; fi`);
      L.push(`mount --bind ${quote(src)} "${dst}"`);
      if (m.readOnly) L.push(`mount -o remount,bind,ro "${dst}"`);
    }
    if (sc.readOnlyRootFilesystem) L.push('mount -o remount,bind,ro "$R"');
    L.push(`cd ${quote(spec.workingDir ?? '/')} 2>/dev/null || cd /`);
    const envArgs = Object.entries(env)
      .map(([k, v]) => quote(`${k}=${v}`))
      .join(' ');
    // The env is in this 0700 root-only script, not in any argv that outlives the exec below.
    L.push(
      `exec chroot "$R" /usr/bin/env -i ${envArgs} /usr/bin/setpriv --reuid=${uid} --regid=${gid} --groups=${groups.join(',')} --no-new-privs --inh-caps=-all --bounding-set=-all -- ${argv.map((a) => quote(expand(a))).join(' ')}`,
    );
    return L.join('\n') + '\n';
  }

  /** Starts one run of a container; resolves with its exit code. */
  private startContainer(pod: Pod, c: ContainerRun): Promise<number> {
    const runDir = join(pod.dir, 'containers', `${c.name}-${c.restartCount}-${Date.now()}`);
    mkdirSync(runDir, { recursive: true, mode: 0o700 });
    const script = join(runDir, 'start.sh');
    writeFileSync(script, this.containerScript(pod, c, runDir), { mode: 0o700 });
    if (c.log) c.logs.push(c.log);
    c.log = '';
    const proc = this.spawnTracked(
      'nsenter',
      [
        '-t',
        String(pod.sandbox!.pid),
        '-n',
        '-u',
        '--',
        'unshare',
        '--mount',
        '--propagation',
        'private',
        '--pid',
        '--fork',
        '--kill-child',
        '--',
        'bash',
        script,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: IMAGE_PATH } },
    );
    const logFile = join(this.o.root, 'logs', `${pod.name}_${pod.uid}_${c.name}.log`);
    mkdirSync(dirname(logFile), { recursive: true });
    const onData = (d: Buffer) => {
      c.log += d.toString();
      appendFileSync(logFile, d);
      this.o.standin.logs[`${pod.name}/${c.name}`] = c.log;
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    c.proc = proc;
    c.state = 'running';
    c.reason = undefined;
    c.startedAt = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    c.exited = new Promise((resolve) =>
      proc.on('exit', (code, signal) => {
        const n = code ?? 128 + (signal ? (({ SIGKILL: 9, SIGTERM: 15, SIGINT: 2 } as Record<string, number>)[signal] ?? 1) : 1);
        resolve(n);
      }),
    );
    return c.exited;
  }

  private backoff(restarts: number) {
    return Math.min((this.o.backoffBaseMs ?? 10_000) * 2 ** Math.max(0, restarts - 1), 300_000);
  }

  private async lifecycle(pod: Pod, backoffLimit: number) {
    const policy: string = pod.spec.restartPolicy ?? 'Always';
    let failures = 0;
    for (const c of pod.containers.filter((x) => x.init)) {
      for (;;) {
        if (pod.deleting) return;
        this.syncStatus(pod);
        const code = await this.startContainer(pod, c);
        c.state = 'terminated';
        c.exitCode = code;
        c.reason = code === 0 ? 'Completed' : 'Error';
        this.note(`pod ${pod.name}: init container ${c.name} exited ${code}`);
        this.syncStatus(pod);
        if (code === 0 || pod.deleting) break;
        if (policy === 'Never' || ++failures > backoffLimit) {
          pod.phase = 'Failed';
          this.syncStatus(pod);
          pod.finish();
          return;
        }
        c.restartCount++;
        c.state = 'waiting';
        c.reason = 'CrashLoopBackOff';
        this.syncStatus(pod);
        await this.wait(pod, this.backoff(c.restartCount));
      }
    }
    if (pod.deleting) return;
    pod.phase = 'Running';
    await Promise.all(pod.containers.filter((x) => !x.init).map((c) => this.runMain(pod, c, policy, backoffLimit)));
    if (!pod.deleting) {
      pod.phase = pod.containers.filter((x) => !x.init).every((x) => x.exitCode === 0) ? 'Succeeded' : 'Failed';
      this.syncStatus(pod);
      pod.finish();
    }
  }

  private async wait(pod: Pod, ms: number) {
    const end = Date.now() + ms;
    while (Date.now() < end && !pod.deleting) await sleep(100);
  }

  private async runMain(pod: Pod, c: ContainerRun, policy: string, backoffLimit: number) {
    let failures = 0;
    for (;;) {
      if (pod.deleting) return;
      c.started = false;
      c.ready = false;
      const exited = this.startContainer(pod, c);
      this.syncStatus(pod);
      const probes = this.probe(pod, c);
      const code = await exited;
      probes.stop();
      c.state = 'terminated';
      c.exitCode = code;
      c.lastExitCode = code;
      c.reason = code === 0 ? 'Completed' : 'Error';
      c.ready = false;
      this.note(`pod ${pod.name}: container ${c.name} exited ${code}`);
      this.syncStatus(pod);
      if (pod.deleting) return;
      const restart = policy === 'Always' || (policy === 'OnFailure' && code !== 0);
      if (!restart) return;
      if (code !== 0 && ++failures > backoffLimit) return;
      c.restartCount++;
      c.state = 'waiting';
      c.reason = 'CrashLoopBackOff';
      this.syncStatus(pod);
      await this.wait(pod, this.backoff(c.restartCount));
    }
  }

  /** Runs a command inside a running container (kubectl exec), as the container's user, with its env. */
  exec(podName: string, container: string, argv: string[], timeoutMs = 30_000): Promise<{ code: number; out: string }> {
    const pod = this.pods.get(podName);
    if (!pod) return Promise.resolve({ code: 1, out: `no pod ${podName}` });
    const c = pod.container(container);
    const pid = pod.pid1(container);
    if (!pid || c.state !== 'running') return Promise.resolve({ code: 1, out: `container ${container} of ${podName} is not running` });
    const sc = { ...pod.spec.securityContext, ...c.spec.securityContext };
    const uid = sc.runAsUser ?? 0;
    const gid = sc.runAsGroup ?? uid;
    const env = this.resolveEnv(pod, c.spec);
    return new Promise((resolve) => {
      const p = spawn(
        'nsenter',
        [
          '-t',
          String(pid),
          '-m',
          '-n',
          '-u',
          '-p',
          '-r',
          '-w',
          '--',
          '/usr/bin/setpriv',
          `--reuid=${uid}`,
          `--regid=${gid}`,
          `--groups=${[...new Set([gid, ...(sc.fsGroup !== undefined ? [sc.fsGroup] : [])])].join(',')}`,
          '--no-new-privs',
          '--',
          ...argv,
        ],
        { env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      p.stdout!.on('data', (d) => (out += d));
      p.stderr!.on('data', (d) => (out += d));
      const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
      // 'exit' can come before the pipes are drained (a busy host then reads "" from a query that answered):
      // the result is taken on 'close', or 2 s after 'exit' if a background child keeps the pipes open.
      let code = 1;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(t);
        resolve({ code, out });
      };
      p.on('exit', (c) => {
        code = c ?? 1;
        setTimeout(finish, 2000).unref();
      });
      p.on('close', finish);
    });
  }

  /** The probe loops of one container run. */
  private probe(pod: Pod, c: ContainerRun): { stop: () => void } {
    let stopped = false;
    const spec = c.spec;
    const run = async (p: any) => (await this.exec(pod.name, c.name, p.exec.command, (p.timeoutSeconds ?? 1) * 1000)).code === 0;
    void (async () => {
      await sleep(500);
      if (spec.startupProbe) {
        let fails = 0;
        for (;;) {
          if (stopped) return;
          if (await run(spec.startupProbe)) break;
          if (++fails >= (spec.startupProbe.failureThreshold ?? 3)) {
            this.note(`pod ${pod.name}: startup probe of ${c.name} failed ${fails} times, restarting it`);
            return this.killContainer(pod, c, 'SIGKILL');
          }
          await sleep((spec.startupProbe.periodSeconds ?? 10) * 1000);
        }
      }
      c.started = true;
      this.syncStatus(pod);
      let livenessFails = 0;
      let readinessFails = 0;
      const next = { ready: 0, live: (spec.livenessProbe?.initialDelaySeconds ?? 0) * 1000 + Date.now() };
      while (!stopped) {
        const now = Date.now();
        if (spec.readinessProbe && now >= next.ready) {
          next.ready = now + (spec.readinessProbe.periodSeconds ?? 10) * 1000;
          const ok = await run(spec.readinessProbe);
          if (stopped) return;
          readinessFails = ok ? 0 : readinessFails + 1;
          const ready = ok || (c.ready && readinessFails < (spec.readinessProbe.failureThreshold ?? 3));
          if (ready !== c.ready) {
            c.ready = ready;
            this.note(`pod ${pod.name}: ${c.name} ${ready ? 'Ready' : 'not Ready'}`);
            this.syncStatus(pod);
          }
        } else if (!spec.readinessProbe && !c.ready) {
          c.ready = true;
          this.syncStatus(pod);
        }
        if (spec.livenessProbe && Date.now() >= next.live) {
          next.live = Date.now() + (spec.livenessProbe.periodSeconds ?? 10) * 1000;
          const ok = await run(spec.livenessProbe);
          if (stopped) return;
          livenessFails = ok ? 0 : livenessFails + 1;
          if (livenessFails >= (spec.livenessProbe.failureThreshold ?? 3)) {
            this.note(`pod ${pod.name}: liveness probe of ${c.name} failed, restarting it`);
            return this.killContainer(pod, c, 'SIGTERM', pod.spec.terminationGracePeriodSeconds ?? 30);
          }
        }
        await sleep(200);
      }
    })();
    return { stop: () => (stopped = true) };
  }

  /** Signals a container's PID 1 (SIGTERM then, after the grace period, SIGKILL). */
  async killContainer(pod: Pod, c: ContainerRun, signal: NodeJS.Signals, graceSeconds = 0): Promise<void> {
    const pid = pod.pid1(c.name);
    if (c.state !== 'running' || !c.proc) return;
    if (pid) {
      try {
        process.kill(pid, signal);
      } catch {}
    } else this.kill(c.proc, 'SIGKILL');
    if (signal === 'SIGKILL') {
      await c.exited;
      return;
    }
    const done = await Promise.race([c.exited!.then(() => true), sleep(graceSeconds * 1000).then(() => false)]);
    if (!done) {
      this.kill(c.proc, 'SIGKILL');
      await c.exited;
    }
  }

  /** `kill -9` of a container's PID 1 (a crash or OOM kill): the kubelet restarts only that container. */
  async crash(podName: string, container: string): Promise<void> {
    const pod = this.pods.get(podName)!;
    const c = pod.container(container);
    const before = c.restartCount;
    this.note(`crashing ${podName}/${container} (kill -9 of its PID 1 ${pod.pid1(container)})`);
    await this.killContainer(pod, c, 'SIGKILL');
    while (c.restartCount === before) await sleep(50);
  }

  /** Deletes a pod: deletionTimestamp, preStop, SIGTERM, SIGKILL after the grace period, then the sandbox and emptyDirs go. */
  async deletePod(name: string, opts: { gracePeriodSeconds?: number } = {}): Promise<void> {
    const pod = this.pods.get(name);
    if (!pod || pod.deleting) return;
    const grace = opts.gracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
    this.note(`deleting pod ${name} (grace ${grace}s)`);
    pod.deleting = true;
    this.o.standin.update('Pod', this.ns, name, (o) => {
      o.metadata.deletionTimestamp = new Date().toISOString();
      o.metadata.deletionGracePeriodSeconds = grace;
    });
    this.writeHosts();
    const end = Date.now() + grace * 1000;
    await Promise.all(
      pod.containers.map(async (c) => {
        if (c.state !== 'running') return;
        const preStop = c.spec.lifecycle?.preStop?.exec?.command;
        if (preStop && grace > 0) await this.exec(name, c.name, preStop, Math.max(0, end - Date.now()));
        await this.killContainer(pod, c, grace > 0 ? 'SIGTERM' : 'SIGKILL', Math.max(0, (end - Date.now()) / 1000));
      }),
    );
    this.kill(pod.sandbox, 'SIGKILL');
    this.pods.delete(name);
    this.o.standin.remove('Pod', this.ns, name);
    this.writeHosts();
    rmSync(pod.dir, { recursive: true, force: true });
    pod.finish();
    this.note(`pod ${name} deleted`);
  }

  /** The pod's status in the API, as the kubelet reports it. */
  private syncStatus(pod: Pod) {
    if (this.stopped) return;
    const cs = (c: ContainerRun) => ({
      name: c.name,
      image: c.spec.image,
      ready: c.ready,
      started: c.started,
      restartCount: c.restartCount,
      state:
        c.state === 'running'
          ? { running: { startedAt: c.startedAt } }
          : c.state === 'terminated'
            ? { terminated: { exitCode: c.exitCode, reason: c.reason } }
            : { waiting: { reason: c.reason ?? 'PodInitializing' } },
      ...(c.lastExitCode !== undefined ? { lastState: { terminated: { exitCode: c.lastExitCode } } } : {}),
    });
    const mains = pod.containers.filter((c) => !c.init);
    const inits = pod.containers.filter((c) => c.init);
    const initialized = inits.every((c) => c.state === 'terminated' && c.exitCode === 0);
    const ready = initialized && mains.every((c) => c.ready) && !pod.deleting;
    const t = (b: boolean) => (b ? 'True' : 'False');
    this.o.standin.update('Pod', this.ns, pod.name, (o) => {
      o.status = {
        phase: pod.phase,
        hostIP: NODE_IP,
        podIP: pod.ip,
        podIPs: [{ ip: pod.ip }],
        conditions: [
          { type: 'PodScheduled', status: 'True' },
          { type: 'Initialized', status: t(initialized) },
          { type: 'ContainersReady', status: t(ready) },
          { type: 'Ready', status: t(ready) },
        ],
        initContainerStatuses: inits.map(cs),
        containerStatuses: mains.map(cs),
      };
    });
  }
}
