/** Difficulty scores: their distributions, how well they find flipped labels, how they agree. */
import { distinct, labelNoiseOf } from '../axes.js';
import { isEnsemble, shortId, type CorrelationRow, type ScoreTable } from '../data.js';
import { barSpec, correlationSpec, histogramSpec, type HistogramBin, type MatrixCell } from '../plots.js';
import type { Table } from '../table.js';
import type { SectionSpec } from '../section.js';
import { conditionKey, meanCi, summaries } from '../stats.js';

/** Every score's values, pooled over the runs of the score tables (ensembles aside: their rows repeat the runs' clips), split into clean and flipped samples. */
export function pooledScores(tables: readonly ScoreTable[]): Map<string, { clean: number[]; flipped: number[] }> {
  const out = new Map<string, { clean: number[]; flipped: number[] }>();
  for (const t of tables) {
    t.names.forEach((name, j) => {
      let g = out.get(name);
      if (g === undefined) {
        g = { clean: [], flipped: [] };
        out.set(name, g);
      }
      const col = t.values[j]!;
      for (let i = 0; i < col.length; i++) {
        const v = col[i]!;
        if (Number.isFinite(v) && !isEnsemble(t.run[i]!)) (t.flipped[i] ? g.flipped : g.clean).push(v);
      }
    });
  }
  return out;
}

/** Equal-width bins over the pooled range; each group's shares sum to 1. */
export function histogramBins(score: string, clean: readonly number[], flipped: readonly number[], bins: number): HistogramBin[] {
  const all = [...clean, ...flipped];
  if (all.length === 0) return [];
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of all) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (hi === lo) {
    lo -= 0.5;
    hi += 0.5;
  }
  const width = (hi - lo) / bins;
  const out: HistogramBin[] = [];
  for (const [group, values] of [
    ['clean', clean],
    ['flipped', flipped],
  ] as const) {
    if (values.length === 0) continue;
    const counts = new Array<number>(bins).fill(0);
    for (const v of values) counts[Math.min(bins - 1, Math.floor((v - lo) / width))]! += 1;
    counts.forEach((c, b) => out.push({ score, group, x0: lo + b * width, x1: lo + (b + 1) * width, fraction: c / values.length }));
  }
  return out;
}

export const scoreDistributions: SectionSpec = {
  id: 'score-distributions',
  title: 'Score distributions: clean vs flipped',
  read: 'For each difficulty score (higher = harder), the share of clean and of flipped training samples in each bin. The less the two overlap, the better the score finds mislabelled samples.',
  build(ctx, s) {
    if (ctx.data.scores.length === 0) return 'needs a score-difficulty stage (its scores output) in `needs`.';
    const pooled = pooledScores(ctx.data.scores);
    const names = [...pooled.keys()];
    const bins = names.flatMap((n) => histogramBins(n, pooled.get(n)!.clean, pooled.get(n)!.flipped, ctx.params.histogram_bins));
    if (bins.length === 0) return 'the scores output has no finite score values.';
    if (names.every((n) => pooled.get(n)!.flipped.length === 0)) s.notes.push('No sample is flipped: only the clean distribution is shown.');
    s.plots.push({ id: 'score-distributions', spec: histogramSpec(bins, names), caption: `Score histograms (${ctx.params.histogram_bins} bins), pooled over runs.` });
    return undefined;

  },
};

// ---------------------------------------------------------------------------------------------
export const auroc: SectionSpec = {
  id: 'auroc',
  title: 'Finding flipped labels: AUROC',
  read: 'How well each score ranks the flipped (mislabelled) training samples above the clean ones: AUROC 0.5 is chance, 1 is a perfect ranking. The bars are means over runs with their 95% confidence intervals; the tables give each condition (over its seeds) and each run. AUPRC is the average precision; its chance level is the share of flipped samples.',
  build(ctx, s) {
    const rows = ctx.data.summary;
    if (rows.length === 0) return 'needs a score-difficulty stage (its summary output) in `needs`.';
    const several = distinct(rows.map((r) => r.from)).length > 1;
    const runKey = (r: (typeof rows)[number]): string => (several ? `${shortId(r.from)}: ${r.run}` : r.run);
    const runs = distinct(rows.map(runKey));
    // Scores the stage could not compute for any run (NaN everywhere) get no column.
    const scores = distinct(rows.filter((r) => Number.isFinite(r.auroc) || Number.isFinite(r.auprc)).map((r) => r.score));
    const pivot = (metric: 'auroc' | 'auprc'): Table => ({
      columns: ['run', ctx.noiseTitle, 'flipped', ...scores],
      plain: [ctx.noiseTitle, 'flipped'],
      rows: runs.map((run) => {
        const mine = rows.filter((r) => runKey(r) === run);
        const first = mine[0]!;
        const trained = ctx.runById(first.run);
        return [
          run,
          trained === undefined ? null : (labelNoiseOf(trained.item, ctx.axes) ?? null),
          Math.max(...mine.map((r) => r.n_flipped)),
          ...scores.map((score) => mine.find((r) => r.score === score)?.[metric] ?? null),
        ];
      }),
    });
    // Over the runs (ensembles aside: they average runs already counted): each score's mean with its CI.
    const single = rows.filter((r) => !isEnsemble(r.run) && Number.isFinite(r.auroc));
    const perScore = summaries(single, (r) => r.score, (r) => r.auroc);
    if (perScore.size > 0) {
      const bars = [...perScore].sort((a, b) => b[1].mean - a[1].mean).map(([name, st]) => ({ name, value: st.mean, lo: st.ci95?.[0] ?? null, hi: st.ci95?.[1] ?? null }));
      s.plots.push({ id: 'auroc', spec: barSpec(bars, 'AUROC (mean over runs, 95% CI)', [0, 1]), caption: 'AUROC of each score: the mean over runs with its 95% confidence interval (0.5: chance).' });
    }
    // Per condition (a run's matrix values but its seed): the mean over its seeds.
    const condition = (r: (typeof rows)[number]) => {
      const trained = ctx.runById(r.run);
      return trained === undefined ? null : conditionKey(trained.item, ctx.axes) || 'all';
    };
    const known = single.filter((r) => condition(r) !== null);
    const perCondition = summaries(known, (r) => `${condition(r)}\u0000${r.score}`, (r) => r.auroc);
    const conditions = distinct(known.map((r) => condition(r)!));
    if (conditions.length > 0 && [...perCondition.values()].some((x) => x.n > 1)) {
      s.tables.push({
        caption: 'AUROC per condition: mean ± the half-width of its 95% CI over the seeds (n runs).',
        table: { columns: ['condition', ...scores], rows: conditions.map((c) => [c, ...scores.map((score) => meanCi(perCondition.get(`${c}\u0000${score}`)))]) },
      });
    }
    s.tables.push({ caption: 'AUROC of each score (rows: runs, and ensembles over runs).', table: pivot('auroc') });
    s.tables.push({ caption: 'AUPRC of each score.', table: pivot('auprc') });
    return undefined;

  },
};

// ---------------------------------------------------------------------------------------------
/** Mean Spearman per pair of scores within a run (symmetric, diagonal 1), in first-seen score order. */
export function meanScoreCorrelations(rows: readonly CorrelationRow[]): { order: string[]; cells: MatrixCell[] } {
  const within = rows.filter((r) => r.run_a === r.run_b && !isEnsemble(r.run_a) && r.score_a !== r.score_b && Number.isFinite(r.spearman));
  const order = distinct(within.flatMap((r) => [r.score_a, r.score_b]));
  const sums = new Map<string, { sum: number; n: number }>();
  for (const r of within) {
    for (const key of [`${r.score_a}\u0000${r.score_b}`, `${r.score_b}\u0000${r.score_a}`]) {
      const acc = sums.get(key) ?? { sum: 0, n: 0 };
      acc.sum += r.spearman;
      acc.n += 1;
      sums.set(key, acc);
    }
  }
  const cells: MatrixCell[] = [];
  for (const a of order) {
    for (const b of order) {
      const acc = sums.get(`${a}\u0000${b}`);
      if (a === b) cells.push({ a, b, value: 1 });
      else if (acc !== undefined) cells.push({ a, b, value: acc.sum / acc.n });
    }
  }
  return { order, cells };
}

export const correlations: SectionSpec = {
  id: 'correlations',
  title: 'Score correlations',
  read: 'Spearman rank correlation between the scores of the same run, averaged over runs (ensembles aside): scores that agree rank the samples alike. Below: each score against itself across runs (seeds, settings), the stability that Rampp et al. (2024) found to predict a useful score.',
  build(ctx, s) {
    const rows = ctx.data.correlations;
    if (rows.length === 0) return 'needs a score-difficulty stage (its correlations output) in `needs`.';
    const { order, cells } = meanScoreCorrelations(rows);
    if (order.length > 1) s.plots.push({ id: 'correlations', spec: correlationSpec(cells, order, 'Spearman'), caption: 'Mean Spearman correlation between scores within a run.' });
    const across = rows.filter((r) => r.score_a === r.score_b && r.run_a !== r.run_b && !isEnsemble(r.run_a) && !isEnsemble(r.run_b) && Number.isFinite(r.spearman));
    const scores = distinct(across.map((r) => r.score_a));
    if (scores.length > 0) {
      const bars = scores.map((name) => {
        const v = across.filter((r) => r.score_a === name).map((r) => r.spearman);
        return { name, value: v.reduce((a, b) => a + b, 0) / v.length };
      });
      s.plots.push({ id: 'stability', spec: barSpec(bars, 'mean Spearman across runs', [-1, 1]), caption: 'Stability: mean Spearman correlation of each score with itself across runs.' });
      s.tables.push({ caption: 'Stability across runs (mean Spearman).', table: { columns: ['score', 'mean Spearman', 'pairs'], plain: ['pairs'], rows: bars.map((b) => [b.name, b.value, across.filter((r) => r.score_a === b.name).length]) } });
      // Seed stability: only the pairs of runs that differ in nothing but their seed, averaged per
      // condition first (a condition's pairs share runs; conditions are the independent units).
      const conditionOf = (r: (typeof across)[number]): string | null => {
        const [a, b] = [ctx.runById(r.run_a), ctx.runById(r.run_b)];
        if (a === undefined || b === undefined) return null;
        const [ka, kb] = [conditionKey(a.item, ctx.axes), conditionKey(b.item, ctx.axes)];
        return ka === kb ? ka : null;
      };
      const seedPairs = across.filter((r) => conditionOf(r) !== null);
      if (seedPairs.length > 0) {
        const perCondition = summaries(seedPairs, (r) => `${r.score_a}\u0000${conditionOf(r)}`, (r) => r.spearman);
        const stats = summaries([...perCondition], ([k]) => k.split('\u0000')[0]!, ([, st]) => st.mean);
        const ranked = [...stats].sort((x, y) => y[1].mean - x[1].mean);
        s.tables.push({
          caption: 'Seed stability: Spearman correlation of each score between runs that differ only in their seed, averaged per condition (mean ± the half-width of its 95% CI over the conditions, n conditions).',
          table: { columns: ['score', 'Spearman between seeds', 'seed pairs'], plain: ['seed pairs'], rows: ranked.map(([score, st]) => [score, meanCi(st), seedPairs.filter((r) => r.score_a === score).length]) },
        });
        const [best, bestStats] = ranked[0]!;
        s.notes.push(`Across training seeds, ${best} ranks the samples most alike (mean Spearman ${bestStats.mean.toFixed(3)} over ${bestStats.n} conditions); a score that changes with the seed says more about the run than about the sample.`);
      }
    }
    if (s.plots.length === 0) return 'the correlations output has neither two scores of one run nor one score of two runs.';
    return undefined;
  },
};
