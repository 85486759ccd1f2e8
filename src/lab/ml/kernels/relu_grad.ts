/**
 * ReLU's gradient in one kernel on the wasm backend (conno's relu_grad in c/simd_kernels.c, or a
 * JS loop where the SIMD kernels do not run). tfjs-core's is three kernels and two
 * intermediate tensors, dy · cast(step(x)); here one sweep over the heap gives the same bits:
 * step(x) is NaN for NaN, 1 for x > 0 and +0 otherwise (the backend's Step with alpha 0), and the
 * product of dy with it is exact (dy, or a signed zero, or NaN for NaN, ±∞ · 0 or a NaN dy).
 * A NaN's sign and payload aside, which wasm leaves to the machine (kernels.test.ts).
 * TC-ResNet8 takes nine ReLU gradients a step: 27 kernels (tf.profile of its step: Step 0.12 ms,
 * Cast 0.43 ms, and nine of its Multiply kernels), one each now.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { heapAddress, simdKernels } from './simd.js';
import { wasmKernelConfig, type WasmBackend } from './wasm_kernel_util.js';

export const RELU_GRAD = 'ConnoReluGrad';

function reluGrad(args: { inputs: { dy: TensorInfo; x: TensorInfo }; backend: WasmBackend }): TensorInfo {
  const { inputs, backend } = args;
  const { dy, x } = inputs;
  const out = backend.makeOutput(x.shape, 'float32');
  const simd = simdKernels(backend);
  if (simd) {
    simd.relu_grad(heapAddress(backend, dy), heapAddress(backend, x), heapAddress(backend, out), out.shape.reduce((a, b) => a * b, 1));
    return out;
  }
  const g = backend.typedArrayFromHeap(dy) as Float32Array;
  const v = backend.typedArrayFromHeap(x) as Float32Array;
  const o = backend.typedArrayFromHeap(out) as Float32Array;
  for (let i = 0; i < o.length; i++) {
    const xi = v[i]!;
    o[i] = g[i]! * (xi > 0 ? 1 : xi === xi ? 0 : NaN);
  }
  return out;
}

export function reluGradConfig(): KernelConfig {
  return wasmKernelConfig(RELU_GRAD, reluGrad);
}

/**
 * Registers ReLU's gradient: RELU_GRAD where it runs (float32 tensors of one shape on wasm),
 * else tfjs-core's own formula. Replaces tfjs-core's registration, once: call after tfjs-core's
 * gradients are registered (importing tfjs-layers registers them).
 */
export function registerReluGradient(): void {
  if (tf.getGradient('Relu')?.gradFunc === reluGradFunc) return;
  tf.registerGradient({ kernelName: 'Relu', inputsToSave: ['x'], gradFunc: reluGradFunc });
}

const reluGradFunc: tf.GradFunc = (dy, saved) => {
  const [x] = saved as [tf.Tensor];
  const d = dy as tf.Tensor;
  return {
    x: () =>
      tf.getBackend() === 'wasm' && tf.getKernel(RELU_GRAD, 'wasm') !== undefined && d.dtype === 'float32' && x.dtype === 'float32' && d.size === x.size
        ? (tf.engine().runKernel(RELU_GRAD, { dy: d, x }, {}) as tf.Tensor)
        : tf.mul(d, tf.cast(tf.step(x), 'float32')),
  };
};
