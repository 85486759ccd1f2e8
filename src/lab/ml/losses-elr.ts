/**
 * Early-learning regularisation (Liu et al., NeurIPS 2020): CE + λ·log(1 − ⟨t_i, p_i⟩), where
 * t_i is a running average of sample i's own past predictions. While the network still fits the
 * clean majority, t_i points at the (mostly right) early prediction; the regulariser pulls p_i
 * towards it and so away from memorising a wrong label.
 *
 * When the memory changes, exactly (as the authors' code, with the write made explicit):
 * 1. `loss(logits, targets, sampleIndices)` reads t_i (rows of the memory, zero at the start),
 *    forms t_i' = β t_i + (1−β) p̂_i from this forward pass's predictions p̂_i (clamped to
 *    [1e-4, 1 − 1e-4], renormalised, no gradient), and uses t_i' in this batch's regulariser.
 *    The memory itself is not written yet.
 * 2. `commit()` writes the t_i' of the last `loss` call into the memory. The train loop calls it
 *    once per training batch, after the optimizer step. A `loss` call that is not committed (an
 *    evaluation pass) leaves the memory unchanged; the next `loss` call replaces it.
 * A sample index that occurs twice in a batch gets the update of its last occurrence.
 */
import * as tf from '@tensorflow/tfjs-core';
import { crossEntropy, stopGradient, type LossResult, type Targets } from './losses.js';

/** ELR's own probability clamp (the reference code's): keeps ⟨t, p⟩ ≤ 1 − 1e-4, so the log is finite. */
export const ELR_CLAMP = 1e-4;

export class ElrMemory {
  /** t, row-major [numSamples, numClasses]; row i belongs to the sample with index i. */
  readonly targets: Float32Array;
  private pending: { indices: Int32Array; rows: tf.Tensor2D } | undefined;

  constructor(
    readonly numSamples: number,
    readonly numClasses: number,
    readonly lambda: number,
    readonly beta: number,
  ) {
    this.targets = new Float32Array(numSamples * numClasses);
  }

  /** logits [batch, K], targets as for every loss, sampleIndices [batch] into the memory. */
  loss(logits: tf.Tensor2D, targets: Targets, sampleIndices: ArrayLike<number>): LossResult {
    const k = this.numClasses;
    const batch = logits.shape[0];
    if (logits.shape[1] !== k) throw new Error(`ELR memory has ${k} classes, logits ${logits.shape[1]}`);
    if (sampleIndices.length !== batch) throw new Error(`${sampleIndices.length} sample indices for a batch of ${batch}`);
    const indices = Int32Array.from(sampleIndices);
    const old = new Float32Array(batch * k);
    for (let b = 0; b < batch; b++) {
      const i = indices[b]!;
      if (!(i >= 0 && i < this.numSamples)) throw new Error(`sample index ${i} outside [0, ${this.numSamples})`);
      old.set(this.targets.subarray(i * k, (i + 1) * k), b * k);
    }
    this.discard();
    return tf.tidy(() => {
      const ce = crossEntropy(logits, targets, 0).perSample;
      const p = tf.clipByValue(tf.softmax(logits), ELR_CLAMP, 1 - ELR_CLAMP); // [batch, K]
      const pNormalised = stopGradient(tf.div(p, tf.sum(p, 1, true)));
      const t = tf.add(tf.mul(tf.tensor2d(old, [batch, k]), this.beta), tf.mul(pNormalised, 1 - this.beta)) as tf.Tensor2D;
      this.pending = { indices, rows: tf.keep(t) };
      const reg = tf.log(tf.sub(1, tf.sum(tf.mul(t, p), 1))); // [batch]
      const perSample = tf.add(ce, tf.mul(reg, this.lambda)) as tf.Tensor1D;
      return { perSample, mean: tf.mean(perSample) as tf.Scalar };
    });
  }

  /** Writes the memory rows computed by the last `loss` call (see the module comment for when). */
  async commit(): Promise<void> {
    const pending = this.pending;
    if (pending === undefined) return;
    this.pending = undefined;
    const rows = await pending.rows.data();
    pending.rows.dispose();
    const k = this.numClasses;
    pending.indices.forEach((i, b) => this.targets.set(rows.subarray(b * k, (b + 1) * k), i * k));
  }

  /** Drops an uncommitted update (and its tensor). */
  discard(): void {
    this.pending?.rows.dispose();
    this.pending = undefined;
  }
}
