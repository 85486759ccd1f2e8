import { describe, expect, it } from 'vitest';
import { bandMeans, checkShape, gatherRows, rowsOfSplit, type FeatureTable } from './tables.js';

// Three rows of [2 mels × 3 frames]: row r, band m, frame f holds 100r + 10m + f.
const table: FeatureTable = {
  from: 'features',
  n: 3,
  clipIds: ['a', 'b', 'c'],
  splits: ['train', 'test', 'train'],
  labels: Int32Array.from([0, 1, 0]),
  classes: ['x', 'y'],
  x: Float32Array.from({ length: 18 }, (_, i) => 100 * Math.floor(i / 6) + 10 * Math.floor((i % 6) / 3) + (i % 3)),
  shape: [2, 3],
};

describe('feature tables', () => {
  it('selects rows of a split and gathers their features', () => {
    expect(rowsOfSplit(table, 'train')).toEqual([0, 2]);
    expect(Array.from(gatherRows(table, [2, 1]))).toEqual([200, 201, 202, 210, 211, 212, 100, 101, 102, 110, 111, 112]);
  });

  it("band means over rows and frames (the occluder)", () => {
    // Band 0 over rows 0 and 2: mean of 0,1,2,200,201,202 = 101; band 1: 111.
    expect(Array.from(bandMeans(table, [0, 2]))).toEqual([101, 111]);
    expect(Array.from(bandMeans(table, []))).toEqual([0, 0]);
  });

  it('checks the shape against the model input', () => {
    expect(checkShape(table, [2, 3, 1], 'train')).toEqual([2, 3]);
    expect(() => checkShape(table, [2, 4, 1], 'train@seed=1')).toThrow('features:features have shape [2, 3], but train@seed=1 takes [2, 4] (n_mels, frames)');
  });
});
