import { describe, expect, it } from 'vitest';
import { im2colTransposed, type Im2ColGeometry } from './im2col.js';

/** The definition, one element at a time. */
function naive(xP: Float32Array, g: Im2ColGeometry): Float32Array {
  const { batch, inHeight: H, inWidth: W, inChannels: Ci, outHeight: OH, outWidth: OW, kh, kw, sh, sw, top, left } = g;
  const M = batch * OH * OW;
  const out = new Float32Array(kh * kw * Ci * M);
  for (let ky = 0; ky < kh; ky++)
    for (let kx = 0; kx < kw; kx++)
      for (let ci = 0; ci < Ci; ci++)
        for (let n = 0; n < batch; n++)
          for (let oh = 0; oh < OH; oh++)
            for (let ow = 0; ow < OW; ow++) {
              const ih = oh * sh + ky - top;
              const iw = ow * sw + kx - left;
              const v = ih < 0 || ih >= H || iw < 0 || iw >= W ? 0 : xP[((ci * batch + n) * H + ih) * W + iw]!;
              out[((ky * kw + kx) * Ci + ci) * M + (n * OH + oh) * OW + ow] = v;
            }
  return out;
}

const geometries: Array<[string, Im2ColGeometry]> = [
  ['3×3 same', { batch: 2, inHeight: 5, inWidth: 7, inChannels: 3, outHeight: 5, outWidth: 7, kh: 3, kw: 3, sh: 1, sw: 1, top: 1, left: 1 }],
  ['5×5 same, one row', { batch: 3, inHeight: 1, inWidth: 9, inChannels: 2, outHeight: 1, outWidth: 9, kh: 5, kw: 5, sh: 1, sw: 1, top: 2, left: 2 }],
  ['9×1 same (a conv1d), kernel taller than the input', { batch: 2, inHeight: 4, inWidth: 3, inChannels: 2, outHeight: 4, outWidth: 3, kh: 9, kw: 1, sh: 1, sw: 1, top: 4, left: 0 }],
  ['3×3 valid', { batch: 2, inHeight: 6, inWidth: 6, inChannels: 2, outHeight: 4, outWidth: 4, kh: 3, kw: 3, sh: 1, sw: 1, top: 0, left: 0 }],
  ['3×3 stride 2', { batch: 2, inHeight: 8, inWidth: 8, inChannels: 2, outHeight: 4, outWidth: 4, kh: 3, kw: 3, sh: 2, sw: 2, top: 0, left: 0 }],
  ['1×9 stride (1, 2) same', { batch: 2, inHeight: 1, inWidth: 17, inChannels: 3, outHeight: 1, outWidth: 9, kh: 1, kw: 9, sh: 1, sw: 2, top: 0, left: 4 }],
];

describe('im2colTransposed', () => {
  it.each(geometries)('%s: what the definition gives, separate buffers and one shared heap', (_, g) => {
    const n = g.inChannels * g.batch * g.inHeight * g.inWidth;
    const xP = Float32Array.from({ length: n }, (_, i) => i + 1);
    const want = naive(xP, g);
    const alone = new Float32Array(want.length).fill(NaN);
    im2colTransposed(xP, g, alone);
    expect(Array.from(alone)).toEqual(Array.from(want));
    // As on the wasm heap: both views of one buffer, with garbage around and in the output.
    const heap = new Float32Array(7 + n + 5 + want.length + 3).fill(-1);
    const x2 = heap.subarray(7, 7 + n);
    x2.set(xP);
    const col = heap.subarray(7 + n + 5, 7 + n + 5 + want.length);
    col.fill(NaN);
    im2colTransposed(x2, g, col);
    expect(Array.from(col)).toEqual(Array.from(want));
    expect(Array.from(heap.subarray(0, 7))).toEqual(Array(7).fill(-1));
    expect(Array.from(heap.subarray(7 + n, 7 + n + 5))).toEqual(Array(5).fill(-1));
    expect(Array.from(heap.subarray(heap.length - 3))).toEqual([-1, -1, -1]);
  });
});

describe('im2col_t (conno’s wasm kernel)', () => {
  it.each(geometries.concat([
    ['1×80 stride 4 same (wavecnn’s first layer)', { batch: 2, inHeight: 1, inWidth: 100, inChannels: 1, outHeight: 1, outWidth: 25, kh: 1, kw: 80, sh: 1, sw: 4, top: 0, left: 38 }],
    ['3×3 stride 3, a kernel column past the input', { batch: 1, inHeight: 4, inWidth: 2, inChannels: 2, outHeight: 2, outWidth: 2, kh: 3, kw: 3, sh: 3, sw: 3, top: 1, left: 2 }],
  ]))('%s: what the definition gives, on the backend’s heap', async (_, g) => {
    const { initBackend } = await import('../backend.js');
    const tf = await import('@tensorflow/tfjs-core');
    const { simdKernels, heapAddress } = await import('./simd.js');
    await initBackend('wasm');
    const backend = tf.backend() as unknown as Parameters<typeof simdKernels>[0];
    const k = simdKernels(backend);
    expect(k, 'SIMD kernels should load on Node 20').toBeDefined();
    const n = g.inChannels * g.batch * g.inHeight * g.inWidth;
    const values = Float32Array.from({ length: n }, (_, i) => (i % 7 === 0 ? -0 : i + 1));
    const want = naive(values, g);
    const xP = tf.tensor1d(values);
    const colT = tf.fill([want.length], NaN);
    k!.im2col_t(heapAddress(backend, xP as never), heapAddress(backend, colT as never), g.batch, g.inHeight, g.inWidth, g.inChannels, g.outHeight, g.outWidth, g.kh, g.kw, g.sh, g.sw, g.top, g.left);
    const bits = (a: Float32Array) => Array.from(new Uint32Array(Float32Array.from(a).buffer));
    expect(bits(colT.dataSync() as Float32Array)).toEqual(bits(want));
    tf.dispose([xP, colT]);
  });
});
