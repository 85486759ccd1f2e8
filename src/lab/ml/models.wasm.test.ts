import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.js';
import { buildModel, ModelSchema } from './models.js';

beforeAll(async () => {
  await initBackend('wasm');
});

/** Two Adam steps on fixed data; the weights after them, and how often each kernel ran in the second. */
async function train(fused: boolean, batchnorm = true): Promise<{ weights: Float32Array[]; kernels: Map<string, number> }> {
  const model = await buildModel(ModelSchema.parse({ name: 'cnn4', filters: [4, 8, 8], batchnorm }), [16, 32, 1], 5, 7);
  // The layers as tfjs-layers runs them: fused.conv2d (the prototype's call).
  if (fused) for (const l of model.layers) if (l.getClassName() === 'Conv2D') delete (l as unknown as { call?: unknown }).call;
  model.compile({ optimizer: tf.train.adam(1e-2), loss: 'categoricalCrossentropy' });
  const x = tf.randomNormal([6, 16, 32, 1], 0, 1, 'float32', 3);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 0], 'int32'), 5);
  await model.trainOnBatch(x, y);
  const p = await tf.profile(() => model.trainOnBatch(x, y));
  const kernels = new Map<string, number>();
  for (const k of p.kernels) if (!k.name.includes('__op')) kernels.set(k.name, (kernels.get(k.name) ?? 0) + 1);
  const weights = await Promise.all(model.getWeights().map(async (w) => (await w.data()) as Float32Array));
  tf.dispose([x, y]);
  model.dispose();
  return { weights, kernels };
}

describe('cnn4 on wasm', () => {
  it.each([
    ['with batchnorm (bias-free convolutions: plain conv2d)', true],
    ['without batchnorm (convolutions with a bias: FusedConv2D with a lazy gradient)', false],
  ])('%s: no input gradient for the first layer, the same bits as fused.conv2d', async (_, batchnorm) => {
    const plain = await train(false, batchnorm);
    const fused = await train(true, batchnorm);
    // Three convolutions: the fused op also computes the gradient of the model's input.
    expect(fused.kernels.get('Conv2DBackpropInput')).toBe(3);
    expect(plain.kernels.get('Conv2DBackpropInput')).toBe(2);
    expect(plain.kernels.get('Conv2DBackpropFilter')).toBe(3);
    expect(plain.weights.length).toBe(fused.weights.length);
    plain.weights.forEach((w, i) => expect(Buffer.from(w.buffer, w.byteOffset, w.byteLength).equals(Buffer.from(fused.weights[i]!.buffer, fused.weights[i]!.byteOffset, fused.weights[i]!.byteLength))).toBe(true));
  });
});
