/**
 * The two-stage methods of Fonseca et al. (WASPAA 2019): train normally for n1 epochs, then
 * either ignore the largest losses of every mini-batch (the samples most likely mislabelled), or
 * score the whole train set once and drop the clips with the largest losses for the rest of the
 * training. (Switching the loss, e.g. to Lq with q = 0.5, at n1 is the train stage's part.)
 *
 * Both use one percentile convention, `percentileIndex`: the threshold is the loss at ascending
 * rank round((n − 1)·P/100) (numpy's 'nearest' percentile, ties at .5 rounded up); a sample is
 * kept when its loss is ≤ the threshold. With distinct losses exactly round((n − 1)·P/100) + 1
 * are kept; ties with the threshold are all kept.
 *
 * Epochs are counted from 0: "after n1 epochs" means epoch ≥ n1.
 */
import * as tf from '@tensorflow/tfjs-core';
import { withoutGradient, type LossResult } from './losses.js';
export { LossMaskingSchema, LossPruningSchema } from './config.js';
export type { LossMaskingConfig, LossPruningConfig } from './config.js';





/** Whether a two-stage method acts in this epoch (from 0). */
export function secondStage(config: { start_epoch: number }, epochIndex: number): boolean {
  return epochIndex >= config.start_epoch;
}

/** The ascending rank of the P-th percentile among n values (see the module comment). */
export function percentileIndex(n: number, p: number): number {
  if (!(n > 0)) throw new Error('percentile of no values');
  return Math.min(n - 1, Math.max(0, Math.floor(((n - 1) * p) / 100 + 0.5)));
}

/**
 * Zeroes the per-sample losses above the batch's P-th percentile; the mean is the sum of the kept
 * losses over the count kept. The threshold and the mask carry no gradient; kept samples
 * back-propagate as usual. perSample [batch] → masked perSample [batch], mean [], kept [batch]
 * (1 kept, 0 dropped).
 */
export function maskLargeLosses(perSample: tf.Tensor1D, p: number): LossResult & { kept: tf.Tensor1D } {
  return tf.tidy(() => {
    const n = perSample.shape[0];
    const rank = n - 1 - percentileIndex(n, p); // the threshold's rank in descending order
    const keptMask = withoutGradient((losses: tf.Tensor1D) => {
      const threshold = tf.slice(tf.topk(losses, n, true).values, [rank], [1]); // [1]
      return tf.cast(tf.lessEqual(losses, threshold), 'float32') as tf.Tensor1D;
    });
    const kept = keptMask(perSample); // [batch]
    const masked = tf.mul(perSample, kept) as tf.Tensor1D;
    return { perSample: masked, mean: tf.div(tf.sum(masked), tf.sum(kept)) as tf.Scalar, kept };
  });
}

/** The indices (ascending) of the samples to keep: those whose loss is ≤ the P-th percentile. */
export function pruneByLoss(losses: ArrayLike<number>, p: number): Int32Array {
  const sorted = Float64Array.from(losses).sort();
  const threshold = sorted[percentileIndex(sorted.length, p)]!;
  const kept: number[] = [];
  for (let i = 0; i < losses.length; i++) if (losses[i]! <= threshold) kept.push(i);
  return Int32Array.from(kept);
}
