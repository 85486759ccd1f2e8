/**
 * conno's wasm training kernels against the cpu backend's, on seeded random inputs.
 * Error measure: max_i |wasm_i − cpu_i| / max_i |cpu_i| (the max-norm relative error of the
 * whole result); bound 1e-4 for every kernel (float32 sums of up to ~260k terms).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.js';
import { tileInto } from './tile.js';
import { conv2DBackpropFilterConfig } from './conv2d_backprop_filter.js';
import { batchNormTrainGradInto, batchNormTrainInto } from './batchnorm.js';
import { maxPoolGrad2x2 } from './max_pool_grad.js';
import { kernelArithmetic } from './simd.js';
import { relaxedMadd, wasmRelaxedMaddFused } from '../simd-support.js';
import { withEnv } from '../../../../test/helpers.js';

const MAX_REL_ERR = 1e-4;

function randomArray(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    a[i] = ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return a;
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Runs one kernel on a backend with the same inputs; returns its output values and shape. */
async function runOn(
  backend: 'wasm' | 'cpu',
  kernel: string,
  inputs: Record<string, { shape: number[]; values: Float32Array }>,
  attrs: Record<string, unknown>,
): Promise<{ values: Float32Array; shape: number[] }> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const ts: Record<string, tf.Tensor> = {};
    for (const [k, v] of Object.entries(inputs)) ts[k] = tf.tensor(v.values, v.shape);
    const out = tf.engine().runKernel(kernel, ts as never, attrs as never) as tf.Tensor;
    return { values: out.dataSync() as Float32Array, shape: out.shape };
  });
}

async function relErrVsCpu(
  kernel: string,
  inputs: Record<string, { shape: number[]; values: Float32Array }>,
  attrs: Record<string, unknown>,
): Promise<number> {
  const a = await runOn('wasm', kernel, inputs, attrs);
  const b = await runOn('cpu', kernel, inputs, attrs);
  expect(a.shape).toEqual(b.shape);
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < b.values.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs((a.values[i] as number) - (b.values[i] as number)));
    maxRef = Math.max(maxRef, Math.abs(b.values[i] as number));
  }
  return maxDiff / Math.max(maxRef, 1e-30);
}

/**
 * The bits of a float32 array. With `nanAsOne`, every NaN as one word: wasm leaves a NaN's sign to
 * the machine (x86 makes 0 · ∞ a negative NaN) and which of two NaNs an add keeps to the compiled code.
 */
function bitsOf(a: ArrayLike<number>, nanAsOne = false): number[] {
  // A Float32Array's own bytes (a NaN read into a JS number need not keep its payload).
  const f32 = a instanceof Float32Array ? a : Float32Array.from(a);
  const words = Array.from(new Uint32Array(f32.buffer.slice(f32.byteOffset, f32.byteOffset + f32.byteLength)));
  return nanAsOne ? words.map((b) => ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0 ? 0x7fc00000 : b)) : words;
}

/** `run` with conno's SIMD kernels off (CONNO_SIMD_KERNELS=0): the JS kernels and the backend's own. */
const withoutSimd = <T>(run: () => Promise<T>): Promise<T> => withEnv({ CONNO_SIMD_KERNELS: '0' }, run);

/** `run` with conno's mul-add build of the kernels (CONNO_WASM_FMA=0): XNNPACK's arithmetic. */
const withMulAdd = <T>(run: () => Promise<T>): Promise<T> => withEnv({ CONNO_WASM_FMA: '0' }, run);

/** How one product term joins a sum: c + a · b. */
type Term = (a: number, b: number, c: number) => number;

/** The mul-add build's term: the product rounded to float32, then the sum. */
const mulAddTerm: Term = (a, b, c) => Math.fround(c + Math.fround(a * b));

/**
 * The fma build's term: a · b + c rounded once to float32 (IEEE fusedMultiplyAdd), for float32
 * a, b and c. The product is exact in a double (24 + 24 significant bits); the double sum s is
 * rounded once already, and rounding it again to float32 errs only where s lies exactly halfway
 * between two float32s: there the sum's exact rounding error e (TwoSum) says which side is nearer.
 */
const fmaTerm: Term = (a, b, c) => {
  const p = a * b;
  const s = p + c;
  const r = Math.fround(s);
  if (!Number.isFinite(r) || r === s) return r;
  const v = s - p;
  const e = p - (s - v) + (c - v);
  const other = 2 * s - r; // the float32 on s's other side, where s is halfway between it and r
  if (e === 0 || Math.fround(other) !== other) return r;
  return e > 0 === other > r ? other : r;
};

describe('the fused reference term', () => {
  it('rounds as this machine’s fused multiply-add does: where the double sum lands on a float32 halfway point, and on random triples of any magnitude', () => {
    const madd = relaxedMadd()!;
    expect(madd, 'relaxed SIMD runs here').toBeDefined();
    expect(wasmRelaxedMaddFused()).toBe(true);
    // (1 + 2⁻²³) · 2⁻²⁴(1 − 2⁻²³) + (1 + 2⁻²³) is 1 + 3·2⁻²⁴ − 2⁻⁷⁰: the double sum drops the
    // 2⁻⁷⁰ and lies halfway between 1 + 2⁻²³ and 1 + 2⁻²²; the exact value is below, so 1 + 2⁻²³,
    // where rounding the double again would give 1 + 2⁻²² (ties to even).
    const [a, b, c] = [1 + 2 ** -23, 2 ** -24 * (1 - 2 ** -23), 1 + 2 ** -23];
    expect(Math.fround(a * b + c)).toBe(1 + 2 ** -22);
    expect(fmaTerm(a, b, c)).toBe(1 + 2 ** -23);
    expect(madd(a, b, c)).toBe(1 + 2 ** -23);
    expect(fmaTerm(1 + 2 ** -23, 1 - 2 ** -23, -1)).toBe(-(2 ** -46));
    const xs = randomArray(3 * 200_000, 99).map((v, i) => v * 2 ** ((i * 7919) % 61 - 30));
    let differs = 0;
    for (let i = 0; i < xs.length; i += 3) {
      const [p, q, r] = [xs[i]!, xs[i + 1]!, xs[i + 2]!];
      const want = madd(p, q, r);
      if (!Object.is(fmaTerm(p, q, r), want)) throw new Error(`fmaTerm(${p}, ${q}, ${r}) = ${fmaTerm(p, q, r)}, the machine gives ${want}`);
      if (mulAddTerm(p, q, r) !== want) differs++;
    }
    expect(differs, 'triples where fusing changes the result').toBeGreaterThan(1000);
  });
});

/** The index of element [n, h, w, c] of an NHWC array. */
const at4 = ([, H, W, C]: number[], n: number, h: number, w: number, c: number) => ((n * H! + h) * W! + w) * C! + c;

/**
 * A forward convolution summed as conv_in_order documents it (and XNNPACK sums it): for each
 * output, from the bias or +0, taps row by row, channels in order within a tap, x's padding +0.
 */
function convInOrderRef(term: Term, x: Float32Array, xShape: number[], w: Float32Array, [kh, kw]: [number, number], co: number, info: tf.backend_util.Conv2DInfo, bias?: Float32Array): Float32Array {
  const [N, H, W, C] = xShape as [number, number, number, number];
  const { outHeight: OH, outWidth: OW, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const { top, left } = info.padInfo;
  const y = new Float32Array(N * OH * OW * co);
  for (let n = 0; n < N; n++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++)
        for (let o = 0; o < co; o++) {
          let acc = bias ? bias[o]! : 0;
          for (let ky = 0; ky < kh; ky++)
            for (let kx = 0; kx < kw; kx++) {
              const ih = oh * sh + ky * dh - top;
              const iw = ow * sw + kx * dw - left;
              const inside = ih >= 0 && ih < H && iw >= 0 && iw < W;
              for (let c = 0; c < C; c++) acc = term(inside ? x[at4(xShape, n, ih, iw, c)]! : 0, w[((ky * kw + kx) * C + c) * co + o]!, acc);
            }
          y[at4([N, OH, OW, co], n, oh, ow, o)] = acc;
        }
  return y;
}

/**
 * The input gradient as XNNPACK's convolution sums it (conv2d_backprop_input.ts): the turned
 * filter wT[a, b, o, i] = W[kh−1−a, kw−1−b, i, o] over dy spread `stride` apart in P of
 * [N, H+kh−1, W+kw−1, Co] (zeros elsewhere), a valid convolution, through {@link convInOrderRef}.
 */
function inputGradRef(term: Term, dy: Float32Array, w: Float32Array, xShape: number[], [kh, kw]: [number, number], co: number, info: tf.backend_util.Conv2DInfo): Float32Array {
  const [N, H, W, C] = xShape as [number, number, number, number];
  const { outHeight: OH, outWidth: OW, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const pShape = [N, H + kh - 1, W + kw - 1, co];
  const P = new Float32Array(size(pShape));
  for (let n = 0; n < N; n++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        const [ph, pw] = [kh - 1 - top + oh * sh, kw - 1 - left + ow * sw];
        if (ph >= pShape[1]! || pw >= pShape[2]!) continue; // a dy row no dx element meets
        for (let o = 0; o < co; o++) P[at4(pShape, n, ph, pw, o)] = dy[at4([N, OH, OW, co], n, oh, ow, o)]!;
      }
  const wT = new Float32Array(kh * kw * co * C);
  for (let a = 0; a < kh; a++)
    for (let b = 0; b < kw; b++)
      for (let o = 0; o < co; o++) for (let i = 0; i < C; i++) wT[((a * kw + b) * co + o) * C + i] = w[(((kh - 1 - a) * kw + (kw - 1 - b)) * C + i) * co + o]!;
  const valid = tf.backend_util.computeConv2DInfo(pShape as never, [kh, kw, co, C], 1, 1, 'valid');
  return convInOrderRef(term, P, pShape, wT, [kh, kw], C, valid);
}

/** The filter gradient summed as matmul_in_order sums im2colᵀ(x) · dy: over (n, oh, ow) in order, from +0, x's padding +0. */
function filterGradRef(term: Term, x: Float32Array, dy: Float32Array, xShape: number[], [kh, kw]: [number, number], co: number, info: tf.backend_util.Conv2DInfo): Float32Array {
  const [N, H, W, C] = xShape as [number, number, number, number];
  const { outHeight: OH, outWidth: OW, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const dW = new Float32Array(kh * kw * C * co);
  for (let ky = 0; ky < kh; ky++)
    for (let kx = 0; kx < kw; kx++)
      for (let i = 0; i < C; i++)
        for (let o = 0; o < co; o++) {
          let acc = 0;
          for (let n = 0; n < N; n++)
            for (let oh = 0; oh < OH; oh++)
              for (let ow = 0; ow < OW; ow++) {
                const ih = oh * sh + ky - top;
                const iw = ow * sw + kx - left;
                const xv = ih >= 0 && ih < H && iw >= 0 && iw < W ? x[at4(xShape, n, ih, iw, i)]! : 0;
                acc = term(xv, dy[at4([N, OH, OW, co], n, oh, ow, o)]!, acc);
              }
          dW[((ky * kw + kx) * C + i) * co + o] = acc;
        }
  return dW;
}

/**
 * Checks a GEMM-like kernel's two builds: the mul-add build gives XNNPACK's (or the JS path's)
 * bits `xnn`, and so does `ref` summed with the mul-add term (so `ref` sums in XNNPACK's order);
 * the fma build (what runs here by default) gives `ref`'s bits summed with fused terms, which
 * differ from the mul-add ones where the sums have more than one term (`single`: they have one).
 * With `backend`, the shape is one conno's kernels leave to the backend's: XNNPACK's bits in both
 * modes. NaNs compare as one (their sign is the machine's).
 */
function expectBothBuilds(what: string, got: { mulAdd: ArrayLike<number>; fma: ArrayLike<number> }, xnn: ArrayLike<number>, ref: (term: Term) => ArrayLike<number>, o: { backend?: boolean; single?: boolean } = {}): void {
  const want = bitsOf(xnn, true);
  expect(bitsOf(got.mulAdd, true), `${what}: mul-add build against XNNPACK`).toEqual(want);
  expect(bitsOf(ref(mulAddTerm), true), `${what}: the reference with separate multiplies and adds against XNNPACK`).toEqual(want);
  expect(kernelArithmetic(), 'this machine fuses multiply-adds (see the wasmRelaxedMaddFused test)').toBe('fma');
  const fused = bitsOf(got.fma, true);
  if (o.backend) {
    expect(fused, `${what}: the backend's kernel, unfused, in either mode`).toEqual(want);
    return;
  }
  expect(fused, `${what}: fma build against the reference with fused terms`).toEqual(bitsOf(ref(fmaTerm), true));
  if (!o.single) expect(fused, `${what}: fused terms give other bits somewhere`).not.toEqual(want);
}

// [x shape NHWC, filter kh×kw, out channels, strides, pad]
const convCases: Array<[number[], [number, number], number, [number, number], 'same' | 'valid']> = [
  [[2, 9, 11, 3], [3, 3], 4, [1, 1], 'same'],
  [[2, 9, 11, 3], [3, 3], 4, [1, 1], 'valid'],
  [[3, 8, 10, 5], [3, 3], 6, [2, 2], 'same'],
  [[3, 9, 10, 5], [2, 3], 6, [2, 2], 'valid'], // last row of x unused: a negative pad
  [[1, 16, 20, 1], [5, 5], 8, [1, 1], 'same'],
  [[4, 7, 7, 16], [1, 1], 8, [1, 2], 'valid'],
  [[2, 12, 6, 4], [9, 1], 4, [2, 1], 'same'], // a conv1d as tfjs runs it
  [[2, 1, 17, 5], [1, 9], 6, [1, 2], 'same'], // TC-ResNet's strided conv1d, odd length
  [[2, 1, 16, 5], [1, 1], 6, [1, 2], 'same'], // its strided 1×1 shortcut (x rows never read)
  [[1, 1, 403, 1], [1, 80], 4, [1, 4], 'valid'], // wavecnn's first layer
  [[2, 11, 13, 3], [3, 3], 4, [3, 2], 'same'],
];

describe('wasm training kernels match the cpu backend', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it.each(convCases)('Conv2DBackpropFilter x=%j k=%j co=%i s=%j %s', async (xShape, [kh, kw], co, strides, pad) => {
    const ci = xShape[3] as number;
    const info = tf.backend_util.computeConv2DInfo(xShape as never, [kh, kw, ci, co], strides, 1, pad);
    const dyShape = info.outShape;
    const err = await relErrVsCpu(
      'Conv2DBackpropFilter',
      {
        x: { shape: xShape, values: randomArray(size(xShape), 1) },
        dy: { shape: dyShape, values: randomArray(size(dyShape), 2) },
      },
      { strides, pad, dataFormat: 'NHWC', filterShape: [kh, kw, ci, co] },
    );
    expect(err).toBeLessThanOrEqual(MAX_REL_ERR);
  });

  it.each(convCases)('Conv2DBackpropFilter as one convolution (the other method) x=%j k=%j co=%i s=%j %s', async (xShape, [kh, kw], co, strides, pad) => {
    const ci = xShape[3] as number;
    const info = tf.backend_util.computeConv2DInfo(xShape as never, [kh, kw, ci, co], strides, 1, pad);
    const swap = (method: 'gemm' | 'conv') => {
      tf.unregisterKernel('Conv2DBackpropFilter', 'wasm');
      tf.registerKernel(conv2DBackpropFilterConfig(method));
    };
    swap('conv');
    try {
      const err = await relErrVsCpu(
        'Conv2DBackpropFilter',
        { x: { shape: xShape, values: randomArray(size(xShape), 1) }, dy: { shape: info.outShape, values: randomArray(size(info.outShape), 2) } },
        { strides, pad, dataFormat: 'NHWC', filterShape: [kh, kw, ci, co] },
      );
      expect(err).toBeLessThanOrEqual(MAX_REL_ERR);
    } finally {
      swap('gemm');
    }
  });

  it.each(convCases)('Conv2DBackpropInput x=%j k=%j co=%i s=%j %s', async (xShape, [kh, kw], co, strides, pad) => {
    const ci = xShape[3] as number;
    const info = tf.backend_util.computeConv2DInfo(xShape as never, [kh, kw, ci, co], strides, 1, pad);
    const err = await relErrVsCpu(
      'Conv2DBackpropInput',
      {
        dy: { shape: info.outShape, values: randomArray(size(info.outShape), 3) },
        filter: { shape: [kh, kw, ci, co], values: randomArray(kh * kw * ci * co, 4) },
      },
      { strides, pad, dataFormat: 'NHWC', inputShape: xShape },
    );
    expect(err).toBeLessThanOrEqual(MAX_REL_ERR);
  });

  it.each([
    [[2, 9, 11, 3], [3, 3], 4, 'same'],
    [[2, 7, 8, 5], [2, 3], 6, 'valid'],
    [[3, 1, 16, 48], [1, 9], 48, 'same'], // TC-ResNet's last block
  ] as Array<[number[], [number, number], number, 'same' | 'valid']>)('Conv2DBackpropInput with stride 1 gives the bits of conv2d over the backend’s reversed, transposed filter x=%j k=%j co=%i %s', async (xShape, [kh, kw], co, pad) => {
    const ci = xShape[3] as number;
    await tf.setBackend('wasm');
    const info = tf.backend_util.computeConv2DInfo(xShape as never, [kh, kw, ci, co], [1, 1], 1, pad);
    const { top, bottom, left, right } = info.padInfo;
    tf.tidy(() => {
      const dy = tf.tensor(randomArray(size(info.outShape), 12), info.outShape);
      const w = tf.tensor(randomArray(kh * kw * ci * co, 13), [kh, kw, ci, co]);
      const got = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { strides: [1, 1], pad, dataFormat: 'NHWC', inputShape: xShape } as never) as tf.Tensor;
      // What the kernel computed before flipTransposed: the backend's Reverse and Transpose.
      const turned = tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]);
      const want = tf.conv2d(dy as tf.Tensor4D, turned as tf.Tensor4D, 1, [[0, 0], [kh - 1 - top, kh - 1 - bottom], [kw - 1 - left, kw - 1 - right], [0, 0]]);
      expect(got.shape).toEqual(xShape);
      expect(Buffer.from((got.dataSync() as Float32Array).buffer).equals(Buffer.from((want.dataSync() as Float32Array).buffer))).toBe(true);
    });
  });

  // [x shape, pool size, strides, pad]
  const poolCases: Array<[number[], [number, number], [number, number], 'same' | 'valid']> = [
    [[2, 8, 10, 3], [2, 2], [2, 2], 'valid'],
    [[2, 9, 11, 3], [2, 2], [2, 2], 'same'],
    [[2, 9, 11, 4], [3, 3], [2, 2], 'same'], // overlapping windows
    [[1, 7, 7, 5], [3, 2], [1, 1], 'valid'],
  ];
  it.each(poolCases)('MaxPoolGrad x=%j pool=%j s=%j %s', async (xShape, filterSize, strides, pad) => {
    const input = randomArray(size(xShape), 5);
    const attrs = { filterSize, strides, pad };
    // output = maxPool(input), computed on cpu and given to both (the kernel reads input and dy).
    const output = await runOn('cpu', 'MaxPool', { x: { shape: xShape, values: input } }, attrs);
    const err = await relErrVsCpu(
      'MaxPoolGrad',
      {
        dy: { shape: output.shape, values: randomArray(output.values.length, 6) },
        input: { shape: xShape, values: input },
        output: { shape: output.shape, values: output.values },
      },
      attrs,
    );
    expect(err).toBeLessThanOrEqual(MAX_REL_ERR);
  });

  it('MaxPoolGrad sends a tied window\'s gradient to its first maximum, like the cpu backend', async () => {
    const xShape = [1, 4, 4, 2];
    const input = new Float32Array(size(xShape)); // all zeros: every window is a tie (as after ReLU)
    const attrs = { filterSize: [2, 2], strides: [2, 2], pad: 'valid' };
    const dy = { shape: [1, 2, 2, 2], values: randomArray(8, 7) };
    const inputs = { dy, input: { shape: xShape, values: input }, output: { shape: [1, 2, 2, 2], values: new Float32Array(8) } };
    const a = await runOn('wasm', 'MaxPoolGrad', inputs, attrs);
    const b = await runOn('cpu', 'MaxPoolGrad', inputs, attrs);
    expect(Array.from(a.values)).toEqual(Array.from(b.values));
  });

  const tileCases: Array<[number[], number[]]> = [
    [[1, 1, 1, 16], [32, 64, 128, 1]], // the batchnorm gradient's tile
    [[2, 3], [3, 2]],
    [[3, 1, 2], [1, 4, 3]],
    [[5], [7]],
    [[2, 2, 2], [1, 1, 1]],
  ];
  it.each(tileCases)('Tile %j × %j', async (shape, reps) => {
    const err = await relErrVsCpu('Tile', { x: { shape, values: randomArray(size(shape), 8) } }, { reps });
    expect(err).toBe(0); // a copy: exact
  });

  // [shape, axis, keepDims]: leading axes take conno's path, others the shipped kernel
  const reduceCases: Array<[number[], number[], boolean]> = [
    [[32, 64, 128, 16], [0, 1, 2], false], // batchnorm's reductions (262,144 terms)
    [[4, 5, 6, 7], [0, 1, 2], true],
    [[4, 5, 6], [0], false],
    [[4, 5, 6], [1, 2], false],
    [[4, 5, 6], [0, 1, 2], false],
  ];
  it.each(reduceCases)('Sum and Mean %j over %j keepDims=%s', async (shape, axis, keepDims) => {
    const x = { shape, values: randomArray(size(shape), 9) };
    for (const kernel of ['Sum', 'Mean']) {
      // Relative to the largest |input| (a sum of ±1 values can be near 0): float32 rounding bound.
      const a = await runOn('wasm', kernel, { x }, { axis, keepDims });
      const b = await runOn('cpu', kernel, { x }, { axis, keepDims });
      expect(a.shape).toEqual(b.shape);
      const terms = size(shape) / b.values.length;
      let maxDiff = 0;
      for (let i = 0; i < b.values.length; i++) maxDiff = Math.max(maxDiff, Math.abs((a.values[i] as number) - (b.values[i] as number)));
      expect(maxDiff / (kernel === 'Sum' ? Math.sqrt(terms) : 1 / Math.sqrt(terms))).toBeLessThanOrEqual(MAX_REL_ERR);
    }
  });

  it('tileInto handles int32 and bool arrays and empty outputs', () => {
    const out = new Int32Array(12);
    tileInto(Int32Array.from([1, 2, 3]), [3, 1], [2, 2], out);
    expect(Array.from(out)).toEqual([1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3]);
    const empty = new Uint8Array(0);
    tileInto(Uint8Array.from([1]), [1], [0], empty);
    expect(empty.length).toBe(0);
  });

  it('fused batchnorm: statistics in float64 (no cancellation at |mean| ≫ std), affine output', () => {
    const C = 3;
    const M = 5000;
    const x = randomArray(M * C, 11).map((v, i) => 1000 + (i % C) + 0.01 * v);
    const gamma = Float32Array.from([1, 2, 0.5]);
    const beta = Float32Array.from([0, -1, 3]);
    const y = new Float32Array(M * C);
    const mean = new Float32Array(C);
    const variance = new Float32Array(C);
    batchNormTrainInto(x, C, gamma, beta, 1e-3, y, mean, variance);
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let i = c; i < x.length; i += C) s += x[i]!;
      const mu = s / M;
      let q = 0;
      for (let i = c; i < x.length; i += C) q += (x[i]! - mu) ** 2;
      expect(mean[c]).toBeCloseTo(mu, 3);
      expect(Math.abs(variance[c]! - q / M) / (q / M)).toBeLessThan(1e-5);
      const r = 1 / Math.sqrt(q / M + 1e-3);
      for (const i of [c, c + 300 * C, x.length - C + c]) expect(y[i]).toBeCloseTo(gamma[c]! * (x[i]! - mu) * r + beta[c]!, 4);
    }
  });

  it('fused batchnorm gradient matches finite differences of Σ w·y', () => {
    const C = 2;
    const M = 40;
    const x = randomArray(M * C, 12).map((v) => 3 * v + 0.5);
    const w = randomArray(M * C, 13); // the upstream gradient dy of the loss Σ w·y
    const gamma = Float32Array.from([1.5, -0.7]);
    const beta = Float32Array.from([0.1, 0.2]);
    const loss = (xs: Float32Array, g: Float32Array, b: Float32Array): number => {
      const y = new Float32Array(M * C);
      batchNormTrainInto(xs, C, g, b, 1e-3, y, new Float32Array(C), new Float32Array(C));
      return y.reduce((s, v, i) => s + v * w[i]!, 0);
    };
    const mean = new Float32Array(C);
    const variance = new Float32Array(C);
    batchNormTrainInto(x, C, gamma, beta, 1e-3, new Float32Array(M * C), mean, variance);
    const dx = new Float32Array(M * C);
    const dgamma = new Float32Array(C);
    const dbeta = new Float32Array(C);
    batchNormTrainGradInto(w, x, C, gamma, mean, variance, 1e-3, dx, dgamma, dbeta);
    const h = 1e-2;
    const numeric = (f: (d: number) => number) => (f(h) - f(-h)) / (2 * h);
    for (const i of [0, 1, 17, 78]) {
      const at = (d: number) => loss(x.map((v, j) => (j === i ? v + d : v)), gamma, beta);
      expect(dx[i]).toBeCloseTo(numeric(at), 2);
    }
    for (let c = 0; c < C; c++) {
      expect(dgamma[c]).toBeCloseTo(numeric((d) => loss(x, gamma.map((v, j) => (j === c ? v + d : v)), beta)), 2);
      expect(dbeta[c]).toBeCloseTo(numeric((d) => loss(x, gamma, beta.map((v, j) => (j === c ? v + d : v)))), 2);
    }
  });

  it('the batchnorm layer trains the same on wasm (fused kernels) as on cpu (tfjs ops), leaking nothing', async () => {
    const tfl = await import('@tensorflow/tfjs-layers');
    const { batchNormalization } = await import('../batchnorm.js');
    const xs = randomArray(4 * 5 * 6 * 3, 14).map((v) => 2 * v + 1);
    const ws = randomArray(4 * 5 * 6 * 3, 15);
    const run = async (backend: 'wasm' | 'cpu') => {
      await tf.setBackend(backend);
      const layer = batchNormalization(tfl.layers);
      const x = tf.tensor4d(xs, [4, 5, 6, 3]);
      const w = tf.tensor4d(ws, [4, 5, 6, 3]);
      layer.apply(tfl.input({ shape: [5, 6, 3] })); // builds the weights
      const before = tf.memory().numTensors;
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x, { training: true }) as tf.Tensor, w)) as tf.Scalar);
      const dx = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(layer.apply(xi, { training: true }) as tf.Tensor, w)))(x);
      const out = {
        dx: dx.dataSync().slice(),
        grads: Object.values(grads).map((g) => Array.from(g.dataSync())),
        moving: layer.getWeights().slice(2).map((t) => Array.from(t.dataSync())),
      };
      tf.dispose([dx, ...Object.values(grads)]);
      const leaked = tf.memory().numTensors - before;
      tf.dispose([x, w]);
      layer.dispose();
      return { ...out, leaked };
    };
    const a = await run('wasm');
    const b = await run('cpu');
    await tf.setBackend('wasm');
    expect(a.leaked).toBe(b.leaked); // (tfjs-layers keeps 1 tensor per first training call on either backend)
    for (let i = 0; i < b.dx.length; i++) expect(a.dx[i]).toBeCloseTo(b.dx[i]!, 4);
    a.grads.forEach((g, k) => g.forEach((v, i) => expect(v).toBeCloseTo(b.grads[k]![i]!, 3)));
    // Running statistics after two updates of u = 0.1 from (0, 1), variance unbiased.
    a.moving.forEach((m, k) => m.forEach((v, i) => expect(v).toBeCloseTo(b.moving[k]![i]!, 5)));
    expect(a.moving[0]![0]).not.toBe(0);
  });

  it('Identity shares the buffer (no copy) and keeps it alive until the last reference goes', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor1d([1, 2, 3]);
    const y = tf.clone(x);
    expect((y as unknown as { dataId: object }).dataId).toBe((x as unknown as { dataId: object }).dataId);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3]);
    y.dispose();
  });

  it('maxPoolGrad2x2 routes each gradient to its window\'s first maximum and zeroes the rest', () => {
    // One 2×2 window per channel, C = 2: channel 0 has a tie (first wins), channel 1 a clear max.
    const x = Float32Array.from([5, 1, 5, 2, 0, 9, 3, 4]); // positions a(c0,c1) b c d
    const dx = new Float32Array(8).fill(NaN);
    maxPoolGrad2x2(x, Float32Array.from([10, 20]), dx, 1, 1, 1, 2);
    expect(Array.from(dx)).toEqual([10, 0, 0, 0, 0, 20, 0, 0]);
  });
});

describe('wasm SIMD kernels (src/lab/ml/kernels/c)', () => {
  it('run on the wasm backend and give the JS kernel’s bits: ties, NaN, ±0, every channel tail', async () => {
    await initBackend('wasm');
    const { simdKernels } = await import('./simd.js');
    const backend = tf.backend() as unknown as Parameters<typeof simdKernels>[0];
    const k = simdKernels(backend);
    expect(k, 'SIMD kernels should load on Node 20').toBeDefined();
    for (const C of [1, 3, 4, 5, 16, 33]) {
      const [N, OH, OW] = [2, 3, 5];
      const n = N * 2 * OH * 2 * OW * C;
      // Few distinct values, so windows tie often; some NaN and signed zeros.
      const xs = randomArray(n, 7 + C).map((v, i) => (i % 17 === 0 ? NaN : i % 13 === 0 ? -0 : Math.round(v * 3) / 3));
      const dys = randomArray(N * OH * OW * C, 11 + C).map((v, i) => (i % 7 === 0 ? -v : v));
      const want = new Float32Array(n);
      maxPoolGrad2x2(xs, dys, want, N, OH, OW, C);
      const x = tf.tensor4d(xs, [N, 2 * OH, 2 * OW, C]);
      const dy = tf.tensor4d(dys, [N, OH, OW, C]);
      const y = tf.maxPool(x, 2, 2, 'valid');
      const got = tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: y }, { filterSize: 2, strides: 2, pad: 'valid' }) as tf.Tensor;
      expect(bitsOf(got.dataSync() as Float32Array), `C=${C}`).toEqual(bitsOf(want));
      tf.dispose([x, dy, y, got]);
    }
  });

  it('Transpose gives the backend’s bits through transpose_last2 (float32 NaN payloads, ±0, ±∞, subnormals; int32), and the backend’s kernel elsewhere', async () => {
    await initBackend('wasm');
    expect(tf.getKernel('Transpose', 'wasm')?.kernelFunc.name).toBe('transpose'); // conno's is the registered one
    const special = new Uint32Array([0x7fc00001, 0xffc01234, 0x80000000, 0, 0x7f800000, 0xff800000, 0x00000001, 0x807fffff, 0x7fa00000]);
    const cases: Array<[number[], number[]]> = [
      [[32, 64, 128, 1], [0, 2, 1, 3]], // TC-ResNet8's input: [B, mels, frames, 1] → [B, frames, mels, 1]
      [[5, 7], [1, 0]],
      [[3, 9, 6], [0, 2, 1]],
      [[2, 3, 4], [1, 2, 0]], // axes 1, 2 stay together: a [2, 12] transpose
      [[1, 6, 1, 5], [0, 3, 2, 1]], // axes of size 1 dropped
      [[4, 5, 6, 7], [0, 1, 3, 2]], // axes 0, 1 merged
      [[3, 13, 10], [0, 2, 1]], // edges of 4×4 blocks in both axes
      [[4, 5, 6], [2, 1, 0]], // not a swap of the last two: the backend's kernel
      [[2, 3, 5, 7], [0, 2, 1, 3]],
      [[2, 0, 3], [0, 2, 1]], // empty: the backend's kernel
    ];
    const runTranspose = (shape: number[], perm: number[], values: Float32Array | Int32Array) =>
      tf.tidy(() => {
        const out = tf.engine().runKernel('Transpose', { x: tf.tensor(values, shape) }, { perm } as never) as tf.Tensor;
        return { shape: out.shape, data: out.dataSync() as Float32Array | Int32Array };
      });
    for (const [shape, perm] of cases) {
      const n = size(shape);
      const words = new Uint32Array(randomArray(n, 7 + n).buffer);
      for (let i = 0; i < n; i += 5) words[i] = special[(i / 5) % special.length]!;
      const f = new Float32Array(words.buffer);
      const ints = Int32Array.from({ length: n }, (_, i) => i * 7919 - 100000);
      for (const values of [f, ints]) {
        const got = runTranspose(shape, perm, values);
        const want = await withoutSimd(async () => runTranspose(shape, perm, values));
        expect(got.shape, `${JSON.stringify(shape)} ${JSON.stringify(perm)}`).toEqual(want.shape);
        expect(Array.from(new Uint32Array(got.data.buffer, got.data.byteOffset, n)), `${JSON.stringify(shape)} ${JSON.stringify(perm)} ${values.constructor.name}`).toEqual(
          Array.from(new Uint32Array(want.data.buffer, want.data.byteOffset, n)),
        );
      }
    }
  });

  it('batchnorm sweeps give the JS sweeps’ bits, forward and backward, for any channel count', async () => {
    await initBackend('wasm');
    const { simdSweeps, batchNormTrainInto: fwd, batchNormTrainGradInto: bwd } = await import('./batchnorm.js');
    const backend = tf.backend() as unknown as Parameters<typeof simdSweeps>[0];
    // Channel blocks of 4, then tails of 2 and 1 (C = 1, 3, 6, 7, 33); rows in several tiles of
    // ~16 KiB (M·C·4 above it: 700×7, 2000×6, 257×64, 3000×24).
    for (const [M, C] of [[7, 1], [50, 3], [333, 16], [64, 33], [257, 64], [700, 7], [2000, 6], [3000, 24]] as const) {
      // Offset data (|mean| ≫ std) and values of mixed sign.
      const xs = randomArray(M * C, 3 + C).map((v, i) => 5 + v * (1 + (i % C)));
      const dys = randomArray(M * C, 9 + C);
      const g = randomArray(C, 4).map((v) => 1 + v / 2);
      const b = randomArray(C, 5);
      const want = { y: new Float32Array(M * C), mean: new Float32Array(C), variance: new Float32Array(C), dx: new Float32Array(M * C), dg: new Float32Array(C), db: new Float32Array(C) };
      fwd(xs, C, g, b, 1e-3, want.y, want.mean, want.variance);
      bwd(dys, xs, C, g, want.mean, want.variance, 1e-3, want.dx, want.dg, want.db);
      // The same on the heap, through the SIMD kernels.
      const ts = [xs, dys, new Float32Array(M * C), new Float32Array(M * C)].map((a) => tf.tensor1d(a));
      const sw = simdSweeps(backend, C);
      expect(sw).toBeDefined();
      const [x, dy, y, dx] = ts.map((t) => backend.typedArrayFromHeap(t as unknown as Parameters<typeof backend.typedArrayFromHeap>[0]) as Float32Array);
      const got = { mean: new Float32Array(C), variance: new Float32Array(C), dg: new Float32Array(C), db: new Float32Array(C) };
      fwd(x!, C, g, b, 1e-3, y!, got.mean, got.variance, sw);
      bwd(dy!, x!, C, g, got.mean, got.variance, 1e-3, dx!, got.dg, got.db, sw);
      expect(bitsOf(y!), `y M=${M} C=${C}`).toEqual(bitsOf(want.y));
      expect(bitsOf(got.mean)).toEqual(bitsOf(want.mean));
      expect(bitsOf(got.variance)).toEqual(bitsOf(want.variance));
      expect(bitsOf(dx!), `dx M=${M} C=${C}`).toEqual(bitsOf(want.dx));
      expect(bitsOf(got.dg)).toEqual(bitsOf(want.dg));
      expect(bitsOf(got.db)).toEqual(bitsOf(want.db));
      tf.dispose(ts);
    }
  });

  it('Sum and Mean over leading axes give the JS sweep’s bits through the SIMD kernel, for any channel tail', async () => {
    await initBackend('wasm');
    for (const [shape, axis] of [[[7, 1], [0]], [[50, 3], [0]], [[4, 9, 5], [0, 1]], [[33, 16], [0]], [[3, 11, 7, 33], [0, 1, 2]]] as const) {
      const values = randomArray(size([...shape]), 21).map((v, i) => (i % 5 === 0 ? 1e6 * v : v)); // rounding that order would show
      for (const kernel of ['Sum', 'Mean']) {
        const simd = await runOn('wasm', kernel, { x: { shape: [...shape], values } }, { axis: [...axis], keepDims: false });
        const js = await withoutSimd(() => runOn('wasm', kernel, { x: { shape: [...shape], values } }, { axis: [...axis], keepDims: false }));
        expect(bitsOf(simd.values), `${kernel} ${JSON.stringify(shape)}`).toEqual(bitsOf(js.values));
      }
    }
  });

  it('MaxPoolGrad with windows that do not overlap gives the JS path’s bits through the SIMD kernel: padding, ties, NaN, ±0, channel tails', async () => {
    await initBackend('wasm');
    // [x shape, pool, pad]: wavecnn's pools by 4 (same: a window clipped at both ends), 3×2 valid (rows never read).
    const cases: Array<[number[], [number, number], 'same' | 'valid']> = [
      [[2, 250, 1, 6], [4, 1], 'same'],
      [[2, 17, 1, 33], [4, 1], 'same'],
      [[3, 10, 9, 5], [3, 2], 'valid'],
      [[1, 8, 8, 4], [2, 2], 'same'],
      [[2, 7, 5, 1], [2, 2], 'same'],
    ];
    for (const [shape, pool, pad] of cases) {
      const n = size(shape);
      const input = randomArray(n, 31).map((v, i) => (i % 19 === 0 ? NaN : i % 11 === 0 ? -0 : Math.round(v * 2) / 2));
      const attrs = { filterSize: pool, strides: pool, pad };
      const output = await runOn('cpu', 'MaxPool', { x: { shape, values: input } }, attrs);
      const dy = randomArray(output.values.length, 32).map((v, i) => (i % 9 === 0 ? -0 : v));
      const inputs = { dy: { shape: output.shape, values: dy }, input: { shape, values: input }, output: { shape: output.shape, values: output.values } };
      const simd = await runOn('wasm', 'MaxPoolGrad', inputs, attrs);
      const js = await withoutSimd(() => runOn('wasm', 'MaxPoolGrad', inputs, attrs));
      expect(bitsOf(simd.values), `${JSON.stringify(shape)} ${pool} ${pad}`).toEqual(bitsOf(js.values));
    }
  });

  it('matmul_in_order: the mul-add build gives the bits of the backend’s BatchMatMul (XNNPACK; a NaN’s sign aside), the fma build those of the same sums fused: NaN, ±∞, ±0, row, column and block tails', async () => {
    await initBackend('wasm');
    const { simdKernels, heapAddress } = await import('./simd.js');
    const backend = tf.backend() as unknown as Parameters<typeof simdKernels>[0];
    const builds = { mulAdd: simdKernels(backend, 'mul-add')!, fma: simdKernels(backend, 'fma')! };
    expect(builds.mulAdd).toBeDefined();
    expect(builds.fma).toBeDefined();
    // [K, M, N]: K and M not multiples of the 4-row tiles or the 128-row blocks; N = 4, 8, 12, 16, 20, 64.
    const cases = [[1, 1, 4], [3, 5, 8], [4, 127, 12], [5, 128, 16], [7, 129, 20], [9, 700, 16], [13, 257, 64], [6, 3, 24]];
    for (const [K, M, N] of cases as Array<[number, number, number]>) {
      // Magnitudes 1e-3 to 1e3, so the order of the additions shows in the last bits.
      const a = randomArray(K * M, 40 + K).map((v, i) => v * 10 ** ((i % 7) - 3));
      const b = randomArray(M * N, 50 + N).map((v, i) => v * 10 ** ((i % 5) - 2));
      if (M > 3) {
        a[1] = NaN;
        a[2] = -0;
        b[3 % b.length] = Infinity;
        b[(5 * N + 1) % b.length] = -Infinity;
        b[(2 * N + 2) % b.length] = -0;
      }
      tf.tidy(() => {
        const A = tf.tensor3d(a, [1, K, M]);
        const B = tf.tensor3d(b, [1, M, N]);
        const want = tf.matMul(A, B);
        const run = (k: NonNullable<ReturnType<typeof simdKernels>>) => {
          const got = tf.fill([K, N], 7); // overwritten, not added to
          k.matmul_in_order(heapAddress(backend, A as never), heapAddress(backend, B as never), heapAddress(backend, got as never), K, M, N);
          return got.dataSync();
        };
        const ref = (term: Term) => {
          const c = new Float32Array(K * N);
          for (let i = 0; i < K; i++)
            for (let j = 0; j < N; j++) {
              let acc = 0;
              for (let m = 0; m < M; m++) acc = term(a[i * M + m]!, b[m * N + j]!, acc);
              c[i * N + j] = acc;
            }
          return c;
        };
        expectBothBuilds(`K=${K} M=${M} N=${N}`, { mulAdd: run(builds.mulAdd), fma: run(builds.fma) }, want.dataSync(), ref, { single: M === 1 });
      });
    }
  });

  it.each(convCases)('Conv2DBackpropFilter through conno’s kernels (conv_filter_grad, or im2col_t and matmul_in_order): the mul-add build gives the bits of the JS im2col and XNNPACK path, the fma build those sums fused x=%j k=%j co=%i s=%j %s', async (xShape, [kh, kw], co, strides, pad) => {
    await initBackend('wasm');
    const ci = xShape[3] as number;
    const info = tf.backend_util.computeConv2DInfo(xShape as never, [kh, kw, ci, co], strides, 1, pad);
    const inputs = { x: { shape: xShape, values: randomArray(size(xShape), 61) }, dy: { shape: info.outShape, values: randomArray(size(info.outShape), 62) } };
    const attrs = { strides, pad, dataFormat: 'NHWC', filterShape: [kh, kw, ci, co] };
    const fma = await runOn('wasm', 'Conv2DBackpropFilter', inputs, attrs);
    const mulAdd = await withMulAdd(() => runOn('wasm', 'Conv2DBackpropFilter', inputs, attrs));
    const xnn = await withoutSimd(() => runOn('wasm', 'Conv2DBackpropFilter', inputs, attrs)); // im2col in JS, then the backend's BatchMatMul
    expect(bitsOf(mulAdd.values)).toEqual(bitsOf(xnn.values)); // no NaN here: every bit, sign included
    // Co not a multiple of 4: the backend's BatchMatMul in either mode.
    expectBothBuilds('dW', { mulAdd: mulAdd.values, fma: fma.values }, xnn.values, (term) => filterGradRef(term, inputs.x.values, inputs.dy.values, xShape, [kh, kw], co, info), { backend: co % 4 !== 0 });
  });

  // [x shape NHWC, filter kh×kw, out channels, strides, pad]: Ci a multiple of 4, so conv_filter_grad runs.
  const fusedCases: Array<[number[], [number, number], number, [number, number], 'same' | 'valid']> = [
    [[2, 9, 11, 4], [3, 3], 8, [1, 1], 'same'],
    [[2, 9, 11, 8], [3, 3], 12, [1, 1], 'valid'], // a 4-column tail after the 8-column tiles
    [[3, 8, 10, 4], [3, 3], 4, [2, 2], 'same'],
    [[3, 9, 10, 8], [2, 3], 20, [2, 2], 'valid'], // last row of x never read
    [[1, 5, 6, 4], [7, 7], 8, [1, 1], 'same'], // the filter larger than x: rows and columns all padding
    [[2, 1, 17, 16], [1, 9], 24, [1, 2], 'same'], // TC-ResNet's strided conv1d
    [[2, 1, 16, 16], [1, 1], 24, [1, 2], 'same'], // its 1×1 shortcut
    [[1, 1, 300, 4], [1, 3], 8, [1, 1], 'same'], // rows longer than a block
    [[5, 3, 3, 12], [3, 3], 16, [1, 1], 'same'], // many short rows per block
  ];
  it.each(fusedCases)('conv_filter_grad (no im2col): the mul-add build gives the bits of im2col + BatchMatMul (a NaN’s sign aside), the fma build those sums fused, with NaN, ±∞ and ±0 in x and dy x=%j k=%j co=%i s=%j %s', async (xShape, [kh, kw], co, strides, pad) => {
    await initBackend('wasm');
    const ci = xShape[3] as number;
    const info = tf.backend_util.computeConv2DInfo(xShape as never, [kh, kw, ci, co], strides, 1, pad);
    const xs = randomArray(size(xShape), 71).map((v, i) => v * 10 ** ((i % 7) - 3));
    const dys = randomArray(size(info.outShape), 72).map((v, i) => v * 10 ** ((i % 5) - 2));
    xs[3] = NaN;
    xs[5] = -0;
    dys[1] = Infinity; // meets padding (+0) in some windows: 0 · ∞ = NaN, as the im2col path gives
    dys[dys.length - 2] = -Infinity;
    dys[7 % dys.length] = -0;
    const inputs = { x: { shape: xShape, values: xs }, dy: { shape: info.outShape, values: dys } };
    const attrs = { strides, pad, dataFormat: 'NHWC', filterShape: [kh, kw, ci, co] };
    const fma = await runOn('wasm', 'Conv2DBackpropFilter', inputs, attrs);
    const mulAdd = await withMulAdd(() => runOn('wasm', 'Conv2DBackpropFilter', inputs, attrs));
    const xnn = await withoutSimd(() => runOn('wasm', 'Conv2DBackpropFilter', inputs, attrs)); // im2col in JS, then the backend's BatchMatMul
    expectBothBuilds('dW', { mulAdd: mulAdd.values, fma: fma.values }, xnn.values, (term) => filterGradRef(term, xs, dys, xShape, [kh, kw], co, info));
    // Finite inputs: also close to the cpu backend's result.
    const finite = { x: { shape: xShape, values: randomArray(size(xShape), 73) }, dy: { shape: info.outShape, values: randomArray(size(info.outShape), 74) } };
    expect(await relErrVsCpu('Conv2DBackpropFilter', finite, attrs)).toBeLessThanOrEqual(MAX_REL_ERR);
  });

  // [x shape NHWC, filter kh×kw, out channels (a multiple of 4), strides, dilations, pad]
  const forwardCases: Array<[number[], [number, number], number, [number, number], [number, number], 'same' | 'valid']> = [
    [[2, 9, 11, 3], [3, 3], 4, [1, 1], [1, 1], 'same'], // rows of taps over x's edges: tap by tap
    [[2, 9, 11, 8], [3, 3], 12, [1, 1], [1, 1], 'valid'], // a 4-channel tail after the 8-channel tiles
    [[3, 8, 10, 5], [3, 3], 8, [2, 2], [1, 1], 'same'],
    [[2, 9, 11, 4], [3, 3], 8, [1, 1], [2, 2], 'same'], // dilated: tap by tap
    [[1, 5, 6, 4], [7, 7], 8, [1, 1], [1, 1], 'same'], // the filter larger than x: rows wholly outside
    [[2, 1, 17, 16], [1, 9], 24, [1, 2], [1, 1], 'same'], // TC-ResNet's strided conv1d
    [[2, 1, 16, 16], [1, 1], 24, [1, 2], [1, 1], 'same'], // its 1×1 shortcut
    [[3, 1, 130, 64], [1, 3], 16, [1, 1], [1, 1], 'same'], // its first layer (a pixel tail: 390 = 4·97 + 2)
    [[1, 1, 403, 1], [1, 80], 32, [1, 4], [1, 1], 'valid'], // wavecnn's first layer: one channel, 80 taps in a run
  ];
  it.each(forwardCases)('Conv2D and FusedConv2D through conv_in_order: the mul-add build gives the bits of XNNPACK’s convolution (a NaN’s sign aside), the fma build those sums fused, NaN, ±∞ and ±0 among the inputs x=%j k=%j co=%i s=%j d=%j %s', async (xShape, [kh, kw], co, strides, dilations, pad) => {
    await initBackend('wasm');
    const ci = xShape[3] as number;
    const xs = randomArray(size(xShape), 81).map((v, i) => v * 10 ** ((i % 7) - 3));
    const ws = randomArray(kh * kw * ci * co, 82).map((v, i) => v * 10 ** ((i % 5) - 2));
    xs[3] = NaN;
    xs[5] = -0;
    xs[9 % xs.length] = Infinity;
    ws[2] = -0;
    ws[ws.length - 1] = -Infinity; // meets the padding's +0 in some windows: 0 · ∞ = NaN in both
    const inputs = { x: { shape: xShape, values: xs }, filter: { shape: [kh, kw, ci, co], values: ws } };
    const attrs = { strides, pad, dataFormat: 'NHWC', dilations };
    const fusedInputs = { ...inputs, bias: { shape: [co], values: randomArray(co, 83) } };
    const fusedAttrs = { ...attrs, activation: 'linear' };
    const info = tf.backend_util.computeConv2DInfo(xShape as never, [kh, kw, ci, co], strides, dilations, pad);
    for (const [kernel, ins, at] of [['Conv2D', inputs, attrs], ['FusedConv2D', fusedInputs, fusedAttrs]] as const) {
      const fma = await runOn('wasm', kernel, ins, at);
      const mulAdd = await withMulAdd(() => runOn('wasm', kernel, ins, at));
      const xnn = await withoutSimd(() => runOn('wasm', kernel, ins, at));
      expect(fma.shape).toEqual(xnn.shape);
      const bias = 'bias' in ins ? ins.bias.values : undefined;
      expectBothBuilds(kernel, { mulAdd: mulAdd.values, fma: fma.values }, xnn.values, (term) => convInOrderRef(term, xs, xShape, ws, [kh, kw], co, info, bias));
    }
    // Finite inputs: close to the cpu backend's result too.
    const finite = { x: { shape: xShape, values: randomArray(size(xShape), 84) }, filter: { shape: [kh, kw, ci, co], values: randomArray(kh * kw * ci * co, 85) } };
    expect(await relErrVsCpu('Conv2D', finite, attrs)).toBeLessThanOrEqual(MAX_REL_ERR);
  });

  // [x shape NHWC (Ci a multiple of 4), filter kh×kw, out channels, strides, pad]
  const inputGradCases: Array<[number[], [number, number], number, [number, number], 'same' | 'valid']> = [
    [[2, 9, 11, 4], [3, 3], 4, [1, 1], 'same'],
    [[2, 9, 11, 8], [3, 3], 6, [1, 1], 'valid'],
    [[3, 8, 10, 4], [3, 3], 6, [2, 2], 'same'],
    [[3, 9, 10, 8], [2, 3], 6, [2, 2], 'valid'], // dx's last row gets no gradient
    [[4, 7, 7, 16], [1, 1], 8, [1, 2], 'valid'],
    [[2, 12, 6, 4], [9, 1], 4, [2, 1], 'same'],
    [[2, 1, 17, 8], [1, 9], 6, [1, 2], 'same'], // TC-ResNet's strided conv1d, odd length
    [[2, 1, 16, 12], [1, 1], 6, [1, 2], 'same'], // its 1×1 shortcut: odd columns meet no tap
    [[2, 11, 13, 4], [2, 2], 5, [3, 3], 'same'], // strides wider than the filter: phases with no taps
    [[32, 1, 16, 48], [1, 9], 48, [1, 1], 'same'], // TC-ResNet's last block
  ];
  it.each(inputGradCases)('Conv2DBackpropInput through conv_in_order: the mul-add build gives the bits of XNNPACK over the spread dy for a finite filter, the fma build those sums fused (a NaN’s sign aside; NaN, ±∞ and ±0 in dy) x=%j k=%j co=%i s=%j %s', async (xShape, [kh, kw], co, strides, pad) => {
    await initBackend('wasm');
    const ci = xShape[3] as number;
    const info = tf.backend_util.computeConv2DInfo(xShape as never, [kh, kw, ci, co], strides, 1, pad);
    const dys = randomArray(size(info.outShape), 91).map((v, i) => v * 10 ** ((i % 7) - 3));
    const ws = randomArray(kh * kw * ci * co, 92).map((v, i) => v * 10 ** ((i % 5) - 2));
    dys[3] = NaN;
    dys[5] = -0;
    dys[9 % dys.length] = Infinity;
    ws[2] = -0;
    const inputs = { dy: { shape: info.outShape, values: dys }, filter: { shape: [kh, kw, ci, co], values: ws } };
    const attrs = { strides, pad, dataFormat: 'NHWC', inputShape: xShape };
    const fma = await runOn('wasm', 'Conv2DBackpropInput', inputs, attrs);
    const mulAdd = await withMulAdd(() => runOn('wasm', 'Conv2DBackpropInput', inputs, attrs));
    const xnn = await withoutSimd(() => runOn('wasm', 'Conv2DBackpropInput', inputs, attrs)); // the turned filter over dy spread out, on XNNPACK
    expect(fma.shape).toEqual(xShape);
    expectBothBuilds('dx', { mulAdd: mulAdd.values, fma: fma.values }, xnn.values, (term) => inputGradRef(term, dys, ws, xShape, [kh, kw], co, info));
  });

  it('the running-statistics kernel gives the bits of the tfjs ops it replaces: any magnitude, subnormals, ±0, one sample per channel', async () => {
    await initBackend('wasm');
    const { updateRunning } = await import('../batchnorm.js');
    const C = 37;
    const spread = (seed: number) => randomArray(C, seed).map((v, i) => (i === 0 ? -0 : i === 1 ? 1e-40 : i === 2 ? -3e-39 : v * 10 ** ((i % 9) - 4)));
    for (const n of [1, 2, 7, 4096]) {
      const kept: tf.Tensor[] = [];
      const variable = (t: tf.Tensor) => {
        let value = t;
        return { read: () => value, write: (next: tf.Tensor) => void kept.push((value = tf.keep(next))) };
      };
      const run = (fused: boolean) =>
        tf.tidy(() => {
          const self = { movingMean: variable(tf.tensor1d(spread(101))), movingVariance: variable(tf.tensor1d(spread(102).map(Math.abs))) };
          updateRunning(self as never, tf.tensor1d(spread(103)), tf.tensor1d(spread(104).map(Math.abs)), n, fused);
          return [self.movingMean.read().dataSync().slice(), self.movingVariance.read().dataSync().slice()] as Float32Array[];
        });
      const tensorsBefore = tf.memory().numTensors;
      const [m1, v1] = run(true);
      const [m2, v2] = run(false);
      expect(bitsOf(m1!), `mean, n=${n}`).toEqual(bitsOf(m2!));
      expect(bitsOf(v1!), `variance, n=${n}`).toEqual(bitsOf(v2!));
      expect(tf.memory().numTensors - tensorsBefore).toBe(4); // the four kept results, nothing else
      tf.dispose(kept);
    }
  });

  it('ReLU’s gradient through ConnoReluGrad gives the bits of tfjs-core’s dy · cast(step(x)) (a NaN’s sign aside): NaN, ±∞, ±0 and subnormals in x and dy', async () => {
    await initBackend('wasm');
    const { buildModel, ModelSchema } = await import('../models.js');
    // Building a model puts conno's ReLU gradient in place (after tfjs-layers registered tfjs-core's).
    (await buildModel(ModelSchema.parse({ name: 'mlp' }), [4], 2, 1)).dispose();
    const special = [NaN, -0, 0, Infinity, -Infinity, 1e-45, -1e-45, 3e-39, -2, 5];
    const n = 4099;
    const xs = randomArray(n, 111).map((v, i) => (i < special.length ** 2 ? special[Math.floor(i / special.length)]! : v));
    const dys = randomArray(n, 112).map((v, i) => (i < special.length ** 2 ? special[i % special.length]! : v * 10 ** ((i % 9) - 4)));
    const run = async () =>
      tf.tidy(() => {
        const x = tf.tensor(xs, [n]);
        const dy = tf.tensor(dys, [n]);
        const grad = tf.grad((t: tf.Tensor) => tf.relu(t))(x, dy);
        return [grad.dataSync().slice(), tf.mul(dy, tf.cast(tf.step(x), 'float32')).dataSync().slice()] as Float32Array[];
      });
    const [ours, stock] = await run();
    expect(bitsOf(ours!, true)).toEqual(bitsOf(stock!, true));
    const [js] = await withoutSimd(run); // the kernel's JS loop
    expect(bitsOf(js!, true)).toEqual(bitsOf(stock!, true));
    // …and the gradient did run through it.
    const profile = await tf.profile(() => {
      tf.tidy(() => void tf.grad((t: tf.Tensor) => tf.relu(t))(tf.tensor(xs, [n]), tf.tensor(dys, [n])).dataSync());
    });
    const kernels = profile.kernels.map((k) => k.name);
    expect(kernels).toContain('ConnoReluGrad');
    expect(kernels).not.toContain('Step');
  });

  it('the committed .wasm files are what npm run build:kernels makes of the C source', async () => {
    const { execFileSync } = await import('node:child_process');
    const { readFileSync, mkdtempSync } = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const { simdKernelsFile } = await import('./simd.js');
    let clang = true;
    try {
      execFileSync('clang-16', ['--version'], { stdio: 'ignore' });
      execFileSync('wasm-ld-16', ['--version'], { stdio: 'ignore' });
    } catch {
      clang = false;
    }
    if (!clang) {
      console.warn('skipped: clang-16/wasm-ld-16 not installed (apt-get install clang-16 lld-16) — the committed .wasm files are used as they are');
      return;
    }
    const out = mkdtempSync(path.join(os.tmpdir(), 'conno-kernels-'));
    execFileSync('bash', [path.join(process.cwd(), 'scripts', 'build-kernels.sh'), out]);
    expect(readFileSync(path.join(out, 'simd_kernels.wasm')).equals(readFileSync(simdKernelsFile('fma')!)), 'simd_kernels.wasm').toBe(true);
    expect(readFileSync(path.join(out, 'simd_kernels_mul_add.wasm')).equals(readFileSync(simdKernelsFile('mul-add')!)), 'simd_kernels_mul_add.wasm').toBe(true);
  });

});
