/**
 * Vega-Lite specs of the report's plots: pure functions of plain rows (sections.ts prepares the
 * rows; render.ts draws the specs). Every plot is sized for a page column and carries its own
 * data, so a spec alone reproduces its plot.
 */
import type { TopLevelSpec } from 'vega-lite';

const WIDTH = 240;
const HEIGHT = 180;
const ACCURACY_SCALE = { domain: [0, 1] };

/** Some specs are built from parts the vega-lite types cannot follow; they are checked by rendering. */
type Spec = Record<string, unknown>;

/**
 * A spec built from such parts as vega-lite's type. The one cast of the plots: vega-lite's
 * TopLevelSpec is a union its own compiler resolves at run time; every spec here is compiled and
 * rendered by the report's tests, which is the check the type cannot do.
 */
function spec(parts: Spec): TopLevelSpec {
  return parts as unknown as TopLevelSpec;
}

/** Panels per row: three fit the page column beside a legend; more wrap to the next row. */
const PANELS_PER_ROW = 3;

/** A layer spec, faceted into panels (wrapping after three) when the rows have more than one facet value. */
function facetedLayers(values: object[], layer: Spec[], facet: { field: string; title: string; sort: string[] } | null): TopLevelSpec {
  if (facet === null || facet.sort.length < 2) return spec({ data: { values }, width: WIDTH, height: HEIGHT, layer });
  if (facet.sort.length > PANELS_PER_ROW) {
    return spec({
      data: { values },
      facet: { field: facet.field, type: 'ordinal', sort: facet.sort, title: facet.title },
      columns: PANELS_PER_ROW,
      spec: { width: WIDTH, height: HEIGHT, layer },
    });
  }
  return spec({
    data: { values },
    facet: { column: { field: facet.field, type: 'ordinal', sort: facet.sort, title: facet.title } },
    spec: { width: WIDTH, height: HEIGHT, layer },
  });
}

export interface AccuracyPoint {
  /** The x value: a number, or an ordinal label (see `x.sort`). */
  x: number | string;
  acc: number;
  method: string;
  facet: string;
  run: string;
  /** The 95% CI of the mean of the point's group (method, facet, x), when it has two runs or more. */
  lo?: number | null;
  hi?: number | null;
}

export interface AccuracyPlot {
  points: AccuracyPoint[];
  x: { title: string; type: 'quantitative' | 'ordinal'; sort?: string[] };
  methodTitle: string;
  facet: { title: string; sort: string[] } | null;
  y?: string;
  /** 1/K: the chance level, drawn as a dashed rule (none when the number of classes is unknown). */
  chance?: number;
}

/** Mean accuracy per method (line) with its 95% CI (bars), every run (dots), chance level (dashed). */
export function accuracySpec(p: AccuracyPlot): TopLevelSpec {
  const x: Spec = { field: 'x', type: p.x.type, title: p.x.title };
  if (p.x.sort) x.sort = p.x.sort;
  if (p.x.type === 'ordinal') x.axis = { labelAngle: 0 };
  const color = { field: 'method', type: 'nominal', title: p.methodTitle };
  const yTitle = p.y ?? 'test accuracy';
  const chance = p.chance;
  const rule: Spec[] =
    chance === undefined
      ? []
      : [
          {
            // One rule per panel: every row carries the same value, aggregated to one.
            mark: { type: 'rule', color: '#888', strokeDash: [4, 4] },
            encoding: { y: { aggregate: 'min', field: 'chance', type: 'quantitative' } },
          },
        ];
  return facetedLayers(
    chance === undefined ? p.points : p.points.map((x) => ({ ...x, chance })),
    [
      {
        mark: { type: 'line', strokeWidth: 2 },
        encoding: { x, y: { aggregate: 'mean', field: 'acc', type: 'quantitative', title: yTitle, scale: ACCURACY_SCALE }, color },
      },
      {
        mark: { type: 'point', filled: true, opacity: 0.7, size: 40 },
        encoding: { x, y: { field: 'acc', type: 'quantitative', title: yTitle, scale: ACCURACY_SCALE }, color },
      },
      ...rule,
      // The CI of each mean: every point of a group carries the same bounds, aggregated to one bar.
      ...(p.points.some((q) => q.lo !== undefined && q.lo !== null)
        ? [{ mark: { type: 'rule', strokeWidth: 2, opacity: 0.6 }, encoding: { x, y: { aggregate: 'min', field: 'lo', type: 'quantitative', title: yTitle, scale: ACCURACY_SCALE }, y2: { aggregate: 'max', field: 'hi' }, color } }]
        : []),
    ],
    p.facet === null ? null : { field: 'facet', ...p.facet },
  );
}

export interface GapPoint {
  run: string;
  set: string;
  acc: number;
  /** 'in-domain' or 'out-of-domain'. */
  kind: string;
}

/** Per run: in-domain and each OOD set's accuracy on one line (a dumbbell), the gap is its length. */
export function gapSpec(points: GapPoint[], runOrder: string[], setOrder: string[]): TopLevelSpec {
  const y = { field: 'run', type: 'nominal', sort: runOrder, title: null, axis: { labelLimit: 360 } };
  return spec({
    data: { values: points },
    width: 360,
    height: { step: 22 },
    layer: [
      {
        mark: { type: 'rule', color: '#bbb', strokeWidth: 2 },
        encoding: { y, x: { aggregate: 'min', field: 'acc', type: 'quantitative' }, x2: { aggregate: 'max', field: 'acc' } },
      },
      {
        mark: { type: 'point', filled: true, size: 70 },
        encoding: {
          y,
          x: { field: 'acc', type: 'quantitative', title: 'accuracy', scale: ACCURACY_SCALE },
          color: { field: 'set', type: 'nominal', sort: setOrder, title: 'set' },
          shape: { field: 'kind', type: 'nominal', title: null },
        },
      },
    ],
  });
}

export interface CurveRow {
  run: string;
  epoch: number;
  measure: string;
  value: number;
  noise: string;
  method: string;
}

/** Accuracy curves over epochs: one panel per measure, colour = label noise, dash = method. */
export function curvesSpec(rows: CurveRow[], measures: string[], noiseOrder: string[], noiseTitle: string, methodTitle: string): TopLevelSpec {
  return spec({
    data: { values: rows },
    facet: { column: { field: 'measure', type: 'nominal', sort: measures, title: null } },
    spec: {
      width: WIDTH,
      height: HEIGHT,
      mark: { type: 'line', strokeWidth: 1.5, opacity: 0.85 },
      encoding: {
        x: { field: 'epoch', type: 'quantitative', title: 'epoch' },
        y: { field: 'value', type: 'quantitative', title: 'accuracy', scale: ACCURACY_SCALE },
        color: { field: 'noise', type: 'ordinal', sort: noiseOrder, title: noiseTitle, scale: { scheme: 'viridis' }, legend: { titleLimit: 400 } },
        strokeDash: { field: 'method', type: 'nominal', title: methodTitle },
        detail: { field: 'run', type: 'nominal' },
      },
    },
  });
}

export interface HistogramBin {
  score: string;
  group: string;
  x0: number;
  x1: number;
  fraction: number;
}

/** Per score: the share of clean and of flipped samples in each bin (each group sums to 1). */
export function histogramSpec(bins: HistogramBin[], scores: string[]): TopLevelSpec {
  return spec({
    data: { values: bins },
    facet: { field: 'score', type: 'nominal', sort: scores, title: null },
    columns: 3,
    resolve: { scale: { x: 'independent', y: 'independent' } },
    spec: {
      width: 200,
      height: 120,
      mark: { type: 'rect', opacity: 0.55 },
      encoding: {
        x: { field: 'x0', type: 'quantitative', title: 'score', scale: { zero: false, nice: false } },
        x2: { field: 'x1' },
        y: { field: 'fraction', type: 'quantitative', title: 'share of group', stack: null },
        y2: { datum: 0 },
        color: { field: 'group', type: 'nominal', sort: ['clean', 'flipped'], title: null, scale: { range: ['#4c78a8', '#e45756'] } },
      },
    },
  });
}

export interface MatrixCell {
  a: string;
  b: string;
  value: number;
}

/** A square matrix of correlations in [−1, 1], values written in the cells. */
export function correlationSpec(cells: MatrixCell[], order: string[], title: string): TopLevelSpec {
  const side = Math.max(120, Math.min(420, 34 * order.length));
  return spec({
    data: { values: cells },
    width: side,
    height: side,
    encoding: {
      x: { field: 'b', type: 'nominal', sort: order, title: null, axis: { labelAngle: -40 } },
      y: { field: 'a', type: 'nominal', sort: order, title: null },
    },
    layer: [
      {
        mark: { type: 'rect' },
        encoding: { color: { field: 'value', type: 'quantitative', title, scale: { scheme: 'blueorange', domain: [-1, 1], reverse: true } } },
      },
      {
        mark: { type: 'text', fontSize: 10 },
        encoding: {
          text: { field: 'value', type: 'quantitative', format: '.2f' },
          color: { condition: { test: 'abs(datum.value) > 0.6', value: 'white' }, value: 'black' },
        },
      },
    ],
  });
}

/** One bar per category (e.g. a score's mean Spearman across seeds). */
/** A bar per row; with `lo`/`hi`, its 95% CI as a black rule across the bar's end. */
export function barSpec(rows: { name: string; value: number; lo?: number | null; hi?: number | null }[], xTitle: string, domain: [number, number]): TopLevelSpec {
  const y = { field: 'name', type: 'nominal', sort: rows.map((r) => r.name), title: null };
  const bar = { mark: { type: 'bar' }, encoding: { y, x: { field: 'value', type: 'quantitative', title: xTitle, scale: { domain } } } };
  const withCi = rows.some((r) => r.lo !== undefined && r.lo !== null);
  if (!withCi) return spec({ data: { values: rows }, width: 300, height: { step: 20 }, ...bar });
  return spec({
    data: { values: rows },
    width: 300,
    height: { step: 20 },
    layer: [bar, { mark: { type: 'rule', color: 'black', strokeWidth: 2 }, encoding: { y, x: { field: 'lo', type: 'quantitative' }, x2: { field: 'hi' } } }],
  });
}

export interface RasterTile {
  /** Column header: the clip, its label and the prediction. */
  clip: string;
  /** Row header: 'log-mel' or 'saliency'. */
  kind: string;
  url: string;
  frames: number;
  mels: number;
}

/**
 * Spectrograms and saliency maps as image marks on frame × mel-band axes, one column per clip.
 * Each raster is min–max normalised (per map) and coloured with the same Vega scheme that the
 * legend shows.
 */
export function rasterSpec(tiles: RasterTile[], clips: string[], scheme: string): TopLevelSpec {
  const first = tiles[0];
  const frames = first?.frames ?? 1;
  const mels = first?.mels ?? 1;
  const values = tiles.map((t) => ({ ...t, x0: 0, y0: 0, legend: 0 }));
  return spec({
    data: { values },
    facet: {
      // Two header lines: the clip id, then 'label → predicted'.
      column: { field: 'clip', type: 'nominal', sort: clips, title: null, header: { labelExpr: "split(datum.label, ': ')", labelLimit: 230 } },
      row: { field: 'kind', type: 'nominal', sort: ['log-mel', 'saliency'], title: null },
    },
    spec: {
      width: 200,
      height: 120,
      layer: [
        {
          mark: { type: 'image', aspect: false },
          encoding: {
            url: { field: 'url', type: 'nominal' },
            x: { field: 'x0', type: 'quantitative', title: 'frame', scale: { domain: [0, frames], nice: false } },
            x2: { field: 'frames' },
            y: { field: 'y0', type: 'quantitative', title: 'mel band', scale: { domain: [0, mels], nice: false } },
            y2: { field: 'mels' },
          },
        },
        {
          // Draws nothing: gives the colour legend of the rasters.
          mark: { type: 'point', opacity: 0 },
          encoding: {
            x: { field: 'x0', type: 'quantitative' },
            y: { field: 'y0', type: 'quantitative' },
            color: { field: 'legend', type: 'quantitative', title: 'min–max per map', scale: { scheme, domain: [0, 1] } },
          },
        },
      ],
    },
  });
}
