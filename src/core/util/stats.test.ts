import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { mcnemarExact, pairedT, signFlipTest, summarize, tQuantile, welchT } from './stats.js';

// From scipy (scripts/fixtures/scipy_stats_fixture.py).
interface Fixture {
  cases: {
    a: number[];
    b: number[];
    b_welch: number[];
    mean: number;
    std: number;
    ci95: [number, number];
    paired: { t: number; p: number; df: number; ci95: [number, number] };
    welch: { t: number; p: number; df: number; ci95: [number, number] };
    signflip_exact: number | null;
  }[];
  quantiles: { p: number; df: number; q: number }[];
  mcnemar: { b: number; c: number; p: number }[];
}
const F = JSON.parse(readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'stats.fixture.json'), 'utf8')) as Fixture;
// jStat's t quantile agrees with scipy's to ~2e-8 (relative) at worst in this range.
const close = (a: number, b: number, rel = 1e-7) => expect(Math.abs(a - b)).toBeLessThanOrEqual(rel * Math.max(1, Math.abs(b)));

describe('stats against scipy', () => {
  it('t quantiles', () => {
    for (const q of F.quantiles) close(tQuantile(q.p, q.df), q.q);
  });
  it('mean, std and 95% CI of a group', () => {
    for (const c of F.cases) {
      const s = summarize(c.a);
      close(s.mean, c.mean, 1e-12);
      close(s.std!, c.std, 1e-12);
      close(s.ci95![0], c.ci95[0]);
      close(s.ci95![1], c.ci95[1]);
    }
  });
  it('paired and Welch t-tests: statistic, df, p and the CI of the difference', () => {
    for (const c of F.cases) {
      const r = pairedT(c.a, c.b);
      close(r.t, c.paired.t, 1e-9);
      expect(r.df).toBe(c.paired.df);
      close(r.p, c.paired.p, 1e-6);
      close(r.ci95![0], c.paired.ci95[0]);
      close(r.ci95![1], c.paired.ci95[1]);
      const w = welchT(c.a, c.b_welch);
      close(w.t, c.welch.t, 1e-9);
      close(w.df, c.welch.df, 1e-9);
      close(w.p, c.welch.p, 1e-6);
      close(w.ci95![0], c.welch.ci95[0]);
      close(w.ci95![1], c.welch.ci95[1]);
    }
  });
  it('exact sign-flip permutation test', () => {
    for (const c of F.cases.filter((x) => x.signflip_exact !== null)) {
      close(signFlipTest(c.a.map((x, i) => x - c.b[i]!)), c.signflip_exact!, 1e-12);
    }
  });
  it('exact McNemar', () => {
    for (const m of F.mcnemar) close(mcnemarExact(m.b, m.c), m.p, 1e-12);
    expect(mcnemarExact(0, 0)).toBe(1);
  });
});

describe('stats edge cases', () => {
  it('n = 1 has no spread and no CI; a constant difference has no p-value', () => {
    expect(summarize([0.5])).toEqual({ n: 1, mean: 0.5, std: null, ci95: null });
    expect(summarize([])).toMatchObject({ n: 0, ci95: null });
    expect(pairedT([1, 2], [1, 2]).p).toBeNaN();
  });
  it('pairs that all differ by the same amount get the exact sign-flip test, not p = 0', () => {
    // Two seeds whose accuracies differ by the same 14 of 48 clips: no spread, no t-statistic.
    const r = pairedT([0.625, 0.6458333], [0.3333333, 0.3541666]);
    expect(r.exact).toBe(true);
    expect(r.p).toBe(0.5); // 2 of the 4 sign patterns are as extreme
    expect(pairedT([1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0]).p).toBeCloseTo(2 / 64, 12);
    expect(pairedT([0.9, 0.8], [0.1, 0.3]).exact).toBeUndefined();
  });
  it('the Monte Carlo sign-flip test is seeded and near the exact one', () => {
    const d = Array.from({ length: 20 }, (_, i) => 0.01 * Math.sin(i) + 0.004);
    const p1 = signFlipTest(d, { seed: 1, rounds: 20_000 });
    expect(signFlipTest(d, { seed: 1, rounds: 20_000 })).toBe(p1);
    expect(p1).toBeGreaterThan(0);
    expect(p1).toBeLessThan(1);
  });
});
