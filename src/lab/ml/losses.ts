/**
 * Classification losses of the study, including the noise-robust ones, as pure functions on
 * TensorFlow.js tensors. Every loss takes logits [batch, K] and the given labels and returns the
 * per-sample losses [batch] (the train stage records them) and their mean (what the optimizer
 * minimises). All are differentiable with respect to the logits: call them inside
 * `optimizer.minimize(() => …)` / `tf.variableGrads`. To keep the per-sample losses of a step
 * beyond that call, `tf.keep(result.perSample)` inside it (and dispose it afterwards).
 *
 * Numerical safety: probabilities are clipped to [1e-7, 1] (Keras' convention, which the
 * waspaa19 reference code inherits). log p is computed as max(logSoftmax(z), ln 1e-7), which is
 * log(clip(softmax(z), 1e-7, 1)) without the cancellation of log(softmax); p = exp(log p). A
 * clipped probability passes no gradient, as in Keras.
 *
 * Parameters have no defaults here: the zod schemas in `losses-config.ts` are the one place
 * they live.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node build registers no gradient functions; tfjs-layers' registers all of core's
// (Mean, RealDiv, …). Without this import, tf.grad over these losses fails unless the caller
// happened to load tfjs-layers first.
import '@tensorflow/tfjs-layers';

/** Per-sample losses and their mean. A type alias (not an interface) so tf.tidy can return it. */
export type LossResult = {
  /** [batch] */
  perSample: tf.Tensor1D;
  /** [] mean of perSample over the batch */
  mean: tf.Scalar;
};

/**
 * The given labels: int class indices [batch] (hard labels), or a distribution over the K
 * classes per sample [batch, K] (soft targets: mixup, already-smoothed labels, …).
 */
export type Targets = tf.Tensor1D | tf.Tensor2D;

/** Lower clip of every probability a loss takes the log of or raises to a power. */
export const PROB_FLOOR = 1e-7;
const LOG_PROB_FLOOR = Math.log(PROB_FLOOR);

/** log(clip(softmax(logits), 1e-7, 1)), computed stably. [batch, K] → [batch, K] */
export function clippedLogProbs(logits: tf.Tensor2D): tf.Tensor2D {
  return tf.maximum(tf.logSoftmax(logits), LOG_PROB_FLOOR);
}

/** The targets as a float32 distribution [batch, K] (one-hot rows for int labels). */
export function toDistribution(targets: Targets, numClasses: number): tf.Tensor2D {
  return tf.tidy(() => {
    if (targets.rank === 1) return tf.cast(tf.oneHot(tf.cast(targets, 'int32'), numClasses), 'float32') as tf.Tensor2D;
    if (targets.shape[1] !== numClasses) {
      throw new Error(`soft targets have ${targets.shape[1]} classes, logits ${numClasses}`);
    }
    return tf.cast(targets, 'float32') as tf.Tensor2D;
  });
}

/**
 * y = f(x) with a zero gradient: f's value is used as a constant (bootstrapping's predictions,
 * ELR's memory update, the masking threshold). f runs inside a custom-gradient op, so its own
 * ops (comparisons, argmax, which have no gradient functions) never reach the tape.
 */
export function withoutGradient<T extends tf.Tensor, U extends tf.Tensor>(f: (x: T) => U): (x: T) => U {
  return tf.customGrad((...args) => {
    const x = args[0] as T;
    return { value: f(x), gradFunc: () => tf.zerosLike(x) };
  }) as (x: T) => U;
}

/** The identity with a zero gradient (TensorFlow.js has no tf.stopGradient). */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return withoutGradient((t: T) => t.clone())(x);
}

function result(perSample: tf.Tensor1D): LossResult {
  return { perSample, mean: tf.mean(perSample) as tf.Scalar };
}

/** −Σ_k t_k log p_k per sample, for a target distribution t [batch, K] (treated as given). */
function crossEntropyWith(logProbs: tf.Tensor2D, t: tf.Tensor2D): tf.Tensor1D {
  return tf.neg(tf.sum(tf.mul(t, logProbs), 1)) as tf.Tensor1D;
}

/**
 * Cross-entropy, with label smoothing ỹ = (1−ε_i)·y + ε_i/K.
 *
 * `smoothing` is one ε for every sample, or one ε_k per class (noise-dependent smoothing,
 * waspaa19): sample i gets the ε of its given label's class, ε_i = Σ_k y_ik ε_k, which for soft
 * targets is the ε averaged over the classes they weight. ε = 0 is plain cross-entropy.
 */
export function crossEntropy(logits: tf.Tensor2D, targets: Targets, smoothing: number | readonly number[]): LossResult {
  return tf.tidy(() => {
    const k = logits.shape[1];
    const y = toDistribution(targets, k); // [batch, K]
    let smoothed = y;
    if (typeof smoothing === 'number') {
      if (smoothing !== 0) smoothed = tf.add(tf.mul(y, 1 - smoothing), smoothing / k);
    } else {
      if (smoothing.length !== k) throw new Error(`per-class smoothing has ${smoothing.length} values for ${k} classes`);
      const eps = tf.matMul(y, tf.tensor2d([...smoothing], [k, 1])); // [batch, 1]
      smoothed = tf.add(tf.mul(y, tf.sub(1, eps)), tf.div(eps, k));
    }
    return result(crossEntropyWith(clippedLogProbs(logits), smoothed));
  });
}

/**
 * Generalised cross-entropy / Lq (Zhang & Sabuncu 2018): L = (1 − p_y^q)/q, q ∈ (0, 1].
 * Soft targets: L = Σ_k y_k (1 − p_k^q)/q, which is the same for one-hot y and tends to the
 * soft-target cross-entropy as q → 0. q = 1 gives 1 − p_y = MAE/2 (see `mae`).
 */
export function gce(logits: tf.Tensor2D, targets: Targets, q: number): LossResult {
  if (!(q > 0 && q <= 1)) throw new Error(`GCE needs 0 < q ≤ 1, got ${q}`);
  return tf.tidy(() => {
    const y = toDistribution(targets, logits.shape[1]);
    // (1 − p^q)/q = −expm1(q log p)/q: no cancellation as q → 0. [batch, K]
    const perClass = tf.div(tf.neg(tf.expm1(tf.mul(clippedLogProbs(logits), q))), q);
    return result(tf.sum(tf.mul(y, perClass), 1) as tf.Tensor1D);
  });
}

/**
 * Mean absolute error between the target distribution and the predicted one (Ghosh et al.
 * 2017): L = Σ_k |y_k − p_k|, = 2(1 − p_y) for a hard label. Convention: GCE with q = 1 is half
 * of this.
 */
export function mae(logits: tf.Tensor2D, targets: Targets): LossResult {
  return tf.tidy(() => {
    const y = toDistribution(targets, logits.shape[1]);
    const p = tf.exp(clippedLogProbs(logits));
    return result(tf.sum(tf.abs(tf.sub(y, p)), 1) as tf.Tensor1D);
  });
}

/**
 * Symmetric cross-entropy (Wang et al. 2019): α·CE + β·RCE with the reverse cross-entropy
 * RCE = −Σ_k p_k log ỹ_k, where log 0 := A: log ỹ_k is clipped below at A (A < 0, commonly −4),
 * so a hard label gives RCE = −A(1 − p_y).
 */
export function sce(
  logits: tf.Tensor2D,
  targets: Targets,
  params: { alpha: number; beta: number; logZero: number },
): LossResult {
  return tf.tidy(() => {
    const y = toDistribution(targets, logits.shape[1]);
    const logP = clippedLogProbs(logits);
    const ce = crossEntropyWith(logP, y);
    const logY = tf.log(tf.clipByValue(y, Math.exp(params.logZero), 1)); // [batch, K], ≥ A
    const rce = tf.neg(tf.sum(tf.mul(tf.exp(logP), logY), 1));
    return result(tf.add(tf.mul(ce, params.alpha), tf.mul(rce, params.beta)) as tf.Tensor1D);
  });
}

/**
 * Soft bootstrapping (Reed et al. 2015): −Σ_k [β y_k + (1−β) p_k] log p_k, the prediction p
 * taken as a constant target (no gradient flows through it): d/dz = β(p − y) per sample.
 */
export function bootstrapSoft(logits: tf.Tensor2D, targets: Targets, beta: number): LossResult {
  return tf.tidy(() => {
    const y = toDistribution(targets, logits.shape[1]);
    const logP = clippedLogProbs(logits);
    const t = tf.add(tf.mul(y, beta), tf.mul(stopGradient(tf.exp(logP)), 1 - beta));
    return result(crossEntropyWith(logP, t as tf.Tensor2D));
  });
}

/**
 * Hard bootstrapping (Reed et al. 2015): −Σ_k [β y_k + (1−β) e_{argmax p}] log p_k. Ties in the
 * argmax go to the lowest class index.
 */
export function bootstrapHard(logits: tf.Tensor2D, targets: Targets, beta: number): LossResult {
  return tf.tidy(() => {
    const k = logits.shape[1];
    const y = toDistribution(targets, k);
    const argmaxOneHot = withoutGradient((z: tf.Tensor2D) => tf.cast(tf.oneHot(tf.argMax(z, 1), k), 'float32'));
    const predicted = argmaxOneHot(logits);
    const t = tf.add(tf.mul(y, beta), tf.mul(predicted, 1 - beta));
    return result(crossEntropyWith(clippedLogProbs(logits), t as tf.Tensor2D));
  });
}
