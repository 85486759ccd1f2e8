/**
 * The evaluation metrics against scikit-learn (fixtures from scripts/sklearn_fixtures_eval.py) and,
 * for ECE, the floor of the NLL and the bin edges (which sklearn does not define), by hand.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  accuracy,
  argmaxRows,
  balancedAccuracy,
  confidenceBin,
  confusionMatrix,
  evaluateSet,
  expectedCalibrationError,
  macroF1,
  negativeLogLikelihood,
  NLL_PROB_FLOOR,
} from './metrics.js';
import { softmaxRows } from '../difficulty/linear.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'fixtures', 'sklearn-eval');

interface Fixture {
  note: string;
  k: number;
  y_true: number[];
  logits: number[];
  y_pred: number[];
  expected: { accuracy: number; balanced_accuracy: number; f1_macro: number; log_loss: number; confusion_matrix: number[][] };
}

const cases = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => [f.replace(/\.json$/, ''), JSON.parse(readFileSync(path.join(FIXTURES, f), 'utf8')) as Fixture] as const);

describe('metrics against scikit-learn', () => {
  it('has the fixture cases', () => {
    expect(cases.map(([name]) => name)).toEqual(['perfect', 'predicted-never-true', 'random-k5', 'sparse-k10', 'tiny', 'true-never-predicted']);
  });

  for (const [name, fx] of cases) {
    it(`${name}: ${fx.note}`, () => {
      const y = Int32Array.from(fx.y_true);
      const probs = softmaxRows(fx.logits, fx.y_true.length, fx.k);
      const pred = argmaxRows(probs, fx.k);
      expect(Array.from(pred)).toEqual(fx.y_pred);
      expect(accuracy(y, pred)).toBeCloseTo(fx.expected.accuracy, 14);
      expect(balancedAccuracy(y, pred, fx.k)).toBeCloseTo(fx.expected.balanced_accuracy, 14);
      expect(macroF1(y, pred, fx.k)).toBeCloseTo(fx.expected.f1_macro, 14);
      expect(negativeLogLikelihood(y, probs, fx.k)).toBeCloseTo(fx.expected.log_loss, 12);
      const cm = confusionMatrix(y, pred, fx.k);
      expect(Array.from({ length: fx.k }, (_, t) => Array.from(cm.subarray(t * fx.k, (t + 1) * fx.k)))).toEqual(fx.expected.confusion_matrix);

      const all = evaluateSet(y, probs, fx.k);
      expect(all.n).toBe(y.length);
      expect(all.accuracy).toBe(accuracy(y, pred));
      expect(all.uar).toBe(balancedAccuracy(y, pred, fx.k));
      expect(all.macro_f1).toBe(macroF1(y, pred, fx.k));
      expect(all.nll).toBe(negativeLogLikelihood(y, probs, fx.k));
      expect(Array.from(all.confusion)).toEqual(Array.from(cm));
    });
  }
});

describe('metrics by hand', () => {
  it('ECE: 15 bins of the top-label confidence, weighted by their share of samples', () => {
    // Four samples, K = 2. Confidences 0.9, 0.9 (bin 13: (13/15, 14/15]) with one right: |0.5 − 0.9|;
    // 0.6, 0.6 (bin 9: (9/15, 10/15]) both right: |1 − 0.6|. ECE = ½·0.4 + ½·0.4 = 0.4.
    const probs = [0.9, 0.1, 0.1, 0.9, 0.6, 0.4, 0.4, 0.6];
    const y = [0, 0, 0, 1];
    expect(expectedCalibrationError(y, probs, 2)).toBeCloseTo(0.4, 14);
    // One bin, perfectly calibrated: 3 of 4 right at confidence 0.75 → 0.
    expect(expectedCalibrationError([0, 0, 0, 1], [0.75, 0.25, 0.75, 0.25, 0.75, 0.25, 0.75, 0.25], 2)).toBeCloseTo(0, 14);
    // Separate bins do not cancel: 0.95 right (|1 − 0.95|) and 0.55 wrong (|0 − 0.55|) → (0.05 + 0.55)/2.
    expect(expectedCalibrationError([0, 0], [0.95, 0.05, 0.45, 0.55], 2)).toBeCloseTo(0.3, 14);
    // In one bin they do: 0.9 right and 0.9 wrong → |0.5 − 0.9| = 0.4 (not the mean of 0.1 and 0.9).
    expect(expectedCalibrationError([0, 1], [0.9, 0.1, 0.9, 0.1], 2)).toBeCloseTo(0.4, 14);
  });

  it('ECE bins are (b/15, (b+1)/15]: an edge belongs to the bin below', () => {
    expect(confidenceBin(1)).toBe(14);
    expect(confidenceBin(14 / 15)).toBe(13);
    expect(confidenceBin(14 / 15 + 1e-12)).toBe(14);
    expect(confidenceBin(1 / 3)).toBe(4);
    expect(confidenceBin(1 / 3 + 1e-12)).toBe(5);
    expect(confidenceBin(0.5)).toBe(7);
    expect(confidenceBin(0)).toBe(0);
    for (let b = 1; b < 15; b++) expect(confidenceBin(b / 15)).toBe(b - 1);
  });

  it('NLL floors the probability at 1e-7 and uses the natural log', () => {
    expect(negativeLogLikelihood([0], [0, 1], 2)).toBeCloseTo(-Math.log(NLL_PROB_FLOOR), 12);
    expect(negativeLogLikelihood([1, 0], [0.5, 0.5, Math.E ** -2, 1 - Math.E ** -2], 2)).toBeCloseTo((Math.log(2) + 2) / 2, 12);
  });

  it('UAR counts only classes present in y_true; macro-F1 counts predicted-only classes as 0', () => {
    // K = 3: class 2 never true, predicted once (a wrong prediction of a class-0 clip).
    const y = [0, 0, 1, 1];
    const pred = [0, 2, 1, 1];
    expect(balancedAccuracy(y, pred, 3)).toBeCloseTo((0.5 + 1) / 2, 14);
    // F1: class 0 2·1/(2+1) = 2/3, class 1 1, class 2 0 → (2/3 + 1 + 0)/3.
    expect(macroF1(y, pred, 3)).toBeCloseTo((2 / 3 + 1) / 3, 14);
  });

  it('names the problem with bad input', () => {
    expect(() => confusionMatrix([0, 3], [0, 1], 3)).toThrow(/true label 3 is not a class index in 0..2/);
    expect(() => accuracy([0, 1], [0])).toThrow(/2 true labels but 1 predictions/);
    expect(() => negativeLogLikelihood([0, 1], [0.5, 0.5, 1], 2)).toThrow(/3 values do not make rows of 2 classes/);
  });

  it('an empty set gives NaN, not 0', () => {
    const m = evaluateSet([], [], 3);
    expect(m.n).toBe(0);
    for (const v of [m.accuracy, m.uar, m.macro_f1, m.nll, m.ece]) expect(v).toBeNaN();
  });
});
