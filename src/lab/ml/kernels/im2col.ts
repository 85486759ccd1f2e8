/**
 * im2col in transposed layout for NHWC convolutions, written over the wasm heap in JS:
 *   colT[(ky·kw + kx)·Ci + ci, (n·OH + oh)·OW + ow] = x[n, oh·sh + ky − top, ow·sw + kx − left, ci]
 * (0 outside the input), read from x in planar layout xP [Ci, N, H, W], so that with stride 1
 * every output run is one contiguous copy. A filter gradient is then one plain GEMM, dW = colT · dy, which the
 * wasm backend runs on XNNPACK (its transposed-operand GEMM is ~15× slower, hence this layout).
 * Training runs conno's wasm kernel `im2col_t` (c/simd_kernels.c, the same copies); this is
 * where it cannot run, and the reference.
 */
export interface Im2ColGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  top: number;
  left: number;
}

/** Fills colT ([kh·kw·Ci, N·OH·OW], row-major) from xP ([Ci, N, H, W]: x transposed [3, 0, 1, 2]). */
export function im2colTransposed(xP: Float32Array, g: Im2ColGeometry, colT: Float32Array): void {
  const { batch, inHeight: H, inWidth: W, inChannels: Ci, outHeight: OH, outWidth: OW, kh, kw, sh, sw, top, left } = g;
  const M = batch * OH * OW;
  // Both in one buffer (the wasm heap): runs are moved with copyWithin on one view of the whole
  // buffer, which allocates nothing (a subarray per run did, and cost a third of the time).
  const shared = xP.buffer === colT.buffer && sw === 1;
  const heap = shared ? new Float32Array(colT.buffer) : colT;
  const xBase = shared ? xP.byteOffset / 4 : 0;
  const cBase = shared ? colT.byteOffset / 4 : 0;
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) {
      // Output columns whose input column is inside the image: ow in [owLo, owHi).
      const owLo = Math.max(0, Math.ceil((left - kx) / sw));
      const owHi = Math.min(OW, Math.floor((W - 1 + left - kx) / sw) + 1);
      for (let ci = 0; ci < Ci; ci++) {
        const row = ((ky * kw + kx) * Ci + ci) * M;
        for (let n = 0; n < batch; n++) {
          for (let oh = 0; oh < OH; oh++) {
            const at = row + (n * OH + oh) * OW;
            const ih = oh * sh + ky - top;
            if (ih < 0 || ih >= H || owLo >= owHi) {
              colT.fill(0, at, at + OW);
              continue;
            }
            if (owLo > 0) colT.fill(0, at, at + owLo);
            let src = ((ci * batch + n) * H + ih) * W + (owLo * sw + kx - left);
            if (shared) heap.copyWithin(cBase + at + owLo, xBase + src, xBase + src + owHi - owLo);
            else if (sw === 1) colT.set(xP.subarray(src, src + owHi - owLo), at + owLo);
            else for (let ow = owLo; ow < owHi; ow++, src += sw) colT[at + ow] = xP[src]!;
            if (owHi < OW) colT.fill(0, at + owHi, at + OW);
          }
        }
      }
    }
  }
}
