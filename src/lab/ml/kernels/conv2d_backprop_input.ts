/**
 * Conv2DBackpropInput for the wasm backend. 4.22.0 has one, but it is a scalar loop (730 ms per
 * step of the reference model); with stride 1 the input gradient is a plain convolution, which
 * runs on the backend's XNNPACK Conv2D:
 *   dx = conv2d(dy, transpose(reverse(W,[0,1]),[0,1,3,2]),
 *               pad = (kh−1−top, kh−1−bottom, kw−1−left, kw−1−right))
 * Strides > 1 (and paddings wider than the filter) go to the backend's own kernel.
 */
import {
  backend_util,
  Conv2DBackpropInput,
  type Conv2DBackpropInputAttrs,
  type KernelConfig,
 
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { disposeIntermediate, wasmKernel, type WasmBackend, wasmKernelConfig } from './wasm_kernel_util.js';

export function conv2DBackpropInputConfig(): KernelConfig {
  const shipped = wasmKernel(Conv2DBackpropInput);
  const conv2d = wasmKernel('Conv2D');
  const transpose = wasmKernel('Transpose');
  const reverse = wasmKernel('Reverse');

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
    const fastPath =
      info.dataFormat === 'channelsLast' &&
      info.strideHeight === 1 &&
      info.strideWidth === 1 &&
      Math.max(top, bottom) <= kh - 1 &&
      Math.max(left, right) <= kw - 1;
    if (!fastPath) return shipped(args as never);

    const temps: TensorInfo[] = [];
    try {
      const flipped = reverse({ inputs: { x: filter }, attrs: { dims: [0, 1] }, backend }); // [kh, kw, Ci, Co]
      temps.push(flipped);
      const wT = transpose({ inputs: { x: flipped }, attrs: { perm: [0, 1, 3, 2] }, backend }); // [kh, kw, Co, Ci]
      temps.push(wT);
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
    } finally {
      disposeIntermediate(backend, ...temps);
    }
  }

  return wasmKernelConfig(Conv2DBackpropInput, conv2DBackpropInput);
}
