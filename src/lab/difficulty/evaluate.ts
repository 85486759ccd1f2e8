/**
 * How good and how stable the difficulty scores are: AUROC and average precision of each score
 * against the injected flip mask, and rank correlations between the scores of one run and
 * between runs (seed stability). Only samples where the scores compared are finite count.
 */
import { auroc, averagePrecision, kendallTauB, spearman } from './rank.js';

export interface ScoredRun {
  id: string;
  clipIds: readonly string[];
  flipped: readonly boolean[];
  /** Score name → one value per clip (NaN where not computable). */
  scores: ReadonlyMap<string, Float64Array>;
}

export interface SummaryRow {
  run: string;
  score: string;
  /** NaN without flipped or without clean samples among the n. */
  auroc: number;
  auprc: number;
  /** Samples with a finite score, and the flipped ones among them. */
  n: number;
  n_flipped: number;
}

export interface CorrelationRow {
  score_a: string;
  run_a: string;
  score_b: string;
  run_b: string;
  spearman: number;
  kendall: number;
  /** Samples finite in both. */
  n: number;
}

export function summarize(run: ScoredRun): SummaryRow[] {
  return [...run.scores].map(([score, values]) => {
    const keep: number[] = [];
    values.forEach((v, i) => {
      if (Number.isFinite(v)) keep.push(i);
    });
    const y = keep.map((i) => run.flipped[i]!);
    const s = keep.map((i) => values[i]!);
    const nFlipped = y.filter(Boolean).length;
    const defined = nFlipped > 0 && nFlipped < keep.length;
    return {
      run: run.id,
      score,
      auroc: defined ? auroc(y, s) : NaN,
      auprc: defined ? averagePrecision(y, s) : NaN,
      n: keep.length,
      n_flipped: nFlipped,
    };
  });
}

function correlate(a: Float64Array, b: Float64Array, pairs: readonly (readonly [number, number])[]): { spearman: number; kendall: number; n: number } {
  const xa: number[] = [];
  const xb: number[] = [];
  for (const [i, j] of pairs) {
    if (Number.isFinite(a[i]!) && Number.isFinite(b[j]!)) {
      xa.push(a[i]!);
      xb.push(b[j]!);
    }
  }
  return { spearman: spearman(xa, xb), kendall: kendallTauB(xa, xb), n: xa.length };
}

/** Every pair of scores (in the run's order) within one run. */
export function withinRunCorrelations(run: ScoredRun): CorrelationRow[] {
  const names = [...run.scores.keys()];
  const same = run.clipIds.map((_, i) => [i, i] as const);
  const rows: CorrelationRow[] = [];
  for (let a = 0; a < names.length; a++) {
    for (let b = a + 1; b < names.length; b++) {
      const c = correlate(run.scores.get(names[a]!)!, run.scores.get(names[b]!)!, same);
      rows.push({ score_a: names[a]!, run_a: run.id, score_b: names[b]!, run_b: run.id, ...c });
    }
  }
  return rows;
}

/** Each score between every pair of runs, on the clips both have (seed stability). */
export function acrossRunCorrelations(runs: readonly ScoredRun[]): CorrelationRow[] {
  const rows: CorrelationRow[] = [];
  for (let a = 0; a < runs.length; a++) {
    for (let b = a + 1; b < runs.length; b++) {
      const ra = runs[a]!;
      const rb = runs[b]!;
      const indexB = new Map(rb.clipIds.map((c, j) => [c, j]));
      const pairs: (readonly [number, number])[] = [];
      ra.clipIds.forEach((c, i) => {
        const j = indexB.get(c);
        if (j !== undefined) pairs.push([i, j]);
      });
      for (const [score, va] of ra.scores) {
        const vb = rb.scores.get(score);
        if (!vb) continue;
        rows.push({ score_a: score, run_a: ra.id, score_b: score, run_b: rb.id, ...correlate(va, vb, pairs) });
      }
    }
  }
  return rows;
}
