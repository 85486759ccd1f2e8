import { describe, expect, it } from 'vitest';
import { adaptiveAvgPool, pooledShape } from './pool.js';

describe('probe pooling', () => {
  it('halves the widest spatial axis until the budget is met, never below one per channel', () => {
    expect(pooledShape([32, 50], 1, 400)).toEqual([16, 25]);
    expect(pooledShape([16, 25], 8, 512)).toEqual([8, 7]);
    expect(pooledShape([4, 6], 64, 100)).toEqual([1, 1]); // 64 channels are kept
    expect(pooledShape([10], 4, 1000)).toEqual([10]); // already small enough
  });

  it('averages adaptive windows per channel (overlapping when the size does not divide)', () => {
    // x [3 × 2 × 2 channels]: channel 0 = row index, channel 1 = column index.
    const x: number[] = [];
    for (let r = 0; r < 3; r++) for (let c = 0; c < 2; c++) x.push(r, c);
    // → [2 × 1]: windows rows [0, 2) and [1, 3), all columns.
    expect(Array.from(adaptiveAvgPool(x, [3, 2], 2, [2, 1]))).toEqual([0.5, 0.5, 1.5, 0.5]);
    expect(Array.from(adaptiveAvgPool([1, 2, 3, 4], [4], 1, [2]))).toEqual([1.5, 3.5]);
    expect(Array.from(adaptiveAvgPool([1, 2, 3], [], 3, []))).toEqual([1, 2, 3]);
  });
});
