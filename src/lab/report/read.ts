/**
 * Reads the upstream outputs the report fans in into ReportData. Outputs are recognised by
 * name (train: curves, predictions, model; score-difficulty: scores, summary, correlations;
 * evaluate-ood: metrics, saliency, representation), so the upstream stages may be named anything;
 * other outputs (dynamics, embeddings, features, …) are not read.
 */
import type * as arrow from 'apache-arrow';
import { flatFloat32, readTableFile, SHAPE_METADATA_KEY } from '../../core/arrow/io.js';
import type { StageInput } from '../../core/stage/api.js';
import type {
  CorrelationRow,
  CurvePoint,
  Evaluation,
  ReportData,
  RepresentationRow,
  Run,
  Saliency,
  ScoreSummaryRow,
  ScoreTable,
  SetMetrics,
  SplitAccuracy,
} from './data.js';

const RUN_OUTPUTS = new Set(['curves', 'predictions', 'model']);
const SCORE_OUTPUTS = new Set(['scores', 'summary', 'correlations']);
const EVALUATION_OUTPUTS = new Set(['metrics', 'saliency', 'representation']);

/** True when the report can draw something from this upstream output. */
export function isReportInput(output: string): boolean {
  return RUN_OUTPUTS.has(output) || SCORE_OUTPUTS.has(output) || EVALUATION_OUTPUTS.has(output);
}

export function readReportData(inputs: readonly StageInput[]): ReportData {
  const data: ReportData = { runs: [], scores: [], summary: [], correlations: [], evaluations: [] };
  const runs = new Map<string, Run>();
  const evaluations = new Map<string, Evaluation>();
  for (const input of inputs) {
    const { output, from } = input;
    if (RUN_OUTPUTS.has(output)) {
      let run = runs.get(from);
      if (run === undefined) {
        run = { id: from, item: input.item, splits: [] };
        if (input.fingerprint !== undefined) run.fingerprint = input.fingerprint;
        if (input.params !== undefined) run.params = input.params;
        runs.set(from, run);
        data.runs.push(run);
      }
      if (output === 'model') run.modelHash = input.hash;
      else if (output === 'curves') readCurves(input, run);
      else readPredictions(input, run);
    } else if (SCORE_OUTPUTS.has(output)) {
      const table = open(input);
      if (output === 'scores') data.scores.push(readScores(input, table));
      else if (output === 'summary') data.summary.push(...readSummary(input, table));
      else data.correlations.push(...readCorrelations(input, table));
    } else if (EVALUATION_OUTPUTS.has(output)) {
      let ev = evaluations.get(from);
      if (ev === undefined) {
        ev = { id: from, item: input.item };
        evaluations.set(from, ev);
        data.evaluations.push(ev);
      }
      const table = open(input);
      if (output === 'metrics') {
        ev.metrics = readMetrics(input, table);
        ev.normalization = table.schema.metadata.get('conno.normalization');
        const from = table.getChild('from');
        ev.otherTables = from !== null && new Set(Array.from({ length: table.numRows }, (_, i) => from.get(i) as string)).size > 1;
      }
      else if (output === 'saliency') ev.saliency = readSaliency(input, table);
      else ev.representation = readRepresentation(input, table);
    }
  }
  return data;
}

function open(input: StageInput): arrow.Table {
  return readTableFile(input.path);
}

const where = (input: StageInput): string => `${input.from}:${input.output}`;

function column(input: StageInput, table: arrow.Table, name: string): arrow.Vector {
  const c = table.getChild(name);
  if (c === null) {
    const have = table.schema.fields.map((f) => f.name).join(', ');
    throw new Error(`report: ${where(input)} has no column '${name}' (columns: ${have})`);
  }
  return c;
}

function strings(input: StageInput, table: arrow.Table, name: string): string[] {
  const c = column(input, table, name);
  return Array.from({ length: table.numRows }, (_, i) => {
    const v: unknown = c.get(i);
    return v === null ? '' : String(v);
  });
}

/** Numbers of any numeric column (int64 arrives as bigint); null reads as NaN. */
function numbers(input: StageInput, table: arrow.Table, name: string): number[] {
  const c = column(input, table, name);
  return Array.from({ length: table.numRows }, (_, i) => {
    const v: unknown = c.get(i);
    return v === null ? NaN : Number(v);
  });
}

function bools(input: StageInput, table: arrow.Table, name: string): boolean[] {
  const c = column(input, table, name);
  return Array.from({ length: table.numRows }, (_, i) => c.get(i) === true);
}

function classesOf(table: arrow.Table): string[] | undefined {
  const text = table.schema.metadata.get('conno.classes');
  return text === undefined ? undefined : (JSON.parse(text) as string[]);
}

function readCurves(input: StageInput, run: Run): void {
  const table = open(input);
  const epoch = numbers(input, table, 'epoch');
  const get = (name: string): number[] => (table.getChild(name) === null ? epoch.map(() => NaN) : numbers(input, table, name));
  const [trainAcc, trainAccOrig, flippedAccNoisy, devAcc] = ['train_acc', 'train_acc_orig', 'flipped_acc_noisy', 'dev_acc'].map(get) as [
    number[],
    number[],
    number[],
    number[],
  ];
  run.curves = epoch.map(
    (e, i): CurvePoint => ({
      epoch: e,
      train_acc: trainAcc[i]!,
      train_acc_orig: trainAccOrig[i]!,
      flipped_acc_noisy: flippedAccNoisy[i]!,
      dev_acc: devAcc[i]!,
    }),
  );
  const best = table.schema.metadata.get('conno.best_epoch');
  if (best !== undefined) run.bestEpoch = Number(best);
}

/**
 * Accuracy per split against the `label` column (the label the model was evaluated on; test
 * splits are never noised by inject-noise). Rows with a `patch` column are pooled per clip by the
 * geometric mean of their softmax outputs, as waspaa19 predicts a clip.
 */
function readPredictions(input: StageInput, run: Run): void {
  const table = open(input);
  const classes = classesOf(table);
  if (classes !== undefined) run.classes = classes;
  const split = strings(input, table, 'split');
  const clip = strings(input, table, 'clip_id');
  const label = numbers(input, table, 'label');
  column(input, table, 'logits');
  const { values: logits, size: k } = flatFloat32(table, 'logits'); // [rows * K]
  const patched = table.getChild('patch') !== null;

  // Per (split, clip): summed log-softmax [K] and the label.
  const pooled = new Map<string, { split: string; label: number; logp: Float64Array }>();
  for (let i = 0; i < table.numRows; i++) {
    const key = patched ? `${split[i]}\u0000${clip[i]}` : String(i);
    let p = pooled.get(key);
    if (p === undefined) {
      p = { split: split[i]!, label: label[i]!, logp: new Float64Array(k) };
      pooled.set(key, p);
    }
    let max = -Infinity;
    for (let c = 0; c < k; c++) max = Math.max(max, logits[i * k + c]!);
    let sum = 0;
    for (let c = 0; c < k; c++) sum += Math.exp(logits[i * k + c]! - max);
    const logZ = max + Math.log(sum);
    for (let c = 0; c < k; c++) p.logp[c] = p.logp[c]! + logits[i * k + c]! - logZ;
  }
  const bySplit = new Map<string, SplitAccuracy>();
  for (const p of pooled.values()) {
    let s = bySplit.get(p.split);
    if (s === undefined) {
      s = { split: p.split, n: 0, correct: 0 };
      bySplit.set(p.split, s);
    }
    let arg = 0;
    for (let c = 1; c < k; c++) if (p.logp[c]! > p.logp[arg]!) arg = c;
    s.n++;
    if (arg === p.label) s.correct++;
  }
  run.splits = [...bySplit.values()];
}

/** Columns of `scores` that are not scores. */
const SCORE_ID_COLUMNS = new Set(['run', 'clip_id', 'label', 'label_orig', 'flipped', 'cl_issue', 'patch']);

function readScores(input: StageInput, table: arrow.Table): ScoreTable {
  const names = table.schema.fields
    .filter((f) => !SCORE_ID_COLUMNS.has(f.name) && String(f.type).startsWith('Float'))
    .map((f) => f.name);
  return {
    from: input.from,
    names,
    run: strings(input, table, 'run'),
    flipped: bools(input, table, 'flipped'),
    values: names.map((n) => Float64Array.from(numbers(input, table, n))),
  };
}

function readSummary(input: StageInput, table: arrow.Table): ScoreSummaryRow[] {
  const run = strings(input, table, 'run');
  const score = strings(input, table, 'score');
  const auroc = numbers(input, table, 'auroc');
  const auprc = numbers(input, table, 'auprc');
  const n = numbers(input, table, 'n');
  const nFlipped = numbers(input, table, 'n_flipped');
  return run.map((r, i) => ({ from: input.from, run: r, score: score[i]!, auroc: auroc[i]!, auprc: auprc[i]!, n: n[i]!, n_flipped: nFlipped[i]! }));
}

function readCorrelations(input: StageInput, table: arrow.Table): CorrelationRow[] {
  const [scoreA, runA, scoreB, runB] = ['score_a', 'run_a', 'score_b', 'run_b'].map((c) => strings(input, table, c)) as [
    string[],
    string[],
    string[],
    string[],
  ];
  const rho = numbers(input, table, 'spearman');
  return rho.map((spearman, i) => ({ from: input.from, score_a: scoreA[i]!, run_a: runA[i]!, score_b: scoreB[i]!, run_b: runB[i]!, spearman }));
}

function readMetrics(input: StageInput, table: arrow.Table): SetMetrics[] {
  const set = strings(input, table, 'set');
  const cols = ['snr_db', 'n', 'accuracy', 'uar', 'macro_f1', 'nll', 'ece'] as const;
  const v = Object.fromEntries(cols.map((c) => [c, table.getChild(c) === null && c !== 'accuracy' ? set.map(() => NaN) : numbers(input, table, c)])) as Record<
    (typeof cols)[number],
    number[]
  >;
  return set.map((s, i) => ({
    set: s,
    snr_db: v.snr_db[i]!,
    n: v.n[i]!,
    accuracy: v.accuracy[i]!,
    uar: v.uar[i]!,
    macro_f1: v.macro_f1[i]!,
    nll: v.nll[i]!,
    ece: v.ece[i]!,
  }));
}

/** A class index or name as a name (conno.classes of the table, when it has them). */
function classNames(input: StageInput, table: arrow.Table, name: string): string[] {
  const classes = classesOf(table);
  const c = column(input, table, name);
  return Array.from({ length: table.numRows }, (_, i) => {
    const v: unknown = c.get(i);
    if (typeof v === 'number' && classes?.[v] !== undefined) return classes[v];
    return v === null ? '' : String(v);
  });
}

function readSaliency(input: StageInput, table: arrow.Table): Saliency {
  column(input, table, 'map');
  column(input, table, 'spectrogram');
  const map = flatFloat32(table, 'map');
  const spec = flatFloat32(table, 'spectrogram');
  // The shape is field metadata when written by makeTable; schema metadata is accepted too.
  let shape = map.shape;
  const schemaShape = table.schema.metadata.get(SHAPE_METADATA_KEY);
  if (shape.length !== 2 && schemaShape !== undefined) shape = JSON.parse(schemaShape) as number[];
  if (shape.length !== 2 || shape[0]! * shape[1]! !== map.size || spec.size !== map.size) {
    throw new Error(
      `report: ${where(input)}: map and spectrogram need the shape [n_mels, frames] in metadata '${SHAPE_METADATA_KEY}' (got ${JSON.stringify(shape)} for ${map.size} and ${spec.size} values per row)`,
    );
  }
  const clipId = strings(input, table, 'clip_id');
  const label = classNames(input, table, 'label');
  const predicted = classNames(input, table, 'predicted');
  const size = map.size;
  return {
    shape: [shape[0]!, shape[1]!],
    clips: clipId.map((id, i) => ({
      clip_id: id,
      label: label[i]!,
      predicted: predicted[i]!,
      map: map.values.slice(i * size, (i + 1) * size),
      spectrogram: spec.values.slice(i * size, (i + 1) * size),
    })),
  };
}

function readRepresentation(input: StageInput, table: arrow.Table): RepresentationRow[] {
  const kind = strings(input, table, 'kind');
  const other = strings(input, table, 'other');
  const value = numbers(input, table, 'value');
  return kind.map((k, i) => ({ kind: k, other: other[i]!, value: value[i]! }));
}
