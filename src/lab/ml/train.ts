/**
 * The training loop of the train stage, on TensorFlow.js: seeded initialisation, per-epoch seeded
 * shuffling, augmentation and dropout, a configurable loss (src/lab/ml/losses-config.ts), the
 * two-stage methods of waspaa19, early stopping on the dev split, and per-sample records after
 * every epoch. The backend must be started first (initBackend, src/lab/ml/backend.ts).
 *
 * Determinism: every random choice comes from NoiseRng streams keyed by (seed, epoch, purpose);
 * given the same data, parameters and backend the weights are bit-identical in any process.
 *
 * Splits: the model learns from `train` only; `dev` (if present) is evaluated after each epoch
 * for the curves and early stopping; every other split (test, holdout, noisy copies) is only
 * predicted by the final model, by the caller.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { NoiseRng, hashText, mix32 } from '../noise/random.js';
import { unreachable } from '../../core/util/errors.js';
import type { LrSchedule, TrainParams } from './params.js';
import { mixup, mixupActive, specAugment, timeShift } from './augment.js';
import { epochDynamics, meanWhere, type EpochDynamics } from './dynamics.js';
import { createLoss, type Loss } from './losses-config.js';
import { maskLargeLosses, pruneByLoss, secondStage } from './losses-twostage.js';
import { buildModel } from './models.js';
import { adam } from './adam.js';
import { applyInitialWeights, type InitialWeights } from './weights.js';

export { applyInitialWeights, namedWeights, type InitialWeights } from './weights.js';
import { InputError } from '../../core/util/errors.js';
import { curriculumOrder, pacedDraws, pacingShare, permuted, poolSize } from './curriculum.js';

/** Samples in memory: row-major features [n × mels × frames] and their labels. */
export interface Samples {
  x: Float32Array;
  /** [mels, frames] of one sample (the model's input is [mels, frames, 1]). */
  shape: readonly [number, number];
  /** The given (possibly noisy) labels [n]. */
  labels: Int32Array;
  /** The labels before label noise [n] (= labels when no noise was injected). */
  labelsOrig: Int32Array;
  /** label ≠ label_orig [n]. */
  flipped: boolean[];
  /** Label-smoothing ε of each sample's target [n] (target_eps), or null for hard labels. */
  targetEps: Float32Array | null;
  splits: readonly string[];
  numClasses: number;
  /** Difficulty of each row [n] (higher = harder; NaN off the train split): the curriculum's order. */
  difficulty?: Float64Array;
}

/** One row of the curves, after epoch `epoch` (from 0). NaN where a value does not exist. */
export interface EpochCurve {
  epoch: number;
  lr: number;
  /** Mean of the minimised loss over the epoch's batches (training mode, augmented). */
  objective: number;
  /** Train samples this epoch draws from: all of them, fewer after pruning or while a curriculum paces them in. */
  train_samples: number;
  /** Inference-mode cross-entropy and accuracy on the given train labels. */
  train_loss: number;
  train_acc: number;
  /** Accuracy on the original labels of the train split (what the noisy labels hide). */
  train_acc_orig: number;
  /** Memorisation: accuracy of the flipped train samples on their noisy (given) labels. */
  flipped_acc_noisy: number;
  dev_loss: number;
  dev_acc: number;
}

export interface TrainResult {
  model: tfl.LayersModel;
  curves: EpochCurve[];
  /** Row indices (into Samples) of the train samples, the rows of each `dynamics` entry. */
  trainRows: Int32Array;
  /** One record per epoch run, for every train sample. */
  dynamics: EpochDynamics[];
  /** The epoch whose weights the model holds (the last, or the best dev epoch with early stopping). */
  bestEpoch: number;
  stoppedEarly: boolean;
  /** Training throughput (optimizer steps only, excluding evaluation). */
  samplesPerSecond: number;
  secondsPerEpoch: number;
}

export function rowsOfSplit(samples: Samples, split: string): Int32Array {
  const rows: number[] = [];
  samples.splits.forEach((s, i) => {
    if (s === split) rows.push(i);
  });
  return Int32Array.from(rows);
}

/** A clip's cross-validation fold in [0, folds): a hash of its id and the fold seed alone. */
export function crossValidationFold(clipId: string, folds: number, seed: number): number {
  return hashText(clipId, mix32(seed ^ 0x63762d66)) % folds;
}

/** The learning rate of epoch e (from 0) of a run of `epochs` epochs. */
export function learningRate(base: number, schedule: LrSchedule, epoch: number, epochs: number): number {
  switch (schedule.name) {
    case 'constant':
      return base;
    case 'step':
      return base * schedule.gamma ** Math.floor(epoch / schedule.step_size);
    case 'cosine': {
      const t = epochs <= 1 ? 1 : epoch / (epochs - 1);
      return schedule.min_lr + 0.5 * (base - schedule.min_lr) * (1 + Math.cos(Math.PI * t));
    }
    default:
      return unreachable(schedule);
  }
}

/** Fisher–Yates shuffle drawn from the epoch's own stream (NoiseRng(seed, epoch)). */
export function shuffled(rows: Int32Array, seed: number, epoch: number): Int32Array {
  return permuted(rows, new NoiseRng(seed, epoch));
}

/** Purposes of the per-epoch random streams NoiseRng(seed, epoch, purpose). */
const STREAM = { augment: 1, dropout: 2 } as const;

/** The batch's inputs [b, mels, frames, 1]. */
export function batchInput(samples: Samples, rows: ArrayLike<number>): tf.Tensor4D {
  const [mels, frames] = samples.shape;
  const size = mels * frames;
  const buf = new Float32Array(rows.length * size); // [b × mels × frames]
  for (let i = 0; i < rows.length; i++) buf.set(samples.x.subarray(rows[i]! * size, (rows[i]! + 1) * size), i * size);
  return tf.tensor4d(buf, [rows.length, mels, frames, 1]);
}

/** Training targets: int labels [b], or (1−ε)·onehot + ε/K [b, K] when some ε > 0. */
function batchTargets(samples: Samples, rows: ArrayLike<number>, forceSoft: boolean): tf.Tensor1D | tf.Tensor2D {
  const eps = samples.targetEps;
  const soft = forceSoft || (eps !== null && Array.from(rows).some((r) => eps[r]! > 0));
  if (!soft) return tf.tensor1d(Int32Array.from(rows, (r) => samples.labels[r]!), 'int32');
  const k = samples.numClasses;
  const t = new Float32Array(rows.length * k); // [b × K]
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const e = eps === null ? 0 : eps[r]!;
    for (let c = 0; c < k; c++) t[i * k + c] = e / k;
    const y = samples.labels[r]!;
    t[i * k + y] = t[i * k + y]! + 1 - e;
  }
  return tf.tensor2d(t, [rows.length, k]);
}

/** Logits of the model in inference mode for `rows`, in batches: [rows.length × K]. */
export async function predictLogits(model: tfl.LayersModel, samples: Samples, rows: Int32Array, batchSize: number): Promise<Float32Array> {
  const k = samples.numClasses;
  const out = new Float32Array(rows.length * k);
  for (let at = 0; at < rows.length; at += batchSize) {
    const part = rows.subarray(at, Math.min(rows.length, at + batchSize));
    const logits = tf.tidy(() => model.apply(batchInput(samples, part), { training: false }) as tf.Tensor2D);
    try {
      out.set(await logits.data<'float32'>(), at * k);
    } finally {
      logits.dispose();
    }
  }
  return out;
}

/**
 * Logits and the `embedding` layer's output for `rows` (the final outputs of the stage).
 * Models without an `embedding` layer (a linear head) use the flattened input.
 */
export async function predictWithEmbeddings(
  model: tfl.LayersModel,
  samples: Samples,
  rows: Int32Array,
  batchSize: number,
): Promise<{ logits: Float32Array; embeddings: Float32Array; embeddingSize: number }> {
  const tfl = await import('@tensorflow/tfjs-layers');
  const layer = model.layers.find((l) => l.name === 'embedding');
  const embeddingOut = layer ? (layer.output as tfl.SymbolicTensor) : (tfl.layers.flatten().apply(model.inputs[0]!) as tfl.SymbolicTensor);
  const both = tfl.model({ inputs: model.inputs, outputs: [embeddingOut, model.outputs[0]!] }); // shares the weights
  const size = embeddingOut.shape.slice(1).reduce((a: number, b) => a * (b ?? 1), 1);
  const k = samples.numClasses;
  const logits = new Float32Array(rows.length * k);
  const embeddings = new Float32Array(rows.length * size);
  for (let at = 0; at < rows.length; at += batchSize) {
    const part = rows.subarray(at, Math.min(rows.length, at + batchSize));
    const [e, l] = tf.tidy(() => both.apply(batchInput(samples, part), { training: false }) as tf.Tensor[]) as [tf.Tensor, tf.Tensor];
    try {
      embeddings.set(await e.data<'float32'>(), at * size);
      logits.set(await l.data<'float32'>(), at * k);
    } finally {
      tf.dispose([e, l]);
    }
  }
  return { logits, embeddings, embeddingSize: size };
}

function setLr(optimizer: tf.Optimizer, lr: number): void {
  // (instanceof cannot tell them apart: tfjs optimizers define Symbol.hasInstance by duck typing.)
  if (optimizer instanceof tf.SGDOptimizer && optimizer.getClassName() !== 'Adam') optimizer.setLearningRate(lr); // also Momentum
  else Reflect.set(optimizer, 'learningRate', lr); // Adam keeps it in a field of its own and reads it every step
}

/** Dropout layers draw their mask from their `seed`; a fixed seed would repeat one mask every step. */
function reseedDropout(model: tfl.LayersModel, rng: NoiseRng): void {
  for (const layer of model.layers) {
    if (layer.getClassName() === 'Dropout') Reflect.set(layer, 'seed', rng.u32()); // a field tfjs-layers does not type
  }
}

function cloneWeights(model: tfl.LayersModel): tf.Tensor[] {
  return model.getWeights().map((w) => tf.keep(w.clone()));
}

export interface TrainHooks {
  log?(message: string): void;
}

/** freeze: backbone — only the logits layer trains; frozen batchnorm layers run in inference mode. */
function freezeBackbone(model: tfl.LayersModel): void {
  for (const layer of model.layers) if (layer.name !== 'logits') layer.trainable = false;
}

export async function trainClassifier(samples: Samples, p: TrainParams, hooks: TrainHooks = {}, init?: { weights: InitialWeights; from: string }): Promise<TrainResult> {
  const log = hooks.log ?? (() => {});
  const k = samples.numClasses;
  const [mels, frames] = samples.shape;
  const trainRows = rowsOfSplit(samples, 'train');
  const devRows = rowsOfSplit(samples, 'dev');
  if (trainRows.length === 0) throw new Error("no samples in split 'train'");
  if (p.early_stopping && devRows.length === 0) {
    throw new InputError(
      "early_stopping monitors the 'dev' split, and the features table has none: give the data a dev split (download `dev:`, synth `dev_fraction`) or remove early_stopping",
    );
  }
  const early = p.early_stopping;
  const cl = p.curriculum;
  if (cl !== null && cl.order !== 'none' && p.two_stage?.method === 'prune') throw new InputError('curriculum and two_stage prune both choose the samples an epoch trains on: use one of them');
  // The curriculum's order of the train rows (easiest first, or its baselines).
  const ranked = cl === null || cl.order === 'none' ? null : curriculumOrder(trainRows, cl.order === 'random' ? null : Float64Array.from(trainRows, (r) => samples.difficulty?.[r] ?? NaN), cl.order, p.seed);

  const model = await buildModel(p.model, [mels, frames, 1], k, p.seed);
  if (init) applyInitialWeights(model, init.weights, `init_from ${init.from}`, { freshLogits: true, log });
  if (p.freeze === 'backbone') freezeBackbone(model);
  // adam(): tf.train.adam's numbers, one kernel per variable a step on wasm (src/lab/ml/adam.ts).
  const optimizer = p.optimizer.name === 'adam' ? adam(p.optimizer.lr) : p.optimizer.momentum > 0 ? tf.train.momentum(p.optimizer.lr, p.optimizer.momentum) : tf.train.sgd(p.optimizer.lr);
  // The loss is indexed by position in the train set (ELR's per-sample memory).
  const positionOf = new Map<number, number>();
  trainRows.forEach((r, i) => positionOf.set(r, i));
  const dims = { numSamples: trainRows.length, numClasses: k };
  const firstLoss = createLoss(p.loss, dims);
  const ts = p.two_stage;
  const secondLoss: Loss = ts?.loss ? createLoss(ts.loss, dims) : firstLoss;
  const decayed = model.trainableWeights.filter((w) => w.shape.length >= 2);

  const curves: EpochCurve[] = [];
  const dynamics: EpochDynamics[] = [];
  let active = trainRows;
  let best: { epoch: number; value: number; weights: tf.Tensor[] } | null = null;
  let stoppedEarly = false;
  let trainSeconds = 0;
  let trained = 0;
  try {
    for (let epoch = 0; epoch < p.epochs; epoch++) {
      const lr = learningRate(p.optimizer.lr, p.lr_schedule, epoch, p.epochs);
      setLr(optimizer, lr);
      const stage2 = ts !== null && secondStage(ts, epoch);
      const loss = stage2 ? secondLoss : firstLoss;
      if (ts?.method === 'prune' && epoch === ts.start_epoch) {
        // Score the train set once with the loss trained so far, in inference mode, and drop the worst.
        const scores = await perSampleLoss(model, samples, trainRows, firstLoss, p.eval_batch_size, positionOf);
        active = Int32Array.from(pruneByLoss(scores, ts.percentile), (i) => trainRows[i]!);
        log(`epoch ${epoch}: pruned ${trainRows.length - active.length} of ${trainRows.length} train samples (losses above the ${ts.percentile}th percentile)`);
      }
      let order: Int32Array;
      let available = active.length;
      if (ranked !== null) {
        // The pool grows with the pacing; the epoch still takes as many draws as the train split has.
        available = poolSize(ranked.length, pacingShare(cl!, epoch, p.epochs));
        order = pacedDraws(ranked.subarray(0, available), trainRows.length, p.seed, epoch);
        if (available < ranked.length) log(`epoch ${epoch}: curriculum (${cl!.order}, ${cl!.pacing}) draws from ${available} of ${ranked.length} train samples`);
      } else {
        order = shuffled(active, p.seed, epoch);
      }
      const augRng = new NoiseRng(p.seed, epoch, STREAM.augment);
      const dropRng = new NoiseRng(p.seed, epoch, STREAM.dropout);
      const useMixup = p.mixup !== null && mixupActive(p.mixup, epoch);

      const t0 = performance.now();
      let objective = 0;
      for (let at = 0; at < order.length; at += p.batch_size) {
        const rows = order.subarray(at, Math.min(order.length, at + p.batch_size));
        const positions = Int32Array.from(rows, (r) => positionOf.get(r)!);
        reseedDropout(model, dropRng);
        const value = tf.tidy(() => {
          let x: tf.Tensor4D = batchInput(samples, rows); // [b, mels, frames, 1]
          let y: tf.Tensor1D | tf.Tensor2D = batchTargets(samples, rows, useMixup); // [b] or [b, K]
          // Augmentations in a fixed order: time shift, SpecAugment, then mixup (which mixes the targets).
          if (p.time_shift) x = timeShift(x, augRng, p.time_shift).x;
          if (p.spec_augment) x = specAugment(x, augRng, p.spec_augment).x;
          if (useMixup) ({ x: x as tf.Tensor, y } = mixup(x, y as tf.Tensor2D, augRng, p.mixup!) as { x: tf.Tensor4D; y: tf.Tensor2D });
          const xIn = x;
          const yIn = y;
          return optimizer.minimize(
            () => {
              const logits = model.apply(xIn, { training: true }) as tf.Tensor2D; // [b, K]
              const r = loss.compute(logits, yIn, positions);
              let mean = stage2 && ts!.method === 'mask' ? maskLargeLosses(r.perSample, ts!.percentile).mean : r.mean;
              for (const reg of model.calculateLosses()) mean = tf.add(mean, reg);
              return mean;
            },
            true,
          ) as tf.Scalar;
        });
        await loss.afterStep();
        if (p.optimizer.weight_decay > 0) {
          const keep = 1 - lr * p.optimizer.weight_decay;
          tf.tidy(() => decayed.forEach((w) => w.write(tf.mul(w.read(), keep))));
        }
        objective += (await value.data())[0]! * rows.length;
        value.dispose();
      }
      trainSeconds += (performance.now() - t0) / 1000;
      trained += order.length;

      // Inference-mode records after the epoch.
      const trainLogits = await predictLogits(model, samples, trainRows, p.eval_batch_size);
      const d = epochDynamics(trainLogits, k, Array.from(trainRows, (r) => samples.labels[r]!), Array.from(trainRows, (r) => samples.labelsOrig[r]!));
      dynamics.push(d);
      const flippedTrain = Array.from(trainRows, (r) => samples.flipped[r]!);
      let devLoss = NaN;
      let devAcc = NaN;
      if (devRows.length > 0) {
        const dl = await predictLogits(model, samples, devRows, p.eval_batch_size);
        const dd = epochDynamics(dl, k, Array.from(devRows, (r) => samples.labels[r]!), Array.from(devRows, (r) => samples.labelsOrig[r]!));
        devLoss = meanWhere(dd.loss);
        devAcc = meanWhere(dd.correctGiven);
      }
      const curve: EpochCurve = {
        epoch,
        lr,
        objective: objective / order.length,
        train_samples: available,
        train_loss: meanWhere(d.loss),
        train_acc: meanWhere(d.correctGiven),
        train_acc_orig: meanWhere(d.correctOrig),
        flipped_acc_noisy: meanWhere(d.correctGiven, flippedTrain),
        dev_loss: devLoss,
        dev_acc: devAcc,
      };
      curves.push(curve);
      log(
        `epoch ${epoch}: lr ${lr.toPrecision(3)}, objective ${curve.objective.toFixed(4)}, train acc ${curve.train_acc.toFixed(3)}` +
          (devRows.length > 0 ? `, dev loss ${devLoss.toFixed(4)}, dev acc ${devAcc.toFixed(3)}` : ''),
      );

      if (early) {
        const value = early.monitor === 'dev_loss' ? devLoss : -devAcc; // lower is better
        if (best === null || value < best.value) {
          if (best) tf.dispose(best.weights);
          best = { epoch, value, weights: cloneWeights(model) };
        } else if (epoch - best.epoch >= early.patience) {
          stoppedEarly = epoch < p.epochs - 1;
          if (stoppedEarly) log(`early stopping after epoch ${epoch}: no better ${early.monitor} since epoch ${best.epoch}`);
          break;
        }
      }
    }
    let bestEpoch = curves.length - 1;
    if (best) {
      model.setWeights(best.weights);
      bestEpoch = best.epoch;
    }
    return {
      model,
      curves,
      trainRows,
      dynamics,
      bestEpoch,
      stoppedEarly,
      samplesPerSecond: trained / Math.max(trainSeconds, 1e-9),
      secondsPerEpoch: trainSeconds / Math.max(1, curves.length),
    };
  } finally {
    if (best) tf.dispose(best.weights);
    optimizer.dispose();
  }
}

/** Per-sample values of a training loss in inference mode, for `rows` (all in the train set). */
async function perSampleLoss(
  model: tfl.LayersModel,
  samples: Samples,
  rows: Int32Array,
  loss: Loss,
  batchSize: number,
  positionOf: Map<number, number>,
): Promise<Float32Array> {
  const out = new Float32Array(rows.length);
  for (let at = 0; at < rows.length; at += batchSize) {
    const part = rows.subarray(at, Math.min(rows.length, at + batchSize));
    const t = tf.tidy(() => {
      const logits = model.apply(batchInput(samples, part), { training: false }) as tf.Tensor2D;
      return loss.compute(logits, batchTargets(samples, part, false), Int32Array.from(part, (r) => positionOf.get(r)!)).perSample;
    });
    try {
      out.set(await t.data<'float32'>(), at);
    } finally {
      t.dispose();
    }
  }
  return out;
}
