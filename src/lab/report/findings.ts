/**
 * The report's findings: each effect stated with its size, its 95% confidence interval and a
 * p-value from a test that pairs runs by seed and condition (report/stats.ts); "not significant
 * at α = 0.05" where it is not, and no test (said so) where one run is all there is.
 */
import { distinct, labelNoiseOf, methodOf, noiseLevelOf } from './axes.js';
import { isEnsemble, type Run } from './data.js';
import type { Context } from './context.js';
import { oodAccuracies } from './sections/accuracy.js';
import { ALPHA, againstValue, describeTest, itemKey, meanCi, pairedBy, summaries } from './stats.js';
import { mean, pairedT, summarize } from '../../core/util/stats.js';

const fmt = (x: number): string => x.toFixed(3);

export function findings(ctx: Context): string[] {
  const out: string[] = [];
  const runs = ctx.data.runs.filter((r) => ctx.testAccuracy(r) !== undefined);
  out.push(...labelNoiseFindings(ctx, runs));
  out.push(...methodFindings(ctx, runs));

  const pure = runs.filter((r) => noiseLevelOf(r.item, ctx.axes)?.pure === true);
  if (pure.length > 0) {
    const accs = pure.map((r) => ctx.testAccuracy(r)!);
    const s = summarize(accs);
    if (ctx.chance === undefined) out.push(`Trained on pure noise: mean test accuracy ${meanCi(s)}.`);
    else out.push(`Trained on pure noise: mean test accuracy ${meanCi(s)}; against chance (${fmt(ctx.chance)}): ${describeTest(againstValue(accs, ctx.chance), 'runs', 't-test')}.`);
  }

  const summary = ctx.data.summary.filter((r) => Number.isFinite(r.auroc) && !isEnsemble(r.run));
  if (summary.length > 0) {
    const byScore = [...summaries(summary, (r) => r.score, (r) => r.auroc)].sort((a, b) => b[1].mean - a[1].mean);
    const [best, bestSummary] = byScore[0]!;
    const runKey = (r: (typeof summary)[number]) => `${r.from}\u0000${r.run}`;
    const aurocs = (score: string) => new Map(summary.filter((r) => r.score === score).map((r) => [runKey(r), r.auroc]));
    const bestAurocs = aurocs(best);
    // Scores that rank every run's clips alike (final loss and 1 − p, say) have equal AUROCs: one finding.
    const same = (score: string) => {
      const m = aurocs(score);
      return m.size === bestAurocs.size && [...bestAurocs].every(([k, v]) => m.get(k) === v);
    };
    const tied = byScore.slice(1).filter(([score]) => same(score)).map(([score]) => score);
    const withTies = tied.length > 0 ? ` (${tied.join(', ')} alike: the same AUROC in every run)` : '';
    let line = `Finding flipped labels: ${best} ranks best${withTies}, mean AUROC ${meanCi(bestSummary)} over runs (chance 0.5)`;
    const others = byScore.filter(([score]) => score !== best && !tied.includes(score));
    const runner = others.find(([score]) => score === 'final_loss') ?? others[0];
    if (runner !== undefined) {
      const t = pairedBy(summary.filter((r) => r.score === best), summary.filter((r) => r.score === runner[0]), runKey, (r) => r.auroc);
      line += `; against ${runner[0]}: ${describeTest(t, 'runs')}`;
    }
    out.push(`${line}.`);
  }

  // The OOD gap per run (its sets averaged): runs are the independent units.
  const gaps = oodAccuracies(ctx).flatMap((r) => (r.inDomain === undefined || r.sets.length === 0 ? [] : [mean(r.sets.map((x) => x.acc)) - r.inDomain]));
  if (gaps.length > 0) out.push(`Out-of-domain sets against the in-domain test set, accuracy per run: ${describeTest(pairedT(gaps, gaps.map(() => 0)), 'runs', 't-test')}.`);
  return out;
}

/**
 * Label noise: per method, test accuracy at the highest rate against the lowest, paired by seed
 * and training data; then whether the methods' drops differ, paired the same way.
 */
function labelNoiseFindings(ctx: Context, runs: Run[]): string[] {
  const axes = ctx.axes;
  const signal = runs.filter((r) => labelNoiseOf(r.item, axes) !== undefined && noiseLevelOf(r.item, axes)?.pure !== true);
  const rates = distinct(signal.map((r) => labelNoiseOf(r.item, axes)!)).sort((a, b) => a - b);
  if (rates.length < 2) return [];
  const [lo, hi] = [rates[0]!, rates[rates.length - 1]!];
  const acc = (r: Run) => ctx.testAccuracy(r)!;
  const at = (rate: number, method: string) => signal.filter((r) => labelNoiseOf(r.item, axes) === rate && methodOf(r.item, axes) === method);
  const pairKey = (r: Run) => itemKey(r.item, [axes.label_noise]);
  const out: string[] = [];
  const methods = distinct(signal.map((r) => methodOf(r.item, axes)));
  const drops = new Map<string, Map<string, number>>();
  const lowAcc = new Map<string, number>();
  for (const method of methods) {
    // Only runs with a partner at the other rate (same seed, same training data, …) count.
    const partners = new Set(at(lo, method).map(pairKey));
    const his = at(hi, method).filter((r) => partners.has(pairKey(r)));
    const paired = new Set(his.map(pairKey));
    const los = at(lo, method).filter((r) => paired.has(pairKey(r)));
    if (his.length === 0) continue;
    const t = pairedBy(his, los, pairKey, acc);
    out.push(`Label noise ${lo} → ${hi}, ${method}: test accuracy ${meanCi(summarize(los.map(acc)))} → ${meanCi(summarize(his.map(acc)))}, a change of ${describeTest(t, 'seed × condition pairs')}.`);
    lowAcc.set(method, mean(los.map(acc)));
    const byKey = new Map(los.map((r) => [itemKey(r.item, [axes.label_noise, axes.method]), acc(r)]));
    drops.set(method, new Map(his.map((r) => [itemKey(r.item, [axes.label_noise, axes.method]), byKey.get(itemKey(r.item, [axes.label_noise, axes.method]))! - acc(r)])));
  }
  if (drops.size >= 2) {
    const ranked = [...drops].map(([m, d]) => ({ m, d, mean: mean([...d.values()]) })).sort((a, b) => b.mean - a.mean);
    const [most, least] = [ranked[0]!, ranked[ranked.length - 1]!];
    const keys = [...most.d.keys()].filter((k) => least.d.has(k));
    const t = pairedT(keys.map((k) => most.d.get(k)!), keys.map((k) => least.d.get(k)!));
    const tested = t.n >= 2 && Number.isFinite(t.p);
    const said = !tested ? `whether accuracy falls more for ${most.m} than for ${least.m} is untested` : t.p < ALPHA ? `accuracy falls more for ${most.m} than for ${least.m}` : `a difference between the drops of ${most.m} and ${least.m} is not shown`;
    // A method near chance has little left to lose: its smaller drop is a floor, not robustness.
    const room = ctx.chance === undefined ? undefined : lowAcc.get(least.m)! - ctx.chance;
    const floor =
      room !== undefined && room < most.mean
        ? ` But ${least.m} reaches only ${fmt(lowAcc.get(least.m)!)} with label noise ${lo}, ${fmt(Math.max(0, room))} above chance (${fmt(ctx.chance!)}): less room to fall than ${most.m}'s drop of ${fmt(most.mean)}, so its smaller drop does not show robustness (a floor effect).`
        : '';
    out.push(`With label noise ${lo} → ${hi}, ${said}: the drop for ${most.m} minus the drop for ${least.m} is ${describeTest(t, 'seed × condition pairs')}.${floor}`);
  }
  return out;
}

/**
 * Each method against the baseline (params.baseline, else the first method): test accuracy paired
 * over every condition and seed both have (pure-noise training aside: chance for every method).
 */
function methodFindings(ctx: Context, runs: Run[]): string[] {
  const axes = ctx.axes;
  if (axes.method === null) return [];
  const signal = runs.filter((r) => r.item[axes.method!] !== undefined && noiseLevelOf(r.item, axes)?.pure !== true);
  const methods = distinct(signal.map((r) => methodOf(r.item, axes)));
  if (methods.length < 2) return [];
  const baseline = ctx.params.baseline ?? methods[0]!;
  if (!methods.includes(baseline)) return [`No method is compared with the baseline: params.baseline '${baseline}' is not a value of '${axes.method}' (${methods.join(', ')}).`];
  const acc = (r: Run) => ctx.testAccuracy(r)!;
  const pairKey = (r: Run) => itemKey(r.item, [axes.method]);
  const of = (m: string) => signal.filter((r) => methodOf(r.item, axes) === m);
  return methods
    .filter((m) => m !== baseline)
    .map((m) => {
      const t = pairedBy(of(m), of(baseline), pairKey, acc);
      const verdict = t.n >= 2 && Number.isFinite(t.p) && t.p < ALPHA ? (t.diff > 0 ? 'higher' : 'lower') : null;
      const said = verdict === null ? `${m} against ${baseline}` : `${m} scores ${verdict} than ${baseline}`;
      return `Test accuracy, ${said}: ${describeTest(t, 'condition × seed pairs')}.`;
    });
}
