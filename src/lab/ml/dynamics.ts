/**
 * Per-sample training dynamics from a model's logits, in plain JavaScript (float64): the records
 * the train stage keeps for every train sample after every epoch (forgetting events, AUM,
 * memorisation, cumulative accuracy are computed from them downstream).
 *
 * loss is the cross-entropy on the given label, −log clip(p_given, 1e-7, 1) — the same for
 * every training loss, so runs with different losses stay comparable.
 */
import { PROB_FLOOR } from './losses.js';

/** The records of one epoch, row-aligned with the samples evaluated. */
export interface EpochDynamics {
  loss: Float32Array;
  pGiven: Float32Array;
  correctGiven: boolean[];
  pOrig: Float32Array;
  correctOrig: boolean[];
  /** logit[given] − max over the other classes' logits (AUM's margin; > 0 iff predicted as given). */
  margin: Float32Array;
  /** The logits themselves [n × k] (EL2N, confident learning and other scores downstream). */
  logits: Float32Array;
}

/** logits [n × k] row-major; given, orig [n]. */
export function epochDynamics(logits: Float32Array, k: number, given: ArrayLike<number>, orig: ArrayLike<number>): EpochDynamics {
  const n = given.length;
  if (logits.length !== n * k) throw new Error(`epochDynamics: ${logits.length} logits for ${n} samples × ${k} classes`);
  const out: EpochDynamics = {
    loss: new Float32Array(n),
    pGiven: new Float32Array(n),
    correctGiven: new Array<boolean>(n),
    pOrig: new Float32Array(n),
    correctOrig: new Array<boolean>(n),
    margin: new Float32Array(n),
    logits: Float32Array.from(logits),
  };
  const p = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    const row = logits.subarray(i * k, (i + 1) * k);
    const g = given[i]!;
    const o = orig[i]!;
    let max = -Infinity;
    let argmax = 0;
    for (let c = 0; c < k; c++) {
      if (row[c]! > max) {
        max = row[c]!;
        argmax = c;
      }
    }
    let sum = 0;
    for (let c = 0; c < k; c++) sum += p[c] = Math.exp(row[c]! - max);
    for (let c = 0; c < k; c++) p[c]! /= sum;
    let otherMax = -Infinity;
    for (let c = 0; c < k; c++) if (c !== g && row[c]! > otherMax) otherMax = row[c]!;
    out.loss[i] = -Math.log(Math.max(PROB_FLOOR, p[g]!));
    out.pGiven[i] = p[g]!;
    out.correctGiven[i] = argmax === g;
    out.pOrig[i] = p[o]!;
    out.correctOrig[i] = argmax === o;
    out.margin[i] = k > 1 ? row[g]! - otherMax : 0;
  }
  return out;
}

/** Mean of the selected values (NaN when none is selected). */
export function meanWhere(values: ArrayLike<number | boolean>, select?: ArrayLike<boolean>): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    if (select && !select[i]) continue;
    s += Number(values[i]);
    n++;
  }
  return n === 0 ? NaN : s / n;
}
