/**
 * The report's sections, from the study's data: which rows each plot and table gets, how to
 * read it, and, when the inputs lack what a section needs, one line saying what it would need.
 * The order of the sections is the order of the page.
 */
import type { TopLevelSpec } from 'vega-lite';
import { canonicalJson } from '../../core/util/canonical.js';
import { distinct, labelNoiseOf, methodOf, noiseLevelOf, orderedLabels } from './axes.js';
import {
  isEnsemble,
  shortId,
  snrOfSplit,
  splitAccuracy,
  type CorrelationRow,
  type Evaluation,
  type ReportData,
  type Run,
  type ScoreTable,
} from './data.js';
import type { ReportParams } from './params.js';
import {
  accuracySpec,
  barSpec,
  correlationSpec,
  curvesSpec,
  gapSpec,
  histogramSpec,
  rasterSpec,
  type AccuracyPoint,
  type CurveRow,
  type GapPoint,
  type HistogramBin,
  type MatrixCell,
  type RasterTile,
} from './plots.js';
import { heatmapDataUrl } from './png.js';
import type { Cell, Table } from './table.js';

export interface PlotFigure {
  /** Unique in the page: the anchor and the prefix of the SVG's ids. */
  id: string;
  spec: TopLevelSpec;
  caption: string;
}

export interface TableFigure {
  caption: string;
  table: Table;
  /** Long reference tables start folded on the page (a <details> element; no script). */
  folded?: boolean;
}

export interface Section {
  id: string;
  title: string;
  /** How to read the section's plots and tables. */
  read: string;
  plots: PlotFigure[];
  tables: TableFigure[];
  notes: string[];
  /** Set when nothing can be shown: what the section would need. */
  missing?: string;
}

export interface Study {
  findings: string[];
  sections: Section[];
}

/** Colours of the rasters (a Vega scheme, also the legend's). */
export const RASTER_SCHEME = 'viridis';

export function buildStudy(data: ReportData, params: ReportParams, lut: Uint8Array): Study {
  const ctx = new Context(data, params);
  const sections = [
    runsSection(ctx),
    labelNoiseSection(ctx),
    snrSection(ctx),
    gapSection(ctx),
    memorisationSection(ctx),
    scoreDistributionSection(ctx),
    aurocSection(ctx),
    correlationSection(ctx),
    saliencySection(ctx, lut),
    representationSection(ctx),
  ];
  return { findings: findings(ctx), sections };
}

/** What every section asks of the data: the axes of each run and the chance level. */
class Context {
  readonly chance: number | undefined;
  readonly methodTitle: string;
  readonly noiseTitle: string;

  constructor(
    readonly data: ReportData,
    readonly params: ReportParams,
  ) {
    const k = data.runs.find((r) => r.classes !== undefined)?.classes?.length;
    this.chance = k === undefined || k === 0 ? undefined : 1 / k;
    this.methodTitle = params.axes.method ?? 'method';
    this.noiseTitle = params.axes.label_noise === null ? 'label noise' : `label noise (${params.axes.label_noise})`;
  }

  get axes(): ReportParams['axes'] {
    return this.params.axes;
  }

  testAccuracy(run: Run): number | undefined {
    return splitAccuracy(run, this.params.in_domain_set);
  }

  noiseLabel(item: Run['item']): string {
    const v = labelNoiseOf(item, this.axes);
    return v === undefined ? 'n/a' : String(v);
  }

  /** The run an instance id names (score tables name runs by their train instance id). */
  runById(id: string): Run | undefined {
    return this.data.runs.find((r) => r.id === id);
  }
}

const needsTrain = 'needs train stages in `needs` (their outputs curves, predictions, model).';

// ---------------------------------------------------------------------------------------------
function runsSection(ctx: Context): Section {
  const s = section('runs', 'Runs', 'Every trained run: its matrix values, the params that differ between runs, its test accuracy and what identifies it (the fingerprint, or the hash of its model output when the engine gives no fingerprint).');
  const runs = ctx.data.runs;
  if (runs.length === 0) return { ...s, missing: needsTrain };
  const keys = distinct(runs.flatMap((r) => Object.keys(r.item)));
  const flat = runs.map((r) => (r.params === undefined ? undefined : flattenParams(r.params)));
  const paramKeys = distinct(flat.flatMap((f) => (f === undefined ? [] : [...f.keys()]))).sort();
  // A param that only mirrors a matrix key (seed: ${item.seed}) is that key's column already.
  const mirrors = (k: string) => keys.includes(k) && runs.every((r, i) => flat[i]?.get(k) === undefined || flat[i]!.get(k) === String(r.item[k]));
  const varying = paramKeys.filter((k) => new Set(flat.map((f) => f?.get(k) ?? '–')).size > 1 && !mirrors(k));
  const shared = paramKeys.filter((k) => !varying.includes(k) && flat.every((f) => f?.has(k)));
  const allFingerprints = runs.every((r) => r.fingerprint !== undefined);
  const table: Table = {
    columns: ['run', ...keys, ...varying.map((k) => (keys.includes(k) ? `param ${k}` : k)), 'test acc', 'weights of epoch', 'epochs', allFingerprints ? 'fingerprint' : 'fingerprint (or model output hash)'],
    rows: runs.map((r, i): Cell[] => [
      r.id,
      ...keys.map((k) => (r.item[k] === undefined ? null : String(r.item[k]))),
      ...varying.map((k) => flat[i]?.get(k) ?? null),
      ctx.testAccuracy(r) ?? null,
      weightsEpoch(r),
      r.curves?.length ?? null,
      r.fingerprint ?? (r.modelHash === undefined ? null : `model ${r.modelHash}`),
    ]),
    numeric: [false, ...keys.map(() => false), ...varying.map(() => false), true, true, true, false],
    plain: ['weights of epoch', 'epochs'],
  };
  s.tables.push({ caption: `Runs (${runs.length}); test accuracy on split '${ctx.params.in_domain_set}'.`, table });
  if (shared.length > 0) s.notes.push(`Params shared by every run: ${shared.map((k) => `${k}=${flat[0]!.get(k)}`).join(', ')}.`);
  if (flat.every((f) => f === undefined)) s.notes.push('No params: this engine does not pass the upstream params to the report yet.');
  else if (flat.some((f) => f === undefined)) s.notes.push('Params are listed for the runs whose engine passed them.');
  return s;
}

/**
 * The epoch whose weights the run's model holds: with early stopping the best by its monitor
 * (train restores them), else the last. Without the run's params, just the number.
 */
function weightsEpoch(r: Run): string | null {
  if (r.bestEpoch === undefined) return null;
  if (r.params === undefined) return String(r.bestEpoch);
  const early = r.params['early_stopping'] as { monitor?: string } | null | undefined;
  return early ? `${r.bestEpoch} (best ${early.monitor ?? 'dev_loss'})` : `${r.bestEpoch} (last)`;
}

/** Nested params as dotted keys with JSON-ish values (`loss.name` → `ce`). */
export function flattenParams(params: Record<string, unknown>): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (v: unknown, key: string): void => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0) {
      for (const k of Object.keys(v).sort()) walk((v as Record<string, unknown>)[k], key === '' ? k : `${key}.${k}`);
    } else out.set(key, typeof v === 'string' ? v : canonicalJson(v));
  };
  walk(params, '');
  return out;
}

// ---------------------------------------------------------------------------------------------
function labelNoiseSection(ctx: Context): Section {
  const s = section(
    'label-noise',
    'Accuracy vs label noise',
    'Test accuracy against the label-noise rate: a line per method (the mean over runs such as seeds), a dot per run, chance level dashed; one panel per training data-noise condition. A robust method keeps its line flat.',
  );
  const key = ctx.axes.label_noise;
  if (key === null) return { ...s, missing: 'needs a label-noise axis: params.axes.label_noise names the matrix key (e.g. noise).' };
  const runs = ctx.data.runs.filter((r) => labelNoiseOf(r.item, ctx.axes) !== undefined && ctx.testAccuracy(r) !== undefined);
  if (runs.length === 0) {
    return { ...s, missing: ctx.data.runs.length === 0 ? needsTrain : `needs train instances with a numeric matrix key '${key}' (params.axes.label_noise) and a '${ctx.params.in_domain_set}' split.` };
  }
  const levelOf = (r: Run): { label: string; order: number } => noiseLevelOf(r.item, ctx.axes) ?? { label: 'all', order: 0 };
  // Panels from the cleanest training data to pure noise.
  const facetSort = orderedLabels(runs, (r) => levelOf(r).label, (r) => -levelOf(r).order);
  const points = runs.map(
    (r): AccuracyPoint => ({
      x: labelNoiseOf(r.item, ctx.axes)!,
      acc: ctx.testAccuracy(r)!,
      method: methodOf(r.item, ctx.axes),
      facet: levelOf(r).label,
      run: shortId(r.id),
    }),
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
  const mean = (g: string, x: number): number | null => {
    const v = points.filter((p) => `${p.method}\u0000${p.facet}` === g && p.x === x).map((p) => p.acc);
    return v.length === 0 ? null : v.reduce((a, b) => a + b, 0) / v.length;
  };
  const withLevel = facetSort.length > 1;
  s.tables.push({
    caption: 'Mean test accuracy by method and label-noise rate.',
    table: {
      columns: [ctx.methodTitle, ...(withLevel ? ['training data'] : []), ...noises.map((x) => `${key}=${x}`)],
      rows: groups.map((g) => {
        const [method, level] = g.split('\u0000') as [string, string];
        return [method, ...(withLevel ? [level] : []), ...noises.map((x) => mean(g, x))];
      }),
    },
  });
  return s;
}

// ---------------------------------------------------------------------------------------------
function snrSection(ctx: Context): Section {
  const s = section(
    'snr',
    'Accuracy vs SNR',
    'First: test accuracy against the training data’s noise (pure noise at the left end): chance level when the training audio holds no signal. Second: accuracy on noisy copies of the test set against their SNR. A line per method, one panel per label-noise rate.',
  );
  const noiseSort = (points: AccuracyPoint[]): string[] => distinct(points.map((p) => p.facet)).sort((a, b) => Number(a) - Number(b));

  const trained = ctx.data.runs.filter((r) => noiseLevelOf(r.item, ctx.axes) !== undefined && ctx.testAccuracy(r) !== undefined);
  if (trained.length > 0) {
    const points = trained.map(
      (r): AccuracyPoint => ({
        x: noiseLevelOf(r.item, ctx.axes)!.label,
        acc: ctx.testAccuracy(r)!,
        method: methodOf(r.item, ctx.axes),
        facet: ctx.noiseLabel(r.item),
        run: shortId(r.id),
      }),
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

  const tested: AccuracyPoint[] = [];
  const evaluated = ctx.data.evaluations.filter((e) => e.metrics !== undefined);
  if (evaluated.length > 0) {
    for (const e of evaluated) {
      for (const m of e.metrics!) {
        if (!Number.isFinite(m.snr_db)) continue;
        tested.push({ x: m.snr_db, acc: m.accuracy, method: methodOf(e.item, ctx.axes), facet: ctx.noiseLabel(e.item), run: shortId(e.id) });
      }
    }
  } else {
    for (const r of ctx.data.runs) {
      for (const sp of r.splits) {
        const snr = snrOfSplit(sp.split);
        if (snr === undefined || sp.n === 0) continue;
        tested.push({ x: snr, acc: sp.correct / sp.n, method: methodOf(r.item, ctx.axes), facet: ctx.noiseLabel(r.item), run: shortId(r.id) });
      }
    }
  }
  if (tested.length > 0) {
    s.plots.push({
      id: 'snr-test',
      spec: accuracySpec({
        points: tested,
        x: { title: 'test SNR (dB)', type: 'quantitative' },
        methodTitle: ctx.methodTitle,
        chance: ctx.chance,
        facet: { title: ctx.noiseTitle, sort: noiseSort(tested) },
        y: 'accuracy',
      }),
      caption: `Accuracy on noisy test copies vs their SNR (${evaluated.length > 0 ? 'evaluate-ood metrics' : "splits 'test@snr=…' of the predictions"}).`,
    });
  }
  if (s.plots.length === 0) {
    return {
      ...s,
      missing: `needs runs with a data-noise matrix key ('${ctx.axes.data_noise ?? 'data'}', params.axes.data_noise), or noisy test copies (inject-noise data.test_copies; evaluate-ood metrics with snr_db).`,
    };
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
interface SetAccuracy {
  run: string;
  item: Run['item'];
  inDomain: number | undefined;
  sets: { set: string; acc: number }[];
}

/** In-domain and OOD accuracy per run: from evaluate-ood metrics when there are any, else from the predictions' splits. */
function oodAccuracies(ctx: Context): SetAccuracy[] {
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

function gapSection(ctx: Context): Section {
  const s = section(
    'ood-gap',
    'In-domain vs out-of-domain',
    `Per run, the accuracy on the in-domain test set ('${ctx.params.in_domain_set}') and on each out-of-domain set (held-out speakers or folds, other datasets) on one line: the longer the line, the larger the gap.`,
  );
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
    s.tables.push({
      caption: 'Every evaluated set (evaluate-ood metrics).',
      folded: rows.length > 0,
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
  if (rows.length === 0 && evaluated.length === 0) return { ...s, missing: needs };
  return s;
}

// ---------------------------------------------------------------------------------------------
const CURVE_MEASURES = [
  ['flipped_acc_noisy', 'flipped samples: accuracy on their noisy label'],
  ['train_acc_orig', 'train: accuracy on the true label'],
  ['dev_acc', 'dev accuracy'],
] as const;

function memorisationSection(ctx: Context): Section {
  const s = section(
    'memorisation',
    'Memorisation',
    'Accuracy over epochs, one line per run. Left: how often flipped training samples are predicted as their wrong (noisy) label: it stays low while the model learns the patterns and rises when it starts memorising the noise. Middle: accuracy of the training samples against their true labels (it falls when memorisation begins). Right: dev accuracy.',
  );
  const runs = ctx.data.runs.filter((r) => r.curves !== undefined && r.curves.length > 0);
  if (runs.length === 0) return { ...s, missing: 'needs the curves output of train stages.' };
  const rows: CurveRow[] = [];
  for (const r of runs) {
    for (const c of r.curves!) {
      for (const [field, measure] of CURVE_MEASURES) {
        const value = c[field];
        if (Number.isFinite(value)) rows.push({ run: shortId(r.id), epoch: c.epoch, measure, value, noise: ctx.noiseLabel(r.item), method: methodOf(r.item, ctx.axes) });
      }
    }
  }
  const measures = CURVE_MEASURES.map(([, m]) => m).filter((m) => rows.some((r) => r.measure === m));
  if (!measures.includes(CURVE_MEASURES[0][1])) s.notes.push('No run has flipped labels, so there is no memorisation curve (inject-noise label noise upstream of train gives one).');
  const noiseOrder = distinct(rows.map((r) => r.noise)).sort((a, b) => Number(a) - Number(b));
  s.plots.push({ id: 'memorisation', spec: curvesSpec(rows, measures, noiseOrder, ctx.noiseTitle, ctx.methodTitle), caption: 'Accuracy curves per run.' });
  return s;
}

// ---------------------------------------------------------------------------------------------
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

function scoreDistributionSection(ctx: Context): Section {
  const s = section(
    'score-distributions',
    'Score distributions: clean vs flipped',
    'For each difficulty score (higher = harder), the share of clean and of flipped training samples in each bin. The less the two overlap, the better the score finds mislabelled samples.',
  );
  if (ctx.data.scores.length === 0) return { ...s, missing: 'needs a score-difficulty stage (its scores output) in `needs`.' };
  const pooled = pooledScores(ctx.data.scores);
  const names = [...pooled.keys()];
  const bins = names.flatMap((n) => histogramBins(n, pooled.get(n)!.clean, pooled.get(n)!.flipped, ctx.params.histogram_bins));
  if (bins.length === 0) return { ...s, missing: 'the scores output has no finite score values.' };
  if (names.every((n) => pooled.get(n)!.flipped.length === 0)) s.notes.push('No sample is flipped: only the clean distribution is shown.');
  s.plots.push({ id: 'score-distributions', spec: histogramSpec(bins, names), caption: `Score histograms (${ctx.params.histogram_bins} bins), pooled over runs.` });
  return s;
}

// ---------------------------------------------------------------------------------------------
function aurocSection(ctx: Context): Section {
  const s = section(
    'auroc',
    'Finding flipped labels: AUROC',
    'How well each score ranks the flipped (mislabelled) training samples above the clean ones: AUROC 0.5 is chance, 1 is a perfect ranking. AUPRC is the average precision; its chance level is the share of flipped samples.',
  );
  const rows = ctx.data.summary;
  if (rows.length === 0) return { ...s, missing: 'needs a score-difficulty stage (its summary output) in `needs`.' };
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
  s.tables.push({ caption: 'AUROC of each score (rows: runs, and ensembles over runs).', table: pivot('auroc') });
  s.tables.push({ caption: 'AUPRC of each score.', table: pivot('auprc') });
  return s;
}

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

function correlationSection(ctx: Context): Section {
  const s = section(
    'correlations',
    'Score correlations',
    'Spearman rank correlation between the scores of the same run, averaged over runs (ensembles aside): scores that agree rank the samples alike. Below: each score against itself across runs (seeds, settings), the stability that Rampp et al. (2024) found to predict a useful score.',
  );
  const rows = ctx.data.correlations;
  if (rows.length === 0) return { ...s, missing: 'needs a score-difficulty stage (its correlations output) in `needs`.' };
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
  }
  if (s.plots.length === 0) return { ...s, missing: 'the correlations output has neither two scores of one run nor one score of two runs.' };
  return s;
}

// ---------------------------------------------------------------------------------------------
/** `count` of the evaluations, spread from the lowest to the highest label noise. */
function pickSpread<T>(sorted: readonly T[], count: number): T[] {
  if (count >= sorted.length) return [...sorted];
  if (count === 1) return [sorted[0]!];
  return distinct(Array.from({ length: count }, (_, i) => sorted[Math.round((i * (sorted.length - 1)) / (count - 1))]!));
}

function saliencySection(ctx: Context, lut: Uint8Array): Section {
  const s = section(
    'saliency',
    'Saliency maps',
    'For a few fixed test clips: the log-mel spectrogram (top) and the saliency map (bottom: which time–frequency regions the prediction depends on), each min–max normalised. Runs with the lowest and the highest label noise are shown, to see whether noise moves the model’s attention.',
  );
  const withMaps = ctx.data.evaluations.filter((e) => e.saliency !== undefined && e.saliency.clips.length > 0);
  if (withMaps.length === 0) return { ...s, missing: 'needs an evaluate-ood stage (its saliency output) in `needs`.' };
  if (ctx.params.saliency.runs === 0) return { ...s, missing: 'params.saliency.runs is 0.' };
  const noise = (e: Evaluation): number => labelNoiseOf(e.item, ctx.axes) ?? Infinity;
  const sorted = [...withMaps].sort((a, b) => noise(a) - noise(b)); // stable: input order among equals
  for (const [i, e] of pickSpread(sorted, ctx.params.saliency.runs).entries()) {
    const sal = e.saliency!;
    const [mels, frames] = sal.shape;
    const tiles: RasterTile[] = [];
    const clips: string[] = [];
    for (const c of sal.clips.slice(0, ctx.params.saliency.clips)) {
      const clip = `${c.clip_id}: ${c.label} → ${c.predicted}`;
      clips.push(clip);
      tiles.push({ clip, kind: 'log-mel', url: heatmapDataUrl(c.spectrogram, mels, frames, lut), frames, mels });
      tiles.push({ clip, kind: 'saliency', url: heatmapDataUrl(c.map, mels, frames, lut), frames, mels });
    }
    s.plots.push({ id: `saliency-${i}`, spec: rasterSpec(tiles, clips, RASTER_SCHEME), caption: `${e.id}: clip: true label → predicted.` });
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
function representationSection(ctx: Context): Section {
  const s = section(
    'representation',
    'Learned representations',
    'Linear probe: accuracy of a linear classifier on the frozen embeddings for another dataset or task (how well the features transfer). CKA: similarity of two runs’ representations of the same clips (1 = the same up to rotation and scale).',
  );
  const rows = ctx.data.evaluations.flatMap((e) => (e.representation ?? []).map((r): Cell[] => [shortId(e.id), r.kind, r.other, r.value]));
  if (rows.length === 0) return { ...s, missing: 'needs an evaluate-ood stage with a probe or cka_with (its representation output).' };
  s.tables.push({ caption: 'Probe accuracy and CKA per evaluation.', table: { columns: ['evaluation', 'kind', 'other', 'value'], rows } });
  return s;
}

// ---------------------------------------------------------------------------------------------
const fmt = (x: number): string => x.toFixed(3);

/** The study's headline numbers, each computed from the data shown below it. */
function findings(ctx: Context): string[] {
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

function section(id: string, title: string, read: string): Section {
  return { id, title, read, plots: [], tables: [], notes: [] };
}
