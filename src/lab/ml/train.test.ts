/**
 * The training loop on tiny synthetic data with the `cpu` backend: determinism, no tensor leak,
 * curves and dynamics, early stopping, memorisation of noisy labels.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.js';
import { epochDynamics } from './dynamics.js';
import { learningRate, namedWeights, shuffled, trainClassifier, type Samples } from './train.js';
import { TrainParamsSchema, type TrainParams } from './params.js';
import { NoiseRng } from '../noise/random.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const MELS = 8;
const FRAMES = 8;

/**
 * K classes; class c lights up mel rows 2c and 2c+1 (an easy problem) over Gaussian noise, which
 * makes every sample distinct (so noisy labels can be memorised). `noise` of the train labels
 * are flipped symmetrically to another class.
 */
function tinyData(opts: { k?: number; perClass?: Record<string, number>; noise?: number; signal?: number; seed?: number; mels?: number } = {}): Samples {
  const mels = opts.mels ?? MELS;
  const k = opts.k ?? 4;
  const perClass = opts.perClass ?? { train: 20, dev: 8, test: 8 };
  const rng = new NoiseRng(opts.seed ?? 7);
  const xs: number[] = [];
  const labels: number[] = [];
  const orig: number[] = [];
  const splits: string[] = [];
  for (const [split, count] of Object.entries(perClass)) {
    for (let c = 0; c < k; c++) {
      for (let j = 0; j < count; j++) {
        for (let m = 0; m < mels; m++) for (let f = 0; f < FRAMES; f++) xs.push(rng.normal() + (Math.floor(m / 2) === c ? (opts.signal ?? 1.5) : 0));
        orig.push(c);
        const flip = split === 'train' && rng.next() < (opts.noise ?? 0);
        labels.push(flip ? (c + 1 + rng.int(k - 1)) % k : c);
        splits.push(split);
      }
    }
  }
  const l = Int32Array.from(labels);
  return {
    x: Float32Array.from(xs),
    shape: [mels, FRAMES],
    labels: l,
    labelsOrig: Int32Array.from(orig),
    flipped: labels.map((y, i) => y !== orig[i]),
    targetEps: null,
    splits,
    numClasses: k,
  };
}

const params = (over: Record<string, unknown> = {}): TrainParams =>
  TrainParamsSchema.parse({ model: { name: 'mlp', hidden: [16] }, epochs: 4, batch_size: 16, seed: 3, backend: 'cpu', optimizer: { lr: 0.01 }, ...over });

async function weightsOf(model: Awaited<ReturnType<typeof trainClassifier>>['model']): Promise<Float32Array[]> {
  return Promise.all(namedWeights(model).map(async (w) => Float32Array.from(await w.tensor.data())));
}

describe('trainClassifier', () => {
  it('is deterministic: same seed, bit-identical weights; another seed differs', async () => {
    const data = tinyData();
    const p = params({ model: { name: 'cnn4', filters: [4, 8], dropout: 0.3 }, spec_augment: { freq_width: 2, time_width: 2 }, time_shift: { max_shift: 2 }, mixup: { alpha: 0.4, warmup_epochs: 1 }, epochs: 3 });
    const a = await trainClassifier(data, p);
    const b = await trainClassifier(data, p);
    const c = await trainClassifier(data, { ...p, seed: 4 });
    const [wa, wb, wc] = await Promise.all([weightsOf(a.model), weightsOf(b.model), weightsOf(c.model)]);
    expect(wa.length).toBe(wb.length);
    wa.forEach((w, i) => expect(Buffer.from(w.buffer).equals(Buffer.from(wb[i]!.buffer)), namedWeights(a.model)[i]!.name).toBe(true));
    expect(wa.some((w, i) => !Buffer.from(w.buffer).equals(Buffer.from(wc[i]!.buffer)))).toBe(true);
    expect(namedWeights(a.model).map((w) => w.name)).toEqual(namedWeights(b.model).map((w) => w.name));
    [a, b, c].forEach((r) => r.model.dispose());
  }, 60_000);

  it('leaks no tensors across epochs', async () => {
    const data = tinyData({ mels: 16, perClass: { train: 4, dev: 2 } }); // waspaa19 pools mels by 4 twice
    // Warm up once: tfjs keeps a few tensors alive for the process (optimizer scalars, kernels' caches).
    (await trainClassifier(data, params({ epochs: 1 }))).model.dispose();
    const before = tf.memory().numTensors;
    const one = await trainClassifier(data, params({ epochs: 1, model: { name: 'waspaa19', dropout: 0.5 }, batch_size: 8 }));
    one.model.dispose();
    const afterOne = tf.memory().numTensors;
    const three = await trainClassifier(data, params({ epochs: 3, model: { name: 'waspaa19', dropout: 0.5 }, batch_size: 8, early_stopping: { patience: 5 } }));
    three.model.dispose();
    expect(tf.memory().numTensors).toBe(afterOne);
    expect(afterOne).toBe(before);
  }, 60_000);

  it('records one curve row per epoch and dynamics for every train sample', async () => {
    const data = tinyData();
    const r = await trainClassifier(data, params({ epochs: 5 }));
    expect(r.curves.map((c) => c.epoch)).toEqual([0, 1, 2, 3, 4]);
    expect(r.dynamics.length).toBe(5);
    expect(r.trainRows.length).toBe(80);
    for (const d of r.dynamics) {
      expect(d.loss.length).toBe(80);
      d.margin.forEach((m, i) => expect(m > 0).toBe(d.correctGiven[i]));
    }
    expect(r.curves.at(-1)!.train_acc).toBeGreaterThan(0.9);
    expect(r.curves.at(-1)!.dev_acc).toBeGreaterThan(0.8);
    expect(Number.isNaN(r.curves[0]!.flipped_acc_noisy)).toBe(true); // no flipped samples
    expect(r.bestEpoch).toBe(4);
    r.model.dispose();
  }, 60_000);

  it('early stopping stops on dev and restores the best epoch', async () => {
    // Few train samples and a big lr: dev loss rises again quickly.
    const data = tinyData({ perClass: { train: 3, dev: 10 }, noise: 0.3, signal: 0.6 });
    const r = await trainClassifier(data, params({ epochs: 30, optimizer: { lr: 0.05 }, model: { name: 'mlp', hidden: [64] }, early_stopping: { patience: 3, monitor: 'dev_loss' } }));
    const devLoss = r.curves.map((c) => c.dev_loss);
    const best = devLoss.indexOf(Math.min(...devLoss));
    expect(r.bestEpoch).toBe(best);
    expect(r.stoppedEarly).toBe(true);
    expect(r.curves.length).toBe(best + 4);
    // The weights are the best epoch's: recomputing dev loss gives its value.
    const { predictLogits, rowsOfSplit } = await import('./train.js');
    const dev = rowsOfSplit(data, 'dev');
    const d = epochDynamics(await predictLogits(r.model, data, dev, 64), 4, Array.from(dev, (i) => data.labels[i]!), Array.from(dev, (i) => data.labels[i]!));
    expect(d.loss.reduce((a, b) => a + b, 0) / dev.length).toBeCloseTo(devLoss[best]!, 5);
    r.model.dispose();
  }, 60_000);

  it('early stopping without a dev split is an error, not a silent full run', async () => {
    const data = tinyData({ perClass: { train: 3 } });
    await expect(trainClassifier(data, params({ epochs: 3, early_stopping: { patience: 2 } }))).rejects.toThrow("early_stopping monitors the 'dev' split, and the features table has none");
  });

  it('memorises noisy labels: accuracy of flipped samples on their noisy labels climbs', async () => {
    const data = tinyData({ perClass: { train: 30 }, noise: 0.4 });
    const r = await trainClassifier(data, params({ epochs: 60, batch_size: 32, model: { name: 'mlp', hidden: [128] }, loss: { name: 'ce' } }));
    const mem = r.curves.map((c) => c.flipped_acc_noisy);
    expect(mem[0]).toBeLessThan(0.3);
    expect(mem.at(-1)! - mem[0]!).toBeGreaterThan(0.4);
    // Clean-label accuracy is learned first (early learning).
    expect(Math.max(...r.curves.slice(0, 10).map((c) => c.train_acc_orig))).toBeGreaterThan(0.8);
    r.model.dispose();
  }, 60_000);

  it('trains with soft targets, gce, loss masking and pruning', async () => {
    const data = { ...tinyData(), targetEps: new Float32Array(tinyData().labels.length).fill(0.1) };
    const masked = await trainClassifier(data, params({ loss: { name: 'gce' }, two_stage: { method: 'mask', start_epoch: 1, percentile: 90, loss: { name: 'gce', q: 0.5 } } }));
    expect(masked.curves.at(-1)!.train_acc).toBeGreaterThan(0.8);
    masked.model.dispose();
    const pruned = await trainClassifier(data, params({ two_stage: { method: 'prune', start_epoch: 2, percentile: 90 }, optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9, weight_decay: 1e-3 }, lr_schedule: { name: 'cosine' } }));
    expect(pruned.curves.map((c) => c.train_samples)).toEqual([80, 80, 72, 72]);
    expect(pruned.dynamics.at(-1)!.loss.length).toBe(80);
    pruned.model.dispose();
  }, 60_000);
});

describe('across processes', () => {
  it('two node processes (dist/) train bit-identical weights', async () => {
    const { execFileSync } = await import('node:child_process');
    const path = await import('node:path');
    const repo = path.resolve(import.meta.dirname, '..', '..', '..');
    const script = `
      const { initBackend } = await import('./dist/src/lab/ml/backend.js');
      const { trainClassifier, namedWeights } = await import('./dist/src/lab/ml/train.js');
      const { TrainParamsSchema } = await import('./dist/stages/train/params.js');
      const { createHash } = await import('node:crypto');
      await initBackend('cpu');
      const n = 48, size = 64, x = new Float32Array(n * size);
      for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.37) + (Math.floor((i % size) / 16) === Math.floor(i / size) % 4 ? 1 : 0);
      const labels = Int32Array.from({ length: n }, (_, i) => i % 4);
      const samples = { x, shape: [8, 8], labels, labelsOrig: labels, flipped: new Array(n).fill(false), targetEps: null, splits: new Array(n).fill('train'), numClasses: 4 };
      const p = TrainParamsSchema.parse({ model: { name: 'cnn4', filters: [4], dropout: 0.3 }, epochs: 2, batch_size: 8, seed: 5, backend: 'cpu', spec_augment: { freq_width: 2, time_width: 2 } });
      const r = await trainClassifier(samples, p);
      const h = createHash('sha256');
      for (const w of namedWeights(r.model)) h.update(w.name).update(Buffer.from((await w.tensor.data()).buffer));
      process.stdout.write(h.digest('hex'));`;
    const run = () => execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const a = run();
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(run()).toBe(a);
  }, 60_000);
});

describe('helpers', () => {
  it('learning-rate schedules', () => {
    expect(learningRate(0.1, { name: 'step', step_size: 2, gamma: 0.5 }, 5, 10)).toBeCloseTo(0.025);
    expect(learningRate(0.1, { name: 'cosine', min_lr: 0 }, 0, 5)).toBeCloseTo(0.1);
    expect(learningRate(0.1, { name: 'cosine', min_lr: 0.01 }, 4, 5)).toBeCloseTo(0.01);
  });
  it('shuffles by (seed, epoch)', () => {
    const rows = Int32Array.from({ length: 20 }, (_, i) => i);
    expect(shuffled(rows, 1, 0)).toEqual(shuffled(rows, 1, 0));
    expect(shuffled(rows, 1, 0)).not.toEqual(shuffled(rows, 1, 1));
    expect([...shuffled(rows, 1, 0)].sort((a, b) => a - b)).toEqual([...rows]);
  });
  it('dynamics of given logits', () => {
    const d = epochDynamics(Float32Array.from([2, 0, 0, 0, 1, 3]), 3, [0, 1], [0, 2]);
    expect(d.correctGiven).toEqual([true, false]);
    expect(d.correctOrig).toEqual([true, true]);
    expect(d.margin[0]).toBeCloseTo(2);
    expect(d.margin[1]).toBeCloseTo(-2);
    expect(d.loss[0]).toBeCloseTo(-Math.log(Math.exp(2) / (Math.exp(2) + 2)), 5);
  });
});
