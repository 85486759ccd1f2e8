/**
 * The `loss:` entry of a train stage (`loss: {name: gce, q: 0.7}`): one zod schema per loss, the
 * single place the defaults live, and `createLoss`, which turns a validated config into the
 * function the train loop calls on every batch.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { unreachable } from '../../core/util/errors.js';
import { ElrMemory } from './losses-elr.js';
import { bootstrapHard, bootstrapSoft, crossEntropy, gce, mae, sce, type LossResult, type Targets } from './losses.js';
export { LossSchema } from './config.js';
export type { LossConfig } from './config.js';
import type { LossConfig } from './config.js';




/** A loss ready for one training run. */
export interface Loss {
  /** logits [batch, K]; sampleIndices [batch]: the samples' indices in the train set (ELR's memory). */
  compute(logits: tf.Tensor2D, targets: Targets, sampleIndices: ArrayLike<number>): LossResult;
  /** Call once after each optimizer step (stateful losses update their state here). */
  afterStep(): Promise<void>;
}

/** What a config cannot be checked against until the data is known: a list of problems, empty if none. */
export function lossConfigProblems(config: LossConfig, numClasses: number): string[] {
  if (config.name === 'ce' && Array.isArray(config.label_smoothing) && config.label_smoothing.length !== numClasses) {
    return [`label_smoothing lists ${config.label_smoothing.length} values for ${numClasses} classes`];
  }
  return [];
}

const stateless = (f: (logits: tf.Tensor2D, targets: Targets) => LossResult): Loss => ({
  compute: (logits, targets) => f(logits, targets),
  afterStep: async () => {},
});

/** The loss of a validated config for a train set of numSamples samples and numClasses classes. */
export function createLoss(config: LossConfig, dims: { numSamples: number; numClasses: number }): Loss {
  const problems = lossConfigProblems(config, dims.numClasses);
  if (problems.length > 0) throw new Error(problems.join('; '));
  switch (config.name) {
    case 'ce':
      return stateless((logits, y) => crossEntropy(logits, y, config.label_smoothing));
    case 'gce':
      return stateless((logits, y) => gce(logits, y, config.q));
    case 'mae':
      return stateless((logits, y) => mae(logits, y));
    case 'sce':
      return stateless((logits, y) => sce(logits, y, { alpha: config.alpha, beta: config.beta, logZero: config.log_zero }));
    case 'bootstrap_soft':
      return stateless((logits, y) => bootstrapSoft(logits, y, config.beta));
    case 'bootstrap_hard':
      return stateless((logits, y) => bootstrapHard(logits, y, config.beta));
    case 'elr': {
      const memory = new ElrMemory(dims.numSamples, dims.numClasses, config.lambda, config.beta);
      return { compute: (logits, y, indices) => memory.loss(logits, y, indices), afterStep: () => memory.commit() };
    }
    default:
      return unreachable(config);
  }
}
