/**
 * The fault rig (issue 17): cut the nodes of one local deployment apart, and hang them, with nothing
 * outside this machine and no change to how osb runs them.
 *
 * Every local node listens on 127.0.0.1, so nodes cannot be told apart by address. They are told apart
 * by the process that sends: each node's daemon is moved into its own net_cls cgroup (cgroup v1, mounted
 * here on demand) whose classid nftables matches as `meta cgroup` on the output hook — loopback traffic
 * passes it in both directions. Moving a process into a net_cls cgroup re-tags its open sockets too, so
 * connections that exist before the cut are cut as well.
 *
 * A cut between node X and node Y marks, in conntrack, every connection X opens to one of Y's cluster
 * ports and every connection Y opens to one of X's, on the first packet sent after the rule is in place;
 * a second rule drops every packet of a marked connection, both ways. Packets are dropped silently (no
 * RST), as a real partition does: each side has to notice by its own timeouts. Clients (the test, HAProxy,
 * osb) are in no node's cgroup and keep reaching every node, like clients on a third host.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const NET_CLS = '/sys/fs/cgroup/net_cls';
const TABLE = 'osb_faults';

function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Mounts the net_cls controller if it is not (cgroup v1 hosts leave it unmounted). */
function ensureNetCls(): void {
  if (existsSync(join(NET_CLS, 'cgroup.procs'))) return;
  mkdirSync(NET_CLS, { recursive: true });
  try {
    sh('mount', ['-t', 'cgroup', '-o', 'net_cls', 'net_cls', NET_CLS]);
  } catch (e) {
    throw new Error(
      `the fault rig needs the net_cls cgroup controller (cgroup v1) to tell nodes apart on loopback, and mounting it failed: ${(e as Error).message}. ` +
        'Run the fault suite as root on a kernel with CONFIG_CGROUP_NET_CLASSID.',
    );
  }
}

/** Every process whose parent chain leads to `pid` (the daemon's children: SST scripts, erl_child_setup...). */
function withDescendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

export interface RigNode {
  name: string;
  /** The daemon's main pid (from `osb status --json`). */
  pid: number;
  /** Ports its peers connect to: Galera group/IST/SST, Erlang distribution. */
  clusterPorts: number[];
}

export class NetCut {
  private readonly root: string;
  private readonly classids = new Map<string, number>();
  private mark = 0;
  private active = false;

  constructor(readonly id: string) {
    ensureNetCls();
    this.root = join(NET_CLS, `osb-faults-${id}`);
    mkdirSync(this.root, { recursive: true });
  }

  /** Puts each node (and its children) in its own classid; call again after a node got a new pid. */
  tag(nodes: RigNode[]): void {
    for (const n of nodes) {
      const dir = join(this.root, n.name);
      if (!this.classids.has(n.name)) {
        mkdirSync(dir, { recursive: true });
        // 0xAAAABBBB: major 0x17, minor from the node's index; nft compares the 32-bit value.
        const classid = (0x17 << 16) | (this.classids.size + 1);
        writeFileSync(join(dir, 'net_cls.classid'), String(classid));
        this.classids.set(n.name, classid);
      }
      for (const p of withDescendants(n.pid)) {
        try {
          writeFileSync(join(dir, 'cgroup.procs'), String(p));
        } catch {
          // exited meanwhile
        }
      }
    }
  }

  /**
   * Cuts every group from every other group (each node of `groups` must have been tagged). Replaces any
   * cut in place. `[[a], [b, c]]` isolates a; `[[a], [b], [c]]` makes three singletons.
   */
  partition(groups: RigNode[][]): void {
    this.tag(groups.flat());
    this.mark += 1;
    const m = 0x0f00 + this.mark; // a fresh mark per cut: marks left on old connections never match again
    const rules: string[] = [];
    for (let i = 0; i < groups.length; i++)
      for (let j = 0; j < groups.length; j++) {
        if (i === j) continue;
        for (const x of groups[i]!)
          for (const y of groups[j]!) rules.push(`    meta cgroup ${this.classids.get(x.name)} tcp dport { ${y.clusterPorts.join(', ')} } ct mark set ${m}`);
      }
    rules.push(`    ct mark ${m} drop`);
    const script = [
      `table inet ${TABLE}`,
      `delete table inet ${TABLE}`,
      `table inet ${TABLE} {`,
      '  chain out {',
      '    type filter hook output priority 0; policy accept;',
      ...rules,
      '  }',
      '}',
      '',
    ].join('\n');
    sh('nft', ['-f', '-'], script);
    this.active = true;
  }

  /** Removes the cut; connections resume (TCP retransmits) or are re-opened by the daemons. */
  heal(): void {
    if (!this.active) return;
    sh('nft', ['-f', '-'], `table inet ${TABLE}\ndelete table inet ${TABLE}\n`);
    this.active = false;
  }

  /** Heals, moves every tagged process back to the root cgroup and removes the cgroups. */
  dispose(): void {
    try {
      this.heal();
    } catch {
      // the table may already be gone
    }
    if (!existsSync(this.root)) return;
    for (const name of readdirSync(this.root)) {
      const dir = join(this.root, name);
      if (!existsSync(join(dir, 'cgroup.procs'))) continue;
      for (const p of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
        try {
          writeFileSync(join(NET_CLS, 'cgroup.procs'), p);
        } catch {
          // exited
        }
      }
      try {
        rmdirSync(dir);
      } catch {
        // a process still inside (exiting); the next dispose retries
      }
    }
    try {
      rmdirSync(this.root);
    } catch {
      // as above
    }
  }
}

/** SIGSTOP the daemon and its children (a hung node: alive, holding its sockets, answering nothing). */
export function freeze(pid: number): number[] {
  const pids = withDescendants(pid);
  for (const p of pids) {
    try {
      process.kill(p, 'SIGSTOP');
    } catch {
      // gone
    }
  }
  return pids;
}

export function thaw(pids: number[]): void {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGCONT');
    } catch {
      // gone
    }
  }
}
