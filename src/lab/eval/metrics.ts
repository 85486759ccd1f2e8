/**
 * Classification metrics of a model on one evaluation set, with scikit-learn's semantics where it
 * defines one (checked against sklearn's own values: scripts/sklearn_fixtures_eval.py writes
 * test/fixtures/sklearn-eval/, src/lab/eval/metrics.test.ts compares).
 *
 * Inputs: true labels y [n] (class indices 0..K−1) and, per sample, the K class probabilities
 * (row-major [n × K], float64) or predicted classes. No TensorFlow.js: plain arrays only.
 *
 * - accuracy      fraction of argmax predictions equal to y (sklearn accuracy_score).
 * - uar           unweighted average recall = balanced accuracy: the mean recall over the classes
 *                 present in y (sklearn balanced_accuracy_score; a class that is only predicted
 *                 has no recall and does not count).
 * - macro_f1      unweighted mean of per-class F1 = 2·tp / (2·tp + fp + fn) over the classes that
 *                 occur in y or in the predictions (sklearn f1_score(average='macro') with its
 *                 default labels). A class that is predicted but never true, or true but never
 *                 predicted, has F1 0 (sklearn's zero_division=0: precision or recall 0/0 counts
 *                 as 0); classes neither true nor predicted are left out, as in sklearn.
 * - nll           mean −ln p[y], with p floored at PROB_FLOOR = 1e-7 (the floor of the training
 *                 losses, src/lab/ml/losses.ts), so one confident mistake costs at most −ln 1e-7 ≈ 16.1.
 *                 sklearn's log_loss clips at float64 eps instead; they agree whenever p[y] ≥ 1e-7.
 * - ece           expected calibration error of the top label (Guo et al. 2017): confidences
 *                 max_k p_k in 15 equal-width bins (b/15, (b+1)/15], b = 0..14;
 *                 ECE = Σ_b (n_b / n)·|accuracy_b − mean confidence_b|.
 * - confusion     K × K counts, row = true class, column = predicted class (sklearn
 *                 confusion_matrix with labels = 0..K−1).
 */

/** Probabilities are floored here before the log (the floor of src/lab/ml/losses.ts). */
export const NLL_PROB_FLOOR = 1e-7;
/** Confidence bins of the ECE. */
export const ECE_BINS = 15;

/** The arg max of each row [n] (the first on ties, as numpy's argmax). */
export function argmaxRows(scores: ArrayLike<number>, k: number): Int32Array {
  const n = rowsOf(scores.length, k);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let arg = 0;
    for (let c = 1; c < k; c++) if (scores[i * k + c]! > scores[i * k + arg]!) arg = c;
    out[i] = arg;
  }
  return out;
}

export function accuracy(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  sameLength(yTrue, yPred);
  let right = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) right++;
  return yTrue.length === 0 ? NaN : right / yTrue.length;
}

/** Confusion counts [k × k], row = true class, column = predicted class. */
export function confusionMatrix(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, k: number): Int32Array {
  sameLength(yTrue, yPred);
  const m = new Int32Array(k * k);
  for (let i = 0; i < yTrue.length; i++) {
    const t = classIndex(yTrue[i]!, k, 'true label');
    const p = classIndex(yPred[i]!, k, 'prediction');
    m[t * k + p]!++;
  }
  return m;
}

/** Balanced accuracy: mean recall over the classes present in yTrue. */
export function balancedAccuracy(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, k: number): number {
  const m = confusionMatrix(yTrue, yPred, k);
  let sum = 0;
  let classes = 0;
  for (let t = 0; t < k; t++) {
    let support = 0;
    for (let p = 0; p < k; p++) support += m[t * k + p]!;
    if (support === 0) continue;
    sum += m[t * k + t]! / support;
    classes++;
  }
  return classes === 0 ? NaN : sum / classes;
}

/** Macro-averaged F1 over the classes present in yTrue or yPred (zero_division = 0). */
export function macroF1(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, k: number): number {
  const m = confusionMatrix(yTrue, yPred, k);
  let sum = 0;
  let classes = 0;
  for (let c = 0; c < k; c++) {
    let trueC = 0; // tp + fn
    let predC = 0; // tp + fp
    for (let j = 0; j < k; j++) {
      trueC += m[c * k + j]!;
      predC += m[j * k + c]!;
    }
    if (trueC === 0 && predC === 0) continue;
    const tp = m[c * k + c]!;
    sum += (2 * tp) / (trueC + predC); // 2tp / (2tp + fp + fn)
    classes++;
  }
  return classes === 0 ? NaN : sum / classes;
}

/** Mean negative log-likelihood of the true class, natural log, p floored at NLL_PROB_FLOOR. */
export function negativeLogLikelihood(yTrue: ArrayLike<number>, probs: ArrayLike<number>, k: number): number {
  const n = rowsOf(probs.length, k);
  if (n !== yTrue.length) throw new Error(`${yTrue.length} labels but ${n} rows of probabilities`);
  let sum = 0;
  for (let i = 0; i < n; i++) sum -= Math.log(Math.max(NLL_PROB_FLOOR, probs[i * k + classIndex(yTrue[i]!, k, 'true label')]!));
  return n === 0 ? NaN : sum / n;
}

/** The ECE bin (0..bins−1) of a confidence in [0, 1]: bin b holds (b/bins, (b+1)/bins]. */
export function confidenceBin(conf: number, bins = ECE_BINS): number {
  let b = Math.min(bins - 1, Math.max(0, Math.ceil(conf * bins) - 1));
  // conf·bins can round across an edge; settle on the edges as written, b/bins.
  while (b > 0 && conf <= b / bins) b--;
  while (b < bins - 1 && conf > (b + 1) / bins) b++;
  return b;
}

/** Top-label expected calibration error with `bins` equal-width confidence bins. */
export function expectedCalibrationError(yTrue: ArrayLike<number>, probs: ArrayLike<number>, k: number, bins = ECE_BINS): number {
  const n = rowsOf(probs.length, k);
  if (n !== yTrue.length) throw new Error(`${yTrue.length} labels but ${n} rows of probabilities`);
  if (n === 0) return NaN;
  const count = new Float64Array(bins);
  const correct = new Float64Array(bins);
  const confSum = new Float64Array(bins);
  const pred = argmaxRows(probs, k);
  for (let i = 0; i < n; i++) {
    const conf = probs[i * k + pred[i]!]!;
    const b = confidenceBin(conf, bins);
    count[b]!++;
    confSum[b]! += conf;
    if (pred[i] === yTrue[i]) correct[b]!++;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) if (count[b]! > 0) ece += Math.abs(correct[b]! - confSum[b]!) / n; // (n_b/n)·|acc_b − conf_b|
  return ece;
}

export interface SetMetrics {
  n: number;
  accuracy: number;
  uar: number;
  macro_f1: number;
  nll: number;
  ece: number;
  /** [k × k], row = true class. */
  confusion: Int32Array;
}

/** Every metric of one evaluation set from its labels [n] and class probabilities [n × k]. */
export function evaluateSet(yTrue: ArrayLike<number>, probs: ArrayLike<number>, k: number): SetMetrics {
  const pred = argmaxRows(probs, k);
  return {
    n: yTrue.length,
    accuracy: accuracy(yTrue, pred),
    uar: balancedAccuracy(yTrue, pred, k),
    macro_f1: macroF1(yTrue, pred, k),
    nll: negativeLogLikelihood(yTrue, probs, k),
    ece: expectedCalibrationError(yTrue, probs, k),
    confusion: confusionMatrix(yTrue, pred, k),
  };
}

function rowsOf(length: number, k: number): number {
  if (!Number.isInteger(k) || k < 1) throw new Error(`number of classes must be a positive integer, got ${k}`);
  if (length % k !== 0) throw new Error(`${length} values do not make rows of ${k} classes`);
  return length / k;
}

function sameLength(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new Error(`${a.length} true labels but ${b.length} predictions`);
}

function classIndex(c: number, k: number, what: string): number {
  if (!Number.isInteger(c) || c < 0 || c >= k) throw new Error(`${what} ${c} is not a class index in 0..${k - 1}`);
  return c;
}
