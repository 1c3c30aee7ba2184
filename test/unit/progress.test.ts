import { describe, expect, it } from 'vitest';
import { listrProgress } from '../../src/cli/progress.js';
import { plainProgress, type Progress } from '../../src/util/progress.js';

/** The terminal (listr2) and the plain renderer must behave alike: only the look may differ. */
describe.each([
  ['plain lines (pipes, logs)', () => plainProgress(() => {})],
  ['task list (terminal)', () => listrProgress()],
])('progress contract: %s', (_name, make: () => Progress) => {
  it('a sequential list stops at its first failure and rejects with it', async () => {
    const ran: string[] = [];
    const p = make().run([
      { title: 'a', task: async () => void ran.push('a') },
      {
        title: 'b',
        task: async () => {
          ran.push('b');
          throw new Error('b failed');
        },
      },
      { title: 'c', task: async () => void ran.push('c') },
    ]);
    await expect(p).rejects.toThrow('b failed');
    expect(ran).toEqual(['a', 'b']);
  });

  it('a concurrent list runs every task to its end, then rejects with the first failure', async () => {
    const ran: string[] = [];
    const p = make().run(
      [
        {
          title: 'a',
          task: async () => {
            throw new Error('a failed');
          },
        },
        {
          title: 'b',
          task: async () => {
            await new Promise((r) => setTimeout(r, 50));
            ran.push('b');
          },
        },
      ],
      { concurrent: true },
    );
    await expect(p).rejects.toThrow('a failed');
    expect(ran).toEqual(['b']);
  });

  it('resolves with every result in order', async () => {
    expect(
      await make().run(
        [
          { title: 'x', task: async () => 1 },
          { title: 'y', task: async () => 2 },
        ],
        { concurrent: true },
      ),
    ).toEqual([1, 2]);
  });
});
