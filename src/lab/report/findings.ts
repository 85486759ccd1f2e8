/** The report's findings: sentences computed from the study's numbers. */
import { distinct, labelNoiseOf, methodOf, noiseLevelOf } from './axes.js';
import { isEnsemble } from './data.js';
import type { Context } from './context.js';
import { oodAccuracies } from './sections/accuracy.js';

const fmt = (x: number): string => x.toFixed(3);

/** The study's headline numbers, each computed from the data shown below it. */
export function findings(ctx: Context): string[] {
  const out: string[] = [];
  const runs = ctx.data.runs.filter((r) => ctx.testAccuracy(r) !== undefined);
  const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;

  // Label noise: per method, the mean test accuracy at the lowest and the highest rate (pure-noise runs aside).
  const signal = runs.filter((r) => labelNoiseOf(r.item, ctx.axes) !== undefined && noiseLevelOf(r.item, ctx.axes)?.pure !== true);
  const drops: { method: string; drop: number; text: string }[] = [];
  for (const method of distinct(signal.map((r) => methodOf(r.item, ctx.axes)))) {
    const mine = signal.filter((r) => methodOf(r.item, ctx.axes) === method);
    const rates = distinct(mine.map((r) => labelNoiseOf(r.item, ctx.axes)!)).sort((a, b) => a - b);
    if (rates.length < 2) continue;
    const at = (rate: number): number => mean(mine.filter((r) => labelNoiseOf(r.item, ctx.axes) === rate).map((r) => ctx.testAccuracy(r)!));
    const lo = rates[0]!;
    const hi = rates[rates.length - 1]!;
    const drop = at(lo) - at(hi);
    drops.push({ method, drop, text: `${method}: ${fmt(at(lo))} at ${lo} → ${fmt(at(hi))} at ${hi} (${drop >= 0 ? '−' : '+'}${fmt(Math.abs(drop))})` });
  }
  if (drops.length > 0) {
    let line = `Test accuracy from the lowest to the highest label-noise rate: ${drops.map((d) => d.text).join('; ')}.`;
    if (drops.length > 1) {
      const sorted = [...drops].sort((a, b) => b.drop - a.drop);
      line += ` It falls most for ${sorted[0]!.method} and least for ${sorted[sorted.length - 1]!.method}.`;
    }
    out.push(line);
  }

  const pure = runs.filter((r) => noiseLevelOf(r.item, ctx.axes)?.pure === true);
  if (pure.length > 0) {
    const acc = mean(pure.map((r) => ctx.testAccuracy(r)!));
    const chance = ctx.chance === undefined ? '' : `; chance is ${fmt(ctx.chance)}`;
    out.push(`Trained on pure noise (${pure.length} run${pure.length === 1 ? '' : 's'}): mean test accuracy ${fmt(acc)}${chance}.`);
  }

  const summary = ctx.data.summary.filter((r) => Number.isFinite(r.auroc) && !isEnsemble(r.run));
  if (summary.length > 0) {
    const byScore = distinct(summary.map((r) => r.score)).map((score) => {
      const v = summary.filter((r) => r.score === score).map((r) => r.auroc);
      return { score, auroc: mean(v), n: v.length };
    });
    byScore.sort((a, b) => b.auroc - a.auroc);
    const best = byScore[0]!;
    const loss = byScore.find((b) => b.score === 'final_loss');
    let line = `Finding flipped labels: ${best.score} ranks best, mean AUROC ${fmt(best.auroc)} over ${best.n} run${best.n === 1 ? '' : 's'}`;
    if (loss !== undefined && loss !== best) line += `; final_loss ${fmt(loss.auroc)}`;
    out.push(`${line} (chance 0.5).`);
  }

  const gaps = oodAccuracies(ctx).flatMap((r) => (r.inDomain === undefined ? [] : r.sets.map((x) => x.acc - r.inDomain!)));
  if (gaps.length > 0) out.push(`Out-of-domain sets lose ${fmt(-mean(gaps))} accuracy on average against the in-domain test set (${gaps.length} run × set pairs).`);
  return out;
}
