/**
 * The clip table: how audio stages hand clips to each other. One Arrow (Feather v2) file per
 * dataset, one row per clip:
 *
 *   clip_id      utf8     stable id, unique within the dataset (e.g. "7_theo_12")
 *   split        utf8     "train" | "test" | "dev" (the dataset's official split, or a holdout)
 *   label        int32    class index into the `conno.classes` metadata list
 *   speaker      utf8?    speaker / recording source, when the dataset has one
 *   fold         int32?   the dataset's official fold, when it has folds
 *   source       utf8     where the clip came from (file path inside the archive or folder)
 *   sample_rate  int32    Hz
 *   audio        List<Float32>  mono waveform in [-1, 1]
 *
 * Schema metadata: `conno.classes` (JSON list of class names, index = label), `conno.dataset`,
 * plus any stage-specific keys. pandas sees `audio` as a column of numpy arrays.
 *
 * Stages may add columns of their own after `audio` (`ClipSet.extra`, row-aligned with `clips`),
 * e.g. inject-noise's label_orig, flipped, target_eps, snr_db, noise; readClips returns every
 * column it does not know in `extra`, so they survive a read → write round trip.
 */
import * as arrow from 'apache-arrow';
import { makeTable, SHAPE_METADATA_KEY, type ColumnSpec } from '../../core/arrow/build.js';
import { readTableFile, writeTableFile } from '../../core/arrow/io.js';

export interface Clip {
  clipId: string;
  split: string;
  label: number;
  speaker: string | null;
  fold: number | null;
  source: string;
  sampleRate: number;
  /** Mono samples in [-1, 1]. */
  audio: Float32Array;
}

export interface ClipSet {
  clips: Clip[];
  classes: string[];
  /** Extra schema metadata (`conno.dataset`, …). */
  metadata: Record<string, string>;
  /** Extra columns after `audio`, one value per clip (row-aligned with `clips`). */
  extra?: Record<string, ColumnSpec>;
}

/** The clip table's own columns, in order. */
export const CLIP_COLUMNS = ['clip_id', 'split', 'label', 'speaker', 'fold', 'source', 'sample_rate', 'audio'] as const;

export const CLASSES_KEY = 'conno.classes';

/**
 * The columns that say which clip a row is (clip_id, split, label, speaker, fold), one row per
 * clip: the start of every table made from a clip set (this one, waveforms, embeddings).
 */
export function identityColumns(clips: readonly Clip[]): [string, ColumnSpec][] {
  return [
    ['clip_id', { type: 'utf8', values: clips.map((c) => c.clipId) }],
    ['split', { type: 'utf8', values: clips.map((c) => c.split) }],
    ['label', { type: 'int32', values: Int32Array.from(clips, (c) => c.label) }],
    ['speaker', { type: 'utf8', values: clips.map((c) => c.speaker), nullable: true }],
    ['fold', { type: 'int32', values: clips.map((c) => c.fold), nullable: true }],
  ];
}

export function clipTable(set: ClipSet): arrow.Table {
  const { clips } = set;
  let total = 0;
  for (const c of clips) total += c.audio.length;
  const values = new Float32Array(total); // [Σ clip lengths]
  const offsets = new Int32Array(clips.length + 1); // [numClips + 1]
  clips.forEach((c, i) => {
    values.set(c.audio, offsets[i]!);
    offsets[i + 1] = offsets[i]! + c.audio.length;
  });
  return makeTable(
    [
      ...identityColumns(clips),
      ['source', { type: 'utf8', values: clips.map((c) => c.source) }],
      ['sample_rate', { type: 'int32', values: Int32Array.from(clips, (c) => c.sampleRate) }],
      ['audio', { type: 'listFloat32', values, offsets }],
      ...Object.entries(set.extra ?? {}),
    ],
    { ...set.metadata, [CLASSES_KEY]: JSON.stringify(set.classes) },
  );
}

export async function writeClips(file: string, set: ClipSet): Promise<void> {
  await writeTableFile(file, clipTable(set));
}

/** Read a clip table; waveforms are views into the file's bytes where possible. */
export function readClips(file: string): ClipSet {
  const table = readTableFile(file);
  const metadata: Record<string, string> = {};
  for (const [k, v] of table.schema.metadata) metadata[k] = v;
  const classesText = metadata[CLASSES_KEY];
  if (classesText === undefined) throw new Error(`${file} is not a clip table (no ${CLASSES_KEY} metadata)`);
  const classes = JSON.parse(classesText) as string[];
  delete metadata[CLASSES_KEY];
  const col = (name: string) => {
    const c = table.getChild(name);
    if (!c) throw new Error(`${file} is not a clip table (no '${name}' column)`);
    return c;
  };
  const ids = col('clip_id');
  const split = col('split');
  const label = col('label');
  const speaker = col('speaker');
  const fold = col('fold');
  const source = col('source');
  const rate = col('sample_rate');
  const audio = col('audio');
  const clips: Clip[] = [];
  for (let i = 0; i < table.numRows; i++) {
    const a = audio.get(i) as arrow.Vector<arrow.Float32> | null;
    const samples = a ? (a.toArray() as Float32Array) : new Float32Array(0);
    clips.push({
      clipId: ids.get(i) as string,
      split: split.get(i) as string,
      label: label.get(i) as number,
      speaker: (speaker.get(i) as string | null) ?? null,
      fold: (fold.get(i) as number | null) ?? null,
      source: source.get(i) as string,
      sampleRate: rate.get(i) as number,
      audio: samples,
    });
  }
  const extra: Record<string, ColumnSpec> = {};
  const known = new Set<string>(CLIP_COLUMNS);
  for (const field of table.schema.fields) {
    if (known.has(field.name)) continue;
    extra[field.name] = columnSpecOf(table.getChild(field.name)!, field, file);
  }
  return Object.keys(extra).length ? { clips, classes, metadata, extra } : { clips, classes, metadata };
}

/** A column of a table as a ColumnSpec that makeTable rebuilds identically (the types makeTable writes). */
export function columnSpecOf(col: arrow.Vector, field: arrow.Field, where = 'table'): ColumnSpec {
  const nullable = field.nullable;
  const metadata: Record<string, string> = {};
  for (const [k, v] of field.metadata) if (k !== SHAPE_METADATA_KEY) metadata[k] = v;
  const base = { nullable, ...(Object.keys(metadata).length ? { metadata } : {}) };
  const list = <T>() => Array.from({ length: col.length }, (_, i) => (col.get(i) ?? null) as T | null);
  const t = field.type;
  const D = arrow.DataType;
  if (D.isInt(t) && t.bitWidth === 32 && t.isSigned) return { ...base, type: 'int32', values: list<number>() };
  if (D.isFloat(t) && t.precision === arrow.Precision.SINGLE) return { ...base, type: 'float32', values: list<number>() };
  if (D.isFloat(t) && t.precision === arrow.Precision.DOUBLE) return { ...base, type: 'float64', values: list<number>() };
  if (D.isUtf8(t)) return { ...base, type: 'utf8', values: list<string>() };
  if (D.isBool(t)) return { ...base, type: 'bool', values: list<boolean>() };
  if (D.isFixedSizeList(t)) {
    const shapeText = field.metadata.get(SHAPE_METADATA_KEY);
    const values = new Float32Array(col.length * t.listSize);
    for (let i = 0; i < col.length; i++) {
      const row = col.get(i) as arrow.Vector | null;
      if (row) values.set(row.toArray() as Float32Array, i * t.listSize);
    }
    return { ...base, type: 'fixedSizeList', values, ...(shapeText ? { shape: JSON.parse(shapeText) as number[] } : { size: t.listSize }) };
  }
  if (D.isList(t)) {
    const rows = Array.from({ length: col.length }, (_, i) => ((col.get(i) as arrow.Vector | null)?.toArray() as Float32Array | undefined) ?? new Float32Array(0));
    return { ...base, ...listOf(rows) };
  }
  throw new Error(`${where}: column '${field.name}' has type ${String(t)}, which a clip table cannot carry`);
}

function listOf(rows: readonly Float32Array[]): { type: 'listFloat32'; values: Float32Array; offsets: Int32Array } {
  const offsets = new Int32Array(rows.length + 1);
  rows.forEach((r, i) => (offsets[i + 1] = offsets[i]! + r.length));
  const values = new Float32Array(offsets[rows.length]!);
  rows.forEach((r, i) => values.set(r, offsets[i]!));
  return { type: 'listFloat32', values, offsets };
}

/** Rows `index` of a column spec (e.g. one row per feature patch from a per-clip column). */
export function takeRows(spec: ColumnSpec, index: ArrayLike<number>): ColumnSpec {
  const n = index.length;
  const pick = <T>(v: ArrayLike<T>) => Array.from({ length: n }, (_, r) => v[index[r]!]!);
  switch (spec.type) {
    case 'int32':
      return { ...spec, values: pick<number | null>(spec.values) };
    case 'float32':
      return { ...spec, values: pick<number | null>(spec.values) };
    case 'float64':
      return { ...spec, values: pick<number | null>(spec.values) };
    case 'utf8':
      return { ...spec, values: pick<string | null>(spec.values) };
    case 'bool':
      return { ...spec, values: pick<boolean | null>(spec.values) };
    case 'fixedSizeList': {
      const size = spec.size ?? (spec.shape ?? []).reduce((a, b) => a * b, 1);
      const values = new Float32Array(n * size);
      for (let r = 0; r < n; r++) values.set(spec.values.subarray(index[r]! * size, (index[r]! + 1) * size), r * size);
      return { ...spec, values };
    }
    case 'listFloat32': {
      const rows = Array.from({ length: n }, (_, r) => spec.values.subarray(spec.offsets[index[r]!]!, spec.offsets[index[r]! + 1]!));
      return { ...spec, ...listOf(rows) };
    }
  }
}
