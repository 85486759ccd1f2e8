/**
 * Occlusion maps on toy models whose answer is known: a plain function that looks at one region of
 * the spectrogram, and the same model as a TensorFlow.js network (through src/lab/eval/model.ts, as
 * the stage runs it), whose gradient saliency is checked against the analytic gradient.
 */
import { describe, expect, it } from 'vitest';
import { occlusionMap, patchStarts, pickSaliencyRows, type ProbabilityFn } from './saliency.js';

const MELS = 6;
const FRAMES = 10;
/** The toy model's evidence for class 1: cells in mel rows 2–3, frames 4–7, weight 0.5 each. */
const inRegion = (m: number, f: number): boolean => m >= 2 && m <= 3 && f >= 4 && f <= 7;
const WEIGHTS = Float32Array.from({ length: MELS * FRAMES }, (_, i) => (inRegion(Math.floor(i / FRAMES), i % FRAMES) ? 0.5 : 0));

/** Two classes: logit_1 = Σ w·x, logit_0 = 0. */
const toyModel: ProbabilityFn = async (x, count) => {
  const size = MELS * FRAMES;
  const out = new Float64Array(count * 2);
  for (let b = 0; b < count; b++) {
    let z = 0;
    for (let i = 0; i < size; i++) z += WEIGHTS[i]! * x[b * size + i]!;
    out[b * 2] = 1 / (1 + Math.exp(z));
    out[b * 2 + 1] = 1 - out[b * 2]!;
  }
  return out;
};

const input = Float32Array.from({ length: MELS * FRAMES }, (_, i) => 0.2 + ((i * 7) % 5) / 10);
const zeros = new Float32Array(MELS);

describe('occlusion saliency', () => {
  it('patch positions cover every cell, the last flush with the edge', () => {
    expect(patchStarts(10, 2, 2)).toEqual([0, 2, 4, 6, 8]);
    expect(patchStarts(10, 4, 3)).toEqual([0, 3, 6]);
    expect(patchStarts(11, 4, 3)).toEqual([0, 3, 6, 7]);
    expect(patchStarts(4, 4, 1)).toEqual([0]);
    expect(() => patchStarts(3, 4, 1)).toThrow(/patch of 4 is larger than the input's 3/);
  });

  it('with patches tiling the input, the map is the drop of the true-class probability exactly where the model looks', async () => {
    const r = await occlusionMap(toyModel, input, [MELS, FRAMES], 1, { patch: [2, 2], stride: [2, 2], fill: zeros, batchSize: 7 });
    let z = 0;
    for (let i = 0; i < input.length; i++) z += WEIGHTS[i]! * input[i]!;
    const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
    expect(r.pTarget).toBeCloseTo(sigmoid(z), 12);
    for (let m = 0; m < MELS; m++) {
      for (let f = 0; f < FRAMES; f++) {
        const v = r.map[m * FRAMES + f]!;
        if (!inRegion(m, f)) {
          expect(v, `cell ${m},${f}`).toBe(0);
          continue;
        }
        // The 2×2 patch holding (m, f): its cells' evidence is removed.
        const pm = m - (m % 2);
        const pf = f - (f % 2);
        let removed = 0;
        for (let a = pm; a < pm + 2; a++) for (let b = pf; b < pf + 2; b++) removed += WEIGHTS[a * FRAMES + b]! * input[a * FRAMES + b]!;
        expect(v).toBeCloseTo(sigmoid(z) - sigmoid(z - removed), 6);
        expect(v).toBeGreaterThan(0);
      }
    }
  });

  it('overlapping patches average the drops of the positions covering a cell; the fill is the occluder', async () => {
    const fill = new Float32Array(MELS).fill(3); // hiding with a large value raises class 1 inside the region
    const r = await occlusionMap(toyModel, input, [MELS, FRAMES], 1, { patch: [2, 3], stride: [1, 1], fill, batchSize: 64 });
    // A cell two frames left of the region is covered by patches reaching into it: negative drop (hiding helps).
    expect(r.map[2 * FRAMES + 2]!).toBeLessThan(0);
    // Far from the region, no patch position covering the cell touches it.
    expect(r.map[0 * FRAMES + 0]!).toBe(0);
    expect(r.map[5 * FRAMES + 9]!).toBe(0);
    // Target class 0 sees the opposite drops.
    const r0 = await occlusionMap(toyModel, input, [MELS, FRAMES], 0, { patch: [2, 3], stride: [1, 1], fill, batchSize: 5 });
    for (let i = 0; i < input.length; i++) expect(r0.map[i]!).toBeCloseTo(-r.map[i]!, 6);
  });

  it('checks its inputs', async () => {
    await expect(occlusionMap(toyModel, input, [MELS, FRAMES], 2, { patch: [2, 2], stride: [2, 2], fill: zeros, batchSize: 4 })).rejects.toThrow(/target class 2 is not in 0..1/);
    await expect(occlusionMap(toyModel, input, [MELS, FRAMES], 0, { patch: [2, 2], stride: [2, 2], fill: new Float32Array(3), batchSize: 4 })).rejects.toThrow(/fill has 3 bands/);
  });
});

describe('saliency clip choice', () => {
  it('first clip (by clip id) of each class in class order, then the second of each', () => {
    const ids = ['d', 'a', 'c', 'b', 'e', 'f'];
    const labels = [1, 2, 0, 0, 1, 2];
    expect(pickSaliencyRows(ids, labels, 3, 2)).toEqual([3, 0]); // b (class 0), d (class 1)
    expect(pickSaliencyRows(ids, labels, 3, 4)).toEqual([3, 0, 1, 2]); // … a (class 2), c (class 0 again)
    expect(pickSaliencyRows(ids, labels, 3, 99)).toHaveLength(6);
    expect(pickSaliencyRows(ids, labels, 4, 4)).toEqual([3, 0, 1, 2]); // class 3 has no clip
  });
});

describe('a TensorFlow.js toy model (as evaluate-ood runs it)', () => {
  it('gives the same occlusion map as the plain function, gradient saliency matches the analytic gradient p(1−p)·w, and leaks no tensors', async () => {
    const { initBackend } = await import('../ml/backend.js');
    await initBackend('wasm');
    const tf = await import('@tensorflow/tfjs-core');
    const tfl = await import('@tensorflow/tfjs-layers');
    const { probabilityFn, gradientSaliency, runModel } = await import('./model.js');
    // [mels, frames, 1] → flatten → dense 2 with kernel [w | 0]: logit_1 = Σ w·x, logit_0 = 0.
    const inp = tfl.input({ shape: [MELS, FRAMES, 1] });
    const flat = tfl.layers.flatten({ name: 'embedding' }).apply(inp) as import('@tensorflow/tfjs-layers').SymbolicTensor;
    const out = tfl.layers.dense({ units: 2, name: 'logits' }).apply(flat) as import('@tensorflow/tfjs-layers').SymbolicTensor;
    const model = tfl.model({ inputs: inp, outputs: out });
    const kernel = new Float32Array(MELS * FRAMES * 2);
    WEIGHTS.forEach((w, i) => (kernel[i * 2 + 1] = w));
    model.setWeights([tf.tensor2d(kernel, [MELS * FRAMES, 2]), tf.zeros([2])]);
    const before = tf.memory().numTensors;
    try {
      const opt = { patch: [2, 3] as const, stride: [1, 2] as const, fill: zeros, batchSize: 16 };
      const want = await occlusionMap(toyModel, input, [MELS, FRAMES], 1, opt);
      const got = await occlusionMap(probabilityFn(model, [MELS, FRAMES], 2, 16), input, [MELS, FRAMES], 1, opt);
      for (let i = 0; i < input.length; i++) expect(got.map[i]!).toBeCloseTo(want.map[i]!, 5);

      const emb = await runModel(model, input, 1, [MELS, FRAMES], 2, 8);
      expect(emb.embeddingSize).toBe(MELS * FRAMES);
      expect(Array.from(emb.embeddings)).toEqual(Array.from(input));

      // d p1 / d x_i = p1 (1 − p1) w_i: zero outside the region.
      const g = await gradientSaliency(model, input, [MELS, FRAMES], 1);
      const p1 = want.pTarget;
      expect(g.probs[1]!).toBeCloseTo(p1, 6);
      for (let i = 0; i < input.length; i++) expect(g.map[i]!).toBeCloseTo(p1 * (1 - p1) * WEIGHTS[i]!, 6);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      model.dispose();
    }
  });
});
