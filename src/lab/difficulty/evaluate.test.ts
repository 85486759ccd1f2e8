import { describe, expect, it } from 'vitest';
import { acrossRunCorrelations, summarize, withinRunCorrelations, type ScoredRun } from './evaluate.js';

const run = (id: string, clipIds: string[], flipped: boolean[], scores: Record<string, number[]>): ScoredRun => ({
  id,
  clipIds,
  flipped,
  scores: new Map(Object.entries(scores).map(([k, v]) => [k, Float64Array.from(v)])),
});

describe('summary and correlations', () => {
  it('AUROC over the finite scores only; NaN without flips among them', () => {
    const r = run('a', ['x', 'y', 'z', 'w'], [true, false, false, true], { good: [3, 1, 0, NaN], none: [NaN, 1, 2, NaN] });
    const [good, none] = summarize(r);
    expect(good).toEqual({ run: 'a', score: 'good', auroc: 1, auprc: 1, n: 3, n_flipped: 1 });
    expect(none).toMatchObject({ n: 2, n_flipped: 0 });
    expect(none!.auroc).toBeNaN();
    expect(none!.auprc).toBeNaN();
  });

  it('pairs scores within a run, and runs by clip id (not by position)', () => {
    const a = run('a', ['x', 'y', 'z'], [false, false, false], { s: [1, 2, 3], t: [3, 2, 1] });
    const b = run('b', ['z', 'y', 'x'], [false, false, false], { s: [3, 2, 1], t: [NaN, 2, 3] });
    expect(withinRunCorrelations(a)).toEqual([{ score_a: 's', run_a: 'a', score_b: 't', run_b: 'a', spearman: -1, kendall: -1, n: 3 }]);
    const across = acrossRunCorrelations([a, b]);
    expect(across.map((c) => [c.score_a, c.spearman, c.n])).toEqual([
      ['s', 1, 3],
      ['t', 1, 2],
    ]);
  });
});
