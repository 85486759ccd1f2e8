import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/util/random.js';
import {
  confidentLearning,
  cumulativeError,
  el2n,
  ensembleMean,
  finalLoss,
  firstLearned,
  forgettingEvents,
  knnPredict,
  negativeAum,
  negativeMargin,
  predictionDepth,
  type RunDynamics,
} from './scores.js';

/**
 * Hand-made dynamics of 4 samples over 5 epochs, 2 classes, all labelled 0 (correct iff
 * logit0 > logit1). Per sample, its correctness by epoch:
 *   0: 1 1 1 1 1   learned at once, never forgotten
 *   1: 0 1 0 1 1   forgotten once, learned for good at epoch 3
 *   2: 1 0 1 0 0   forgotten twice, wrong at the end
 *   3: 0 0 0 0 0   never learned
 */
const CORRECT = [
  [1, 1, 1, 1, 1],
  [0, 1, 0, 1, 1],
  [1, 0, 1, 0, 0],
  [0, 0, 0, 0, 0],
];
function handMade(): RunDynamics {
  const n = 4;
  const epochs = 5;
  const k = 2;
  const logits = new Float32Array(epochs * n * k);
  const margin = new Float32Array(epochs * n);
  const loss = new Float32Array(epochs * n);
  const correct = new Uint8Array(epochs * n);
  for (let e = 0; e < epochs; e++) {
    for (let i = 0; i < n; i++) {
      // A margin of ±(1 + i/4 + e/8): its sign is the correctness, its size varies.
      const m = (CORRECT[i]![e] ? 1 : -1) * (1 + i / 4 + e / 8);
      logits[(e * n + i) * k] = m / 2;
      logits[(e * n + i) * k + 1] = -m / 2;
      margin[e * n + i] = m;
      loss[e * n + i] = Math.log1p(Math.exp(-m));
      correct[e * n + i] = CORRECT[i]![e]!;
    }
  }
  return { n, epochs, numClasses: k, labels: new Int32Array(n), loss, correct, margin, logits };
}

describe('scores from training dynamics', () => {
  const d = handMade();

  it('first_learned: the epoch from which it stays correct; never → E', () => {
    expect(Array.from(firstLearned(d))).toEqual([0, 3, 5, 5]);
  });

  it('forgetting: correct → incorrect transitions; never learned → E (above any count)', () => {
    expect(Array.from(forgettingEvents(d))).toEqual([0, 1, 2, 5]);
  });

  it('cum_acc is the error rate over epochs', () => {
    expect(Array.from(cumulativeError(d))).toEqual([0, 0.4, 0.6, 1]);
  });

  it('aum: minus the mean margin, so a sample always wrong scores above one always right', () => {
    const a = negativeAum(d);
    expect(a[0]).toBeLessThan(0);
    expect(a[3]).toBeGreaterThan(0);
    expect(a[0]).toBeCloseTo(-(1 + 0 + (0 + 1 + 2 + 3 + 4) / 40), 6);
    expect(a[3]).toBeCloseTo(1 + 3 / 4 + (0 + 1 + 2 + 3 + 4) / 40, 6);
  });

  it('final_loss is the last epoch loss', () => {
    const f = finalLoss(d);
    expect(f[0]).toBeCloseTo(Math.log1p(Math.exp(-1.5)), 6);
    expect(f[3]).toBeCloseTo(Math.log1p(Math.exp(1.75 + 0.5)), 6);
  });

  it('el2n: ‖softmax − onehot‖₂ at the chosen epoch; out of range names the epochs', () => {
    const e = el2n(d, 1);
    // sample 0 at epoch 1: margin 1.125, p_wrong = σ(−1.125); the vector is (−p_wrong, p_wrong).
    const pw = 1 / (1 + Math.exp(1.125));
    expect(e[0]).toBeCloseTo(Math.SQRT2 * pw, 6);
    expect(e[3]!).toBeGreaterThan(e[0]!);
    expect(() => el2n(d, 5)).toThrow(/el2n_epoch 5 is not a recorded epoch \(the run has epochs 0–4\)/);
  });
});

describe('other scores', () => {
  it('negative margin on the given label', () => {
    expect(Array.from(negativeMargin([3, 1, 0, 0, 2, 5], Int32Array.from([0, 1]), 3))).toEqual([-2, 5 - 2]);
  });

  it('k-NN leave-one-out on two clusters, and prediction depth', () => {
    // 1-D points: class 0 near 0, class 1 near 10; the point at 9 is labelled 0 (a flip).
    const x = [0, 1, 2, 9, 10, 11, 12];
    const y = Int32Array.from([0, 0, 0, 0, 1, 1, 1]);
    const pred = knnPredict(x, x.length, 1, y, 2, 3);
    expect(Array.from(pred)).toEqual([0, 0, 0, 1, 1, 1, 1]);
    const final = Int32Array.from([0, 0, 0, 1, 1, 1, 1]);
    const probes = [Int32Array.from([1, 0, 1, 1, 0, 1, 1]), Int32Array.from([0, 1, 0, 1, 0, 1, 0]), pred];
    expect(Array.from(predictionDepth(probes, final))).toEqual([1, 2, 1, 0, 2, 0, 2]);
  });

  it('k-NN equals a full sort by (distance, index) on integer points with many tied distances', () => {
    const rng = new Rng(11);
    const n = 60;
    const d = 2;
    const x = Array.from({ length: n * d }, () => rng.int(4));
    const y = Int32Array.from({ length: n }, () => rng.int(3));
    const k = 7;
    const got = knnPredict(x, n, d, y, 3, k);
    for (let i = 0; i < n; i++) {
      const dist = (o: number) => (x[i * d]! - x[o * d]!) ** 2 + (x[i * d + 1]! - x[o * d + 1]!) ** 2;
      const near = Array.from({ length: n }, (_, o) => o).filter((o) => o !== i).sort((a, b) => dist(a) - dist(b) || a - b).slice(0, k);
      const votes = [0, 0, 0];
      near.forEach((o) => votes[y[o]!]!++);
      const top = Math.max(...votes);
      expect(got[i], `sample ${i}`).toBe(y[near.find((o) => votes[y[o]!] === top)!]);
    }
  });

  it('confident learning flags the confidently mislabelled sample and not the unsure ones', () => {
    // 3 classes; samples 0–3 labelled 0, 4–7 labelled 1, 8–11 labelled 2. Sample 3 (labelled 0) is
    // confidently class 1; sample 7 is unsure (argmax = its label).
    const rows = [
      [0.9, 0.05, 0.05], [0.8, 0.1, 0.1], [0.85, 0.1, 0.05], [0.05, 0.9, 0.05],
      [0.1, 0.8, 0.1], [0.05, 0.9, 0.05], [0.1, 0.85, 0.05], [0.3, 0.4, 0.3],
      [0.05, 0.05, 0.9], [0.1, 0.1, 0.8], [0.05, 0.1, 0.85], [0.1, 0.05, 0.85],
    ];
    const labels = Int32Array.from([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    const r = confidentLearning(rows.flat(), labels, 3);
    expect(r.issue.map((v, i) => (v ? i : -1)).filter((i) => i >= 0)).toEqual([3]);
    expect(r.thresholds[0]).toBeCloseTo((0.9 + 0.8 + 0.85 + 0.05) / 4, 12);
    // Rows of the calibrated joint sum to the class counts; sample 3 sits at [0][1].
    for (let g = 0; g < 3; g++) expect(r.joint[g * 3]! + r.joint[g * 3 + 1]! + r.joint[g * 3 + 2]!).toBe(4);
    expect(r.joint[1]).toBe(1);
    expect(r.selfConfidence[3]).toBeCloseTo(0.95, 12);
  });

  it('ensemble mean skips NaN', () => {
    const m = ensembleMean([Float64Array.from([1, NaN, NaN]), Float64Array.from([3, 2, NaN])]);
    expect(Array.from(m)).toEqual([2, 2, NaN]);
  });
});
