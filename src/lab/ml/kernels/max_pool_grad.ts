/**
 * MaxPoolGrad for the wasm backend, written over the wasm heap in JS (2×2 and non-overlapping
 * windows: conno's SIMD kernels, same bits): the shipped kernel was 12%
 * of a training step. NHWC, dilation 1. Like the cpu backend, the gradient of each output goes to
 * the first maximum of its window in row-major order (strict >), windows clipped to the input.
 */
import {
  backend_util,
  MaxPoolGrad,
  type KernelConfig,
 
  type MaxPoolGradAttrs,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { WasmBackend } from './wasm_kernel_util.js';
import { heapAddress, simdKernels } from './simd.js';
import { wasmKernelConfig } from './wasm_kernel_util.js';

function maxPoolGrad(args: {
  inputs: { dy: TensorInfo; input: TensorInfo; output: TensorInfo };
  attrs: MaxPoolGradAttrs;
  backend: WasmBackend;
}): TensorInfo {
  const { inputs, attrs, backend } = args;
  const { dy, input } = inputs;
  const { filterSize, strides, pad, dimRoundingMode } = attrs;
  const info = backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const { batchSize, inHeight, inWidth, inChannels: C, outHeight, outWidth } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;

  const out = backend.makeOutput(input.shape, 'float32');
  const twoByTwo = kh === 2 && kw === 2 && sh === 2 && sw === 2 && top === 0 && left === 0 && inHeight === 2 * outHeight && inWidth === 2 * outWidth;
  // Windows that do not overlap (stride = window; wavecnn's pools by 4): every input element is
  // in at most one window, which conno's SIMD kernel handles with the general path's bits.
  const tiled = sh === kh && sw === kw;
  const simd = twoByTwo || tiled ? simdKernels(backend) : undefined;
  if (simd && twoByTwo) {
    simd.max_pool_grad_2x2(heapAddress(backend, input), heapAddress(backend, dy), heapAddress(backend, out), batchSize, outHeight, outWidth, C);
    return out;
  }
  if (simd) {
    simd.max_pool_grad_tiled(heapAddress(backend, input), heapAddress(backend, dy), heapAddress(backend, out), batchSize, inHeight, inWidth, C, outHeight, outWidth, kh, kw, top, left);
    return out;
  }
  const xv = backend.typedArrayFromHeap(input) as Float32Array; // [N, H, W, C]
  const dyv = backend.typedArrayFromHeap(dy) as Float32Array; // [N, OH, OW, C]
  const dx = backend.typedArrayFromHeap(out) as Float32Array; // [N, H, W, C]
  if (twoByTwo) {
    maxPoolGrad2x2(xv, dyv, dx, batchSize, outHeight, outWidth, C);
    return out;
  }
  dx.fill(0);
  const best = new Float32Array(C);
  const bestAt = new Int32Array(C);
  for (let n = 0; n < batchSize; n++) {
    const xBatch = n * inHeight * inWidth * C;
    for (let oh = 0; oh < outHeight; oh++) {
      const h0 = oh * sh - top;
      const hStart = Math.max(0, h0);
      const hEnd = Math.min(inHeight, h0 + kh);
      for (let ow = 0; ow < outWidth; ow++) {
        const w0 = ow * sw - left;
        const wStart = Math.max(0, w0);
        const wEnd = Math.min(inWidth, w0 + kw);
        best.fill(Number.NEGATIVE_INFINITY);
        bestAt.fill(-1);
        for (let h = hStart; h < hEnd; h++) {
          for (let w = wStart; w < wEnd; w++) {
            const base = xBatch + (h * inWidth + w) * C;
            for (let c = 0; c < C; c++) {
              const v = xv[base + c] as number;
              if (v > (best[c] as number)) {
                best[c] = v;
                bestAt[c] = base + c;
              }
            }
          }
        }
        const dyBase = ((n * outHeight + oh) * outWidth + ow) * C;
        for (let c = 0; c < C; c++) {
          const at = bestAt[c] as number;
          if (at >= 0) dx[at] = (dx[at] as number) + (dyv[dyBase + c] as number);
        }
      }
    }
  }
  return out;
}

/**
 * The common 2×2, stride 2 pooling of an even-sized input: the windows tile the input exactly,
 * so every input element is written once (the window's first maximum gets dy, the rest 0).
 */
export function maxPoolGrad2x2(x: Float32Array, dy: Float32Array, dx: Float32Array, N: number, OH: number, OW: number, C: number): void {
  const W = 2 * OW;
  const rowStride = W * C;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const rowBase = (n * 2 * OH + 2 * oh) * rowStride;
      const dyRow = (n * OH + oh) * OW * C;
      for (let ow = 0; ow < OW; ow++) {
        const a = rowBase + 2 * ow * C; // (2oh, 2ow)
        const b = a + C; // (2oh, 2ow+1)
        const c0 = a + rowStride; // (2oh+1, 2ow)
        const d = c0 + C; // (2oh+1, 2ow+1)
        const g = dyRow + ow * C;
        for (let c = 0; c < C; c++) {
          const va = x[a + c]!;
          const vb = x[b + c]!;
          const vc = x[c0 + c]!;
          const vd = x[d + c]!;
          // First maximum in row-major window order (strict >), NaN never wins: as the general path.
          let best = va;
          let k = 0;
          if (vb > best) {
            best = vb;
            k = 1;
          }
          if (vc > best) {
            best = vc;
            k = 2;
          }
          if (vd > best) k = 3;
          const grad = dy[g + c]!;
          dx[a + c] = k === 0 ? grad : 0;
          dx[b + c] = k === 1 ? grad : 0;
          dx[c0 + c] = k === 2 ? grad : 0;
          dx[d + c] = k === 3 ? grad : 0;
        }
      }
    }
  }
}

export function maxPoolGradConfig(): KernelConfig {
  return wasmKernelConfig(MaxPoolGrad, maxPoolGrad);
}
