import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { buildModel, ModelSchema } from './models.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

async function weightsOf(m: Awaited<ReturnType<typeof buildModel>>): Promise<Float32Array[]> {
  return Promise.all(m.getWeights().map(async (w) => (await w.data()) as Float32Array));
}

describe('models', () => {
  it('cnn4 is the speed reference model: 61,402 parameters on 64×128 inputs', async () => {
    const m = await buildModel(ModelSchema.parse({ name: 'cnn4' }), [64, 128, 1], 10, 1);
    expect(m.countParams()).toBe(61_402);
    const y = m.predict(tf.zeros([2, 64, 128, 1])) as tf.Tensor;
    expect(y.shape).toEqual([2, 10]);
    expect(m.getLayer('embedding').outputShape).toEqual([null, 64]);
    y.dispose();
    m.dispose();
  });

  it('waspaa19, tcresnet8 and mlp build with the expected output and embedding shapes', async () => {
    const w = await buildModel(ModelSchema.parse({ name: 'waspaa19' }), [96, 100, 1], 20, 1);
    expect(w.outputs[0]!.shape).toEqual([null, 20]);
    expect(w.getLayer('embedding').outputShape).toEqual([null, 64]);
    // conv 5×5: 1·24·25+24, 24·48·25+48, 48·48·25+48; dense (96/16·100/4·48)→64; 64→20.
    expect(w.countParams()).toBe(624 + 28_848 + 57_648 + (6 * 25 * 48 * 64 + 64) + (64 * 20 + 20));
    const t = await buildModel(ModelSchema.parse({ name: 'tcresnet8' }), [40, 101, 1], 12, 1);
    expect(t.outputs[0]!.shape).toEqual([null, 12]);
    expect(t.getLayer('embedding').outputShape).toEqual([null, 48]);
    const h = await buildModel(ModelSchema.parse({ name: 'mlp', hidden: [32] }), [64], 5, 1);
    expect(h.countParams()).toBe(64 * 32 + 32 + 32 * 5 + 5);
    for (const m of [w, t, h]) m.dispose();
  });

  it('the same seed builds identical weights, another seed different ones', async () => {
    const cfg = ModelSchema.parse({ name: 'cnn4' });
    const a = await weightsOf(await buildModel(cfg, [16, 16, 1], 3, 7));
    const b = await weightsOf(await buildModel(cfg, [16, 16, 1], 3, 7));
    const c = await weightsOf(await buildModel(cfg, [16, 16, 1], 3, 8));
    expect(a.length).toBe(b.length);
    a.forEach((w, i) => expect(Buffer.from(w.buffer).equals(Buffer.from(b[i]!.buffer))).toBe(true));
    expect(Buffer.from(a[0]!.buffer).equals(Buffer.from(c[0]!.buffer))).toBe(false);
  });

  it('transformer: patch tokens, attention blocks and a mean-pooled embedding, with the expected parameters', async () => {
    const cfg = ModelSchema.parse({ name: 'transformer', patch: [4, 5], dim: 16, depth: 1, heads: 2, mlp: 32, dropout: 0 });
    const m = await buildModel(cfg, [16, 20, 1], 3, 1);
    // conv 4·5·16+16; positions 16 tokens × 16; block: 2 layer norms 2·32, attention 4·(16·16+16),
    // MLP 16·32+32 + 32·16+16; final layer norm 32; logits 16·3+3.
    expect(m.countParams()).toBe(336 + 256 + (64 + 1088 + 544 + 528) + 32 + 51);
    expect(m.getLayer('embedding').outputShape).toEqual([null, 16]);
    const y = m.predict(tf.zeros([2, 16, 20, 1])) as tf.Tensor;
    expect(y.shape).toEqual([2, 3]);
    y.dispose();
    m.dispose();
    expect(() => ModelSchema.parse({ name: 'transformer', dim: 30, heads: 4 })).toThrow(/multiple of heads/);
    await expect(buildModel(ModelSchema.parse({ name: 'transformer', patch: [32, 10] }), [16, 20, 1], 3, 1)).rejects.toThrow(/patch \[32, 10\] is larger than the input \[16, 20\]/);
  });

  it('transformer learns on the wasm backend (attention gradients), deterministically', async () => {
    const { initBackend } = await import('./backend.js');
    await initBackend('wasm');
    try {
      const train = async () => {
        const cfg = ModelSchema.parse({ name: 'transformer', patch: [4, 4], dim: 16, depth: 1, heads: 2, mlp: 32, dropout: 0 });
        const m = await buildModel(cfg, [8, 8, 1], 2, 3);
        // Class 1: energy in the top-left patch; class 0: in the bottom-right one.
        const n = 32;
        const x = new Float32Array(n * 64);
        const labels = Int32Array.from({ length: n }, (_, i) => i % 2);
        for (let i = 0; i < n; i++) {
          for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) x[i * 64 + (labels[i] ? r * 8 + c : (r + 4) * 8 + c + 4)] = 1 + ((i * 7 + r * 3 + c) % 5) / 10;
        }
        const xs = tf.tensor4d(x, [n, 8, 8, 1]);
        const ys = tf.oneHot(tf.tensor1d(labels, 'int32'), 2);
        const opt = tf.train.adam(0.01);
        const losses: number[] = [];
        for (let step = 0; step < 30; step++) {
          const l = opt.minimize(() => tf.losses.softmaxCrossEntropy(ys, m.apply(xs, { training: true }) as tf.Tensor) as tf.Scalar, true)!;
          losses.push((await l.data())[0]!);
          l.dispose();
        }
        const w = await Promise.all(m.getWeights().map((t) => t.data()));
        tf.dispose([xs, ys]);
        opt.dispose();
        m.dispose();
        return { losses, w };
      };
      const a = await train();
      expect(a.losses.at(-1)!).toBeLessThan(0.1 * a.losses[0]!);
      const b = await train();
      a.w.forEach((v, i) => expect(Buffer.from((v as Float32Array).buffer).equals(Buffer.from((b.w[i] as Float32Array).buffer))).toBe(true));
    } finally {
      await tf.setBackend('cpu');
    }
  });
});
