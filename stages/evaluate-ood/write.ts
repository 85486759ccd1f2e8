/**
 * evaluate-ood's output tables, the same for a model run through the sets and for a run known by
 * its predictions (whose saliency and representation tables stay empty). Imported inside `run` only (it loads apache-arrow).
 */
import { makeTable, writeTableFile } from '../../src/core/arrow/io.js';
import type { SetMetrics } from '../../src/lab/eval/metrics.js';
import type { StageContext } from '../../src/core/stage/api.js';
import type { EvaluateOodParams } from './params.js';

export interface SetResult {
  name: string;
  /** The instance whose table held the set. */
  from: string;
  split: string;
  snr: number;
  m: SetMetrics;
}

const round6 = (v: number): number | null => (Number.isFinite(v) ? +v.toFixed(6) : null);

/** Logs a set's metrics and records its accuracy in conno.lock. */
export function reportSet(ctx: StageContext<unknown>, r: SetResult): void {
  const m = r.m;
  ctx.log(`${r.name}: n=${m.n} accuracy ${m.accuracy.toFixed(4)} uar ${m.uar.toFixed(4)} macro-F1 ${m.macro_f1.toFixed(4)} nll ${m.nll.toFixed(4)} ece ${m.ece.toFixed(4)}`);
  ctx.metric(`acc_${r.name}`, round6(m.accuracy));
}

/** The `metrics` (one row per set) and `confusion` (every cell of every set) outputs. */
export async function writeSetResults(ctx: StageContext<unknown>, results: readonly SetResult[], classes: readonly string[], model: string, normalization: string): Promise<void> {
  const k = classes.length;
  const f64 = (f: (r: SetResult) => number) => ({ type: 'float64' as const, values: Float64Array.from(results, f) });
  await writeTableFile(
    ctx.outPath('metrics'),
    makeTable(
      [
        ['set', { type: 'utf8', values: results.map((r) => r.name) }],
        ['snr_db', f64((r) => r.snr)],
        ['n', { type: 'int32', values: Int32Array.from(results, (r) => r.m.n) }],
        ['accuracy', f64((r) => r.m.accuracy)],
        ['uar', f64((r) => r.m.uar)],
        ['macro_f1', f64((r) => r.m.macro_f1)],
        ['nll', f64((r) => r.m.nll)],
        ['ece', f64((r) => r.m.ece)],
        ['from', { type: 'utf8', values: results.map((r) => r.from) }],
        ['split', { type: 'utf8', values: results.map((r) => r.split) }],
      ],
      { 'conno.classes': JSON.stringify(classes), 'conno.model': model, 'conno.normalization': normalization },
    ),
  );
  const cells = results.flatMap((r) => Array.from(r.m.confusion, (count, i) => ({ set: r.name, t: Math.floor(i / k), p: i % k, count })));
  await writeTableFile(
    ctx.outPath('confusion'),
    makeTable(
      [
        ['set', { type: 'utf8', values: cells.map((c) => c.set) }],
        ['true_class', { type: 'utf8', values: cells.map((c) => classes[c.t]!) }],
        ['predicted_class', { type: 'utf8', values: cells.map((c) => classes[c.p]!) }],
        ['count', { type: 'int32', values: Int32Array.from(cells, (c) => c.count) }],
      ],
      { 'conno.classes': JSON.stringify(classes), 'conno.model': model },
    ),
  );
}

/** Saliency maps of a few clips, column by column. */
export interface SaliencyRows {
  set: string[];
  clip: string[];
  label: string[];
  pred: string[];
  pLabel: number[];
  maps: Float32Array[];
  inputs: Float32Array[];
}

export const noSaliency = (): SaliencyRows => ({ set: [], clip: [], label: [], pred: [], pLabel: [], maps: [], inputs: [] });

/** The `saliency` output: map and spectrogram as FixedSizeList<Float32> of the input `shape` [mels, frames]. */
export async function writeSaliency(ctx: StageContext<unknown>, sal: SaliencyRows, shape: readonly number[], classes: readonly string[], model: string, params: EvaluateOodParams['saliency']): Promise<void> {
  const size = shape[0]! * shape[1]!;
  const concat = (parts: Float32Array[]) => {
    const out = new Float32Array(parts.length * size);
    parts.forEach((v, i) => out.set(v, i * size));
    return out;
  };
  await writeTableFile(
    ctx.outPath('saliency'),
    makeTable(
      [
        ['set', { type: 'utf8', values: sal.set }],
        ['clip_id', { type: 'utf8', values: sal.clip }],
        ['label', { type: 'utf8', values: sal.label }],
        ['predicted', { type: 'utf8', values: sal.pred }],
        ['p_label', { type: 'float64', values: Float64Array.from(sal.pLabel) }],
        ['map', { type: 'fixedSizeList', values: concat(sal.maps), size, shape }],
        ['spectrogram', { type: 'fixedSizeList', values: concat(sal.inputs), size, shape }],
      ],
      {
        'conno.classes': JSON.stringify(classes),
        'conno.model': model,
        'conno.saliency': JSON.stringify(params === null ? null : { ...params, stride: params.stride ?? params.patch }),
      },
    ),
  );
}

/** Probe accuracies and CKA values, column by column. */
export interface RepresentationRows {
  kind: string[];
  other: string[];
  value: number[];
  n: number[];
}

export const noRepresentation = (): RepresentationRows => ({ kind: [], other: [], value: [], n: [] });

/** The `representation` output: one row per probe or CKA comparison. */
export async function writeRepresentation(ctx: StageContext<unknown>, rep: RepresentationRows, model: string): Promise<void> {
  await writeTableFile(
    ctx.outPath('representation'),
    makeTable(
      [
        ['kind', { type: 'utf8', values: rep.kind }],
        ['other', { type: 'utf8', values: rep.other }],
        ['value', { type: 'float64', values: Float64Array.from(rep.value) }],
        ['n', { type: 'int32', values: Int32Array.from(rep.n) }],
      ],
      { 'conno.model': model },
    ),
  );
}
