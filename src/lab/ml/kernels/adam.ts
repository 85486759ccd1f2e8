/**
 * ConnoAdamUpdate: one Adam step for one variable in one kernel, for the wasm backend (see
 * ../adam.ts). TensorFlow.js's AdamOptimizer takes 14 kernels per variable per step, each a
 * trip through the engine and an XNNPACK operator made for it; on small models (TC-ResNet8: 30
 * variables, ~420 kernels a step) that is a large part of the step. Inputs {w, g, m, v}, outputs
 * [w', m', v'], every value rounded to float32 where the optimizer's kernels round it, so the
 * bits are the optimizer's (conno's SIMD kernel `adam_update`, or the JS loop below).
 */
import { util, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs-core';
import { wasmKernelConfig, type WasmBackend } from './wasm_kernel_util.js';
import { heapAddress, simdKernels } from './simd.js';

export const ADAM_KERNEL = 'ConnoAdamUpdate';

/** The step's constants, each a float32 value (Math.fround) as the optimizer's scalar tensors hold them. */
export type AdamAttrs = {
  b1: number;
  /** 1 − β1 */
  omb1: number;
  b2: number;
  omb2: number;
  /** 1 − β1^t, 1 − β2^t */
  c1: number;
  c2: number;
  eps: number;
  /** −learning rate */
  negLr: number;
};

const f = Math.fround;

/** The update in JS, each operation rounded to float32: the same bits as the SIMD kernel and the optimizer. */
export function adamUpdateInto(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, wOut: Float32Array, mOut: Float32Array, vOut: Float32Array, a: AdamAttrs): void {
  for (let i = 0; i < w.length; i++) {
    const gi = g[i]!;
    const mi = f(f(m[i]! * a.b1) + f(gi * a.omb1));
    const vi = f(f(v[i]! * a.b2) + f(f(gi * gi) * a.omb2));
    const step = f(f(f(mi / a.c1) / f(f(Math.sqrt(f(vi / a.c2))) + a.eps)) * a.negLr);
    wOut[i] = step + w[i]!;
    mOut[i] = mi;
    vOut[i] = vi;
  }
}

function adamUpdate(args: { inputs: { w: TensorInfo; g: TensorInfo; m: TensorInfo; v: TensorInfo }; attrs: AdamAttrs; backend: WasmBackend }): TensorInfo[] {
  const { inputs, attrs: a, backend } = args;
  const { w, g, m, v } = inputs;
  const n = util.sizeFromShape(w.shape);
  for (const t of [g, m, v]) {
    if (util.sizeFromShape(t.shape) !== n || t.dtype !== 'float32') throw new Error(`${ADAM_KERNEL}: inputs of ${n} float32 values expected, got ${t.dtype} ${JSON.stringify(t.shape)}`);
  }
  const outs = [backend.makeOutput(w.shape, 'float32'), backend.makeOutput(m.shape, 'float32'), backend.makeOutput(v.shape, 'float32')] as const;
  const simd = simdKernels(backend);
  if (simd) {
    const [wo, mo, vo] = outs.map((t) => heapAddress(backend, t));
    simd.adam_update(heapAddress(backend, w), heapAddress(backend, g), heapAddress(backend, m), heapAddress(backend, v), wo!, mo!, vo!, n, a.b1, a.omb1, a.b2, a.omb2, a.c1, a.c2, a.eps, a.negLr);
  } else {
    const view = (t: TensorInfo) => backend.typedArrayFromHeap(t) as Float32Array;
    adamUpdateInto(view(w), view(g), view(m), view(v), view(outs[0]), view(outs[1]), view(outs[2]), a);
  }
  return [...outs];
}

export function adamUpdateConfig(): KernelConfig {
  return wasmKernelConfig(ADAM_KERNEL, adamUpdate);
}
