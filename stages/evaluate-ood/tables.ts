/**
 * Feature tables (a features stage's `features` output) as evaluate-ood reads them: the columns it
 * needs, whole, in memory. Imports apache-arrow: load it inside `run` only.
 */
import type * as arrow from 'apache-arrow';
import type { StageInput } from '../../src/core/stage/api.js';
import { flatFloat32, readTableFile } from '../../src/core/arrow/io.js';

export interface FeatureTable {
  /** The upstream instance, for messages and outputs. */
  from: string;
  n: number;
  clipIds: string[];
  splits: string[];
  /** Class indices into `classes` [n]. */
  labels: Int32Array;
  classes: string[];
  /** Row-major [n × mels × frames]. */
  x: Float32Array;
  /** Per-row shape from the column's conno.shape. */
  shape: number[];
  /** How the features stage standardised it (its `conno.features` metadata). */
  normalize: boolean;
  pad: string;
}

/** What names each row of a table over every split (features, predictions): clip, split, label, and the class list. */
export interface RowIdentity {
  clipIds: string[];
  splits: string[];
  /** Class indices into `classes` [n]. */
  labels: Int32Array;
  classes: string[];
}

export function readRowIdentity(table: arrow.Table, where: string): RowIdentity {
  const classesText = table.schema.metadata.get('conno.classes');
  if (classesText === undefined) throw new Error(`${where} has no conno.classes metadata`);
  const column = <V>(name: string): V[] => {
    const c = table.getChild(name);
    if (c === null) throw new Error(`${where} has no column '${name}'`);
    return Array.from({ length: table.numRows }, (_, i) => c.get(i) as V);
  };
  return { clipIds: column<string>('clip_id'), splits: column<string>('split'), labels: Int32Array.from(column<number>('label')), classes: JSON.parse(classesText) as string[] };
}

export function readFeatureTable(input: StageInput): FeatureTable {
  const table = readTableFile(input.path);
  const where = `${input.from}:${input.output}`;
  const ids = readRowIdentity(table, where);
  const feats = flatFloat32(table, 'features');
  const settings = JSON.parse(table.schema.metadata.get('conno.features') ?? '{}') as { normalize?: boolean; pad?: string };
  return {
    from: input.from,
    n: table.numRows,
    ...ids,
    x: feats.values,
    shape: feats.shape,
    normalize: settings.normalize === true,
    pad: settings.pad ?? 'silence',
  };
}

/** The table's per-row shape [mels, frames], checked against a model's input shape [mels, frames, 1]. */
export function checkShape(table: FeatureTable, inputShape: readonly number[], modelId: string): [number, number] {
  const want = inputShape.slice(0, 2).join(', ');
  if (table.shape.length !== 2 || table.shape.join(', ') !== want) {
    throw new Error(`${table.from}:features have shape [${table.shape.join(', ')}], but ${modelId} takes [${want}] (n_mels, frames): use the same features parameters`);
  }
  return [table.shape[0]!, table.shape[1]!];
}

/** Row indices of one split, in table order. */
export function rowsOfSplit(table: FeatureTable, split: string): number[] {
  const rows: number[] = [];
  table.splits.forEach((s, i) => {
    if (s === split) rows.push(i);
  });
  return rows;
}

/** The features of `rows`, row-major [rows × mels × frames]. */
export function gatherRows(table: FeatureTable, rows: readonly number[]): Float32Array {
  const size = table.x.length / Math.max(1, table.n);
  const out = new Float32Array(rows.length * size);
  rows.forEach((r, i) => out.set(table.x.subarray(r * size, (r + 1) * size), i * size));
  return out;
}

/** Each mel band's mean over `rows` and all frames [mels] (zeros when there are no rows). */
export function bandMeans(table: FeatureTable, rows: readonly number[]): Float32Array {
  const [mels, frames] = [table.shape[0]!, table.shape[1] ?? 1];
  const sum = new Float64Array(mels);
  for (const r of rows) for (let m = 0; m < mels; m++) for (let f = 0; f < frames; f++) sum[m]! += table.x[(r * mels + m) * frames + f]!;
  return Float32Array.from(sum, (v) => (rows.length === 0 ? 0 : v / (rows.length * frames)));
}

export interface BandStats {
  from: string;
  mean: Float64Array;
  std: Float64Array;
}

/** A features stage's `stats` output: each band's mean and std over its statistics split. */
export function readBandStats(input: StageInput): BandStats {
  const t = readTableFile(input.path);
  const col = (name: string) => {
    const c = t.getChild(name);
    if (c === null) throw new Error(`${input.from}:${input.output} has no column '${name}' (not a features stats table?)`);
    return Float64Array.from({ length: t.numRows }, (_, i) => c.get(i) as number);
  };
  return { from: input.from, mean: col('mean'), std: col('std') };
}

/**
 * The table standardised with `to` instead of its own statistics: per band, x·s + m undoes the
 * features stage's (x − m)/s, then (x − m_to)/s_to, both with its floor on s. Columns that are
 * literal zeros in every band are `pad: zero` padding, which the features stage leaves alone.
 */
export function restandardise(table: FeatureTable, own: BandStats, to: BandStats, padZero: boolean, minStd: number): FeatureTable {
  const [bands, frames] = [table.shape[0]!, table.shape[1] ?? 1];
  if (own.mean.length !== bands || to.mean.length !== bands) throw new Error(`band statistics of ${own.from} (${own.mean.length}) and ${to.from} (${to.mean.length}) do not fit ${table.from}'s ${bands} bands`);
  for (const s of [own, to]) {
    if (s.mean.some((v) => !Number.isFinite(v))) throw new Error(`${s.from}:stats has no statistics (no clips of its statistics split): set features' stats_split, or evaluate with normalization: per_set`);
  }
  const x = new Float32Array(table.x.length);
  for (let r = 0; r < table.n; r++) {
    for (let f = 0; f < frames; f++) {
      let pad = padZero;
      for (let b = 0; pad && b < bands; b++) pad = table.x[(r * bands + b) * frames + f] === 0;
      for (let b = 0; b < bands; b++) {
        const i = (r * bands + b) * frames + f;
        if (pad) continue;
        const raw = table.x[i]! * Math.max(own.std[b]!, minStd) + own.mean[b]!;
        x[i] = (raw - to.mean[b]!) / Math.max(to.std[b]!, minStd);
      }
    }
  }
  return { ...table, x };
}
