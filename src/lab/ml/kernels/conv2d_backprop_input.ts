/**
 * Conv2DBackpropInput for the wasm backend. 4.22.0 has one, but it is a scalar loop (730 ms per
 * step of the reference model); with stride 1 the input gradient is a plain convolution:
 *   dx = conv2d(dy, transpose(reverse(W,[0,1]),[0,1,3,2]),
 *               pad = (kh−1−top, kh−1−bottom, kw−1−left, kw−1−right))
 * With strides > 1 it is the same convolution over dy with its rows and columns spread `stride`
 * apart (zeros between them) and the padding laid in: P[n, kh−1−top + oh·sh, kw−1−left + ow·sw, :] =
 * dy[n, oh, ow, :], P of [N, H+kh−1, W+kw−1, Co] and zero elsewhere, then dx = conv2d(P, W', valid).
 * Where conno's SIMD kernels run and Ci is a multiple of 4, conv_in_order (c/simd_kernels.c)
 * computes those sums on dy itself: one pass per phase (φh, φw) of dx, whose rows φh + sh·t and
 * columns φw + sw·u meet dy only through the taps a ≡ kh−1−top−φh (mod sh), b ≡ kw−1−left−φw
 * (mod sw); the other taps meet only P's zeros and are not summed (sh·sw× less work than over P,
 * and the same bits while the filter is finite: kernels.test.ts). Elsewhere P is built and the
 * backend's XNNPACK Conv2D runs over it (~10× faster than the backend's scalar kernel on
 * TC-ResNet's strided convolutions). Paddings wider than the filter, and NCHW, go to the backend's
 * own kernel. W' (the turned filter) is made by one copy (flipTransposed).
 */
import {
  backend_util,
  Conv2DBackpropInput,
  type Conv2DBackpropInputAttrs,
  type KernelConfig,
 
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { convInOrder, heapAddress, simdKernels, type SimdKernels } from './simd.js';
import { disposeIntermediate, wasmKernel, type WasmBackend, wasmKernelConfig } from './wasm_kernel_util.js';

export function conv2DBackpropInputConfig(): KernelConfig {
  const shipped = wasmKernel(Conv2DBackpropInput);
  const conv2d = wasmKernel('Conv2D');

  function conv2DBackpropInput(args: {
    inputs: { dy: TensorInfo; filter: TensorInfo };
    attrs: Conv2DBackpropInputAttrs;
    backend: WasmBackend;
  }): TensorInfo {
    const { inputs, attrs, backend } = args;
    const { dy, filter } = inputs;
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs;
    const info = backend_util.computeConv2DInfo(inputShape, filter.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode, false, backend_util.convertConv2DDataFormat(dataFormat));
    const { filterHeight: kh, filterWidth: kw } = info;
    const { top, bottom, left, right } = info.padInfo;
    const { strideHeight: sh, strideWidth: sw, batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow, outChannels: co } = info;
    if (info.dataFormat !== 'channelsLast' || top > kh - 1 || left > kw - 1) return shipped(args as never);
    const unit = sh === 1 && sw === 1;
    if (unit ? bottom > kh - 1 || right > kw - 1 : kh - 1 - top + (oh - 1) * sh > h + kh - 2 || kw - 1 - left + (ow - 1) * sw > w + kw - 2) {
      return shipped(args as never);
    }

    const simd = simdKernels(backend);
    const temps: TensorInfo[] = [];
    try {
      const wT = flipTransposed(backend, filter, kh, kw, simd); // [kh, kw, Co, Ci]
      temps.push(wT);
      if (simd && ci % 4 === 0 && dy.dtype === 'float32') {
        // conno's conv_in_order (c/simd_kernels.c): with stride 1 the convolution above; with
        // strides, one pass per phase of dx, over dy itself, summing only the filter taps that
        // meet dy's rows (not the zeros spread between them). The same bits as the XNNPACK path
        // below while the filter is finite (kernels.test.ts).
        const dx = backend.makeOutput([n, h, w, ci], 'float32');
        const g = { x: heapAddress(backend, dy), init: 0, y: heapAddress(backend, dx), n, h: oh, w: ow, c: co, co: ci, dh: 1, dw: 1, yh: h, yw: w };
        const tp = kh - 1 - top; // the padding P has above and left of dy
        const lp = kw - 1 - left;
        const filter0 = heapAddress(backend, wT);
        for (let ph = 0; ph < sh; ph++) {
          for (let pw = 0; pw < sw; pw++) {
            // dx[φh + sh·t, φw + sw·u] takes the taps a ≡ tp − φh (mod sh), b ≡ lp − φw (mod sw).
            const rows = Math.ceil((h - ph) / sh);
            const cols = Math.ceil((w - pw) / sw);
            if (rows <= 0 || cols <= 0) continue;
            const a0 = (((tp - ph) % sh) + sh) % sh;
            const b0 = (((lp - pw) % sw) + sw) % sw;
            convInOrder(backend, simd, {
              ...g,
              filter: filter0 + (a0 * kw + b0) * co * ci * 4,
              oh: rows,
              ow: cols,
              nky: a0 < kh ? Math.ceil((kh - a0) / sh) : 0,
              nkx: b0 < kw ? Math.ceil((kw - b0) / sw) : 0,
              fsy: sh * kw,
              fsx: sw,
              sh: 1,
              sw: 1,
              top: (tp - ph - a0) / sh, // dy row of (t, tap u) = t + u − top
              left: (lp - pw - b0) / sw,
              ysh: sh,
              ysw: sw,
              yoh: ph,
              yow: pw,
            });
          }
        }
        return dx;
      }
      if (unit) {
        return conv2d({
          inputs: { x: dy, filter: wT },
          attrs: {
            strides: [1, 1],
            dilations: [1, 1],
            pad: [[0, 0], [kh - 1 - top, kh - 1 - bottom], [kw - 1 - left, kw - 1 - right], [0, 0]],
            dataFormat: 'NHWC',
          },
          backend,
        }); // [N, H, W, Ci]
      }
      const hp = h + kh - 1;
      const wp = w + kw - 1;
      const spread = backend.makeOutput([n, hp, wp, co], 'float32');
      temps.push(spread);
      spreadRows(backend, dy, spread, { n, oh, ow, co, hp, wp, sh, sw, top: kh - 1 - top, left: kw - 1 - left });
      return conv2d({
        inputs: { x: spread, filter: wT },
        attrs: { strides: [1, 1], dilations: [1, 1], pad: 'valid', dataFormat: 'NHWC' },
        backend,
      }); // [N, H, W, Ci]
    } finally {
      disposeIntermediate(backend, ...temps);
    }
  }

  return wasmKernelConfig(Conv2DBackpropInput, conv2DBackpropInput);
}

/**
 * The filter turned for the input gradient, wT[a, b, o, i] = W[kh−1−a, kw−1−b, i, o]: the
 * backend's Reverse + Transpose, as one copy within the wasm heap. Alone, the backend's Reverse
 * of a 9×48×48 filter took as long as the convolution it serves (630–800 µs); in TC-ResNet8's
 * training step the input gradients went from 8.3–12.0 to 6.8–8.0 ms. Values are moved, never
 * computed: the same bits.
 */
function flipTransposed(backend: WasmBackend, filter: TensorInfo, kh: number, kw: number, simd: SimdKernels | undefined): TensorInfo {
  const [, , ci, co] = filter.shape as [number, number, number, number];
  const out = backend.makeOutput([kh, kw, co, ci], 'float32');
  if (simd) {
    // The same moves in conno's wasm module (the JS loop below took ~0.2 ms of TC-ResNet8's step).
    simd.flip_transposed(heapAddress(backend, filter), heapAddress(backend, out), kh, kw, ci, co);
    return out;
  }
  const src = backend.typedArrayFromHeap(filter) as Float32Array;
  const dst = backend.typedArrayFromHeap(out) as Float32Array;
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      const from = ((kh - 1 - a) * kw + (kw - 1 - b)) * ci * co;
      const to = (a * kw + b) * co * ci;
      for (let i = 0; i < ci; i++) {
        for (let o = 0; o < co; o++) dst[to + o * ci + i] = src[from + i * co + o]!;
      }
    }
  }
  return out;
}

/** P[n, top + i·sh, left + j·sw, :] = dy[n, i, j, :], zero elsewhere: moves within the wasm heap, allocating nothing. */
function spreadRows(
  backend: WasmBackend,
  dy: TensorInfo,
  spread: TensorInfo,
  g: { n: number; oh: number; ow: number; co: number; hp: number; wp: number; sh: number; sw: number; top: number; left: number },
): void {
  const src = backend.typedArrayFromHeap(dy) as Float32Array;
  const dst = backend.typedArrayFromHeap(spread) as Float32Array;
  dst.fill(0);
  const heap = new Float32Array(dst.buffer);
  const s0 = src.byteOffset / 4;
  const d0 = dst.byteOffset / 4;
  const { n, oh, ow, co, hp, wp, sh, sw, top, left } = g;
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < oh; i++) {
      let from = s0 + ((b * oh + i) * ow) * co;
      let to = d0 + ((b * hp + top + i * sh) * wp + left) * co;
      for (let j = 0; j < ow; j++, from += co, to += sw * co) heap.copyWithin(to, from, from + co);
    }
  }
}
