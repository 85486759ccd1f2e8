/**
 * Statistics for results that come in groups of runs (the seeds of one condition): means with
 * 95% confidence intervals from the t distribution, and tests of a difference between two
 * conditions. The distribution functions are jStat's; what is built on them is checked against
 * scipy (scripts/fixtures/scipy_stats_fixture.py → src/core/util/stats.fixture.json).
 */
import jstat from 'jstat';
import { Rng } from './random.js';

const { jStat } = jstat;

/** A group's mean with its sample standard deviation and 95% CI; `std`/`ci95` are null below n = 2. */
export interface Summary {
  n: number;
  mean: number;
  std: number | null;
  /** [low, high] of the 95% confidence interval of the mean (t distribution, n − 1 df). */
  ci95: [number, number] | null;
}

export function mean(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation (n − 1). */
export function std(xs: readonly number[]): number {
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) * (x - m);
  return Math.sqrt(s / (xs.length - 1));
}

/** The p-quantile of Student's t distribution with `df` degrees of freedom. */
export function tQuantile(p: number, df: number): number {
  return jStat.studentt.inv(p, df);
}

/** Two-sided p-value of a t statistic. */
export function tTwoSided(t: number, df: number): number {
  if (!Number.isFinite(t)) return Number.isNaN(t) ? Number.NaN : 0;
  return Math.min(1, 2 * (1 - jStat.studentt.cdf(Math.abs(t), df)));
}

export function summarize(xs: readonly number[]): Summary {
  const n = xs.length;
  if (n === 0) return { n, mean: Number.NaN, std: null, ci95: null };
  const m = mean(xs);
  if (n < 2) return { n, mean: m, std: null, ci95: null };
  const s = std(xs);
  const half = tQuantile(0.975, n - 1) * (s / Math.sqrt(n));
  return { n, mean: m, std: s, ci95: [m - half, m + half] };
}

export interface TestResult {
  /** The effect: mean of a − b (paired) or difference of the means (Welch). */
  diff: number;
  ci95: [number, number] | null;
  t: number;
  df: number;
  /** Two-sided p-value; NaN where it is undefined (n < 2, or no variance at all). */
  p: number;
  n: number;
  /**
   * Set when every pair differed by exactly the same amount: a t-test is undefined then (its
   * standard error is 0, not its certainty infinite), and `p` is the exact sign-flip test's.
   */
  exact?: true;
}

/** Paired t-test of a − b (e.g. two conditions run with the same seeds). */
export function pairedT(a: readonly number[], b: readonly number[]): TestResult {
  if (a.length !== b.length) throw new Error(`pairedT: ${a.length} values against ${b.length}`);
  const d = a.map((x, i) => x - b[i]!);
  const n = d.length;
  const diff = mean(d);
  if (n < 2) return { diff, ci95: null, t: Number.NaN, df: n - 1, p: Number.NaN, n };
  const se = std(d) / Math.sqrt(n);
  // No spread (e.g. two seeds that happen to differ by the same count of clips, up to rounding
  // in the last bits): no t-statistic, whatever a division by ~1e-17 would say.
  if (std(d) <= 1e-12 * Math.max(1, Math.abs(diff))) return { diff, ci95: [diff, diff], t: Number.NaN, df: n - 1, p: diff === 0 ? Number.NaN : signFlipTest(d), n, exact: true };
  const half = tQuantile(0.975, n - 1) * se;
  const t = diff / se;
  return { diff, ci95: [diff - half, diff + half], t, df: n - 1, p: tTwoSided(t, n - 1), n };
}

/** Welch's two-sample t-test of mean(a) − mean(b) (groups that do not pair up). */
export function welchT(a: readonly number[], b: readonly number[]): TestResult {
  const na = a.length;
  const nb = b.length;
  const diff = mean(a) - mean(b);
  if (na < 2 || nb < 2) return { diff, ci95: null, t: Number.NaN, df: Number.NaN, p: Number.NaN, n: na + nb };
  const va = std(a) ** 2 / na;
  const vb = std(b) ** 2 / nb;
  const se = Math.sqrt(va + vb);
  const df = (va + vb) ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1));
  if (se === 0) return { diff, ci95: [diff, diff], t: diff === 0 ? Number.NaN : Math.sign(diff) * Infinity, df: na + nb - 2, p: diff === 0 ? Number.NaN : 0, n: na + nb };
  const t = diff / se;
  const half = tQuantile(0.975, df) * se;
  return { diff, ci95: [diff - half, diff + half], t, df, p: tTwoSided(t, df), n: na + nb };
}

/**
 * Two-sided paired permutation (sign-flip) test of mean(d) ≠ 0: exact over all 2^n sign patterns
 * up to n = 16, else `rounds` seeded random patterns (p counts the observed one, never 0).
 */
export function signFlipTest(d: readonly number[], opts: { rounds?: number; seed?: number } = {}): number {
  const n = d.length;
  if (n === 0) return Number.NaN;
  const observed = Math.abs(d.reduce((s, x) => s + x, 0));
  const tol = 1e-12 * Math.max(1, observed);
  if (n <= 16) {
    let extreme = 0;
    const total = 2 ** n;
    for (let mask = 0; mask < total; mask++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += mask & (1 << i) ? -d[i]! : d[i]!;
      if (Math.abs(s) >= observed - tol) extreme++;
    }
    return extreme / total;
  }
  const rounds = opts.rounds ?? 10_000;
  const rng = new Rng(opts.seed ?? 0);
  let extreme = 1;
  for (let r = 0; r < rounds; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += rng.next() < 0.5 ? -d[i]! : d[i]!;
    if (Math.abs(s) >= observed - tol) extreme++;
  }
  return extreme / (rounds + 1);
}

/**
 * Exact McNemar test for two classifiers on the same clips: `b` clips only the first got right,
 * `c` only the second. Two-sided binomial test of b against Binomial(b + c, 1/2).
 */
export function mcnemarExact(b: number, c: number): number {
  const n = b + c;
  if (n === 0) return 1;
  // P(X ≤ min(b, c)) for X ~ Binomial(n, 1/2), summed in log space (no underflow at large n).
  let logTerm = -n * Math.LN2;
  let logSum = logTerm;
  for (let k = 0; k < Math.min(b, c); k++) {
    logTerm += Math.log((n - k) / (k + 1));
    const hi = Math.max(logSum, logTerm);
    logSum = hi + Math.log(Math.exp(logSum - hi) + Math.exp(logTerm - hi));
  }
  return Math.min(1, 2 * Math.exp(logSum));
}
