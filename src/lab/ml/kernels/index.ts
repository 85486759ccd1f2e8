/**
 * Training kernels for tfjs-backend-wasm 4.22.0, built from kernels the backend already has and
 * conno's own (c/simd_kernels.c): Conv2DBackpropFilter (missing), and faster Conv2D and
 * FusedConv2D (the same bits as the backend's), Conv2DBackpropInput, Tile, MaxPoolGrad, and Sum/Mean
 * over leading axes, Transpose of the last two axes, a copy-free Identity, fused training-mode batchnorm (forward and gradient),
 * and a one-kernel Adam step (ConnoAdamUpdate, for ../adam.ts).
 * See /work/shared/notes/feasibility.md (TensorFlow.js) for the formulas and measurements.
 */
import { getKernel, registerKernel, unregisterKernel, type KernelConfig } from '@tensorflow/tfjs-core';
import { adamUpdateConfig } from './adam.js';
import { batchNormConfigs } from './batchnorm.js';
import { conv2DConfigs } from './conv2d.js';
import { conv2DBackpropFilterConfig } from './conv2d_backprop_filter.js';
import { conv2DBackpropInputConfig } from './conv2d_backprop_input.js';
import { identityConfig } from './identity.js';
import { maxPoolGradConfig } from './max_pool_grad.js';
import { meanConfig, sumConfig } from './reduce_leading.js';
import { tileConfig } from './tile.js';
import { reluGradConfig } from './relu_grad.js';
import { transposeConfig } from './transpose.js';

let registered = false;

/**
 * Registers conno's kernels for backendName 'wasm'. Call after `tf.setBackend('wasm')` has
 * resolved: the replaced kernels' setup (their cwrap of the wasm functions) has run by then, and
 * the fallbacks that call them need it. Idempotent.
 */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  // Configs are built before anything is unregistered: they capture the shipped kernels they use.
  const configs: KernelConfig[] = [
    ...conv2DConfigs(),
    conv2DBackpropFilterConfig(),
    conv2DBackpropInputConfig(),
    tileConfig(),
    maxPoolGradConfig(),
    sumConfig(),
    meanConfig(),
    identityConfig(),
    ...batchNormConfigs(),
    adamUpdateConfig(),
    reluGradConfig(),
    transposeConfig(),
  ];
  for (const config of configs) {
    if (getKernel(config.kernelName, 'wasm') !== undefined) unregisterKernel(config.kernelName, 'wasm');
    registerKernel(config);
  }
  registered = true;
}
