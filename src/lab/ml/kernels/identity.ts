/**
 * Identity for the wasm backend without a copy. The shipped kernel copies the whole tensor;
 * tfjs-core calls it for every tensor a gradient saves (engine `clone`), which was 5% of a
 * training step of the reference model. Tensors never change their data once written, so the
 * result can share the input's buffer, with one more reference to it (as the cpu backend does).
 */
import { Identity, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs-core';
import { wasmKernel, type WasmBackend, wasmKernelConfig } from './wasm_kernel_util.js';

export function identityConfig(): KernelConfig {
  const copying = wasmKernel(Identity);
  const identity = (args: { inputs: { x: TensorInfo }; backend: WasmBackend }): TensorInfo => {
    const { x } = args.inputs;
    const data = args.backend.dataIdMap.get(x.dataId);
    if (x.dtype === 'string' || data === undefined) return copying(args as never);
    data.refCount++;
    return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
  };
  return wasmKernelConfig(Identity, identity);
}
