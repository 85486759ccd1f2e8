/**
 * Adam as TensorFlow.js's AdamOptimizer computes it (same state, same weights save and load,
 * className 'Adam'), with each variable's step in one kernel on the wasm backend
 * (kernels/adam.ts: ConnoAdamUpdate) instead of 14. The constants enter as the float32 scalars
 * the optimizer's ops make of them and every operation rounds where its kernel rounds, so the
 * weights are the same bits (src/lab/ml/adam.test.ts trains both side by side). On any other
 * backend it is the optimizer itself.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ADAM_KERNEL, type AdamAttrs } from './kernels/adam.js';

/** The AdamOptimizer fields this subclass uses (private in its typings). */
interface AdamState {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: Array<{ originalName: string; variable: tf.Variable } | undefined>;
  accumulatedSecondMoment: Array<{ originalName: string; variable: tf.Variable } | undefined>;
}

export class FusedAdam extends tf.AdamOptimizer {
  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer['applyGradients']>[0]): void {
    if (tf.getBackend() !== 'wasm' || tf.getKernel(ADAM_KERNEL, 'wasm') === undefined) {
      super.applyGradients(variableGradients);
      return;
    }
    // AdamOptimizer's state, private in its typings: read by name (the same objects, mutated in place).
    const state: AdamState = {
      accBeta1: Reflect.get(this, 'accBeta1'),
      accBeta2: Reflect.get(this, 'accBeta2'),
      accumulatedFirstMoment: Reflect.get(this, 'accumulatedFirstMoment'),
      accumulatedSecondMoment: Reflect.get(this, 'accumulatedSecondMoment'),
    };
    const list = Array.isArray(variableGradients);
    const names = list ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
    const f = Math.fround;
    tf.tidy(() => {
      const attrs: AdamAttrs = {
        b1: f(this.beta1),
        omb1: f(1 - this.beta1),
        b2: f(this.beta2),
        omb2: f(1 - this.beta2),
        c1: f(1 - state.accBeta1.dataSync()[0]!),
        c2: f(1 - state.accBeta2.dataSync()[0]!),
        eps: f(this.epsilon),
        negLr: f(-this.learningRate),
      };
      names.forEach((name, i) => {
        const value = tf.engine().registeredVariables[name]!;
        state.accumulatedFirstMoment[i] ??= { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        state.accumulatedSecondMoment[i] ??= { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        const gradient = list ? variableGradients[i]!.tensor : (variableGradients as Record<string, tf.Tensor | undefined>)[name];
        if (gradient == null) return;
        const m = state.accumulatedFirstMoment[i].variable;
        const v = state.accumulatedSecondMoment[i].variable;
        const [w2, m2, v2] = tf.engine().runKernel(ADAM_KERNEL, { w: value, g: gradient, m, v }, attrs) as tf.Tensor[];
        m.assign(m2!);
        v.assign(v2!);
        value.assign(w2!);
      });
      state.accBeta1.assign(tf.mul(state.accBeta1, this.beta1));
      state.accBeta2.assign(tf.mul(state.accBeta2, this.beta2));
    });
    this.incrementIterations();
  }
}

/** tf.train.adam's defaults (β1 0.9, β2 0.999, the backend's epsilon). */
export function adam(learningRate: number): tf.Optimizer {
  return new FusedAdam(learningRate, 0.9, 0.999);
}
