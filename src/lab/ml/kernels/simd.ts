/**
 * conno's own wasm SIMD128 kernels (c/simd_kernels.c, built by `npm run build:kernels`), run in
 * place on the TensorFlow.js wasm backend's heap: the module imports the backend's memory, and a
 * tensor's address is its byte offset there. Where the runtime fuses relaxed SIMD's multiply-add
 * (../simd-support.ts), the fma build runs (c/simd_kernels.wasm): the convolutions' and filter
 * gradients' sums in the order of XNNPACK's, each term one fused multiply-add. Elsewhere, or with
 * CONNO_WASM_FMA=0, the mul-add build (c/simd_kernels_mul_add.wasm), which gives bit for bit what
 * the JS kernels and XNNPACK give. Without SIMD (or with CONNO_SIMD_KERNELS=0) the JS kernels run.
 * {@link kernelArithmetic} says which of the two arithmetics a training step here uses; a stage's
 * fingerprint records it (backendEnvironment's wasm-fma).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmBackend } from './wasm_kernel_util.js';
import { wasmRelaxedMaddFused, wasmSimdSupported } from '../simd-support.js';

export interface SimdKernels {
  max_pool_grad_2x2(x: number, dy: number, dx: number, n: number, oh: number, ow: number, c: number): void;
  bn_stats(x: number, m: number, c: number, out: number): void;
  bn_affine(x: number, y: number, m: number, c: number, p: number): void;
  bn_grad_sums(dy: number, x: number, m: number, c: number, mu: number, out: number): void;
  bn_grad_dx(dy: number, x: number, dx: number, m: number, c: number, p: number, mu: number): void;
  sum_rows(x: number, m: number, c: number, out: number): void;
  adam_update(w: number, g: number, m: number, v: number, wOut: number, mOut: number, vOut: number, n: number, b1: number, omb1: number, b2: number, omb2: number, c1: number, c2: number, eps: number, negLr: number): void;
  im2col_t(xP: number, colT: number, n: number, h: number, w: number, ci: number, oh: number, ow: number, kh: number, kw: number, sh: number, sw: number, top: number, left: number): void;
  max_pool_grad_tiled(x: number, dy: number, dx: number, n: number, h: number, w: number, c: number, oh: number, ow: number, kh: number, kw: number, top: number, left: number): void;
  /** c [k, n] = a [k, m] · b [m, n] (c overwritten), n a multiple of 4, each sum over m in order: the bits of the backend's BatchMatMul. */
  matmul_in_order(a: number, b: number, c: number, k: number, m: number, n: number): void;
  /** The filter gradient dW [kh, kw, ci, co] from x and dy (NHWC), ci and co multiples of 4: matmul_in_order's bits without im2col. */
  conv_filter_grad(x: number, dy: number, dW: number, n: number, h: number, w: number, ci: number, oh: number, ow: number, co: number, kh: number, kw: number, sh: number, sw: number, top: number, left: number): void;
  /** A correlation summed as XNNPACK's convolution sums it (see conv_in_order in c/simd_kernels.c and {@link convInOrder}). */
  conv_in_order(...args: number[]): void;
  /** wT [kh, kw, co, ci] = W [kh, kw, ci, co] reversed in kh and kw, its channels swapped (the input gradient's filter). */
  flip_transposed(w: number, wT: number, kh: number, kw: number, ci: number, co: number): void;
  /** out = dy · step(x) (ReLU's gradient), n elements. */
  relu_grad(dy: number, x: number, out: number, n: number): void;
  /** y [B, C, R] = x [B, R, C] transposed in its last two axes, 4-byte elements. */
  transpose_last2(x: number, y: number, b: number, r: number, c: number): void;
}

/** Where and how conv_in_order runs (c/simd_kernels.c says what each number means). */
export interface ConvInOrder {
  x: number;
  filter: number;
  /** Co floats the sums start from (a bias), or 0 for +0s. */
  init: number;
  y: number;
  n: number;
  h: number;
  w: number;
  c: number;
  oh: number;
  ow: number;
  co: number;
  nky: number;
  nkx: number;
  fsy: number;
  fsx: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  top: number;
  left: number;
  /** The output's height and width, and where output (oh, ow) goes in it: (oh·ysh + yoh, ow·ysw + yow). */
  yh: number;
  yw: number;
  ysh: number;
  ysw: number;
  yoh: number;
  yow: number;
}

/** Runs conv_in_order; `init: 0` starts every sum from +0. */
export function convInOrder(backend: WasmBackend, k: SimdKernels, g: ConvInOrder): void {
  // +0s for x outside its bounds (and the sums' start when there is no bias), kept on the heap.
  const zeros = heapZeros(backend, Math.max(g.nkx * g.c, g.co));
  k.conv_in_order(g.x, g.filter, g.init || zeros, zeros, g.y, g.n, g.h, g.w, g.c, g.oh, g.ow, g.co, g.nky, g.nkx, g.fsy, g.fsx, g.sh, g.sw, g.dh, g.dw, g.top, g.left, g.yh, g.yw, g.ysh, g.ysw, g.yoh, g.yow);
}

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** How the kernels' product terms are summed: fused multiply-adds, or a multiply then an add. */
export type KernelArithmetic = 'fma' | 'mul-add';

const KERNEL_FILES: Record<KernelArithmetic, string> = { fma: 'simd_kernels.wasm', 'mul-add': 'simd_kernels_mul_add.wasm' };

/**
 * The arithmetic a training step on the wasm backend uses here: 'fma' where conno's kernels run
 * (SIMD, CONNO_SIMD_KERNELS not 0, the .wasm found), the runtime fuses relaxed SIMD's multiply-add
 * and CONNO_WASM_FMA is not 0; 'mul-add' otherwise (conno's mul-add build, or the JS kernels and
 * XNNPACK's: the same bits). Loads no TensorFlow.js (stage fingerprints use it). `env`: variables
 * a stage's process will get over this one's (its `env:`), read before this process's.
 */
export function kernelArithmetic(env: Readonly<Record<string, string>> = {}): KernelArithmetic {
  const v = (k: string) => env[k] ?? process.env[k];
  if (v('CONNO_SIMD_KERNELS') === '0' || v('CONNO_WASM_FMA') === '0' || !wasmSimdSupported()) return 'mul-add';
  return wasmRelaxedMaddFused() && simdKernelsFile('fma') !== undefined ? 'fma' : 'mul-add';
}

/**
 * A build of the kernels in src/lab/ml/kernels/c: beside this file when it runs from src/, else
 * under the first ancestor folder that has src/lab/ml/kernels/c (dist/, or a copy compiled
 * elsewhere). Undefined when there is none: the JS kernels (the mul-add bits) run instead.
 */
export function simdKernelsFile(arithmetic: KernelArithmetic): string | undefined {
  // Looked up once per process: kernelArithmetic asks at every kernel call.
  if (!(arithmetic in kernelFiles)) kernelFiles[arithmetic] = findKernelsFile(KERNEL_FILES[arithmetic]);
  return kernelFiles[arithmetic];
}

const kernelFiles: Partial<Record<KernelArithmetic, string | undefined>> = {};

function findKernelsFile(name: string): string | undefined {
  // conno:asset c/simd_kernels.wasm c/simd_kernels_mul_add.wasm (read at run time: part of the code of every stage using these kernels)
  const here = path.join(HERE, 'c', name);
  if (existsSync(here)) return here;
  for (let dir = path.dirname(HERE); ; dir = path.dirname(dir)) {
    const f = path.join(dir, 'src', 'lab', 'ml', 'kernels', 'c', name);
    if (existsSync(f)) return f;
    if (path.dirname(dir) === dir) return undefined;
  }
}

type WasmMemory = WebAssembly.Memory;

const byMemory: Record<KernelArithmetic, WeakMap<WasmMemory, SimdKernels>> = { fma: new WeakMap(), 'mul-add': new WeakMap() };
const modules: Partial<Record<KernelArithmetic, WebAssembly.Module>> = {};

/**
 * The kernels for this backend's heap, in the arithmetic {@link kernelArithmetic} gives (or the one
 * named), or undefined where they cannot run.
 */
export function simdKernels(backend: WasmBackend, arithmetic?: KernelArithmetic): SimdKernels | undefined {
  if (process.env['CONNO_SIMD_KERNELS'] === '0' || !wasmSimdSupported()) return undefined;
  const memory = backend.wasm?.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) return undefined;
  const a = arithmetic ?? kernelArithmetic();
  let k = byMemory[a].get(memory);
  if (!k) {
    const file = simdKernelsFile(a);
    if (!file) return undefined;
    if (a === 'fma' && !wasmRelaxedMaddFused()) throw new Error('the fma build of conno\'s kernels needs a runtime that fuses relaxed SIMD multiply-adds');
    const module = (modules[a] ??= new WebAssembly.Module(readFileSync(file)));
    k = kernelsOf(new WebAssembly.Instance(module, { env: { memory } }).exports);
    byMemory[a].set(memory, k);
  }
  return k;
}

/** The module's exports as the kernels, checked to be there (a stale .wasm would lack some). */
function kernelsOf(exports: Record<string, unknown>): SimdKernels {
  const fn = (name: keyof SimdKernels) => {
    const f = exports[name];
    if (typeof f !== 'function') throw new Error(`simd_kernels.wasm has no function '${name}': rebuild it (npm run build:kernels)`);
    return f as (...args: number[]) => void;
  };
  return { max_pool_grad_2x2: fn('max_pool_grad_2x2'), bn_stats: fn('bn_stats'), bn_affine: fn('bn_affine'), bn_grad_sums: fn('bn_grad_sums'), bn_grad_dx: fn('bn_grad_dx'), sum_rows: fn('sum_rows'), max_pool_grad_tiled: fn('max_pool_grad_tiled'), adam_update: fn('adam_update'), im2col_t: fn('im2col_t'), matmul_in_order: fn('matmul_in_order'), conv_filter_grad: fn('conv_filter_grad'), conv_in_order: fn('conv_in_order'), flip_transposed: fn('flip_transposed'), relu_grad: fn('relu_grad'), transpose_last2: fn('transpose_last2') };
}

/** A tensor's address on the backend's heap. */
export function heapAddress(backend: WasmBackend, t: TensorInfo): number {
  const d = backend.dataIdMap.get(t.dataId);
  if (!d || typeof d.memoryOffset !== 'number') throw new Error('tensor is not on the wasm heap');
  return d.memoryOffset;
}

/** The backend's heap memory (for views of the float64 scratch). */
export function heapMemory(backend: WasmBackend): WasmMemory | undefined {
  return backend.wasm?.asm?.memory;
}

interface HeapArea {
  ptr: number;
  bytes: number;
}

/**
 * An area of at least `bytes` (4 KiB or more) on the backend's heap, one per `areas` and heap, kept
 * for the process and replaced by a larger one when asked for more; `fresh` prepares a new one.
 * Call it before taking typed views of tensors: allocating may grow the heap, which detaches
 * every view taken before.
 */
function heapArea(areas: WeakMap<WasmMemory, HeapArea>, backend: WasmBackend, bytes: number, fresh?: (area: HeapArea, memory: WasmMemory) => void): number {
  const wasm = backend.wasm!;
  const memory = heapMemory(backend)!;
  let a = areas.get(memory);
  if (!a || a.bytes < bytes) {
    if (a) wasm._free(a.ptr);
    const size = Math.max(bytes, 4096);
    a = { ptr: wasm._malloc(size), bytes: size };
    fresh?.(a, memory);
    areas.set(memory, a);
  }
  return a.ptr;
}

const scratchAreas = new WeakMap<WasmMemory, HeapArea>();
const zeroAreas = new WeakMap<WasmMemory, HeapArea>();

/** A float64 scratch area of at least `doubles` on the backend's heap (see heapArea). */
export function heapScratch(backend: WasmBackend, doubles: number): number {
  return heapArea(scratchAreas, backend, doubles * 8);
}

/** At least `floats` float32 +0s on the backend's heap (see heapArea); nothing writes there, the kernels only read it. */
export function heapZeros(backend: WasmBackend, floats: number): number {
  return heapArea(zeroAreas, backend, floats * 4, (a, memory) => new Uint8Array(memory.buffer, a.ptr, a.bytes).fill(0));
}
