/**
 * Sum and Mean over the leading axes for the wasm backend. Batchnorm (forward moments and its
 * gradient) reduces [N,H,W,C] over [0,1,2] several times per layer; the shipped kernels transpose
 * the input to put the reduced axes last first, and were a quarter of a training step. Here the
 * input is read once, row by row, into float64 accumulators (one per output element): by conno's
 * SIMD kernel (c/simd_kernels.c `sum_rows`) where it runs, else by the JS sweep below, with the
 * same bits. Other axes and dtypes go to the shipped kernels.
 */
import {
  Mean,
  Sum,
  util,
  type KernelConfig,
 
  type SumAttrs,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { wasmKernel, wasmKernelConfig, type WasmBackend } from './wasm_kernel_util.js';
import { heapAddress, heapMemory, heapScratch, simdKernels } from './simd.js';

/** acc[c] = Σ_r x[r·cols + c], in float64, rows in order. */
export function sumRowsInto(xv: Float32Array, rows: number, cols: number, acc: Float64Array): void {
  acc.fill(0);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) acc[c] = (acc[c] as number) + (xv[base + c] as number);
  }
}

/** The number of leading axes `axis` names, or -1 if it is not exactly [0, 1, …, k−1] with k < rank. */
function leadingAxes(axis: number | number[], rank: number): number {
  const axes = util.parseAxisParam(axis, [...Array<number>(rank).fill(1)]).sort((a, b) => a - b);
  for (let i = 0; i < axes.length; i++) if (axes[i] !== i) return -1;
  return axes.length > 0 && axes.length < rank ? axes.length : -1;
}

function reduceLeadingConfig(kernelName: typeof Sum | typeof Mean): KernelConfig {
  const shipped = wasmKernel(kernelName);
  const mean = kernelName === Mean;
  function reduce(args: { inputs: { x: TensorInfo }; attrs: SumAttrs; backend: WasmBackend }): TensorInfo {
    const { inputs, attrs, backend } = args;
    const { x } = inputs;
    const k = leadingAxes(attrs.axis, x.shape.length);
    if (k < 0 || x.dtype !== 'float32') return shipped(args as never);
    const rows = util.sizeFromShape(x.shape.slice(0, k));
    const cols = util.sizeFromShape(x.shape.slice(k));
    const outShape = attrs.keepDims ? [...Array<number>(k).fill(1), ...x.shape.slice(k)] : x.shape.slice(k);
    const simd = simdKernels(backend);
    // The scratch first: allocating may grow the heap, which detaches views taken before.
    const scratch = simd ? heapScratch(backend, cols) : 0;
    const out = backend.makeOutput(outShape, 'float32');
    let acc: Float64Array;
    if (simd) {
      simd.sum_rows(heapAddress(backend, x), rows, cols, scratch);
      acc = new Float64Array(heapMemory(backend)!.buffer, scratch, cols);
    } else {
      acc = new Float64Array(cols);
      sumRowsInto(backend.typedArrayFromHeap(x) as Float32Array, rows, cols, acc); // x: [rows, cols]
    }
    const ov = backend.typedArrayFromHeap(out) as Float32Array; // [cols]
    for (let c = 0; c < cols; c++) ov[c] = mean ? (acc[c] as number) / rows : (acc[c] as number);
    return out;
  }
  return wasmKernelConfig(kernelName, reduce);
}

export const sumConfig = (): KernelConfig => reduceLeadingConfig(Sum);
export const meanConfig = (): KernelConfig => reduceLeadingConfig(Mean);
