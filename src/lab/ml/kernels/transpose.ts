/**
 * Transpose for the wasm backend where it swaps the last two axes of 4-byte data (after axes of
 * size 1 are dropped and neighbouring axes that stay together are merged): conno's
 * transpose_last2 (c/simd_kernels.c), 4×4 blocks. TC-ResNet8 turns its [mels, frames] input into
 * [frames, mels] this way at every step: the backend's Transpose took ~0.33 ms of it for 262,144
 * floats (tf.profile). Every other permutation, dtype, or a run without conno's SIMD kernels goes
 * to the backend's own kernel. Values are moved, never computed: the same bits.
 */
import { Transpose, type KernelConfig, type TensorInfo, type TransposeAttrs } from '@tensorflow/tfjs-core';
import { heapAddress, simdKernels } from './simd.js';
import { wasmKernel, wasmKernelConfig, type WasmBackend } from './wasm_kernel_util.js';

/**
 * The permutation with axes of size 1 dropped and axes that stay neighbours, in order, merged:
 * the same moves of data, as few axes as they take. `shape` and `perm` of the input.
 */
export function reducePermutation(shape: readonly number[], perm: readonly number[]): { shape: number[]; perm: number[] } {
  const kept = perm.filter((a) => shape[a] !== 1);
  // Input axes that remain, renumbered in input order.
  const order = [...kept].sort((a, b) => a - b);
  const rank = new Map(order.map((a, i) => [a, i]));
  const p = kept.map((a) => rank.get(a)!);
  const s = order.map((a) => shape[a]!);
  // Merge runs k, k+1 that follow each other in the output as in the input.
  const groups: number[][] = [];
  for (const a of p) {
    const last = groups.at(-1);
    if (last && last.at(-1)! + 1 === a) last.push(a);
    else groups.push([a]);
  }
  const byStart = [...groups].sort((g, h) => g[0]! - h[0]!);
  const index = new Map(byStart.map((g, i) => [g[0]!, i]));
  return {
    shape: byStart.map((g) => g.reduce((n, a) => n * s[a]!, 1)),
    perm: groups.map((g) => index.get(g[0]!)!),
  };
}

export function transposeConfig(): KernelConfig {
  const shipped = wasmKernel(Transpose);

  function transpose(args: { inputs: { x: TensorInfo }; attrs: TransposeAttrs; backend: WasmBackend }): TensorInfo {
    const { inputs, attrs, backend } = args;
    const { x } = inputs;
    const simd = simdKernels(backend);
    if (!simd || (x.dtype !== 'float32' && x.dtype !== 'int32')) return shipped(args as never);
    const { shape, perm } = reducePermutation(x.shape, attrs.perm);
    const last2 = perm.length === 2 ? perm[0] === 1 && perm[1] === 0 : perm.length === 3 && perm[0] === 0 && perm[1] === 2 && perm[2] === 1;
    if (!last2) return shipped(args as never);
    const [b, r, c] = perm.length === 2 ? [1, shape[0]!, shape[1]!] : (shape as [number, number, number]);
    const out = backend.makeOutput(
      attrs.perm.map((a) => x.shape[a]!),
      x.dtype,
    );
    simd.transpose_last2(heapAddress(backend, x), heapAddress(backend, out), b, r, c);
    return out;
  }

  return wasmKernelConfig(Transpose, transpose);
}
