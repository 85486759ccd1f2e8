/**
 * Identity for the wasm backend without a copy. The shipped kernel copies the whole tensor;
 * tfjs-core calls it for every tensor a gradient saves (engine `clone`), which was 5% of a
 * training step of the reference model. Tensors never change their data once written, so the
 * result can share the input's buffer, with one more reference to it (as the cpu backend does).
 */
import { Identity, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { wasmKernel, type WasmBackend } from './wasm_kernel_util.js';

/** The part of tfjs-backend-wasm 4.22.0's data map this kernel uses. */
interface DataMap {
  dataIdMap: { get(dataId: object): { refCount: number } | undefined };
}

export function identityConfig(): KernelConfig {
  const copying = wasmKernel(Identity);
  const identity = (args: { inputs: { x: TensorInfo }; backend: WasmBackend }): TensorInfo => {
    const { x } = args.inputs;
    const data = (args.backend as unknown as DataMap).dataIdMap.get(x.dataId);
    if (x.dtype === 'string' || data === undefined) return copying(args as never);
    data.refCount++;
    return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
  };
  return { kernelName: Identity, backendName: 'wasm', kernelFunc: identity as unknown as KernelFunc };
}
