/**
 * What the custom wasm kernels share: a typed view of the parts of the wasm backend they use, and
 * a way to run a kernel the backend already has (XNNPACK Conv2D, Transpose, Reverse, …) from
 * inside another kernel without going through the engine (so nothing is taped or tracked).
 */
import {
  getKernel,
  type DataType,
  type KernelBackend,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  type NamedTensorInfoMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

/** The members of tfjs-backend-wasm's `BackendWasm` these kernels rely on (4.22.0). */
export interface WasmBackend extends KernelBackend {
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object, force?: boolean): boolean;
  /** Where each tensor's data lives on the heap, and how many tensors share it. */
  dataIdMap: { get(dataId: object): { memoryOffset: number; refCount: number } | undefined };
  /** The Emscripten module: its heap memory and allocator. */
  wasm?: { asm?: { memory?: WebAssembly.Memory }; _malloc(bytes: number): number; _free(ptr: number): void };
}

export type WasmKernelFunc = (args: {
  inputs: NamedTensorInfoMap;
  attrs?: NamedAttrMap;
  backend: WasmBackend;
}) => TensorInfo;

/** The wasm backend's own implementation of `kernelName` (captured before we replace any). */
export function wasmKernel(kernelName: string): WasmKernelFunc {
  const config = getKernel(kernelName, 'wasm');
  if (config === undefined) throw new Error(`wasm backend has no '${kernelName}' kernel`);
  const run = config.kernelFunc;
  return (args) => {
    const out = run(args);
    if (Array.isArray(out)) throw new Error(`wasm kernel '${kernelName}' returned several tensors where one was expected`);
    return out;
  };
}

/**
 * One of our kernels as TensorFlow.js registers it. The one cast of the kernels: tfjs types a
 * kernel's backend as any backend, while ours are registered for, and only ever called with,
 * the wasm backend (and typed for its members).
 */
export function wasmKernelConfig<A>(kernelName: string, kernelFunc: (args: A) => TensorInfo | TensorInfo[]): KernelConfig {
  return { kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelFunc };
}

/** Frees intermediate results of a kernel (they never reached the engine, so only the backend holds them). */
export function disposeIntermediate(backend: WasmBackend, ...infos: TensorInfo[]): void {
  for (const t of infos) backend.disposeData(t.dataId);
}
