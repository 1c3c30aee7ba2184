/**
 * `osb heal`'s choice of RabbitMQ nodes to restart after a recorded partition (partitionLosers in
 * src/components/rabbitmq/health.ts): the losing side, never every node. The restart itself runs
 * against real daemons in test/integration/ha.test.ts and under a real systemd in supervision.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { partitionLosers } from '../../src/components/rabbitmq/health.js';

const v = (node: string, ...partitions: string[]) => ({ node, partitions });

describe('partitionLosers', () => {
  it('no recorded partition: nothing to restart', () => {
    expect(partitionLosers([v('a'), v('b'), v('c')])).toEqual([]);
  });
  it('a node cut from both others (a hung node that resumed): that node, whichever side recorded it', () => {
    expect(partitionLosers([v('a', 'b', 'c'), v('b', 'a'), v('c', 'a')])).toEqual(['a']);
    expect(partitionLosers([v('a'), v('b', 'a'), v('c', 'a')])).toEqual(['a']);
    expect(partitionLosers([v('a', 'b', 'c'), v('b'), v('c')])).toEqual(['a']);
  });
  it('three singletons: every node but the first', () => {
    expect(partitionLosers([v('a', 'b', 'c'), v('b', 'a', 'c'), v('c', 'a', 'b')])).toEqual(['b', 'c']);
  });
  it('two nodes that disagree in a cluster of three: one of them, not both', () => {
    expect(partitionLosers([v('a'), v('b', 'c'), v('c', 'b')])).toEqual(['c']);
  });
  it('a two-node cluster split in two: the second node', () => {
    expect(partitionLosers([v('a', 'b'), v('b', 'a')])).toEqual(['b']);
  });
});
