/**
 * Tile for the wasm backend. The backend's Tile computes a multi-index for every output element;
 * tfjs-core's batchnorm gradient (FusedBatchNorm_grad) tiles 1/√(var+ε) from [1,1,1,C] to
 * [N,H,W,C] on every step, and that one op was 36% of a training step of the reference model.
 * Here every block is built once and then doubled with `copyWithin` (a memmove), innermost
 * dimension first: the output is written in O(log reps) copies per dimension.
 */
import {
  Tile,
  util,
  type KernelConfig,
 
  type TensorInfo,
  type TileAttrs,
} from '@tensorflow/tfjs-core';
import type { WasmBackend } from './wasm_kernel_util.js';
import { wasmKernelConfig } from './wasm_kernel_util.js';

type Flat = Float32Array | Int32Array | Uint8Array;

/**
 * Writes tile(x, reps) into `out`. Exported for tests; `x` and `out` must not overlap.
 * `outBlock[d]` is the size of one output block of dimension d (product of out dims > d).
 */
export function tileInto(x: Flat, xShape: readonly number[], reps: readonly number[], out: Flat): void {
  const rank = xShape.length;
  if (rank === 0) {
    out[0] = x[0] as number;
    return;
  }
  const outShape = xShape.map((s, i) => s * (reps[i] as number));
  const xStrides = new Array<number>(rank);
  const outBlock = new Array<number>(rank);
  let xs = 1;
  let os = 1;
  for (let d = rank - 1; d >= 0; d--) {
    xStrides[d] = xs;
    outBlock[d] = os;
    xs *= xShape[d] as number;
    os *= outShape[d] as number;
  }
  // Fills the output block of dimension d at `outOffset` from x at `xOffset`.
  const fill = (d: number, xOffset: number, outOffset: number): void => {
    const n = xShape[d] as number;
    const inner = outBlock[d] as number;
    if (d === rank - 1) {
      out.set(x.subarray(xOffset, xOffset + n), outOffset);
    } else {
      for (let i = 0; i < n; i++) fill(d + 1, xOffset + i * (xStrides[d] as number), outOffset + i * inner);
    }
    // The first n·inner elements hold one period; double it until reps periods are written.
    const period = n * inner;
    const total = period * (reps[d] as number);
    let filled = period;
    while (filled < total) {
      const len = Math.min(filled, total - filled);
      out.copyWithin(outOffset + filled, outOffset, outOffset + len);
      filled += len;
    }
  };
  if (util.sizeFromShape(outShape) > 0) fill(0, 0, 0);
}

function tile(args: { inputs: { x: TensorInfo }; attrs: TileAttrs; backend: WasmBackend }): TensorInfo {
  const { inputs, attrs, backend } = args;
  const { x } = inputs;
  const reps = attrs.reps;
  const outShape = x.shape.map((s, i) => s * (reps[i] as number));
  const out = backend.makeOutput(outShape, x.dtype);
  // Views are taken after makeOutput: allocating may grow (and so detach) the wasm heap.
  tileInto(backend.typedArrayFromHeap(x), x.shape, reps, backend.typedArrayFromHeap(out));
  return out;
}

export function tileConfig(): KernelConfig {
  return wasmKernelConfig(Tile, tile);
}
