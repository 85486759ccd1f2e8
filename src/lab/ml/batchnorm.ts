/**
 * conno's batch normalisation layer: tfjs-layers' BatchNormalization with
 *
 * - PyTorch's running-statistics update (momentum 0.1 in PyTorch terms: m ← 0.9·m + 0.1·batch,
 *   with the unbiased batch variance). tfjs-layers' default keeps 0.99 of the old value, so with
 *   the few steps per epoch of a small study the inference-mode statistics lag far behind the
 *   weights and dev/test accuracy stalls near chance.
 * - On the wasm backend, training mode runs the fused kernels of src/lab/ml/kernels/batchnorm.ts
 *   (one kernel forward, one backward) instead of tfjs-layers' moments + batchNorm graph.
 *
 * Inference mode, and the other backends, use tfjs-layers' own code. The class name stays
 * `BatchNormalization`, so weight names and layer configs are those of a stock layer.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { BATCHNORM_RUNNING, BATCHNORM_TRAIN, BATCHNORM_TRAIN_GRAD } from './kernels/batchnorm.js';

/** Weight of the batch statistics in each running-statistics update (PyTorch's `momentum`). */
export const BATCHNORM_UPDATE = 0.1;
export const BATCHNORM_EPSILON = 1e-3;

interface BatchNormInternals {
  gamma: tfl.LayerVariable;
  beta: tfl.LayerVariable;
  movingMean: tfl.LayerVariable;
  movingVariance: tfl.LayerVariable;
  epsilon: number;
  axis: number;
}

type LayerCtor = new (args: Record<string, unknown>) => tfl.layers.Layer;
let FusedClass: LayerCtor | undefined;

function fusedClass(layers: typeof tfl.layers): LayerCtor {
  if (FusedClass) return FusedClass;
  // tfjs-layers exports the factory, not the class: take the class from an instance.
  const Base = Object.getPrototypeOf(layers.batchNormalization({})).constructor as LayerCtor;
  class FusedBatchNormalization extends Base implements BatchNormInternals {
    // Fields the stock layer sets up (tfjs-layers does not type them on the factory's class).
    declare gamma: tfl.LayerVariable;
    declare beta: tfl.LayerVariable;
    declare movingMean: tfl.LayerVariable;
    declare movingVariance: tfl.LayerVariable;
    declare epsilon: number;
    declare axis: number;

    override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[] {
      const self: BatchNormInternals = this;
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const lastAxis = self.axis === -1 || self.axis === x.rank - 1;
      // A frozen layer (freeze: backbone) keeps its statistics: inference mode, as Keras does.
      if (kwargs['training'] !== true || !this.trainable) return super.call(inputs, { ...kwargs, training: false });
      if (!lastAxis || tf.getBackend() !== 'wasm' || tf.getKernel(BATCHNORM_TRAIN, 'wasm') === undefined) {
        return tf.tidy(() => {
          const [y, mean, variance] = stockTraining(x, self);
          updateRunning(self, mean, variance, x.size / x.shape[x.rank - 1]!);
          return y;
        });
      }
      return tf.tidy(() => {
        const epsilon = self.epsilon;
        let stats: tf.Tensor[] = [];
        const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
          const [xIn, gamma, beta, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
          const [y, mean, variance] = tf.engine().runKernel(BATCHNORM_TRAIN, { x: xIn, gamma, beta }, { epsilon }) as tf.Tensor[];
          save([xIn, gamma, mean!, variance!]);
          stats = [tf.keep(mean!), tf.keep(variance!)];
          return {
            value: y!,
            gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
              const [xs, g, m, v] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
              return tf.engine().runKernel(BATCHNORM_TRAIN_GRAD, { dy: dy as tf.Tensor, x: xs, gamma: g, mean: m, variance: v }, { epsilon }) as tf.Tensor[];
            },
          };
        });
        const y = op(x, self.gamma.read(), self.beta.read());
        try {
          updateRunning(self, stats[0]!, stats[1]!, x.size / x.shape[x.rank - 1]!);
        } finally {
          tf.dispose(stats);
        }
        return y;
      });
    }
  }
  FusedClass = FusedBatchNormalization;
  return FusedClass;
}

/** tfjs' own training-mode batchnorm (moments + batchNorm) for backends without the fused kernels. */
function stockTraining(x: tf.Tensor, self: BatchNormInternals): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
  const { mean, variance } = tf.moments(x, axes);
  const y = tf.batchNorm(x, mean, variance, self.beta.read(), self.gamma.read(), self.epsilon);
  return [y, mean, variance];
}

/**
 * m ← (1 − u)·m + u·batch, the variance unbiased (·n/(n−1)), as PyTorch does: one kernel on wasm
 * (ConnoBatchNormRunning), else tfjs ops; `fused: false` runs the ops anyway (the reference the
 * kernel is tested against, kernels.test.ts).
 */
export function updateRunning(self: Pick<BatchNormInternals, 'movingMean' | 'movingVariance'>, mean: tf.Tensor, variance: tf.Tensor, n: number, fused = true): void {
  tf.tidy(() => {
    const u = BATCHNORM_UPDATE;
    if (fused && tf.getBackend() === 'wasm' && tf.getKernel(BATCHNORM_RUNNING, 'wasm') !== undefined) {
      // One kernel with these ops' bits (kernels/batchnorm.ts).
      const inputs = { movingMean: self.movingMean.read(), movingVariance: self.movingVariance.read(), mean, variance };
      const [m, v] = tf.engine().runKernel(BATCHNORM_RUNNING, inputs, { update: u, count: n }) as tf.Tensor[];
      self.movingMean.write(m!);
      self.movingVariance.write(v!);
      return;
    }
    const unbiased = n > 1 ? tf.mul(variance, n / (n - 1)) : variance;
    self.movingMean.write(tf.add(tf.mul(self.movingMean.read(), 1 - u), tf.mul(mean, u)));
    self.movingVariance.write(tf.add(tf.mul(self.movingVariance.read(), 1 - u), tf.mul(unbiased, u)));
  });
}

/** A batchnorm layer over the last axis (see the module comment). */
export function batchNormalization(layers: typeof tfl.layers, args: { name?: string } = {}): tfl.layers.Layer {
  const Cls = fusedClass(layers);
  return new Cls({ ...args, epsilon: BATCHNORM_EPSILON, momentum: 1 - BATCHNORM_UPDATE });
}
