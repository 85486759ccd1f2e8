/**
 * Per-sample difficulty scores of a training set, from the training dynamics of a run (the train
 * stage's `dynamics`) and from other models' outputs. Plain float64 JavaScript, no randomness.
 *
 * Every score is oriented so that HIGHER = harder / more likely mislabelled:
 *
 *   final_loss        CE on the given label after the last epoch
 *   cum_acc           1 − mean over epochs of correct_given (a C-score proxy: the error rate)
 *   first_learned     first epoch e (from 0) from which the sample is correct in every later epoch;
 *                     E (the number of epochs) when it is wrong after the last one
 *   forgetting        forgetting events (Toneva et al. 2019): epochs e with correct(e−1) ∧ ¬correct(e);
 *                     never-learned samples get E, above any possible count (≤ ⌊E/2⌋): Toneva's ∞
 *   aum               −AUM (Pleiss et al. 2020): −mean over epochs of logit[given] − max other logit
 *   el2n              ‖softmax(logits) − onehot(given)‖₂ after epoch `el2n_epoch` (Paul et al. 2021)
 *   cv_loss           CE on the given label from the model that did not train on the sample (k-fold)
 *   prediction_depth  first probe layer from which every deeper k-NN probe agrees with the final
 *                     prediction (Baldock et al. 2021); L (the probe count) when the last disagrees
 *   transfer_teacher  −margin (logit[given] − max other) of a linear classifier on another run's embeddings
 *   cleanlab          self-confidence 1 − p_given of the probabilities confident learning used
 *                     (with the bool cl_issue beside it: Northcutt et al. 2021, prune_by_noise_rate)
 */
import { softmaxRows } from './linear.js';

/** A run's records: n train samples × E epochs, epoch-major like the dynamics table. */
export interface RunDynamics {
  n: number;
  epochs: number;
  numClasses: number;
  /** Given labels [n]. */
  labels: Int32Array;
  /** CE on the given label [E × n]. */
  loss: Float32Array;
  /** 1 where the argmax is the given label [E × n]. */
  correct: Uint8Array;
  /** logit[given] − max other logit [E × n]. */
  margin: Float32Array;
  /** Logits [E × n × K]. */
  logits: Float32Array;
}

export const SCORE_NAMES = [
  'final_loss',
  'cum_acc',
  'first_learned',
  'forgetting',
  'aum',
  'el2n',
  'cv_loss',
  'prediction_depth',
  'transfer_teacher',
  'cleanlab',
] as const;
export type ScoreName = (typeof SCORE_NAMES)[number];

export function finalLoss(d: RunDynamics): Float64Array {
  const at = (d.epochs - 1) * d.n;
  return Float64Array.from({ length: d.n }, (_, i) => d.loss[at + i]!);
}

/** 1 − cumulative accuracy. */
export function cumulativeError(d: RunDynamics): Float64Array {
  const out = new Float64Array(d.n);
  for (let e = 0; e < d.epochs; e++) for (let i = 0; i < d.n; i++) out[i]! += d.correct[e * d.n + i]!;
  for (let i = 0; i < d.n; i++) out[i] = 1 - out[i]! / d.epochs;
  return out;
}

export function firstLearned(d: RunDynamics): Float64Array {
  const out = new Float64Array(d.n);
  for (let i = 0; i < d.n; i++) {
    let e = d.epochs;
    while (e > 0 && d.correct[(e - 1) * d.n + i]) e--;
    out[i] = e;
  }
  return out;
}

export function forgettingEvents(d: RunDynamics): Float64Array {
  const out = new Float64Array(d.n);
  for (let i = 0; i < d.n; i++) {
    let learned = false;
    let events = 0;
    for (let e = 0; e < d.epochs; e++) {
      const now = d.correct[e * d.n + i] === 1;
      if (e > 0 && !now && d.correct[(e - 1) * d.n + i]) events++;
      learned ||= now;
    }
    out[i] = learned ? events : d.epochs;
  }
  return out;
}

/** −AUM. */
export function negativeAum(d: RunDynamics): Float64Array {
  const out = new Float64Array(d.n);
  for (let e = 0; e < d.epochs; e++) for (let i = 0; i < d.n; i++) out[i]! -= d.margin[e * d.n + i]!;
  for (let i = 0; i < d.n; i++) out[i]! /= d.epochs;
  return out;
}

/** EL2N after epoch `epoch` (0-based, as the dynamics' epoch column). */
export function el2n(d: RunDynamics, epoch: number): Float64Array {
  if (!Number.isInteger(epoch) || epoch < 0 || epoch >= d.epochs) {
    throw new RangeError(`el2n_epoch ${epoch} is not a recorded epoch (the run has epochs 0–${d.epochs - 1})`);
  }
  const k = d.numClasses;
  const p = softmaxRows(d.logits.subarray(epoch * d.n * k, (epoch + 1) * d.n * k), d.n, k);
  const out = new Float64Array(d.n);
  for (let i = 0; i < d.n; i++) {
    let s = 0;
    for (let c = 0; c < k; c++) {
      const r = p[i * k + c]! - (c === d.labels[i] ? 1 : 0);
      s += r * r;
    }
    out[i] = Math.sqrt(s);
  }
  return out;
}

/** −(logit[given] − max other logit) of logits [n × k]: the transfer teacher's score. */
export function negativeMargin(logits: ArrayLike<number>, labels: Int32Array, k: number): Float64Array {
  const n = labels.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let other = -Infinity;
    for (let c = 0; c < k; c++) if (c !== labels[i]) other = Math.max(other, logits[i * k + c]!);
    out[i] = other - logits[i * k + labels[i]!]!;
  }
  return out;
}

/**
 * Leave-one-out k-NN predictions on features x [n × d] with labels [n] (squared Euclidean
 * distance in float64; neighbours tied in distance are taken in index order). The majority class
 * of the k nearest other samples; a tie in votes goes to the tied class of the nearest neighbour.
 */
export function knnPredict(x: ArrayLike<number>, n: number, d: number, labels: Int32Array, numClasses: number, k: number): Int32Array {
  const kk = Math.min(k, n - 1);
  const out = new Int32Array(n).fill(-1);
  if (kk <= 0) return out;
  const norms = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += x[i * d + j]! * x[i * d + j]!;
    norms[i] = s;
  }
  const votes = new Int32Array(numClasses);
  // The kk nearest so far, ascending by (distance, index): a partial insertion sort, O(n·kk) at worst.
  const nearDist = new Float64Array(kk);
  const nearIdx = new Int32Array(kk);
  for (let i = 0; i < n; i++) {
    let count = 0;
    for (let o = 0; o < n; o++) {
      if (o === i) continue;
      let dot = 0;
      for (let j = 0; j < d; j++) dot += x[i * d + j]! * x[o * d + j]!;
      const dist = norms[i]! + norms[o]! - 2 * dot;
      if (count === kk && !(dist < nearDist[kk - 1]!)) continue; // o only grows: an equal distance stays behind
      let at = count < kk ? count++ : kk - 1;
      while (at > 0 && nearDist[at - 1]! > dist) {
        nearDist[at] = nearDist[at - 1]!;
        nearIdx[at] = nearIdx[at - 1]!;
        at--;
      }
      nearDist[at] = dist;
      nearIdx[at] = o;
    }
    votes.fill(0);
    for (let r = 0; r < kk; r++) votes[labels[nearIdx[r]!]!]!++;
    let best = 0;
    for (let c = 1; c < numClasses; c++) if (votes[c]! > votes[best]!) best = c;
    // Tied vote: the class among the tied ones whose member is nearest.
    for (let r = 0; r < kk; r++) {
      const c = labels[nearIdx[r]!]!;
      if (votes[c] === votes[best]) {
        best = c;
        break;
      }
    }
    out[i] = best;
  }
  return out;
}

/**
 * Prediction depth from the k-NN predictions of L probes (shallow to deep, each [n]) and the
 * network's final predictions [n]: the smallest l such that probes l … L−1 all predict the final
 * class; L when the deepest probe disagrees.
 */
export function predictionDepth(probes: Int32Array[], final: Int32Array): Float64Array {
  const n = final.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let l = probes.length;
    while (l > 0 && probes[l - 1]![i] === final[i]) l--;
    out[i] = l;
  }
  return out;
}

export interface ConfidentLearning {
  /** Per-class thresholds t_j = mean p_j over the samples labelled j (NaN for a class nobody has). */
  thresholds: Float64Array;
  /** The calibrated confident joint [K × K]: row = given label, column = estimated true label; rows sum to the class counts. */
  joint: Int32Array;
  /** Label issues by prune_by_noise_rate [n]. */
  issue: boolean[];
  /** 1 − p_given [n]. */
  selfConfidence: Float64Array;
}

/**
 * Confident learning (Northcutt et al. 2021) as cleanlab's find_label_issues with its defaults
 * (filter_by 'prune_by_noise_rate', min_examples_per_class 1, frac_noise 1):
 * 1. thresholds t_j = mean p_j over samples with given label j;
 * 2. confident joint C[given][guess]: a sample's guess is its only class with p_j ≥ t_j − 1e-6, or
 *    its argmax when several are; samples with none are not counted; the diagonal is at least 1;
 * 3. calibration: each row scaled to its class count, the whole to n, rounded keeping row totals;
 * 4. prune_by_noise_rate: for every off-diagonal C[i][j] (after keeping at least one sample of
 *    each class on the diagonal), flag the C[i][j] samples labelled i with the largest p_j − p_i;
 * 5. a flagged sample whose argmax is its given label is unflagged.
 * probs [n × k] row-major.
 */
export function confidentLearning(probs: ArrayLike<number>, labels: Int32Array, k: number): ConfidentLearning {
  const n = labels.length;
  const counts = new Float64Array(k);
  const thresholds = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    counts[labels[i]!]!++;
    thresholds[labels[i]!]! += probs[i * k + labels[i]!]!;
  }
  for (let c = 0; c < k; c++) thresholds[c] = counts[c]! > 0 ? thresholds[c]! / counts[c]! : NaN;

  const argmax = new Int32Array(n);
  const raw = new Float64Array(k * k);
  for (let i = 0; i < n; i++) {
    let am = 0;
    let confident = 0;
    let only = -1;
    for (let c = 0; c < k; c++) {
      const p = probs[i * k + c]!;
      if (p > probs[i * k + am]!) am = c;
      if (p >= thresholds[c]! - 1e-6) {
        confident++;
        if (only < 0) only = c;
      }
    }
    argmax[i] = am;
    if (confident === 0) continue;
    raw[labels[i]! * k + (confident > 1 ? am : only)]!++;
  }
  for (let c = 0; c < k; c++) raw[c * k + c] = Math.max(1, raw[c * k + c]!);

  // Calibrate: rows to the class counts, then the total to n.
  let total = 0;
  for (let r = 0; r < k; r++) {
    let row = 0;
    for (let c = 0; c < k; c++) row += raw[r * k + c]!;
    for (let c = 0; c < k; c++) {
      raw[r * k + c] = row > 0 ? (raw[r * k + c]! / row) * counts[r]! : 0;
      total += raw[r * k + c]!;
    }
  }
  for (let j = 0; j < k * k; j++) raw[j] = total > 0 ? (raw[j]! / total) * n : 0;
  const joint = new Int32Array(k * k);
  for (let r = 0; r < k; r++) joint.set(roundKeepingSum(raw.subarray(r * k, (r + 1) * k)), r * k);

  // Prune counts, transposed (column = given label): keep at least one sample per class.
  const prune = keepAtLeastOnePerClass(joint, k);
  const issue = new Array<boolean>(n).fill(false);
  for (let given = 0; given < k; given++) {
    const members: number[] = [];
    for (let i = 0; i < n; i++) if (labels[i] === given) members.push(i);
    if (members.length <= 1) continue;
    for (let truth = 0; truth < k; truth++) {
      const count = prune[truth * k + given]!;
      if (truth === given || count <= 0) continue;
      const margin = (i: number) => probs[i * k + truth]! - probs[i * k + given]!;
      const ranked = [...members].sort((a, b) => margin(b) - margin(a) || a - b);
      for (const i of ranked.slice(0, count)) issue[i] = true;
    }
  }
  for (let i = 0; i < n; i++) if (argmax[i] === labels[i]) issue[i] = false;
  const selfConfidence = Float64Array.from({ length: n }, (_, i) => 1 - probs[i * k + labels[i]!]!);
  return { thresholds, joint, issue, selfConfidence };
}

/** Rounds to integers keeping the (rounded) sum: largest remainders get the leftover units. */
function roundKeepingSum(values: Float64Array): Int32Array {
  const target = Math.round(values.reduce((a, b) => a + b, 0));
  const ints = Int32Array.from(values, (v) => Math.round(v));
  let diff = target - ints.reduce((a, b) => a + b, 0);
  const order = Array.from(values, (_, i) => i).sort((a, b) => values[b]! - ints[b]! - (values[a]! - ints[a]!) || a - b);
  // diff > 0: raise those rounded down the most; diff < 0: lower those rounded up the most.
  const seq = diff > 0 ? order : [...order].reverse();
  for (let j = 0; diff !== 0 && j < seq.length; j++) {
    const step = Math.sign(diff);
    ints[seq[j]!]! += step;
    diff -= step;
  }
  return ints;
}

/**
 * The joint transposed (row = true label, column = given label), with each column's diagonal
 * raised to at least 1 and the raise taken evenly from the column's non-zero off-diagonal
 * counts (cleanlab's _keep_at_least_n_per_class with n = 1), rounded keeping row totals.
 */
function keepAtLeastOnePerClass(joint: Int32Array, k: number): Int32Array {
  const m = new Float64Array(k * k);
  for (let r = 0; r < k; r++) for (let c = 0; c < k; c++) m[r * k + c] = joint[c * k + r]!;
  for (let c = 0; c < k; c++) {
    const raise = Math.max(m[c * k + c]!, 1) - m[c * k + c]!;
    let nonzero = 0;
    for (let r = 0; r < k; r++) if (m[r * k + c] !== 0) nonzero++;
    const take = raise / Math.max(nonzero - 1, 1);
    for (let r = 0; r < k; r++) if (r !== c) m[r * k + c] = Math.max(0, m[r * k + c]! - take);
    m[c * k + c] = Math.max(m[c * k + c]!, 1);
  }
  const out = new Int32Array(k * k);
  for (let r = 0; r < k; r++) out.set(roundKeepingSum(m.subarray(r * k, (r + 1) * k)), r * k);
  return out;
}

/** Mean over runs of each sample's score, skipping NaN; NaN where every run is NaN. */
export function ensembleMean(perRun: Float64Array[]): Float64Array {
  const n = perRun[0]?.length ?? 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    let c = 0;
    for (const r of perRun) {
      if (Number.isNaN(r[i]!)) continue;
      s += r[i]!;
      c++;
    }
    out[i] = c === 0 ? NaN : s / c;
  }
  return out;
}
