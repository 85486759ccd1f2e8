import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng as CounterRng } from '../../core/util/random.js';
import {
  mixup,
  mixupActive,
  MixupSchema,
  sampleBeta,
  specAugment,
  SpecAugmentSchema,
  timeShift,
  TimeShiftSchema,
  type Rng,
} from './augment.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const rng = (seed: number): Rng => new CounterRng(seed, 7);

/** [batch, mels, frames, 1] with distinct values: x[b, m, t] = 1000b + 100m + t + 1. */
function ramp(batch: number, mels: number, frames: number): { t: tf.Tensor4D; at: (b: number, m: number, f: number) => number } {
  const at = (b: number, m: number, f: number): number => 1000 * b + 100 * m + f + 1;
  const data = new Float32Array(batch * mels * frames);
  for (let b = 0; b < batch; b++) for (let m = 0; m < mels; m++) for (let f = 0; f < frames; f++) data[(b * mels + m) * frames + f] = at(b, m, f);
  return { t: tf.tensor4d(data, [batch, mels, frames, 1]), at };
}

describe('Beta sampler', () => {
  it('has the Beta(α, α) mean and variance, also for small α', () => {
    for (const alpha of [0.1, 0.4, 2]) {
      const r = rng(1);
      const xs = Array.from({ length: 20000 }, () => sampleBeta(r, alpha, alpha));
      expect(xs.every((v) => v >= 0 && v <= 1)).toBe(true);
      const m = xs.reduce((a, b) => a + b, 0) / xs.length;
      const v = xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length;
      expect(m).toBeCloseTo(0.5, 1);
      expect(v).toBeCloseTo(1 / (4 * (2 * alpha + 1)), 2); // αβ/((α+β)²(α+β+1))
    }
  });
});

describe('mixup', () => {
  const y = (): tf.Tensor2D =>
    tf.tensor2d([
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
      [1, 0, 0],
    ]);

  it('mixes inputs and labels with the same λ and partner; the seed fixes both', () => {
    const before = tf.memory().numTensors;
    const { t: x, at } = ramp(4, 2, 3);
    const labels = y();
    const config = MixupSchema.parse({ alpha: 0.4, lambda: 'sample' });
    const a = mixup(x, labels, rng(5), config);
    const b = mixup(x, labels, rng(5), config);
    const c = mixup(x, labels, rng(6), config);
    expect(Array.from(a.partner)).toEqual(Array.from(b.partner));
    expect(Array.from(a.lambda)).toEqual(Array.from(b.lambda));
    expect(Array.from(a.x.dataSync())).toEqual(Array.from(b.x.dataSync()));
    expect(Array.from(a.lambda)).not.toEqual(Array.from(c.lambda));
    expect([...a.partner].sort()).toEqual([0, 1, 2, 3]);

    const mixedX = a.x.arraySync() as number[][][][];
    const mixedY = a.y.arraySync();
    const Y = labels.arraySync();
    for (let i = 0; i < 4; i++) {
      const [l, j] = [a.lambda[i]!, a.partner[i]!];
      expect(mixedX[i]![1]![2]![0]).toBeCloseTo(l * at(i, 1, 2) + (1 - l) * at(j, 1, 2), 2);
      mixedY[i]!.forEach((v, k) => expect(v).toBeCloseTo(l * Y[i]![k]! + (1 - l) * Y[j]![k]!, 6));
      expect(mixedY[i]!.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 6);
    }
    tf.dispose([x, labels, a.x, a.y, b.x, b.y, c.x, c.y]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('one λ per batch by default; warm-up epochs come first', () => {
    const { t: x } = ramp(4, 1, 2);
    const labels = y();
    const config = MixupSchema.parse({});
    expect(config).toEqual({ alpha: 0.1, warmup_epochs: 10, lambda: 'batch' });
    const r = mixup(x, labels, rng(3), config);
    expect(new Set(r.lambda).size).toBe(1);
    expect(mixupActive(config, 9)).toBe(false);
    expect(mixupActive(config, 10)).toBe(true);
    tf.dispose([x, labels, r.x, r.y]);
  });
});

describe('SpecAugment', () => {
  const config = SpecAugmentSchema.parse({ freq_width: 3, time_width: 4 });

  it('masks within the width bounds, set to mask_value, deterministic per seed', () => {
    const before = tf.memory().numTensors;
    const [batch, mels, frames] = [6, 8, 12];
    const { t: x, at } = ramp(batch, mels, frames);
    const a = specAugment(x, rng(9), config);
    const b = specAugment(x, rng(9), config);
    expect(a.masks).toEqual(b.masks);
    expect(Array.from(a.x.dataSync())).toEqual(Array.from(b.x.dataSync()));
    const c = specAugment(x, rng(10), config);
    expect(c.masks).not.toEqual(a.masks);

    const out = a.x.arraySync();
    a.masks.forEach((own, s) => {
      expect(own.map((m) => m.axis)).toEqual(['freq', 'freq', 'time', 'time']);
      for (const m of own) {
        const size = m.axis === 'freq' ? mels : frames;
        expect(m.width).toBeGreaterThanOrEqual(0);
        expect(m.width).toBeLessThanOrEqual(m.axis === 'freq' ? 3 : 4);
        expect(m.start).toBeGreaterThanOrEqual(0);
        expect(m.start + m.width).toBeLessThanOrEqual(size);
      }
      const masked = (m: number, f: number): boolean =>
        own.some((k) => (k.axis === 'freq' ? m : f) >= k.start && (k.axis === 'freq' ? m : f) < k.start + k.width);
      for (let m = 0; m < mels; m++) for (let f = 0; f < frames; f++) {
        expect(out[s]![m]![f]![0]).toBe(masked(m, f) ? 0 : at(s, m, f));
      }
    });
    tf.dispose([x, a.x, b.x, c.x]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('width 0 or no masks leave the input unchanged; mask_value is used', () => {
    const { t: x } = ramp(2, 4, 5);
    const none = specAugment(x, rng(1), { ...config, freq_masks: 0, time_masks: 0 });
    expect(Array.from(none.x.dataSync())).toEqual(Array.from(x.dataSync()));
    const full = specAugment(x, rng(1), { freq_masks: 0, freq_width: 0, time_masks: 50, time_width: 5, mask_value: -7 });
    const values = Array.from(full.x.dataSync());
    expect(values.some((v) => v === -7)).toBe(true);
    tf.dispose([x, none.x, full.x]);
  });
});

describe('time shift', () => {
  it('circular: out[t] = x[(t − s) mod T]; zero: the gap is 0; seeded', () => {
    const before = tf.memory().numTensors;
    const [batch, mels, frames] = [5, 2, 7];
    const { t: x, at } = ramp(batch, mels, frames);
    for (const mode of ['circular', 'zero'] as const) {
      const config = TimeShiftSchema.parse({ max_shift: 3, mode });
      const a = timeShift(x, rng(4), config);
      const b = timeShift(x, rng(4), config);
      expect(Array.from(a.shifts)).toEqual(Array.from(b.shifts));
      expect(a.shifts.every((s) => s >= -3 && s <= 3)).toBe(true);
      const out = a.x.arraySync();
      a.shifts.forEach((s, i) => {
        for (let m = 0; m < mels; m++) for (let t = 0; t < frames; t++) {
          const from = t - s;
          const expected = from >= 0 && from < frames ? at(i, m, from) : mode === 'circular' ? at(i, m, (from + frames) % frames) : 0;
          expect(out[i]![m]![t]![0]).toBe(expected);
        }
      });
      tf.dispose([a.x, b.x]);
    }
    x.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the shifts cover −S…S', () => {
    const { t: x } = ramp(200, 1, 4);
    const r = timeShift(x, rng(2), { max_shift: 2, mode: 'zero' });
    expect(new Set(r.shifts)).toEqual(new Set([-2, -1, 0, 1, 2]));
    tf.dispose([x, r.x]);
  });
});
