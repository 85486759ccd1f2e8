/**
 * A linear probe (Alain & Bengio 2016): how much of a task a frozen representation makes linearly
 * readable. Softmax regression (src/lab/difficulty/linear.ts: L2, L-BFGS, deterministic) on embeddings
 * standardised by the probe's train split, scored by accuracy on its test split.
 */
import { fitSoftmaxRegression } from '../difficulty/linear.js';
import { accuracy, argmaxRows } from './metrics.js';

export interface ProbeData {
  /** Row-major [n × d]. */
  embeddings: ArrayLike<number>;
  labels: Int32Array;
}

export interface ProbeResult {
  accuracy: number;
  iterations: number;
  converged: boolean;
}

export function linearProbe(train: ProbeData, test: ProbeData, d: number, k: number, l2: number): ProbeResult {
  const nTrain = train.labels.length;
  const nTest = test.labels.length;
  if (nTrain === 0 || nTest === 0) throw new Error(`linear probe: ${nTrain} train and ${nTest} test rows; both must be non-empty`);
  // Each dimension standardised by the train split; a constant one becomes 0 (divided by 1).
  const mean = new Float64Array(d);
  const sd = new Float64Array(d);
  for (let i = 0; i < nTrain; i++) for (let j = 0; j < d; j++) mean[j]! += train.embeddings[i * d + j]! / nTrain;
  for (let i = 0; i < nTrain; i++) for (let j = 0; j < d; j++) sd[j]! += (train.embeddings[i * d + j]! - mean[j]!) ** 2 / nTrain;
  const scale = Float64Array.from(sd, (v) => Math.sqrt(v) || 1);
  const standardise = (e: ArrayLike<number>, n: number) => Float64Array.from({ length: n * d }, (_, i) => (e[i]! - mean[i % d]!) / scale[i % d]!);
  const fit = fitSoftmaxRegression(standardise(train.embeddings, nTrain), nTrain, d, train.labels, k, { l2 });
  const predicted = argmaxRows(fit.predictLogits(standardise(test.embeddings, nTest), nTest), k);
  return { accuracy: accuracy(test.labels, predicted), iterations: fit.iterations, converged: fit.converged };
}
