/**
 * Real FFTs of power-of-two sizes through PFFFT compiled to WebAssembly
 * (@echogarden/pffft-wasm 0.4.2).
 *
 * The package is an Emscripten ES module: `import('@echogarden/pffft-wasm/simd')` gives a factory
 * that, in Node, reads `pffft.wasm` beside its own file with `fs` (no `fetch`), so it loads as is
 * in Node 20. The SIMD build is ~2× faster; the scalar build is used only when the SIMD one cannot
 * be instantiated. The two may round differently in the last bit, so the build in use is part of
 * a features stage's environment (see `fftBackendSync`).
 *
 * A `RealFft` owns its input, output and work buffers inside the wasm heap and is reused for every
 * frame: write the frame into `input`, call `forward()`, read `output`. Nothing is allocated per
 * transform.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/** The subset of the Emscripten module the wrapper uses. */
interface PffftModule {
  HEAPF32: Float32Array;
  _pffft_new_setup(n: number, transform: number): number;
  _pffft_destroy_setup(setup: number): void;
  _pffft_transform_ordered(setup: number, input: number, output: number, work: number, direction: number): void;
  _pffft_aligned_malloc(bytes: number): number;
  _pffft_aligned_free(ptr: number): void;
  _pffft_simd_size(): number;
}

type PffftFactory = (moduleArg?: object) => Promise<PffftModule>;

/** pffft.h: `typedef enum { PFFFT_REAL, PFFFT_COMPLEX } pffft_transform_t;` */
const PFFFT_REAL = 0;
/** pffft.h: `typedef enum { PFFFT_FORWARD, PFFFT_BACKWARD } pffft_direction_t;` */
const PFFFT_FORWARD = 0;

export type FftBackend = 'pffft-wasm-0.4.2-simd' | 'pffft-wasm-0.4.2-scalar';

let loading: Promise<{ module: PffftModule; backend: FftBackend }> | undefined;

async function loadPffft(): Promise<{ module: PffftModule; backend: FftBackend }> {
  loading ??= (async () => {
    try {
      const simd = (await import('@echogarden/pffft-wasm/simd')) as { default: PffftFactory };
      return { module: await simd.default(), backend: 'pffft-wasm-0.4.2-simd' as const };
    } catch {
      const scalar = (await import('@echogarden/pffft-wasm')) as { default: PffftFactory };
      return { module: await scalar.default(), backend: 'pffft-wasm-0.4.2-scalar' as const };
    }
  })();
  return loading;
}

let backendSync: FftBackend | undefined;

/**
 * Which build `createRealFft` will use, decided without instantiating anything (validating the
 * SIMD binary is enough: that is what fails on an engine without wasm SIMD). Cheap enough for
 * `conno status`, which asks every stage for its environment.
 */
export function fftBackendSync(): FftBackend {
  if (backendSync === undefined) {
    try {
      const require = createRequire(import.meta.url);
      const js = require.resolve('@echogarden/pffft-wasm/simd');
      const ok = WebAssembly.validate(readFileSync(path.join(path.dirname(js), 'pffft.wasm')));
      backendSync = ok ? 'pffft-wasm-0.4.2-simd' : 'pffft-wasm-0.4.2-scalar';
    } catch {
      backendSync = 'pffft-wasm-0.4.2-scalar';
    }
  }
  return backendSync;
}

export interface RealFft {
  readonly size: number;
  readonly backend: FftBackend;
  /** The time-domain frame [size]; write it before `forward()`. A view into the wasm heap. */
  readonly input: Float32Array;
  /**
   * The spectrum after `forward()` [size], unnormalised (as numpy/torch), ordered:
   * output[0] = Re X[0], output[1] = Re X[size/2], then Re X[k], Im X[k] at 2k, 2k+1 for
   * k = 1 … size/2 − 1.
   */
  readonly output: Float32Array;
  forward(): void;
  /** Frees the wasm buffers; the object is unusable afterwards. */
  dispose(): void;
}

/** A reusable forward real FFT of `size` points (a power of two, at least 32). */
export async function createRealFft(size: number): Promise<RealFft> {
  if (!Number.isInteger(size) || size < 32 || (size & (size - 1)) !== 0) {
    throw new RangeError(`FFT size must be a power of two ≥ 32, got ${size}`);
  }
  const { module: m, backend } = await loadPffft();
  const setup = m._pffft_new_setup(size, PFFFT_REAL);
  if (setup === 0) throw new Error(`pffft cannot set up a real FFT of size ${size}`);
  const bytes = size * 4;
  const inPtr = m._pffft_aligned_malloc(bytes);
  const outPtr = m._pffft_aligned_malloc(bytes);
  const workPtr = m._pffft_aligned_malloc(bytes);
  // A later allocation may grow the heap, which detaches every view: re-take views on demand.
  let heap = m.HEAPF32;
  let input = heap.subarray(inPtr >> 2, (inPtr >> 2) + size);
  let output = heap.subarray(outPtr >> 2, (outPtr >> 2) + size);
  const fresh = () => {
    if (heap !== m.HEAPF32) {
      heap = m.HEAPF32;
      input = heap.subarray(inPtr >> 2, (inPtr >> 2) + size);
      output = heap.subarray(outPtr >> 2, (outPtr >> 2) + size);
    }
  };
  let disposed = false;
  return {
    size,
    backend,
    get input() {
      fresh();
      return input;
    },
    get output() {
      fresh();
      return output;
    },
    forward() {
      if (disposed) throw new Error('RealFft used after dispose()');
      m._pffft_transform_ordered(setup, inPtr, outPtr, workPtr, PFFFT_FORWARD);
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      m._pffft_aligned_free(inPtr);
      m._pffft_aligned_free(outPtr);
      m._pffft_aligned_free(workPtr);
      m._pffft_destroy_setup(setup);
    },
  };
}
