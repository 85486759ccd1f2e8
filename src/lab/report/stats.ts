/**
 * The report's statistics: runs grouped by condition (every matrix key but the seed), each
 * group's mean with its 95% confidence interval, and tests of an effect that pair runs by seed
 * and condition. A finding is stated with its effect, CI and p-value, and says so when it is not
 * significant or rests on too few runs; it never rests on one run.
 */
import { pairedT, summarize, type Summary, type TestResult } from '../../core/util/stats.js';
import type { Axes } from './params.js';
import type { Item } from './data.js';

export const ALPHA = 0.05;

/** An item without its seed: the condition a run belongs to (its seed group). */
export function conditionKey(item: Item, axes: Axes, drop: readonly (string | null)[] = []): string {
  const skip = new Set([axes.seed, ...drop].filter((k): k is string => k !== null));
  return Object.keys(item)
    .filter((k) => !skip.has(k))
    .sort()
    .map((k) => `${k}=${String(item[k])}`)
    .join(',');
}

/** An item without some of its keys (e.g. the label-noise rate): what pairs runs across it. */
export function itemKey(item: Item, drop: readonly (string | null)[]): string {
  const skip = new Set(drop.filter((k): k is string => k !== null));
  return Object.keys(item)
    .filter((k) => !skip.has(k))
    .sort()
    .map((k) => `${k}=${String(item[k])}`)
    .join(',');
}

/** Values grouped by key, each group summarised (mean, std, 95% CI, n). */
export function summaries<T>(things: readonly T[], key: (t: T) => string, value: (t: T) => number): Map<string, Summary> {
  const groups = new Map<string, number[]>();
  for (const t of things) {
    const v = value(t);
    if (!Number.isFinite(v)) continue;
    const k = key(t);
    groups.set(k, [...(groups.get(k) ?? []), v]);
  }
  return new Map([...groups].map(([k, v]) => [k, summarize(v)]));
}

const f3 = (x: number): string => x.toFixed(3);

/** `0.687 ± 0.031 (n = 3)`: the mean and the half-width of its 95% CI; `0.687 (n = 1)` without one. */
export function meanCi(s: Summary | undefined): string | null {
  if (s === undefined || s.n === 0) return null;
  if (s.ci95 === null) return `${f3(s.mean)} (n = ${s.n})`;
  return `${f3(s.mean)} ± ${f3((s.ci95[1] - s.ci95[0]) / 2)} (n = ${s.n})`;
}

export function formatP(p: number): string {
  if (!Number.isFinite(p)) return 'p undefined';
  return p < 0.0001 ? 'p < 0.0001' : `p = ${p < 0.01 ? p.toFixed(4) : p.toFixed(3)}`;
}

/**
 * A paired comparison, as a clause: `−0.257 (95% CI −0.310 to −0.204; paired t-test over 6 pairs,
 * p = 0.0004)`, with "not significant at α = 0.05" where it is not, and what is missing where no
 * test is possible.
 */
export function describeTest(t: TestResult, what = 'pairs', test = 'paired t-test'): string {
  const sign = (x: number) => (x < 0 ? `−${f3(-x)}` : `+${f3(x)}`);
  if (t.n < 2 || t.ci95 === null) return `${sign(t.diff)} (one ${what.replace(/s$/, '')} only: no test; run more seeds)`;
  if (!Number.isFinite(t.p)) return `${sign(t.diff)} (every ${what.replace(/s$/, '')} the same: no test)`;
  if (t.exact) {
    const verdict = t.p < ALPHA ? '' : `: not significant at α = ${ALPHA}`;
    return `${sign(t.diff)} (all ${t.n} ${what} differ by exactly this, so no t-test; exact sign-flip test, ${formatP(t.p)}${verdict})`;
  }
  const ci = `95% CI ${sign(t.ci95[0])} to ${sign(t.ci95[1])}`;
  const verdict = t.p < ALPHA ? '' : `: not significant at α = ${ALPHA}`;
  return `${sign(t.diff)} (${ci}; ${test} over ${t.n} ${what}, ${formatP(t.p)}${verdict})`;
}

/** Pairs (a, b) matched by key: the paired test of a − b over the keys both have. */
export function pairedBy<T>(a: readonly T[], b: readonly T[], key: (t: T) => string, value: (t: T) => number): TestResult {
  const bs = new Map(b.map((t) => [key(t), value(t)]));
  const xs: number[] = [];
  const ys: number[] = [];
  for (const t of a) {
    const other = bs.get(key(t));
    if (other === undefined || !Number.isFinite(other) || !Number.isFinite(value(t))) continue;
    xs.push(value(t));
    ys.push(other);
  }
  return pairedT(xs, ys);
}

/** One-sample test of values against a reference (e.g. chance): the paired test against it. */
export function againstValue(values: readonly number[], reference: number): TestResult {
  return pairedT(values, values.map(() => reference));
}
