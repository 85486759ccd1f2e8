/**
 * Chooses and starts the TensorFlow.js backend conno trains on.
 *
 * - `wasm` (default): tfjs-backend-wasm with SIMD (XNNPACK), plus conno's training kernels
 *   (src/lab/ml/kernels/); one thread in Node (tfjs disables the wasm thread pool there).
 *   Deterministic: the same seed gives bit-identical weights across processes.
 * - `cpu`: the pure-JS backend; about 100× slower, kept as a fallback.
 * - `webgpu`: tfjs-backend-webgpu on Dawn (the optional `webgpu` package; webgpu.ts): a GPU with a
 *   Vulkan driver, or Mesa's llvmpipe through OpenGL ES where there is none. The adapter is part
 *   of the fingerprint; with no adapter it fails, never falling back.
 * - `tensorflow`: libtensorflow through `@tensorflow/tfjs-node-gpu` or `@tensorflow/tfjs-node`,
 *   when the user has installed one (they are never conno dependencies: their install script
 *   downloads libtensorflow, which fails offline).
 *
 * TensorFlow.js is imported lazily, so commands that never train do not load it.
 */
import os from 'node:os';
import { createRequire } from 'node:module';
import { ConnoError, unreachable } from '../../core/util/errors.js';
import { wasmSimdSupported } from './simd-support.js';
import { webgpuAdapterName } from './webgpu.js';
import { kernelArithmetic } from './kernels/simd.js';

/** Every backend a stage's `backend:` parameter may name. */
export const BACKENDS = ['wasm', 'cpu', 'webgpu', 'tensorflow'] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface BackendInfo {
  /** The backend tfjs reports after setBackend ('wasm', 'cpu' or 'tensorflow'). */
  name: BackendName;
  /** @tensorflow/tfjs-core version. */
  version: string;
  /** Threads one training process uses for its kernels. */
  threads: number;
  /** Whether the wasm backend runs its SIMD build (false for other backends). */
  simd: boolean;
  /** The WebGPU adapter (webgpu only). */
  adapter?: string;
  /** How conno's wasm kernels sum their product terms (wasm only; kernels/simd.ts). */
  arithmetic?: 'fma' | 'mul-add';
}

let current: BackendInfo | undefined;

export { wasmSimdSupported };

/** The environment key of the WebGPU adapter a stage was fingerprinted on. */
const ADAPTER_KEY = 'webgpu-adapter';
/** The environment key saying whether conno's wasm kernels sum with fused multiply-adds (kernels/simd.ts). */
const FMA_KEY = 'wasm-fma';

/**
 * What a stage computing on backend `name` puts in its fingerprint's environment: each backend,
 * tfjs version, wasm with or without SIMD, wasm with or without fused multiply-adds, and WebGPU
 * adapter gives different (each reproducible) numbers. Taken where conno runs, without loading
 * TensorFlow.js; `env` is what the stage's process gets over conno's environment (its `env:`),
 * so `CONNO_WASM_FMA: "0"` there is the stage's arithmetic.
 */
export function backendEnvironment(name: BackendName, env: Readonly<Record<string, string>> = {}): Record<string, string> {
  const tfjsCore = (createRequire(import.meta.url)('@tensorflow/tfjs-core/package.json') as { version: string }).version;
  return {
    backend: name,
    'tfjs-core': tfjsCore,
    ...(name === 'wasm' ? { 'wasm-simd': String(wasmSimdSupported()), [FMA_KEY]: String(kernelArithmetic(env) === 'fma') } : {}),
    ...(name === 'webgpu' ? { [ADAPTER_KEY]: webgpuAdapterName() } : {}),
  };
}

// conno:package @tensorflow/tfjs-node-gpu @tensorflow/tfjs-node @tensorflow/tfjs-backend-webgpu (optional: imported by importOptional when installed)
const TFJS_NODE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

/** Imports a package that may be absent, by a specifier TypeScript does not try to resolve. */
async function importOptional(specifier: string): Promise<boolean> {
  try {
    await import(specifier);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts backend `name`. `recorded` is the environment the stage's fingerprint recorded
 * (StageContext.environment, from backendEnvironment): on WebGPU, running on another adapter than
 * it names fails, since the weights would then be recorded under a fingerprint that names
 * hardware they were not computed on.
 */
export async function initBackend(name: BackendName = 'wasm', recorded: Record<string, string> = {}): Promise<BackendInfo> {
  const tf = await import('@tensorflow/tfjs-core');
  let simd = false;
  let threads = 1;
  let adapter: string | undefined;
  let arithmetic: BackendInfo['arithmetic'];
  switch (name) {
    case 'wasm': {
      // In Node the backend reads its .wasm files from its own dist/ folder (next to
      // tf-backend-wasm.node.js), so setWasmPaths is not needed.
      await import('@tensorflow/tfjs-backend-wasm');
      await setBackendOrThrow(tf, 'wasm');
      simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
      arithmetic = kernelArithmetic();
      const fma = String(arithmetic === 'fma');
      if (recorded[FMA_KEY] !== undefined && recorded[FMA_KEY] !== fma) {
        const said = (v: string) => (v === 'true' ? 'with fused multiply-adds' : 'with separate multiplies and adds');
        throw new ConnoError(`backend 'wasm': this instance was fingerprinted to compute ${said(recorded[FMA_KEY])} (${FMA_KEY}: ${recorded[FMA_KEY]}), but here conno's kernels compute ${said(fma)} (${FMA_KEY}: ${fma})`, {
          hint: "fingerprints are taken where conno runs: run conno on a machine like the one the stage runs on (with --executor slurm, a node like the compute nodes), or give the stage `env: { CONNO_WASM_FMA: \"0\" }` (or run conno with CONNO_WASM_FMA=0) to compute without fused multiply-adds everywhere",
        });
      }
      const { registerWasmTrainingKernels } = await import('./kernels/index.js');
      registerWasmTrainingKernels();
      break;
    }
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      await setBackendOrThrow(tf, 'cpu');
      break;
    case 'webgpu': {
      const { openWebGpu, exposeAdapter } = await import('./webgpu.js');
      const found = await openWebGpu();
      const expected = recorded[ADAPTER_KEY];
      if (expected !== undefined && expected !== found.description) {
        throw new ConnoError(`backend 'webgpu': this instance was fingerprinted for the adapter '${expected}', but here Dawn gives '${found.description}'`, {
          hint: 'fingerprints are taken where conno runs: run conno on a machine with the adapter the stage runs on (with --executor slurm, on a node like the compute nodes)',
        });
      }
      exposeAdapter(found);
      if (!(await importOptional('@tensorflow/tfjs-backend-webgpu'))) {
        throw new ConnoError("backend 'webgpu' needs the npm package @tensorflow/tfjs-backend-webgpu 4.22.0 (an optional dependency of conno)", { hint: 'install it with `npm install @tensorflow/tfjs-backend-webgpu@4.22.0`, or use backend: wasm' });
      }
      await setBackendOrThrow(tf, 'webgpu');
      adapter = found.description;
      break;
    }
    case 'tensorflow': {
      let loaded = false;
      for (const pkg of TFJS_NODE_PACKAGES) {
        if (await importOptional(pkg)) {
          loaded = true;
          break;
        }
      }
      if (!loaded) {
        throw new Error(
          "backend 'tensorflow' needs the npm package @tensorflow/tfjs-node (CPU) or " +
            '@tensorflow/tfjs-node-gpu (CUDA), version 4.22.0: install one with ' +
            '`npm install @tensorflow/tfjs-node@4.22.0` (its install downloads libtensorflow, so it ' +
            "needs internet access), or use backend 'wasm'.",
        );
      }
      await setBackendOrThrow(tf, 'tensorflow');
      threads = Number(process.env['TF_NUM_INTRAOP_THREADS']) || os.availableParallelism();
      break;
    }
    default:
      return unreachable(name);
  }
  current = { name, version: tf.version_core, threads, simd, ...(adapter !== undefined ? { adapter } : {}), ...(arithmetic !== undefined ? { arithmetic } : {}) };
  return { ...current };
}

async function setBackendOrThrow(tf: typeof import('@tensorflow/tfjs-core'), name: string): Promise<void> {
  const ok = await tf.setBackend(name);
  await tf.ready();
  if (!ok || tf.getBackend() !== name) throw new Error(`TensorFlow.js could not start its '${name}' backend`);
}

/**
 * What a training stage's fingerprint must include about the backend: different backends (and
 * SIMD vs scalar wasm, and conno's own kernels) give different, each reproducible, weights.
 */
export function backendFingerprint(): string[] {
  if (current === undefined) throw new Error('backendFingerprint() called before initBackend()');
  return [
    `backend=${current.name}`,
    `tfjs-core=${current.version}`,
    `simd=${current.simd}`,
    // Bump when a kernel in src/lab/ml/kernels changes its arithmetic (summation order, algorithm).
    // 3: strided input gradients on XNNPACK (another summation order than the shipped kernel).
    // 4: the GEMM-like kernels with fused multiply-adds where the runtime has them (arithmetic=).
    ...(current.name === 'wasm' ? ['conno-wasm-kernels=4', `arithmetic=${current.arithmetic}`] : []),
    ...(current.adapter !== undefined ? [`adapter=${current.adapter}`] : []),
  ];
}
