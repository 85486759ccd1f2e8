import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { auroc, averagePrecision, averageRanks, kendallTauB, spearman } from './rank.js';

interface RankCase {
  name: string;
  labels: number[];
  scores: number[];
  other: number[];
  roc_auc: number;
  average_precision: number;
  spearman: number;
  kendall_tau_b: number;
}
const fixture = JSON.parse(readFileSync(new URL('../../../test/fixtures/sklearn/rank.json', import.meta.url), 'utf8')) as { cases: RankCase[] };
const close = (got: number, want: number) => expect(Math.abs(got - want), `got ${got}, sklearn/scipy ${want}`).toBeLessThan(1e-12);

describe('rank metrics against scikit-learn and scipy', () => {
  it('the fixture has ties in both scores', () => {
    const tied = fixture.cases.filter((c) => new Set(c.scores).size < c.scores.length && new Set(c.other).size < c.other.length);
    expect(tied.length).toBeGreaterThanOrEqual(4);
  });

  for (const c of fixture.cases) {
    it(c.name, () => {
      const y = c.labels.map((l) => l === 1);
      close(auroc(y, c.scores), c.roc_auc);
      close(averagePrecision(y, c.scores), c.average_precision);
      close(spearman(c.scores, c.other), c.spearman);
      close(kendallTauB(c.scores, c.other), c.kendall_tau_b);
    });
  }
});

describe('rank metrics, by hand', () => {
  it('average ranks of ties', () => {
    expect(Array.from(averageRanks([3, 1, 3, 2]))).toEqual([3.5, 1, 3.5, 2]);
  });

  it('AUROC 1 for a perfect score, 0 for a reversed one, 0.5 for a constant one', () => {
    const y = [false, false, true, true];
    expect(auroc(y, [0, 1, 2, 3])).toBe(1);
    expect(auroc(y, [3, 2, 1, 0])).toBe(0);
    expect(auroc(y, [1, 1, 1, 1])).toBe(0.5);
    expect(averagePrecision(y, [0, 1, 2, 3])).toBe(1);
    expect(averagePrecision(y, [1, 1, 1, 1])).toBe(0.5);
  });

  it('NaN where undefined', () => {
    expect(auroc([false, false], [1, 2])).toBeNaN();
    expect(auroc([true, true], [1, 2])).toBeNaN();
    expect(averagePrecision([false, false], [1, 2])).toBeNaN();
    expect(spearman([1, 1, 1], [1, 2, 3])).toBeNaN();
    expect(kendallTauB([1, 2, 3], [5, 5, 5])).toBeNaN();
    expect(kendallTauB([1], [1])).toBeNaN();
  });

  it('Kendall tau-b of a reversed order is −1; Spearman of a monotone map is 1', () => {
    expect(kendallTauB([1, 2, 3, 4, 5], [9, 7, 5, 3, 1])).toBe(-1);
    expect(spearman([1, 2, 3, 4], [1, 8, 27, 64])).toBeCloseTo(1, 15);
  });

  it('refuses non-finite scores, naming the position', () => {
    expect(() => auroc([true, false], [NaN, 1])).toThrow(/auroc: value 0 is NaN/);
    expect(() => spearman([1, 2], [1, Infinity])).toThrow(/value 1 is Infinity/);
  });
});
