import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.js';
import { buildModel, ModelSchema } from './models.js';
import { adam, FusedAdam } from './adam.js';
import { withEnv } from '../../../test/helpers.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength)));

/** Three steps (the learning rate changed before the third, as a schedule does); weights, optimizer state, kernels per step. */
async function run(optimizer: tf.Optimizer): Promise<{ weights: number[][]; state: number[][]; kernels: Map<string, number> }> {
  const model = await buildModel(ModelSchema.parse({ name: 'cnn4', filters: [4, 8] }), [8, 16, 1], 3, 5);
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  const x = tf.randomNormal([5, 8, 16, 1], 0, 1, 'float32', 9);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1], 'int32'), 3);
  await model.trainOnBatch(x, y);
  const p = await tf.profile(() => model.trainOnBatch(x, y));
  Reflect.set(optimizer, 'learningRate', 3e-3);
  await model.trainOnBatch(x, y);
  const kernels = new Map<string, number>();
  for (const k of p.kernels) if (!k.name.includes('__op')) kernels.set(k.name, (kernels.get(k.name) ?? 0) + 1);
  const weights = await Promise.all(model.getWeights().map(async (w) => bits((await w.data()) as Float32Array)));
  const state = await Promise.all((await optimizer.getWeights()).map(async (w) => bits((await w.tensor.data()) as Float32Array)));
  tf.dispose([x, y]);
  model.dispose();
  optimizer.dispose();
  return { weights, state, kernels };
}

describe('FusedAdam', () => {
  it('gives tf.train.adam’s weights and state bit for bit, one kernel per variable a step, through the SIMD kernel and the JS loop', async () => {
    // With the kernels' fused multiply-adds (the default here)…
    const want = await run(tf.train.adam(1e-2));
    const fused = await run(adam(1e-2));
    // …and without: the JS loop (CONNO_SIMD_KERNELS=0) runs the convolutions without them too, so
    // all three compare with the convolutions' mul-add build.
    const wantMulAdd = await withEnv({ CONNO_WASM_FMA: '0' }, () => run(tf.train.adam(1e-2)));
    const fusedMulAdd = await withEnv({ CONNO_WASM_FMA: '0' }, () => run(adam(1e-2)));
    const js = await withEnv({ CONNO_SIMD_KERNELS: '0' }, () => run(adam(1e-2)));
    // cnn4 [4, 8] with batchnorm: 2 conv kernels, 2 × (gamma, beta), dense kernel and bias.
    expect(fused.kernels.get('ConnoAdamUpdate')).toBe(8);
    expect(want.kernels.get('ConnoAdamUpdate')).toBeUndefined();
    expect(fused.kernels.get('Sqrt') ?? 0).toBe(0);
    expect(want.kernels.get('Sqrt')).toBe(8);
    expect(fused.weights).toEqual(want.weights);
    expect(fused.state).toEqual(want.state);
    for (const got of [fusedMulAdd, js]) {
      expect(got.weights).toEqual(wantMulAdd.weights);
      expect(got.state).toEqual(wantMulAdd.state);
    }
  });

  it('is an Adam to the rest of TensorFlow.js: its class name, and tf.train.adam’s defaults', () => {
    const o = adam(1e-3);
    expect(o).toBeInstanceOf(FusedAdam);
    expect(o.getClassName()).toBe('Adam');
    expect(o.getConfig()).toEqual(tf.train.adam(1e-3).getConfig());
    o.dispose();
  });
});
