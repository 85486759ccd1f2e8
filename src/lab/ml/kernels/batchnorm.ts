/**
 * Batch normalisation in training mode as two fused kernels for the wasm backend, written over
 * the wasm heap in JS. tfjs-layers builds training-mode batchnorm from moments + batchNorm, and
 * the gradient of that graph is ~15 broadcasting kernels (Sum, Mul, Sub, Tile, Mean, …): about
 * 45% of a training step of the reference model. Here the forward pass is three sweeps over the
 * input and the backward pass two.
 *
 * Layout: channels last (NHWC or [N, L, C]), statistics per channel over every other axis.
 * Sums are taken in float64, so the result does not depend on how many elements a channel has.
 *
 *   forward   μ_c = mean(x),  σ²_c = mean((x − μ)²)  (biased, as in training),
 *             r_c = 1/√(σ² + ε),  y = γ·(x − μ)·r + β
 *   backward  x̂ = (x − μ)·r,  dβ = Σ dy,  dγ = Σ dy·x̂,
 *             dx = γ·r·(dy − dβ/M − x̂·dγ/M)    (M elements per channel)
 */
import type { KernelConfig, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmBackend } from './wasm_kernel_util.js';
import { heapMemory, heapScratch, simdKernels } from './simd.js';
import { wasmKernelConfig } from './wasm_kernel_util.js';

export const BATCHNORM_TRAIN = 'ConnoBatchNormTrain';
export const BATCHNORM_TRAIN_GRAD = 'ConnoBatchNormTrainGrad';
export const BATCHNORM_RUNNING = 'ConnoBatchNormRunning';

/**
 * Sweeps over [M, C] data, generated once per channel count C with one local per channel, so
 * the per-channel sums stay in registers (or the stack) instead of a typed array: about 1.7×
 * faster than indexed accumulators. Sums are float64 (JS numbers).
 */
export interface Sweeps {
  /** out[c] = shift K_c (the first row), out[C+c] = Σ(x−K), out[2C+c] = Σ(x−K)² */
  stats(x: Float32Array, out: Float64Array): void;
  /** y = (x − p[2C+c])·p[c] + p[C+c] */
  affine(x: Float32Array, y: Float32Array, p: Float64Array): void;
  /** out[c] = Σ dy, out[C+c] = Σ dy·(x − μ_c) */
  gradSums(dy: Float32Array, x: Float32Array, mu: Float64Array, out: Float64Array): void;
  /** dx = p[c]·dy + p[C+c]·(x − μ_c) + p[2C+c] */
  gradDx(dy: Float32Array, x: Float32Array, dx: Float32Array, p: Float64Array, mu: Float64Array): void;
}

const sweepsByChannels = new Map<number, Sweeps>();

function sweeps(C: number): Sweeps {
  let s = sweepsByChannels.get(C);
  if (s) return s;
  const cs = Array.from({ length: C }, (_, c) => c);
  const each = (f: (c: number) => string) => cs.map(f).join('\n');
  const fn = (args: string[], body: string) => new Function(...args, `'use strict';\n${body}`) as never;
  s = {
    stats: fn(['x', 'out'], `${each((c) => `const k${c} = x[${c}]; let s${c} = 0, q${c} = 0;`)}
      for (let i = 0, n = x.length; i < n; i += ${C}) {
        ${each((c) => `{ const d = x[i + ${c}] - k${c}; s${c} += d; q${c} += d * d; }`)}
      }
      ${each((c) => `out[${c}] = k${c}; out[${C + c}] = s${c}; out[${2 * C + c}] = q${c};`)}`),
    affine: fn(['x', 'y', 'p'], `${each((c) => `const a${c} = p[${c}], b${c} = p[${C + c}], m${c} = p[${2 * C + c}];`)}
      for (let i = 0, n = x.length; i < n; i += ${C}) {
        ${each((c) => `y[i + ${c}] = (x[i + ${c}] - m${c}) * a${c} + b${c};`)}
      }`),
    gradSums: fn(['dy', 'x', 'mu', 'out'], `${each((c) => `const m${c} = mu[${c}]; let s${c} = 0, q${c} = 0;`)}
      for (let i = 0, n = x.length; i < n; i += ${C}) {
        ${each((c) => `{ const g = dy[i + ${c}]; s${c} += g; q${c} += g * (x[i + ${c}] - m${c}); }`)}
      }
      ${each((c) => `out[${c}] = s${c}; out[${C + c}] = q${c};`)}`),
    gradDx: fn(['dy', 'x', 'dx', 'p', 'mu'], `${each((c) => `const a${c} = p[${c}], b${c} = p[${C + c}], e${c} = p[${2 * C + c}], m${c} = mu[${c}];`)}
      for (let i = 0, n = x.length; i < n; i += ${C}) {
        ${each((c) => `dx[i + ${c}] = a${c} * dy[i + ${c}] + b${c} * (x[i + ${c}] - m${c}) + e${c};`)}
      }`),
  };
  sweepsByChannels.set(C, s);
  return s;
}

/**
 * The same sweeps as conno's wasm SIMD kernels (c/simd_kernels.c), run in place on the backend's
 * heap: same float64 sums in the same order, so the same bits, several times faster. The typed
 * arrays passed must be views of the heap (their byteOffset is the address); float64 arguments
 * and results go through a scratch area there. Undefined where the SIMD kernels cannot run.
 * Call before taking views: it may allocate (grow the heap).
 */
export function simdSweeps(backend: WasmBackend, C: number): Sweeps | undefined {
  const k = simdKernels(backend);
  if (!k) return undefined;
  const scratch = heapScratch(backend, 4 * C);
  const memory = heapMemory(backend)!;
  const f64 = () => new Float64Array(memory.buffer, scratch, 4 * C);
  const onHeap = (...views: Float32Array[]) => {
    for (const v of views) if (v.buffer !== memory.buffer) throw new Error('batchnorm SIMD sweeps need views of the wasm heap');
  };
  return {
    stats(x, out) {
      onHeap(x);
      k.bn_stats(x.byteOffset, x.length / C, C, scratch);
      out.set(f64().subarray(0, 3 * C));
    },
    affine(x, y, p) {
      onHeap(x, y);
      f64().set(p);
      k.bn_affine(x.byteOffset, y.byteOffset, x.length / C, C, scratch);
    },
    gradSums(dy, x, mu, out) {
      onHeap(dy, x);
      f64().set(mu);
      k.bn_grad_sums(dy.byteOffset, x.byteOffset, x.length / C, C, scratch, scratch + 8 * C);
      out.set(f64().subarray(C, 3 * C));
    },
    gradDx(dy, x, dx, p, mu) {
      onHeap(dy, x, dx);
      const v = f64();
      v.set(p);
      v.set(mu, 3 * C);
      k.bn_grad_dx(dy.byteOffset, x.byteOffset, dx.byteOffset, x.length / C, C, scratch, scratch + 24 * C);
    },
  };
}

/** Writes y [M·C], and mean, variance [C] (biased) of x [M·C] (channels innermost). */
export function batchNormTrainInto(x: Float32Array, channels: number, gamma: Float32Array, beta: Float32Array, epsilon: number, y: Float32Array, mean: Float32Array, variance: Float32Array, sw: Sweeps = sweeps(channels)): void {
  const C = channels;
  const M = x.length / C;
  // Sums of (x − K) with K the channel's first value: no cancellation when |mean| ≫ std.
  const st = new Float64Array(3 * C);
  sw.stats(x, st);
  const p = new Float64Array(3 * C); // scale, shift, mean: y = (x − mean)·scale + shift
  for (let c = 0; c < C; c++) {
    const d = st[C + c]! / M;
    const mu = st[c]! + d;
    const v = Math.max(0, st[2 * C + c]! / M - d * d);
    mean[c] = mu;
    variance[c] = v;
    p[c] = gamma[c]! / Math.sqrt(v + epsilon);
    p[C + c] = beta[c]!;
    p[2 * C + c] = mu;
  }
  sw.affine(x, y, p);
}

/** Writes dx [M·C], dgamma, dbeta [C] from dy, x [M·C] and the forward pass's mean, variance. */
export function batchNormTrainGradInto(dy: Float32Array, x: Float32Array, channels: number, gamma: Float32Array, mean: Float32Array, variance: Float32Array, epsilon: number, dx: Float32Array, dgamma: Float32Array, dbeta: Float32Array, sw: Sweeps = sweeps(channels)): void {
  const C = channels;
  const M = x.length / C;
  const mu = Float64Array.from(mean);
  const sums = new Float64Array(2 * C); // Σ dy, Σ dy·(x − μ)
  sw.gradSums(dy, x, mu, sums);
  // dx = γr·dy − γr³·Σdy(x−μ)/M·(x − μ) − γr·Σdy/M = a·dy + b·(x − μ) + e
  const p = new Float64Array(3 * C);
  for (let c = 0; c < C; c++) {
    const r = 1 / Math.sqrt(variance[c]! + epsilon);
    const gr = gamma[c]! * r;
    dbeta[c] = sums[c]!;
    dgamma[c] = sums[C + c]! * r;
    const b = (-gr * r * r * sums[C + c]!) / M;
    p[c] = gr;
    p[C + c] = b;
    p[2 * C + c] = (-gr * sums[c]!) / M;
  }
  sw.gradDx(dy, x, dx, p, mu);
}

type Inputs = Record<string, TensorInfo>;

function forward(args: { inputs: Inputs; attrs: NamedAttrMap; backend: WasmBackend }): TensorInfo[] {
  const { inputs, attrs, backend } = args;
  const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
  const C = x.shape.at(-1)!;
  const y = backend.makeOutput(x.shape, 'float32');
  const mean = backend.makeOutput([C], 'float32');
  const variance = backend.makeOutput([C], 'float32');
  const sw = simdSweeps(backend, C) ?? sweeps(C);
  // Views are taken after every allocation: allocating may grow (and so detach) the wasm heap.
  const view = (t: TensorInfo) => backend.typedArrayFromHeap(t) as Float32Array;
  batchNormTrainInto(view(x), C, view(gamma), view(beta), attrs['epsilon'] as number, view(y), view(mean), view(variance), sw);
  return [y, mean, variance];
}

function backward(args: { inputs: Inputs; attrs: NamedAttrMap; backend: WasmBackend }): TensorInfo[] {
  const { inputs, attrs, backend } = args;
  const { dy, x, gamma, mean, variance } = inputs as Record<'dy' | 'x' | 'gamma' | 'mean' | 'variance', TensorInfo>;
  const C = x.shape.at(-1)!;
  const dx = backend.makeOutput(x.shape, 'float32');
  const dgamma = backend.makeOutput([C], 'float32');
  const dbeta = backend.makeOutput([C], 'float32');
  const sw = simdSweeps(backend, C) ?? sweeps(C);
  const view = (t: TensorInfo) => backend.typedArrayFromHeap(t) as Float32Array;
  batchNormTrainGradInto(view(dy), view(x), C, view(gamma), view(mean), view(variance), attrs['epsilon'] as number, view(dx), view(dgamma), view(dbeta), sw);
  return [dx, dgamma, dbeta];
}

/**
 * The running statistics' update of ../batchnorm.ts (updateRunning) in one kernel, with the bits
 * of its tfjs ops: each float32 product and sum rounded as the Multiply and Add kernels round it,
 * the scalars made float32 as tfjs makes them, and the same order:
 *   m' = m·f(1 − u) + μ·f(u),  v' = v·f(1 − u) + (σ²·f(n/(n−1)))·f(u)   (f: to float32)
 * (a product or sum of two float32 taken in float64 and rounded once is the float32 result).
 * Seven kernels and five scalar tensors a layer and step become one kernel (TC-ResNet8, nine
 * layers: Multiply 65 → 20 and Add 25 → 7 kernels a step, tf.profile).
 */
function running(args: { inputs: Inputs; attrs: NamedAttrMap; backend: WasmBackend }): TensorInfo[] {
  const { inputs, attrs, backend } = args;
  const { movingMean, movingVariance, mean, variance } = inputs as Record<'movingMean' | 'movingVariance' | 'mean' | 'variance', TensorInfo>;
  const C = mean.shape.at(-1)!;
  const newMean = backend.makeOutput([C], 'float32');
  const newVariance = backend.makeOutput([C], 'float32');
  const view = (t: TensorInfo) => backend.typedArrayFromHeap(t) as Float32Array;
  const u = attrs['update'] as number;
  const n = attrs['count'] as number;
  const keep = Math.fround(1 - u);
  const take = Math.fround(u);
  const unbias = Math.fround(n / (n - 1));
  const [m, v, mu, s2, m2, v2] = [view(movingMean), view(movingVariance), view(mean), view(variance), view(newMean), view(newVariance)];
  for (let c = 0; c < C; c++) {
    m2[c] = Math.fround(m[c]! * keep) + Math.fround(mu[c]! * take);
    const unbiased = n > 1 ? Math.fround(s2[c]! * unbias) : s2[c]!;
    v2[c] = Math.fround(v[c]! * keep) + Math.fround(unbiased * take);
  }
  return [newMean, newVariance];
}

export function batchNormConfigs(): KernelConfig[] {
  return [
    wasmKernelConfig(BATCHNORM_TRAIN, forward),
    wasmKernelConfig(BATCHNORM_TRAIN_GRAD, backward),
    wasmKernelConfig(BATCHNORM_RUNNING, running),
  ];
}
