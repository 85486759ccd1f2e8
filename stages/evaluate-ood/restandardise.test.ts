import { describe, expect, it } from 'vitest';
import { restandardise, type FeatureTable } from './tables.js';

describe('restandardise', () => {
  it('gives what standardising the raw features with the other statistics gives; zero padding stays', () => {
    const [bands, frames, n] = [3, 4, 2];
    const raw = Float32Array.from({ length: n * bands * frames }, (_, i) => Math.sin(i) * 10 - 40);
    const own = { from: 'own', mean: Float64Array.from([-41, -39, -40.5]), std: Float64Array.from([6, 7, 0]) };
    const to = { from: 'train', mean: Float64Array.from([-35, -44, -38]), std: Float64Array.from([3, 9, 2]) };
    const std = (x: Float32Array, s: typeof own) => x.map((v, i) => (v - s.mean[Math.floor(i / frames) % bands]!) / Math.max(s.std[Math.floor(i / frames) % bands]!, 1e-8));
    const table: FeatureTable = { from: 'set', n, clipIds: ['a', 'b'], splits: ['test', 'test'], labels: Int32Array.from([0, 1]), classes: ['x', 'y'], x: std(raw, own), shape: [bands, frames], normalize: true, pad: 'silence' };
    // Band 2 has std 0: the features stage divides by its floor, and so does the inverse.
    const got = restandardise(table, own, to, false, 1e-8).x;
    const want = std(raw, to);
    for (let i = 0; i < want.length; i++) if (Math.floor(i / frames) % bands !== 2) expect(got[i]).toBeCloseTo(want[i]!, 3);
    // pad: zero — a frame that is 0 in every band is padding and stays 0.
    const padded = Float32Array.from(table.x);
    for (let b = 0; b < bands; b++) padded[b * frames + 3] = 0;
    const kept = restandardise({ ...table, x: padded, pad: 'zero' }, own, to, true, 1e-8).x;
    for (let b = 0; b < bands; b++) expect(kept[b * frames + 3]).toBe(0);
    expect(kept[0]).toBeCloseTo(want[0]!, 3);
  });

  it('refuses statistics that were never taken (a table without clips of its statistics split)', () => {
    const table: FeatureTable = { from: 'set', n: 1, clipIds: ['a'], splits: ['test'], labels: Int32Array.from([0]), classes: ['x'], x: new Float32Array(2), shape: [2, 1], normalize: true, pad: 'silence' };
    const nan = { from: 'other_features', mean: Float64Array.from([NaN, NaN]), std: Float64Array.from([NaN, NaN]) };
    const ok = { from: 'train', mean: Float64Array.from([0, 0]), std: Float64Array.from([1, 1]) };
    expect(() => restandardise(table, nan, ok, false, 1e-8)).toThrow('other_features:stats has no statistics');
  });
});
