import { describe, expect, it } from 'vitest';
import { pool } from './promise.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('pool', () => {
  it('runs every item, at most n at a time', async () => {
    let inFlight = 0;
    let most = 0;
    const done: number[] = [];
    await pool([1, 2, 3, 4, 5, 6, 7], 3, async (i) => {
      most = Math.max(most, ++inFlight);
      await tick(2);
      inFlight--;
      done.push(i);
    });
    expect(done.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(most).toBe(3);
    await pool([], 4, async () => {
      throw new Error('never called');
    });
  });

  it('after a failure starts nothing more, and throws the first error once the started calls have ended', async () => {
    const started: number[] = [];
    const ended: number[] = [];
    const run = pool([1, 2, 3, 4, 5, 6], 2, async (i) => {
      started.push(i);
      if (i === 1) throw new Error('first');
      await tick(10);
      ended.push(i);
      if (i === 2) throw new Error('second');
    });
    await expect(run).rejects.toThrow('first');
    expect(started).toEqual([1, 2]);
    expect(ended).toEqual([2]); // 2 was running when 1 failed: it ended before pool threw
  });
});
