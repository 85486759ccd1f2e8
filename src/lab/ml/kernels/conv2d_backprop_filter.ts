/**
 * Conv2DBackpropFilter for the wasm backend (4.22.0 has none, so a conv net cannot train on it).
 *
 * By default dW [kh·kw·Ci, Co] = im2colᵀ(x) · dy. Where the SIMD kernels run and Ci and Co are
 * multiples of 4, conno's conv_filter_grad (c/simd_kernels.c) computes those sums straight from x,
 * without im2col (reference cnn, filter gradients of a step: 55.5–59.6 → 47.3–51.2 ms; TC-ResNet8
 * 5.6–7.0 → 4.0 ms; old and new in turns, 3 runs each, `tf.profile`). Otherwise im2col, then one
 * GEMM: conno's matmul_in_order (c/simd_kernels.c)
 * where the SIMD kernels run and Co is a multiple of 4, else the backend's BatchMatMul, with the
 * same bits (kernels.test.ts). Inside a training step of the reference cnn, XNNPACK's GEMM took
 * 17.4 / 30.4 / 26.0 / 11.0 ms for the four layers, against 4.5 / 19.6 / 19.2 / 9.7 ms for the
 * same shapes timed alone; matmul_in_order takes 3.3 / 17.0 / 17.8 / 9.6 ms in the step (it reads dy in
 * place, where XNNPACK first copies it into its packed layout). Otherwise, the filter gradient is
 * itself a convolution, run on the backend's XNNPACK Conv2D:
 *   dW[kh,kw,ci,co] = Σ_{n,h,w} x[n, h·s+kh−pt, w·s+kw−pl, ci] · dy[n,h,w,co]
 *   = transpose(conv2d(transpose(x,[3,1,2,0]), filter = transpose(dy,[1,2,0,3]),
 *                      dilations = strides, pad = [pt, pb'], [pl, pr']), [1,2,0,3])
 * where pb'/pr' make the output exactly kh × kw (a negative one means the last rows/columns of x
 * are never read: they are sliced off instead).
 */
import {
  backend_util,
  Conv2DBackpropFilter,
  type Conv2DBackpropFilterAttrs,
  type KernelConfig,
 
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { disposeIntermediate, wasmKernel, type WasmBackend, wasmKernelConfig } from './wasm_kernel_util.js';
import { im2colTransposed } from './im2col.js';
import { heapAddress, simdKernels } from './simd.js';

/** Largest im2col buffer (floats) the GEMM path builds; beyond it the convolution path is used. */
const IM2COL_MAX_FLOATS = 64 * 1024 * 1024;

/**
 * `gemm` (default): conv_filter_grad, or im2col (src/lab/ml/kernels/im2col.ts) and one GEMM, as
 * the module comment says (im2col + XNNPACK's GEMM was 1.4× faster than `conv` over the reference
 * model's layers and 6× on a one-channel input); `conv`: the filter gradient as one XNNPACK
 * convolution (above), also used when the im2col buffer would be huge.
 */
export function conv2DBackpropFilterConfig(method: 'gemm' | 'conv' = 'gemm'): KernelConfig {
  const conv2d = wasmKernel('Conv2D');
  const transpose = wasmKernel('Transpose');
  const slice = wasmKernel('Slice');
  const batchMatMul = wasmKernel('BatchMatMul');
  const reshape = wasmKernel('Reshape');

  function conv2DBackpropFilter(args: {
    inputs: { x: TensorInfo; dy: TensorInfo };
    attrs: Conv2DBackpropFilterAttrs;
    backend: WasmBackend;
  }): TensorInfo {
    const { inputs, attrs, backend } = args;
    const { x, dy } = inputs;
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
    if (backend_util.convertConv2DDataFormat(dataFormat) !== 'channelsLast') {
      throw new Error(`wasm Conv2DBackpropFilter supports dataFormat 'NHWC' only, got '${dataFormat}'`);
    }
    const info = backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
    const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
    const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
    const { top, left } = info.padInfo;
    const M = batchSize * outHeight * outWidth;
    const K = kh * kw * inChannels;
    // conno's wasm kernels where they run, else the JS im2col and the backend's GEMM (same bits).
    const simd = method === 'gemm' ? simdKernels(backend) : undefined;
    if (simd && inChannels % 4 === 0 && outChannels % 4 === 0) {
      // The same sums read straight from x (c/simd_kernels.c): no transposed x, no colT.
      const dW = backend.makeOutput([kh, kw, inChannels, outChannels], 'float32');
      simd.conv_filter_grad(heapAddress(backend, x), heapAddress(backend, dy), heapAddress(backend, dW), batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, kh, kw, sh, sw, top, left);
      return dW;
    }
    if (method === 'gemm' && K * M <= IM2COL_MAX_FLOATS) {
      // dW [K, Co] = colT [K, M] · dy [M, Co]
      const xP = transpose({ inputs: { x }, attrs: { perm: [3, 0, 1, 2] }, backend }); // [Ci, N, H, W]
      const colT = backend.makeOutput([1, K, M], 'float32');
      try {
        if (simd) simd.im2col_t(heapAddress(backend, xP), heapAddress(backend, colT), batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, kh, kw, sh, sw, top, left);
        else im2colTransposed(backend.typedArrayFromHeap(xP) as Float32Array, { batch: batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, kh, kw, sh, sw, top, left }, backend.typedArrayFromHeap(colT) as Float32Array);
        if (simd && outChannels % 4 === 0) {
          // conno's GEMM (c/simd_kernels.c): the same bits as BatchMatMul below, reading dy in
          // place instead of XNNPACK's packed copy of it.
          const dW = backend.makeOutput([kh, kw, inChannels, outChannels], 'float32');
          simd.matmul_in_order(heapAddress(backend, colT), heapAddress(backend, dy), heapAddress(backend, dW), K, M, outChannels);
          return dW;
        }
        const dy3 = reshape({ inputs: { x: dy }, attrs: { shape: [1, M, outChannels] }, backend });
        try {
          const dW = batchMatMul({ inputs: { a: colT, b: dy3 }, attrs: { transposeA: false, transposeB: false }, backend });
          try {
            return reshape({ inputs: { x: dW }, attrs: { shape: [kh, kw, inChannels, outChannels] }, backend });
          } finally {
            disposeIntermediate(backend, dW);
          }
        } finally {
          disposeIntermediate(backend, dy3);
        }
      } finally {
        disposeIntermediate(backend, colT, xP);
      }
    }
    let bottom = kh + (outHeight - 1) * sh - inHeight - top;
    let right = kw + (outWidth - 1) * sw - inWidth - left;

    const temps: TensorInfo[] = [];
    let xUsed = x; // [N, H', W', Ci]
    if (bottom < 0 || right < 0) {
      const h = inHeight + Math.min(bottom, 0);
      const w = inWidth + Math.min(right, 0);
      xUsed = slice({ inputs: { x }, attrs: { begin: [0, 0, 0, 0], size: [batchSize, h, w, inChannels] }, backend });
      temps.push(xUsed);
      bottom = Math.max(bottom, 0);
      right = Math.max(right, 0);
    }
    try {
      const xT = transpose({ inputs: { x: xUsed }, attrs: { perm: [3, 1, 2, 0] }, backend }); // [Ci, H', W', N]
      temps.push(xT);
      const dyT = transpose({ inputs: { x: dy }, attrs: { perm: [1, 2, 0, 3] }, backend }); // [OH, OW, N, Co]
      temps.push(dyT);
      const dWT = conv2d({
        inputs: { x: xT, filter: dyT },
        attrs: {
          strides: [1, 1],
          dilations: [sh, sw],
          pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
          dataFormat: 'NHWC',
        },
        backend,
      }); // [Ci, kh, kw, Co]
      temps.push(dWT);
      if (dWT.shape[1] !== kh || dWT.shape[2] !== kw || dWT.shape[3] !== outChannels) {
        throw new Error(`Conv2DBackpropFilter: internal shape ${dWT.shape} ≠ [${inChannels},${kh},${kw},${outChannels}]`);
      }
      return transpose({ inputs: { x: dWT }, attrs: { perm: [1, 2, 0, 3] }, backend }); // [kh, kw, Ci, Co]
    } finally {
      disposeIntermediate(backend, ...temps);
    }
  }

  return wasmKernelConfig(Conv2DBackpropFilter, conv2DBackpropFilter);
}
