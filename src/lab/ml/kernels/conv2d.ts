/**
 * Conv2D and FusedConv2D (linear, with or without a bias) for the wasm backend, through conno's
 * conv_in_order (c/simd_kernels.c): the sums XNNPACK's convolution takes, in its order, so the
 * same bits (kernels.test.ts compares them), without what the backend does around XNNPACK on
 * every call with a new filter, as training has each step: a transposed copy of the filter, a new
 * XNNPACK operator packing it, and the operator's indirection buffer. Measured in TC-ResNet8's
 * training step (`tf.profile`, figures in ../../../../README.md). Elsewhere (no SIMD, NCHW, output
 * channels not a multiple of 4, an activation or PReLU weights fused in) the backend's own kernel
 * runs.
 */
import { backend_util, Conv2D, FusedConv2D, type Conv2DAttrs, type FusedConv2DAttrs, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs-core';
import { convInOrder, heapAddress, simdKernels } from './simd.js';
import { wasmKernel, type WasmBackend, wasmKernelConfig } from './wasm_kernel_util.js';

interface ConvArgs {
  inputs: { x: TensorInfo; filter: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo };
  attrs: Conv2DAttrs & Partial<Pick<FusedConv2DAttrs, 'activation'>>;
  backend: WasmBackend;
}

/** The convolution through conv_in_order, or undefined where the backend's kernel must run. */
function convSimd({ inputs, attrs, backend }: ConvArgs): TensorInfo | undefined {
  const { x, filter, bias, preluActivationWeights } = inputs;
  if (attrs.dataFormat !== 'NHWC' || preluActivationWeights != null || (attrs.activation !== undefined && attrs.activation !== 'linear')) return undefined;
  const simd = simdKernels(backend);
  if (!simd || x.dtype !== 'float32' || filter.dtype !== 'float32') return undefined;
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    attrs.strides,
    attrs.dilations,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow, outChannels: co } = info;
  if (co % 4 !== 0 || (bias != null && (bias.shape.length !== 1 || bias.shape[0] !== co || bias.dtype !== 'float32'))) return undefined;
  const y = backend.makeOutput(info.outShape, 'float32');
  if (n * oh * ow * co === 0) return y;
  const { filterHeight: kh, filterWidth: kw } = info;
  convInOrder(backend, simd, {
    x: heapAddress(backend, x),
    filter: heapAddress(backend, filter),
    init: bias != null ? heapAddress(backend, bias) : 0,
    y: heapAddress(backend, y),
    n, h, w, c, oh, ow, co,
    nky: kh, nkx: kw, fsy: kw, fsx: 1,
    sh: info.strideHeight, sw: info.strideWidth, dh: info.dilationHeight, dw: info.dilationWidth,
    top: info.padInfo.top, left: info.padInfo.left,
    yh: oh, yw: ow, ysh: 1, ysw: 1, yoh: 0, yow: 0,
  });
  return y;
}

export function conv2DConfigs(): KernelConfig[] {
  const shippedConv = wasmKernel(Conv2D);
  const shippedFused = wasmKernel(FusedConv2D);
  return [
    wasmKernelConfig(Conv2D, (args: ConvArgs) => convSimd(args) ?? shippedConv(args as never)),
    wasmKernelConfig(FusedConv2D, (args: ConvArgs) => convSimd(args) ?? shippedFused(args as never)),
  ];
}
