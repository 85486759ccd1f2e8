/**
 * Prediction depth (Baldock et al. 2021) of a trained model's train samples: k-NN probes on the
 * input and on the output of every block of the network, built from the train split with the
 * given labels (leave-one-out), compared with the network's final prediction.
 *
 * Probe layers, in model order: the input, then every pooling layer (the end of a conv block),
 * every residual `Add`, and the `embedding` layer — never the logits. A probe's activation
 * [H, W, C] (or [T, C]) is average-pooled over its spatial axes (adaptive windows, as PyTorch's
 * AdaptiveAvgPool) until H'·W'·C ≤ probe_dims or the spatial size is 1, so that the O(n²·dims)
 * k-NN stays affordable. Imported inside `run` only (it loads TensorFlow.js).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { loadTrainedModel } from '../../src/lab/ml/load.js';
import { knnPredict, predictionDepth } from '../../src/lab/difficulty/scores.js';
import { adaptiveAvgPool, pooledShape } from '../../src/lab/difficulty/pool.js';

const PROBE_CLASSES = new Set(['MaxPooling2D', 'MaxPooling1D', 'AveragePooling2D', 'AveragePooling1D', 'GlobalAveragePooling2D', 'GlobalAveragePooling1D', 'GlobalMaxPooling2D', 'GlobalMaxPooling1D', 'Add']);

export interface DepthResult {
  depth: Float64Array;
  /** The probes' names (layer names, `input` first) and pooled sizes. */
  probes: { name: string; dims: number }[];
}

/** A probe's pooling plan from its per-sample shape [spatial…, C] (dense outputs: [D], no pooling). */
function plan(shape: readonly number[], budget: number): { spatial: number[]; channels: number; out: number[]; dims: number } {
  if (shape.length <= 1) return { spatial: [], channels: shape[0] ?? 1, out: [], dims: shape[0] ?? 1 };
  const spatial = shape.slice(0, -1);
  const channels = shape.at(-1)!;
  const out = pooledShape(spatial, channels, budget);
  return { spatial, channels, out, dims: out.reduce((a, b) => a * b, 1) * channels };
}

/**
 * x: features of the run's train clips [n × mels × frames] (row-major), labels [n] the given
 * labels. The backend must be started.
 */
export async function modelPredictionDepth(
  modelPath: string,
  x: Float32Array,
  n: number,
  labels: Int32Array,
  opts: { k: number; probeDims: number; batchSize: number },
): Promise<DepthResult> {
  const tflayers = await import('@tensorflow/tfjs-layers');
  const loaded = await loadTrainedModel(modelPath);
  const model = loaded.model;
  const numClasses = loaded.classes.length;
  const inputShape = loaded.inputShape; // [mels, frames, 1]
  const sampleSize = inputShape.reduce((a, b) => a * b, 1);
  if (x.length !== n * sampleSize) throw new Error(`prediction depth: features have ${x.length / n} values per clip, the model expects [${inputShape.join(', ')}]`);
  const layers = model.layers.filter((l) => l.name !== 'logits' && (PROBE_CLASSES.has(l.getClassName()) || l.name === 'embedding'));
  const outputs = layers.map((l) => l.output as tfl.SymbolicTensor);
  const probeModel = tflayers.model({ inputs: model.inputs, outputs: [...outputs, model.outputs[0]!] }); // shares the weights
  const plans = [plan(inputShape, opts.probeDims), ...outputs.map((o) => plan(o.shape.slice(1) as number[], opts.probeDims))];
  const feats = plans.map((p) => new Float32Array(n * p.dims));
  const final = new Int32Array(n);
  try {
    for (let i = 0; i < n; i++) feats[0]!.set(adaptiveAvgPool(x.subarray(i * sampleSize, (i + 1) * sampleSize), plans[0]!.spatial, plans[0]!.channels, plans[0]!.out), i * plans[0]!.dims);
    for (let at = 0; at < n; at += opts.batchSize) {
      const b = Math.min(opts.batchSize, n - at);
      const outs = tf.tidy(() => {
        const input = tf.tensor(x.subarray(at * sampleSize, (at + b) * sampleSize), [b, ...inputShape]); // [b, mels, frames, 1]
        return probeModel.apply(input, { training: false }) as tf.Tensor[];
      });
      try {
        for (let p = 0; p < outputs.length; p++) {
          const data = await outs[p]!.data<'float32'>(); // [b, spatial…, C]
          const per = data.length / b;
          const pl = plans[p + 1]!;
          for (let i = 0; i < b; i++) feats[p + 1]!.set(adaptiveAvgPool(data.subarray(i * per, (i + 1) * per), pl.spatial, pl.channels, pl.out), (at + i) * pl.dims);
        }
        const logits = await outs[outputs.length]!.data<'float32'>(); // [b, K]
        for (let i = 0; i < b; i++) {
          let best = 0;
          for (let c = 1; c < numClasses; c++) if (logits[i * numClasses + c]! > logits[i * numClasses + best]!) best = c;
          final[at + i] = best;
        }
      } finally {
        tf.dispose(outs);
      }
    }
  } finally {
    model.dispose();
  }
  const probes = feats.map((f, p) => knnPredict(f, n, plans[p]!.dims, labels, numClasses, opts.k));
  return {
    depth: predictionDepth(probes, final),
    // Layer index and class: auto-generated layer names carry a process-wide counter.
    probes: [{ name: 'input', dims: plans[0]!.dims }, ...layers.map((l, p) => ({ name: `${model.layers.indexOf(l)}/${l.name === 'embedding' ? 'embedding' : l.getClassName()}`, dims: plans[p + 1]!.dims }))],
  };
}
