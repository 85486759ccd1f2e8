/**
 * What the report knows about the study, as plain data (no Arrow): read from the upstream
 * outputs by read.ts, drawn by plots.ts, tabulated by sections.ts. Every part is optional, so a
 * pipeline with only train stages still gets a report.
 */

import type { CorrelationRow as DifficultyCorrelationRow, SummaryRow } from '../difficulty/evaluate.js';
import type { SetMetrics as EvalSetMetrics } from '../eval/metrics.js';
export type Item = Record<string, string | number | boolean>;

/** Correct / total of one split of one run (the final model's predictions). */
export interface SplitAccuracy {
  split: string;
  n: number;
  correct: number;
}

export interface CurvePoint {
  epoch: number;
  train_acc: number;
  train_acc_orig: number;
  flipped_acc_noisy: number;
  dev_acc: number;
}

/** One upstream instance with train outputs (curves, predictions, model). */
export interface Run {
  id: string;
  item: Item;
  fingerprint?: string;
  params?: Record<string, unknown>;
  /** Content hash of the `model` output: what identifies the run when no fingerprint is given. */
  modelHash?: string;
  classes?: string[];
  /** Per split, in split order; clips with patches are counted once (geometric mean of patches). */
  splits: SplitAccuracy[];
  curves?: CurvePoint[];
  bestEpoch?: number;
}

export interface ScoreTable {
  /** Instance id of the score-difficulty stage. */
  from: string;
  /** The float64 score columns, in table order. */
  names: string[];
  run: string[];
  flipped: boolean[];
  /** One column per name, aligned with run/flipped. */
  values: Float64Array[];
}

/** A row of score-difficulty's `summary` table, and the stage instance it came from. */
export type ScoreSummaryRow = SummaryRow & { from: string };

/** A row of score-difficulty's `correlations` table as the report uses it (n not needed). */
export type CorrelationRow = Omit<DifficultyCorrelationRow, 'kendall' | 'n'> & { from: string };

/** One row of evaluate-ood's metrics table: a set, and its metrics as src/lab/eval computes them. */
export type SetMetrics = Omit<EvalSetMetrics, 'confusion'> & {
  set: string;
  /** NaN when the set is not a noisy copy. */
  snr_db: number;
};

export interface SaliencyClip {
  clip_id: string;
  label: string;
  predicted: string;
  /** [n_mels * frames], row-major by mel band. */
  map: Float32Array;
  spectrogram: Float32Array;
}

export interface Saliency {
  /** [n_mels, frames] */
  shape: [number, number];
  clips: SaliencyClip[];
}

export interface RepresentationRow {
  kind: string;
  other: string;
  value: number;
}

/** One upstream instance with evaluate-ood outputs. */
export interface Evaluation {
  id: string;
  item: Item;
  metrics?: SetMetrics[];
  /** How sets from other feature tables were standardised (evaluate-ood `normalization`), when recorded. */
  normalization?: string;
  /** Whether any set came from another table than the model's own. */
  otherTables?: boolean;
  saliency?: Saliency;
  representation?: RepresentationRow[];
}

export interface ReportData {
  runs: Run[];
  scores: ScoreTable[];
  summary: ScoreSummaryRow[];
  correlations: CorrelationRow[];
  evaluations: Evaluation[];
}

/** Accuracy of a split, or undefined when the run has no such split. */
export function splitAccuracy(run: Run, split: string): number | undefined {
  const s = run.splits.find((x) => x.split === split);
  return s === undefined || s.n === 0 ? undefined : s.correct / s.n;
}

/** The SNR of a noisy test copy named `test@snr=10` (inject-noise's naming), else undefined. */
export function snrOfSplit(split: string): number | undefined {
  const m = /@snr=(-?\d+(?:\.\d+)?)$/.exec(split);
  return m ? Number(m[1]) : undefined;
}

/** The matrix part of an instance id (`train@noise=0.2,loss=ce` → `noise=0.2,loss=ce`), or the id. */
export function shortId(id: string): string {
  const at = id.indexOf('@');
  return at < 0 ? id : id.slice(at + 1);
}

/** score-difficulty names its ensembles (means over seeds) `ensemble`, `ensemble@…` or `ensemble-<stage>@…`. */
export function isEnsemble(run: string): boolean {
  return /^ensemble(?:$|@|-)/.test(run);
}
