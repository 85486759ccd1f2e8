/** Accuracy sections: against label noise, against SNR, in-domain against out-of-domain. */
import { distinct, labelNoiseOf, methodOf, noiseLevelOf, orderedLabels } from '../axes.js';
import { shortId, snrOfSplit, type Run } from '../data.js';
import { accuracySpec, gapSpec, type AccuracyPoint, type GapPoint } from '../plots.js';
import type { Cell } from '../table.js';
import type { SectionSpec } from '../section.js';
import { conditionKey, meanCi, summaries } from '../stats.js';
import { needsTrain, type Context } from '../context.js';

export const labelNoise: SectionSpec = {
  id: 'label-noise',
  title: 'Accuracy vs label noise',
  read: 'Test accuracy against the label-noise rate: a line per method (the mean over the seeds), its 95% confidence interval as a bar, a dot per run, chance level dashed; one panel per training data-noise condition. A robust method keeps its line flat; bars that overlap mean the data cannot tell the points apart.',
  build(ctx, s) {
    const key = ctx.axes.label_noise;
    if (key === null) return 'needs a label-noise axis: params.axes.label_noise names the matrix key (e.g. noise).';
    const runs = ctx.data.runs.filter((r) => labelNoiseOf(r.item, ctx.axes) !== undefined && ctx.testAccuracy(r) !== undefined);
    if (runs.length === 0) {
      return ctx.data.runs.length === 0 ? needsTrain : `needs train instances with a numeric matrix key '${key}' (params.axes.label_noise) and a '${ctx.params.in_domain_set}' split.`;
    }
    const levelOf = (r: Run): { label: string; order: number } => noiseLevelOf(r.item, ctx.axes) ?? { label: 'all', order: 0 };
    // Panels from the cleanest training data to pure noise.
    const facetSort = orderedLabels(runs, (r) => levelOf(r).label, (r) => -levelOf(r).order);
    const points = withCi(
      runs.map(
        (r): AccuracyPoint => ({
          x: labelNoiseOf(r.item, ctx.axes)!,
          acc: ctx.testAccuracy(r)!,
          method: methodOf(r.item, ctx.axes),
          facet: levelOf(r).label,
          run: shortId(r.id),
        }),
      ),
    );
    s.plots.push({
      id: 'label-noise',
      spec: accuracySpec({
        points,
        x: { title: ctx.noiseTitle, type: 'quantitative' },
        methodTitle: ctx.methodTitle,
        chance: ctx.chance,
        facet: { title: `training data (${ctx.axes.data_noise ?? 'data noise'})`, sort: facetSort },
      }),
      caption: 'Test accuracy vs label-noise rate, per method.',
    });
    const noises = distinct(points.map((p) => p.x as number)).sort((a, b) => a - b);
    const groups = distinct(points.map((p) => `${p.method}\u0000${p.facet}`));
    const stats = summaries(points, (p) => `${p.method}\u0000${p.facet}\u0000${String(p.x)}`, (p) => p.acc);
    const mean = (g: string, x: number): string | null => meanCi(stats.get(`${g}\u0000${String(x)}`));
    const withLevel = facetSort.length > 1;
    s.tables.push({
      caption: 'Test accuracy by method and label-noise rate: mean ± the half-width of its 95% CI over the seeds (n runs).',
      table: {
        columns: [ctx.methodTitle, ...(withLevel ? ['training data'] : []), ...noises.map((x) => `${key}=${x}`)],
        rows: groups.map((g) => {
          const [method, level] = g.split('\u0000') as [string, string];
          return [method, ...(withLevel ? [level] : []), ...noises.map((x) => mean(g, x))];
        }),
      },
    });
    return undefined;
  },
};

/** Each point with the 95% CI of its group's mean (its method, panel and x: the seeds of a condition). */
function withCi(points: AccuracyPoint[]): AccuracyPoint[] {
  const key = (p: AccuracyPoint) => `${p.method}\u0000${p.facet}\u0000${String(p.x)}`;
  const s = summaries(points, key, (p) => p.acc);
  return points.map((p) => {
    const ci = s.get(key(p))?.ci95 ?? null;
    return { ...p, lo: ci?.[0] ?? null, hi: ci?.[1] ?? null };
  });
}

// ---------------------------------------------------------------------------------------------
export const snr: SectionSpec = {
  id: 'snr',
  title: 'Accuracy vs SNR',
  read: 'First: test accuracy against the training data’s noise (pure noise at the left end): chance level when the training audio holds no signal. Second: accuracy on noisy copies of the test set against their SNR, one panel per label-noise rate and training data. A line per method (the mean over the seeds) with its 95% confidence interval as a bar.',
  build(ctx, s) {
    const noiseSort = (points: AccuracyPoint[]): string[] => distinct(points.map((p) => p.facet)).sort((a, b) => Number(a) - Number(b));

    const trained = ctx.data.runs.filter((r) => noiseLevelOf(r.item, ctx.axes) !== undefined && ctx.testAccuracy(r) !== undefined);
    if (trained.length > 0) {
      const points = withCi(
        trained.map(
          (r): AccuracyPoint => ({
            x: noiseLevelOf(r.item, ctx.axes)!.label,
            acc: ctx.testAccuracy(r)!,
            method: methodOf(r.item, ctx.axes),
            facet: ctx.noiseLabel(r.item),
            run: shortId(r.id),
          }),
        ),
      );
      const sort = orderedLabels(trained, (r) => noiseLevelOf(r.item, ctx.axes)!.label, (r) => noiseLevelOf(r.item, ctx.axes)!.order);
      s.plots.push({
        id: 'snr-train',
        spec: accuracySpec({
          points,
          x: { title: `training data (${ctx.axes.data_noise})`, type: 'ordinal', sort },
          methodTitle: ctx.methodTitle,
          chance: ctx.chance,
          facet: { title: ctx.noiseTitle, sort: noiseSort(points) },
        }),
        caption: 'Test accuracy vs the SNR of the training data, per method.',
      });
    }

    // One panel per label-noise rate and training data: each line is then one condition's seeds.
    const panel = (item: Run['item']): string => {
      const level = noiseLevelOf(item, ctx.axes);
      return level === undefined ? ctx.noiseLabel(item) : `${ctx.noiseLabel(item)} · ${level.label}`;
    };
    const panelOrder = (item: Run['item']): number => (labelNoiseOf(item, ctx.axes) ?? 0) * 1e6 + (noiseLevelOf(item, ctx.axes)?.order ?? 0);
    const tested: AccuracyPoint[] = [];
    const testedItems: Run['item'][] = [];
    const evaluated = ctx.data.evaluations.filter((e) => e.metrics !== undefined);
    if (evaluated.length > 0) {
      for (const e of evaluated) {
        for (const m of e.metrics!) {
          if (!Number.isFinite(m.snr_db)) continue;
          tested.push({ x: m.snr_db, acc: m.accuracy, method: methodOf(e.item, ctx.axes), facet: panel(e.item), run: shortId(e.id) });
          testedItems.push(e.item);
        }
      }
    } else {
      for (const r of ctx.data.runs) {
        for (const sp of r.splits) {
          const snr = snrOfSplit(sp.split);
          if (snr === undefined || sp.n === 0) continue;
          tested.push({ x: snr, acc: sp.correct / sp.n, method: methodOf(r.item, ctx.axes), facet: panel(r.item), run: shortId(r.id) });
          testedItems.push(r.item);
        }
      }
    }
    if (tested.length > 0) {
      s.plots.push({
        id: 'snr-test',
        spec: accuracySpec({
          points: withCi(tested),
          x: { title: 'test SNR (dB)', type: 'quantitative' },
          methodTitle: ctx.methodTitle,
          chance: ctx.chance,
          facet: { title: `${ctx.noiseTitle} · training data`, sort: orderedLabels(testedItems, panel, panelOrder) },
          y: 'accuracy',
        }),
        caption: `Accuracy on noisy test copies vs their SNR (${evaluated.length > 0 ? 'evaluate-ood metrics' : "splits 'test@snr=…' of the predictions"}).`,
      });
    }
    if (s.plots.length === 0) {
      return `needs runs with a data-noise matrix key ('${ctx.axes.data_noise ?? 'data'}', params.axes.data_noise), or noisy test copies (inject-noise data.test_copies; evaluate-ood metrics with snr_db).`;
    }
    return undefined;

  },
};

// ---------------------------------------------------------------------------------------------
interface SetAccuracy {
  run: string;
  item: Run['item'];
  inDomain: number | undefined;
  sets: { set: string; acc: number }[];
}

/** In-domain and OOD accuracy per run: from evaluate-ood metrics when there are any, else from the predictions' splits. */
export function oodAccuracies(ctx: Context): SetAccuracy[] {
  const inDomain = ctx.params.in_domain_set;
  const evaluated = ctx.data.evaluations.filter((e) => e.metrics !== undefined);
  if (evaluated.length > 0) {
    return evaluated.map((e) => ({
      run: shortId(e.id),
      item: e.item,
      inDomain: e.metrics!.find((m) => m.set === inDomain)?.accuracy,
      sets: e.metrics!.filter((m) => m.set !== inDomain && !Number.isFinite(m.snr_db)).map((m) => ({ set: m.set, acc: m.accuracy })),
    }));
  }
  return ctx.data.runs.map((r) => ({
    run: shortId(r.id),
    item: r.item,
    inDomain: ctx.testAccuracy(r),
    sets: r.splits
      .filter((sp) => sp.n > 0 && sp.split !== inDomain && !['train', 'dev'].includes(sp.split) && snrOfSplit(sp.split) === undefined)
      .map((sp) => ({ set: sp.split, acc: sp.correct / sp.n })),
  }));
}

export const gap: SectionSpec = {
  id: 'ood-gap',
  title: 'In-domain vs out-of-domain',
  read: (ctx) => `Per run, the accuracy on the in-domain test set ('${ctx.params.in_domain_set}') and on each out-of-domain set (held-out speakers or folds, other datasets) on one line: the longer the line, the larger the gap.`,
  build(ctx, s) {
    const needs = "needs an out-of-domain set: a 'holdout' split (download holdout) in the predictions, or evaluate-ood metrics with sets other than the in-domain one.";
    const rows = oodAccuracies(ctx).filter((r) => r.inDomain !== undefined && r.sets.length > 0);
    if (rows.length > 0) {
      const points: GapPoint[] = rows.flatMap((r) => [
        { run: r.run, set: ctx.params.in_domain_set, acc: r.inDomain!, kind: 'in-domain' },
        ...r.sets.map((x) => ({ run: r.run, set: x.set, acc: x.acc, kind: 'out-of-domain' })),
      ]);
      const sets = [ctx.params.in_domain_set, ...distinct(rows.flatMap((r) => r.sets.map((x) => x.set)))];
      s.plots.push({ id: 'ood-gap', spec: gapSpec(points, rows.map((r) => r.run), sets), caption: 'In-domain and out-of-domain accuracy per run.' });
      s.tables.push({
        caption: 'Accuracy per out-of-domain set and its gap to the in-domain accuracy.',
        table: {
          columns: ['run', 'set', 'accuracy', 'in-domain', 'gap'],
          rows: rows.flatMap((r) => r.sets.map((x): Cell[] => [r.run, x.set, x.acc, r.inDomain!, x.acc - r.inDomain!])),
        },
      });
    }
    // Every metric of every evaluated set, out-of-domain or not.
    const evaluated = ctx.data.evaluations.filter((e) => e.metrics !== undefined);
    if (evaluated.length > 0) {
      if (rows.length === 0) s.notes.push(`No gap to show: it ${needs}`);
      // The readable view: one row per condition (its seeds pooled), one column per set.
      const condition = (item: Run['item']) => conditionKey(item, ctx.axes) || 'all';
      const sets = distinct(evaluated.flatMap((e) => e.metrics!.map((m) => m.set)));
      const cells = evaluated.flatMap((e) => e.metrics!.map((m) => ({ c: condition(e.item), set: m.set, acc: m.accuracy })));
      const stats = summaries(cells, (x) => `${x.c}\u0000${x.set}`, (x) => x.acc);
      s.tables.push({
        caption: 'Accuracy on every evaluated set, per condition: mean ± the half-width of its 95% CI over the seeds (n runs).',
        table: {
          columns: ['condition', ...sets],
          rows: distinct(cells.map((x) => x.c)).map((c): Cell[] => [c, ...sets.map((set) => meanCi(stats.get(`${c}\u0000${set}`)))]),
        },
      });
      s.tables.push({
        caption: 'Every evaluated set (evaluate-ood metrics).',
        folded: true,
        table: {
          columns: ['evaluation', 'set', 'snr_db', 'n', 'accuracy', 'uar', 'macro_f1', 'nll', 'ece'],
          plain: ['snr_db', 'n'],
          rows: evaluated.flatMap((e) => e.metrics!.map((m): Cell[] => [shortId(e.id), m.set, m.snr_db, m.n, m.accuracy, m.uar, m.macro_f1, m.nll, m.ece])),
        },
      });
    }
    const crossTable = evaluated.filter((e) => e.otherTables);
    if (crossTable.length > 0) {
      const how = distinct(crossTable.map((e) => e.normalization ?? 'per_set'));
      const say: Record<string, string> = {
        train: "standardised with the statistics of the table each model was trained on (evaluate-ood normalization: train), as a deployed model would see them",
        per_set: 'standardised with their own statistics (evaluate-ood normalization: per_set), which hides part of a shift in level or spectrum',
      };
      s.notes.push(`Sets from other feature tables are ${how.map((h) => say[h] ?? h).join('; in some evaluations ')}.`);
    }
    if (rows.length === 0 && evaluated.length === 0) return needs;
    return undefined;

  },
};
