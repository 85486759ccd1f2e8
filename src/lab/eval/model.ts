/**
 * A trained model (src/lab/ml/load.ts) as evaluate-ood uses it: logits and `embedding`-layer outputs
 * of a block of feature rows, class probabilities for occlusion, and gradient saliency.
 * Loads TensorFlow.js: import it inside a stage's `run` only. The backend must be started first.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { predictWithEmbeddings, type Samples } from '../ml/train.js';
import { softmaxRows } from '../difficulty/linear.js';
import type { ProbabilityFn } from './saliency.js';

export interface ModelOutputs {
  /** [n × k] */
  logits: Float32Array;
  /** [n × embeddingSize] */
  embeddings: Float32Array;
  embeddingSize: number;
}

/** Inference (training: false) on n row-major inputs x [n × mels × frames]. */
export async function runModel(
  model: tfl.LayersModel,
  x: Float32Array,
  n: number,
  shape: readonly [number, number],
  numClasses: number,
  batchSize: number,
): Promise<ModelOutputs> {
  if (x.length !== n * shape[0] * shape[1]) throw new Error(`${x.length} values are not ${n} inputs of [${shape.join(', ')}]`);
  // predictWithEmbeddings reads only x, shape and numClasses of its samples.
  const samples: Samples = {
    x,
    shape,
    labels: new Int32Array(n),
    labelsOrig: new Int32Array(n),
    flipped: [],
    targetEps: null,
    splits: [],
    numClasses,
  };
  return predictWithEmbeddings(model, samples, Int32Array.from({ length: n }, (_, i) => i), batchSize);
}

/** The model as a ProbabilityFn (softmax of its logits, float64) for occlusion maps. */
export function probabilityFn(model: tfl.LayersModel, shape: readonly [number, number], numClasses: number, batchSize: number): ProbabilityFn {
  return async (x, count) => {
    const { logits } = await runModel(model, x, count, shape, numClasses, batchSize);
    return softmaxRows(logits, count, numClasses);
  };
}

/** |∂ p_target / ∂ x| of one input [mels × frames] (p: the softmax of the logits), and the probabilities. */
export async function gradientSaliency(
  model: tfl.LayersModel,
  input: Float32Array,
  shape: readonly [number, number],
  target: number,
): Promise<{ map: Float32Array; probs: Float64Array }> {
  const [mels, frames] = shape;
  const x = tf.tensor4d(input, [1, mels, frames, 1]);
  const pTarget = (t: tf.Tensor): tf.Scalar => {
    const logits = model.apply(t, { training: false }) as tf.Tensor2D; // [1, k]
    return tf.sum(tf.slice(tf.softmax(logits), [0, target], [1, 1]));
  };
  try {
    const [grad, logits] = tf.tidy(() => [tf.abs(tf.grad(pTarget)(x)), model.apply(x, { training: false }) as tf.Tensor2D]) as [tf.Tensor, tf.Tensor2D];
    try {
      const z = await logits.data<'float32'>();
      return { map: Float32Array.from(await grad.data<'float32'>()), probs: softmaxRows(z, 1, z.length) };
    } finally {
      tf.dispose([grad, logits]);
    }
  } finally {
    x.dispose();
  }
}
