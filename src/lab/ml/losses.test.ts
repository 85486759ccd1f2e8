import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLoss, LossSchema } from './losses-config.js';
import { ElrMemory } from './losses-elr.js';
import { maskLargeLosses, percentileIndex, pruneByLoss, secondStage } from './losses-twostage.js';
import { bootstrapHard, bootstrapSoft, crossEntropy, gce, mae, sce, type LossResult, type Targets } from './losses.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// 3 samples × 3 classes; sample 1 is "mislabelled" (its label 2 gets the lowest logit).
const LOGITS = [
  [2, 1, 0.1],
  [0.5, 2.5, -1],
  [-1, 0, 3],
];
const LABELS = [0, 2, 2];
const K = 3;

// Plain float64 references.
const softmax = (z: number[]): number[] => {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
const P = LOGITS.map(softmax);
const oneHot = (y: number): number[] => Array.from({ length: K }, (_, k) => (k === y ? 1 : 0));
const Y = LABELS.map(oneHot);
const ceWith = (p: number[], t: number[]): number => -t.reduce((s, tk, k) => s + tk * Math.log(p[k]!), 0);
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

const logits = (): tf.Tensor2D => tf.tensor2d(LOGITS);
const labels = (): tf.Tensor1D => tf.tensor1d(LABELS, 'int32');

function values(r: LossResult): { perSample: number[]; mean: number } {
  const out = { perSample: Array.from(r.perSample.dataSync()), mean: r.mean.dataSync()[0]! };
  r.perSample.dispose();
  r.mean.dispose();
  return out;
}

function expectClose(actual: number[], expected: number[], digits = 5): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((a, i) => expect(a, `index ${i}`).toBeCloseTo(expected[i]!, digits));
}

/** d mean-loss / d logits, [batch][K]. */
function gradOfMean(loss: (z: tf.Tensor2D) => LossResult, z: number[][] = LOGITS): number[][] {
  const g = tf.grad((x: tf.Tensor) => {
    const r = loss(x as tf.Tensor2D);
    r.perSample.dispose();
    return r.mean;
  });
  const t = tf.tensor2d(z);
  const dz = g(t);
  const out = dz.arraySync() as number[][];
  t.dispose();
  dz.dispose();
  return out;
}

describe('cross-entropy and label smoothing', () => {
  const ce = LABELS.map((y, i) => -Math.log(P[i]![y]!));

  it('hard labels: −log p_y', () => {
    const r = values(crossEntropy(logits(), labels(), 0));
    expectClose(r.perSample, ce);
    expect(r.mean).toBeCloseTo(mean(ce), 5);
    expect(ce[0]).toBeCloseTo(0.4170300, 6); // −log softmax([2, 1, 0.1])[0], by hand
  });

  it('soft targets equal one-hot hard labels and weight the classes', () => {
    expectClose(values(crossEntropy(logits(), tf.tensor2d(Y), 0)).perSample, ce);
    const soft = [
      [0.5, 0.5, 0],
      [0, 0.2, 0.8],
      [1 / 3, 1 / 3, 1 / 3],
    ];
    expectClose(values(crossEntropy(logits(), tf.tensor2d(soft), 0)).perSample, soft.map((t, i) => ceWith(P[i]!, t)));
  });

  it('ε = 0 is plain CE; ε smooths towards uniform: ỹ = (1−ε)e_y + ε/K', () => {
    expectClose(values(crossEntropy(logits(), labels(), [0, 0, 0])).perSample, ce);
    const eps = 0.15;
    const smoothed = Y.map((y) => y.map((v) => (1 - eps) * v + eps / K));
    expectClose(values(crossEntropy(logits(), labels(), eps)).perSample, smoothed.map((t, i) => ceWith(P[i]!, t)));
  });

  it('per-class ε: each sample gets the ε of its given label', () => {
    const perClass = [0.05, 0.5, 0.3];
    const expected = LABELS.map((y, i) => ceWith(P[i]!, Y[i]!.map((v) => (1 - perClass[y]!) * v + perClass[y]! / K)));
    expectClose(values(crossEntropy(logits(), labels(), perClass)).perSample, expected);
    // Sample 0 (class 0) is smoothed with 0.05, not 0.5 or 0.3.
    expect(expected[0]).not.toBeCloseTo(ceWith(P[0]!, Y[0]!.map((v) => 0.7 * v + 0.1)), 3);
    expect(() => crossEntropy(logits(), labels(), [0.1, 0.2])).toThrow(/2 values for 3 classes/);
  });

  it('probabilities are clipped at 1e-7: the loss of a hopeless sample is −ln 1e-7', () => {
    const r = values(crossEntropy(tf.tensor2d([[100, -100, 0]]), tf.tensor1d([1], 'int32'), 0));
    expect(r.perSample[0]).toBeCloseTo(-Math.log(1e-7), 4);
  });
});

describe('GCE / Lq and MAE', () => {
  const py = LABELS.map((y, i) => P[i]![y]!);

  it('matches (1 − p_y^q)/q', () => {
    const q = 0.7;
    expectClose(values(gce(logits(), labels(), q)).perSample, py.map((p) => (1 - p ** q) / q));
  });

  it('q → 0 approaches CE', () => {
    // (1 − p^q)/q = −log p − q·log²p/2 + O(q²)
    const q = 1e-3;
    const r = values(gce(logits(), labels(), q)).perSample;
    py.forEach((p, i) => expect(r[i]!).toBeCloseTo(-Math.log(p) - (q * Math.log(p) ** 2) / 2, 4));
    py.forEach((p, i) => expect(Math.abs(r[i]! + Math.log(p))).toBeLessThan(q * Math.log(p) ** 2));
  });

  it('q = 1 is 1 − p_y, half of MAE = Σ|y − p| = 2(1 − p_y)', () => {
    const g = values(gce(logits(), labels(), 1)).perSample;
    const m = values(mae(logits(), labels())).perSample;
    expectClose(g, py.map((p) => 1 - p));
    expectClose(m, Y.map((y, i) => y.reduce((s, v, k) => s + Math.abs(v - P[i]![k]!), 0)));
    expectClose(m, g.map((v) => 2 * v));
  });

  it('soft targets: Σ_k y_k (1 − p_k^q)/q', () => {
    const soft = [0.2, 0.3, 0.5];
    const r = values(gce(tf.tensor2d([LOGITS[0]!]), tf.tensor2d([soft]), 0.5)).perSample;
    expect(r[0]).toBeCloseTo(soft.reduce((s, y, k) => s + (y * (1 - P[0]![k]! ** 0.5)) / 0.5, 0), 5);
  });

  it('rejects q outside (0, 1]', () => {
    expect(() => gce(logits(), labels(), 0)).toThrow();
    expect(LossSchema.safeParse({ name: 'gce', q: 1.5 }).success).toBe(false);
  });
});

describe('SCE', () => {
  it('α·CE + β·RCE with log 0 := A, RCE = −A(1 − p_y) for hard labels', () => {
    const [alpha, beta, A] = [0.1, 1, -4];
    const expected = LABELS.map((y, i) => alpha * -Math.log(P[i]![y]!) + beta * -A * (1 - P[i]![y]!));
    const r = values(sce(logits(), labels(), { alpha, beta, logZero: A }));
    expectClose(r.perSample, expected);
    expect(r.mean).toBeCloseTo(mean(expected), 5);
  });
});

describe('bootstrapping', () => {
  it('soft: −Σ [βy + (1−β)p] log p, gradient β(p − y)/B (no gradient through the target)', () => {
    const beta = 0.95;
    const expected = Y.map((y, i) => ceWith(P[i]!, y.map((v, k) => beta * v + (1 - beta) * P[i]![k]!)));
    expectClose(values(bootstrapSoft(logits(), labels(), beta)).perSample, expected);

    const g = gradOfMean((z) => bootstrapSoft(z, labels(), beta));
    const manual = P.map((p, i) => p.map((pk, k) => (beta * (pk - Y[i]![k]!)) / LOGITS.length));
    g.forEach((row, i) => expectClose(row, manual[i]!, 6));
    // Back-propagating through p as well would give a different gradient: the entropy term's.
    const entropyGrad = P[0]!.map((pk) => {
      const h = -P[0]!.reduce((s, pj) => s + pj * Math.log(pj), 0);
      return -pk * (Math.log(pk) + h);
    });
    expect(Math.abs(g[0]![0]! - (manual[0]![0]! + ((1 - beta) * entropyGrad[0]!) / 3))).toBeGreaterThan(1e-4);
  });

  it('hard: the target mixes in the one-hot argmax; gradient (p − t)/B', () => {
    const beta = 0.8;
    const argmax = LOGITS.map((z) => z.indexOf(Math.max(...z))); // [0, 1, 2]
    const t = Y.map((y, i) => y.map((v, k) => beta * v + (1 - beta) * (k === argmax[i] ? 1 : 0)));
    expectClose(values(bootstrapHard(logits(), labels(), beta)).perSample, t.map((ti, i) => ceWith(P[i]!, ti)));
    const g = gradOfMean((z) => bootstrapHard(z, labels(), beta));
    g.forEach((row, i) => expectClose(row, P[i]!.map((pk, k) => (pk - t[i]![k]!) / 3), 6));
  });
});

describe('gradients', () => {
  const extreme = [
    [60, -60, 0],
    [0, 0, 0],
    [-30, 30, 1],
  ];
  const all: [string, (z: tf.Tensor2D, y: Targets) => LossResult][] = [
    ['ce', (z, y) => crossEntropy(z, y, 0)],
    ['ce ε', (z, y) => crossEntropy(z, y, 0.15)],
    ['ce per-class ε', (z, y) => crossEntropy(z, y, [0.1, 0.2, 0.05])],
    ['gce', (z, y) => gce(z, y, 0.7)],
    ['mae', (z, y) => mae(z, y)],
    ['sce', (z, y) => sce(z, y, { alpha: 0.1, beta: 1, logZero: -4 })],
    ['bootstrap soft', (z, y) => bootstrapSoft(z, y, 0.95)],
    ['bootstrap hard', (z, y) => bootstrapHard(z, y, 0.8)],
  ];

  it.each(all)('%s: gradients exist, are finite and non-zero, even for extreme logits', (_, loss) => {
    for (const z of [LOGITS, extreme]) {
      const g = gradOfMean((x) => loss(x, labels()), z).flat();
      expect(g.every(Number.isFinite)).toBe(true);
      expect(g.some((v) => v !== 0)).toBe(true);
    }
  });

  it.each(all)('%s: nothing leaks, and it trains inside optimizer.minimize', (_, loss) => {
    const before = tf.memory().numTensors;
    const init = tf.tensor2d(LOGITS);
    const w = tf.variable(init);
    init.dispose();
    const y = labels();
    values(loss(w, y));
    const optimizer = tf.train.sgd(0.5);
    let kept: tf.Tensor1D | undefined;
    const first = optimizer.minimize(() => {
      const r = loss(w, y);
      kept = tf.keep(r.perSample);
      return r.mean;
    }, true)!;
    const second = optimizer.minimize(() => loss(w, y).mean, true)!;
    expect(second.dataSync()[0]!).toBeLessThan(first.dataSync()[0]!);
    expect(kept!.shape).toEqual([3]);
    tf.dispose([first, second, kept!, w, y]);
    optimizer.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('ELR', () => {
  const [lambda, beta] = [3, 0.7];
  const clampRenorm = (p: number[]): { clamped: number[]; normalised: number[] } => {
    const clamped = p.map((v) => Math.min(Math.max(v, 1e-4), 1 - 1e-4));
    const s = clamped.reduce((a, b) => a + b, 0);
    return { clamped, normalised: clamped.map((v) => v / s) };
  };

  it('updates t_i ← βt_i + (1−β)p_i on commit and uses the new t_i in this batch', async () => {
    const memory = new ElrMemory(5, K, lambda, beta);
    const indices = [4, 0, 2];
    const r = values(memory.loss(logits(), labels(), indices));
    // Memory starts at zero: t_i' = (1−β) p̂_i.
    const t1 = P.map((p) => clampRenorm(p).normalised.map((v) => (1 - beta) * v));
    const expected = P.map((p, i) => {
      const dot = clampRenorm(p).clamped.reduce((s, v, k) => s + v * t1[i]![k]!, 0);
      return -Math.log(p[LABELS[i]!]!) + lambda * Math.log(1 - dot);
    });
    expectClose(r.perSample, expected);
    expect(r.mean).toBeCloseTo(mean(expected), 5);
    expect(Array.from(memory.targets).every((v) => v === 0)).toBe(true); // not written before commit
    await memory.commit();
    indices.forEach((i, b) => expectClose(Array.from(memory.targets.subarray(i * K, (i + 1) * K)), t1[b]!, 6));
    expect(Array.from(memory.targets.subarray(1 * K, 2 * K))).toEqual([0, 0, 0]);
    expect(Array.from(memory.targets.subarray(3 * K, 4 * K))).toEqual([0, 0, 0]);

    // Second step on other predictions: t_i ← βt_i + (1−β)p̂_i.
    const z2 = [
      [0, 0, 0],
      [1, 0, 0],
      [0, 1, 0],
    ];
    values(memory.loss(tf.tensor2d(z2), labels(), indices));
    await memory.commit();
    const t2 = z2.map((z, b) => clampRenorm(softmax(z)).normalised.map((v, k) => beta * t1[b]![k]! + (1 - beta) * v));
    indices.forEach((i, b) => expectClose(Array.from(memory.targets.subarray(i * K, (i + 1) * K)), t2[b]!, 6));
  });

  it('an uncommitted pass leaves the memory unchanged; gradients are finite; nothing leaks', async () => {
    const memory = new ElrMemory(3, K, lambda, beta);
    const before = tf.memory().numTensors;
    const z = logits();
    const y = labels();
    values(memory.loss(z, y, [0, 1, 2]));
    values(memory.loss(z, y, [0, 1, 2])); // replaces the first pending update
    memory.discard();
    expect(Array.from(memory.targets).every((v) => v === 0)).toBe(true);
    const g = gradOfMean((x) => memory.loss(x, y, [0, 1, 2])).flat();
    expect(g.every(Number.isFinite)).toBe(true);
    await memory.commit();
    tf.dispose([z, y]);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => memory.loss(logits(), labels(), [0, 1, 3])).toThrow(/outside/);
  });
});

describe('two-stage methods (waspaa19)', () => {
  const batch = [0.3, 2.0, 0.1, 0.9, 5.0, 0.7, 0.2, 1.1, 0.4, 0.05]; // 10 distinct losses

  it('percentile convention: rank round((n−1)·P/100)', () => {
    expect(percentileIndex(10, 96)).toBe(9); // 8.64
    expect(percentileIndex(10, 80)).toBe(7); // 7.2
    expect(percentileIndex(10, 50)).toBe(5); // 4.5, rounded up
    expect(percentileIndex(64, 96)).toBe(60); // 60.48
    expect(percentileIndex(64, 93)).toBe(59); // 58.59
    expect(secondStage({ start_epoch: 20 }, 19)).toBe(false);
    expect(secondStage({ start_epoch: 20 }, 20)).toBe(true);
  });

  it.each([
    [96, 10],
    [80, 8],
    [50, 6],
    [1, 1],
  ])('masking at P = %d keeps %d of 10 and renormalises by the count kept', (p, count) => {
    const before = tf.memory().numTensors;
    const losses = tf.tensor1d(batch);
    const r = maskLargeLosses(losses, p);
    const kept = Array.from(r.kept.dataSync());
    const sorted = [...batch].sort((a, b) => a - b);
    const keptLosses = sorted.slice(0, count);
    expect(kept.reduce((a, b) => a + b, 0)).toBe(count);
    batch.forEach((l, i) => expect(kept[i]).toBe(keptLosses.includes(l) ? 1 : 0));
    expectClose(
      Array.from(r.perSample.dataSync()),
      batch.map((l, i) => l * kept[i]!),
    );
    expect(r.mean.dataSync()[0]).toBeCloseTo(mean(keptLosses), 5);
    tf.dispose([losses, r.perSample, r.mean, r.kept]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('masking keeps every loss tied with the threshold', () => {
    const losses = tf.tensor1d([1, 2, 2, 2, 3]);
    const r = maskLargeLosses(losses, 50); // rank 2 → threshold 2
    expect(Array.from(r.kept.dataSync())).toEqual([1, 1, 1, 1, 0]);
    tf.dispose([losses, r.perSample, r.mean, r.kept]);
  });

  it('masked samples pass no gradient; kept ones get 1/count', () => {
    const g = tf.grad((x: tf.Tensor) => {
      const r = maskLargeLosses(x as tf.Tensor1D, 80);
      tf.dispose([r.perSample, r.kept]);
      return r.mean;
    });
    const x = tf.tensor1d(batch);
    const dx = g(x);
    const sorted = [...batch].sort((a, b) => a - b);
    expectClose(
      Array.from(dx.dataSync()),
      batch.map((l) => (sorted.indexOf(l) < 8 ? 1 / 8 : 0)),
    );
    tf.dispose([x, dx]);
  });

  it('masking a real loss still back-propagates to the logits', () => {
    const g = gradOfMean((z) => {
      const r = gce(z, labels(), 0.5);
      const m = maskLargeLosses(r.perSample, 50); // n = 3: rank 1, drops the largest (sample 1)
      tf.dispose([r.perSample, r.mean, m.perSample, m.kept]);
      return { perSample: tf.zeros([3]) as tf.Tensor1D, mean: m.mean };
    });
    expect(g[1]!.every((v) => v === 0)).toBe(true);
    expect(g[0]!.some((v) => v !== 0) && g[2]!.some((v) => v !== 0)).toBe(true);
  });

  it('pruning keeps the indices whose loss is at most the P-th percentile', () => {
    const losses = Array.from({ length: 100 }, (_, i) => ((i * 37) % 100) / 10); // a permutation of 0..9.9
    const kept = pruneByLoss(losses, 96.25); // rank round(95.29) = 95 → 96 kept
    expect(kept).toHaveLength(96);
    expect(Array.from(kept)).toEqual(losses.flatMap((l, i) => (l <= 9.5 ? [i] : [])));
    expect(Array.from(pruneByLoss([3, 1, 2, 2], 50))).toEqual([1, 2, 3]); // rank 2 (1.5 rounded up) → threshold 2
    expect(Array.from(pruneByLoss(new Float32Array([5]), 99.25))).toEqual([0]);
  });
});

describe('loss configs', () => {
  it('fills the defaults from the schema', () => {
    expect(LossSchema.parse({ name: 'gce' })).toEqual({ name: 'gce', q: 0.7 });
    expect(LossSchema.parse({ name: 'elr' })).toEqual({ name: 'elr', lambda: 3, beta: 0.7 });
    expect(LossSchema.parse({ name: 'bootstrap_soft' })).toEqual({ name: 'bootstrap_soft', beta: 0.95 });
    expect(LossSchema.parse({ name: 'bootstrap_hard' })).toEqual({ name: 'bootstrap_hard', beta: 0.8 });
    expect(LossSchema.parse({ name: 'sce' })).toEqual({ name: 'sce', alpha: 0.1, beta: 1, log_zero: -4 });
    expect(LossSchema.parse({ name: 'ce', label_smoothing: [0.1, 0.2] }).name).toBe('ce');
    expect(LossSchema.safeParse({ name: 'gce', p: 0.7 }).success).toBe(false);
    expect(LossSchema.safeParse({ name: 'focal' }).success).toBe(false);
  });

  it('createLoss: stateless losses match the functions; ELR updates after each step', async () => {
    const dims = { numSamples: 3, numClasses: K };
    const gceLoss = createLoss(LossSchema.parse({ name: 'gce', q: 0.7 }), dims);
    expectClose(values(gceLoss.compute(logits(), labels(), [0, 1, 2])).perSample, values(gce(logits(), labels(), 0.7)).perSample);
    const elr = createLoss(LossSchema.parse({ name: 'elr' }), dims);
    const first = values(elr.compute(logits(), labels(), [0, 1, 2])).mean;
    await elr.afterStep();
    const second = values(elr.compute(logits(), labels(), [0, 1, 2])).mean;
    expect(second).not.toBeCloseTo(first, 3); // the memory moved
    expect(() => createLoss(LossSchema.parse({ name: 'ce', label_smoothing: [0.1, 0.2] }), dims)).toThrow(/2 values for 3 classes/);
  });
});
