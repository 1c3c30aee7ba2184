/**
 * Issue 17, faults 1, 2 and 4 for Galera: partitions (minority writer, minority non-writer, three
 * singletons) cut with the net_cls + nftables rig (./rig.ts), and a hung writer (SIGSTOP). One 3-node
 * Galera cluster behind osb's HAProxy (port block 41); the client is oslo.db from Debian, configured only
 * from `osb endpoints --service nova --format oslo`, writing a history that ./history.ts checks after the
 * fault heals: 0 acknowledged commits lost, none stored twice, none on one side only.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockPorts, listeningInBlock } from '../helpers/local.js';
import { cleanup, portBlock, tempStateDir } from '../helpers/osb.js';
import { PyLoop, sleep, waitFor } from '../helpers/pyloop.js';
import { checkHistory, describeVerdict, parseHistory, type Verdict } from './history.js';
import { freeze, NetCut, type RigNode, thaw } from './rig.js';
import { now, round, Tier, watch } from './tier.js';

const BLOCK = 41;
const P = blockPorts(BLOCK);
const ARGS = [...portBlock(BLOCK), '--set', 'mariadb.replicas=3', '--set', 'rabbitmq.enabled=false', '--set', 'memcached.enabled=false'];
/** docs/faults.md: the longest a client waits for a commit when a node is cut off or hangs. */
const FAILOVER_LIMIT_S = 10;
/** docs/faults.md: healed (3 Synced, all UP in the proxy) within this after the network is back. */
const HEAL_LIMIT_S = 60;

const stateDir = tempStateDir('faults-galera');
const tier = new Tier(stateDir);
let cut: NetCut;
const measured: Record<string, unknown> = {};
const NAMES = ['mariadb-0', 'mariadb-1', 'mariadb-2'];

/** The rig's view of the nodes: current pids from osb status, Galera group/IST/SST ports. */
async function rigNodes(): Promise<RigNode[]> {
  const { s } = await tier.status();
  return NAMES.map((name, i) => ({
    name,
    pid: tier.node(s, name).pid!,
    clusterPorts: [P.galera + i, P.galera + 10 + i, P.galera + 20 + i],
  }));
}

/** Each node's Galera state and proxy status, for messages. */
async function describeTier(): Promise<string> {
  const states = await Promise.all(tier.eps.mariadb.nodes.map((n) => tier.galera(n)));
  const view = await tier.proxyView().catch((e: Error) => e.message);
  const proxy = typeof view === 'string' ? `proxy: ${view}` : view.map((b) => `${b.name} ${b.status}`).join(', ');
  return `${NAMES.map((n, i) => `${n} ${states[i]}`).join(', ')}; ${proxy}`;
}

const whole = async () => {
  const states = await Promise.all(tier.eps.mariadb.nodes.map((n) => tier.galera(n)));
  const view = await tier.proxyView().catch(() => []);
  return states.every((s) => s === 'Synced/Primary/3') && view.length === 3 && view.every((b) => b.status === 'UP');
};

interface Outcome {
  verdict: Verdict;
  healS: number;
  timelines: string;
  watchers: ReturnType<typeof watch>[];
  tFault: number;
  tHeal: number;
  loop: PyLoop;
}

/**
 * Runs the client, applies `fault` (returns the heal action), keeps it for `holdS`, heals, waits until the
 * cluster is whole again and checks the history on every node.
 */
async function underFault(table: string, holdS: number, fault: (nodes: RigNode[]) => () => void, during?: (t0: number) => Promise<void>): Promise<Outcome> {
  await waitFor('3 Synced nodes, all UP in the proxy, before the fault', whole, 60_000, 500).catch(async (e: Error) => {
    throw new Error(`${e.message}\n  now: ${await describeTier()}\n${NAMES.map((n) => `${n} log:\n${tier.logTail(n, 'mariadb.err', 25)}`).join('\n')}`);
  });
  const loop = new PyLoop('fault_db_history.py', [tier.novaConf, table]);
  const watchers = tier.eps.mariadb.nodes.map((n, i) =>
    watch(async () => `${await tier.galera(n)} proxy ${(await tier.proxyView().catch(() => [])).find((b) => b.name === NAMES[i])?.status ?? '?'}`),
  );
  const writers = watch(() => tier.proxyWriter());
  // set while the fault is on: a failed check during the fault must not leave it on for the next test
  let healFault: (() => void) | undefined;
  try {
    await loop.ready(20);
    const nodes = await rigNodes();
    const tFault = now();
    healFault = fault(nodes);
    await during?.(tFault);
    const rest = holdS - (now() - tFault);
    if (rest > 0) await sleep(rest * 1000);
    const tHeal = now();
    healFault();
    healFault = undefined;
    await waitFor('the cluster whole again: 3 Synced/Primary/3, all UP in the proxy', whole, HEAL_LIMIT_S * 1000 + 30_000, 250).catch((e: Error) => {
      throw new Error(
        `${e.message}\n  ${watchers.map((w, i) => `${NAMES[i]}:\n    ${w.text(tFault)}`).join('\n  ')}\n${NAMES.map((n) => `${n} log:\n${tier.logTail(n, 'mariadb.err', 25)}`).join('\n')}`,
      );
    });
    const healS = round(now() - tHeal);
    await sleep(1500);
    const tEnd = now();
    await loop.stop();
    for (const w of [...watchers, writers]) await w.stop();
    const stored: Record<string, number[]> = {};
    for (const [i, n] of tier.eps.mariadb.nodes.entries()) stored[NAMES[i]!] = await tier.idsOn(n, table);
    const verdict = checkHistory(parseHistory(loop.lines), stored, { from: tFault, to: tEnd, t0: tFault });
    const timelines = [...watchers.map((w, i) => `${NAMES[i]} (galera state | proxy):\n    ${w.text(tFault)}`), `writer:\n    ${writers.text(tFault)}`].join(
      '\n  ',
    );
    return { verdict, healS, timelines, watchers, tFault, tHeal, loop };
  } finally {
    healFault?.();
    loop.kill();
    for (const w of [...watchers, writers]) await w.stop();
  }
}

/** What every history must show, whatever the fault. */
function nothingLost(o: Outcome): void {
  expect(o.verdict.missingAcked, 'acknowledged commits missing, by node').toEqual({});
  expect(o.verdict.duplicates, 'ids stored twice, by node').toEqual({});
  expect(o.verdict.divergent, 'ids on some nodes only').toEqual([]);
  expect(o.verdict.acked).toBeGreaterThan(50);
}

/** The error log lines a node wrote after `since` (mariadb.err timestamps are local time, seconds). */
function logSince(name: string, since: number): string {
  const text = readFileSync(tier.logPath(name, 'mariadb.err'), 'utf8');
  return text
    .split('\n')
    .filter((l) => {
      // MariaDB pads the hour with a space: "2026-11-28  0:01:48".
      const m = /^(\d{4}-\d\d-\d\d)\s+(\d?\d):(\d\d:\d\d)/.exec(l);
      return m ? new Date(`${m[1]}T${m[2]!.padStart(2, '0')}:${m[3]}`).getTime() / 1000 >= Math.floor(since) : false;
    })
    .join('\n');
}

beforeAll(async () => {
  await tier.deploy(ARGS, 400_000);
  await tier.load();
  cut = new NetCut(`galera-${process.pid}`);
}, 420_000);

afterAll(async () => {
  console.log(`Galera fault measurements (issue 17):\n${JSON.stringify(measured, null, 2)}`);
  cut?.dispose();
  await cleanup(stateDir);
  expect(listeningInBlock(BLOCK)).toEqual([]);
}, 180_000);

describe('Galera minority partition (rig: net_cls + nftables on loopback)', () => {
  it.each([
    ['the writer', 0],
    ['a non-writer', 2],
  ])(
    '%s (mariadb-%i) cut off from the other two: it goes non-Primary, the proxy drops it, writes continue, it rejoins by IST, nothing lost',
    async (_what, victim) => {
      const name = NAMES[victim]!;
      const wasWriter = (await tier.proxyWriter()) === name;
      expect(wasWriter, `mariadb-0 is the writer before the fault`).toBe(victim === 0);
      let nonPrimaryAt = 0;
      let proxyDownAt = 0;
      let statusSays = '';
      let majorityPrimaryAt = 0;
      const o = await underFault(
        `fault_minority_${victim}`,
        15,
        (nodes) => {
          cut.partition([[nodes[victim]!], nodes.filter((_, i) => i !== victim)]);
          return () => cut.heal();
        },
        async (t0) => {
          // the minority notices: non-Primary, and the proxy stops sending to it
          await waitFor(`${name} non-Primary`, async () => /non-Primary/.test(await tier.galera(tier.eps.mariadb.nodes[victim]!)), 15_000, 200);
          nonPrimaryAt = round(now() - t0);
          await waitFor(`${name} DOWN in the proxy`, async () => (await tier.proxyView()).find((b) => b.name === name)?.status.startsWith('DOWN'), 15_000, 200);
          proxyDownAt = round(now() - t0);
          // osb status names it: non-Primary, cut off from a majority
          const { run, s } = await tier.status();
          expect(run.code, 'osb status fails while a node is cut off').not.toBe(0);
          statusSays = tier.node(s, name).error ?? '';
          expect(statusSays).toMatch(/non-Primary: cut off from a majority/);
          // the majority is Primary with 2 members. Each side suspects the other on its own clock, so the
          // majority may install its 2-member view a moment after the minority has gone non-Primary.
          const majority = [0, 1, 2].filter((i) => i !== victim);
          await waitFor(
            `${majority.map((i) => NAMES[i]).join(' and ')} Synced/Primary/2`,
            async () => (await Promise.all(majority.map((i) => tier.galera(tier.eps.mariadb.nodes[i]!)))).every((g) => g === 'Synced/Primary/2'),
            15_000,
            200,
          ).catch(async (e: Error) => {
            throw new Error(`${e.message}; now: ${await describeTier()}`);
          });
          majorityPrimaryAt = round(now() - t0);
        },
      );
      const after = logSince(name, o.tHeal);
      const result = {
        victim: name,
        wasWriter,
        nonPrimaryAfterS: nonPrimaryAt,
        proxyDownAfterS: proxyDownAt,
        majorityPrimaryAfterS: majorityPrimaryAt,
        healS: o.healS,
        statusSays,
        rejoinedBy: /IST received|Receiving IST/.test(after) ? 'IST' : /SST received|Proceeding with SST/.test(after) ? 'SST' : 'no transfer logged',
        ...o.verdict,
      };
      measured[`minority ${name}`] = result;
      console.log(
        `Galera: ${name}${wasWriter ? ' (the writer)' : ''} cut off: ${describeVerdict(o.verdict)}; non-Primary after ${nonPrimaryAt}s, DOWN in the proxy after ${proxyDownAt}s, whole ${o.healS}s after healing, rejoined by ${result.rejoinedBy}\n  ${o.timelines}`,
      );

      nothingLost(o);
      expect(o.verdict.longestUnavailableS, 'longest window without a commit (s)').toBeLessThan(FAILOVER_LIMIT_S);
      // the minority never served a write of its own while cut off: every stored id is on all three (checked above)
      expect(result.rejoinedBy, `${name}'s log after the heal:\n${after.slice(-3000)}`).toBe('IST');
      expect(o.healS).toBeLessThan(HEAL_LIMIT_S);
    },
  );
});

describe('Galera full partition into three singletons', () => {
  it('no node is Primary and writes fail fast; after healing the cluster re-forms by itself with nothing lost', async () => {
    let allNonPrimaryAt = 0;
    const o = await underFault(
      'fault_singletons',
      15,
      (nodes) => {
        cut.partition(nodes.map((n) => [n]));
        return () => cut.heal();
      },
      async (t0) => {
        await waitFor(
          'all three non-Primary',
          async () => (await Promise.all(tier.eps.mariadb.nodes.map((n) => tier.galera(n)))).every((s) => /non-Primary/.test(s)),
          15_000,
          200,
        );
        allNonPrimaryAt = round(now() - t0);
      },
    );
    // while cut: failures, each fast (HAProxy has no UP backend, or the node refuses with WSREP not ready)
    const whileCut = parseHistory(o.loop.lines).filter((op) => op.sent > o.tFault + allNonPrimaryAt + 3 && op.sent < o.tHeal);
    const result = {
      allNonPrimaryAfterS: allNonPrimaryAt,
      healS: o.healS,
      attemptsWhileCut: whileCut.length,
      ackedWhileCut: whileCut.filter((x) => x.acked).length,
      ...o.verdict,
    };
    measured.singletons = result;
    console.log(
      `Galera: three singletons: ${describeVerdict(o.verdict)}; all non-Primary after ${allNonPrimaryAt}s, whole ${o.healS}s after healing\n  ${o.timelines}`,
    );

    nothingLost(o);
    expect(whileCut.length, 'the client kept trying while no node was Primary').toBeGreaterThan(5);
    expect(result.ackedWhileCut, 'commits acknowledged while no node was Primary').toBe(0);
    expect(o.verdict.slowestFailureS, 'slowest failed commit (s): fail fast, no hang').toBeLessThan(FAILOVER_LIMIT_S);
    expect(o.healS).toBeLessThan(HEAL_LIMIT_S);
  });
});

describe('a hung Galera writer (SIGSTOP past the failure-detection timeouts, then SIGCONT)', () => {
  it('the others evict it and the proxy routes around it within the failover figure; after SIGCONT it rejoins; nothing lost', async () => {
    expect(await tier.proxyWriter()).toBe('mariadb-0');
    let frozen: number[] = [];
    let evictedAt = 0;
    const o = await underFault(
      'fault_hung_writer',
      15,
      (nodes) => {
        frozen = freeze(nodes[0]!.pid);
        return () => thaw(frozen);
      },
      async (t0) => {
        await waitFor(
          'mariadb-1 and mariadb-2 Primary without mariadb-0',
          async () => (await tier.galera(tier.eps.mariadb.nodes[1]!)) === 'Synced/Primary/2',
          15_000,
          200,
        );
        evictedAt = round(now() - t0);
      },
    ).finally(() => thaw(frozen));
    const result = { evictedAfterS: evictedAt, healS: o.healS, ...o.verdict };
    measured.hungWriter = result;
    console.log(
      `Galera: writer SIGSTOPped for 15 s: ${describeVerdict(o.verdict)}; evicted after ${evictedAt}s, whole ${o.healS}s after SIGCONT\n  ${o.timelines}`,
    );
    nothingLost(o);
    expect(o.verdict.longestUnavailableS, 'longest window without a commit (s)').toBeLessThan(FAILOVER_LIMIT_S);
    expect(o.healS).toBeLessThan(HEAL_LIMIT_S);
  });
});
