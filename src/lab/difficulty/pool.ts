/**
 * Average pooling of a probe layer's activations down to a size the O(n²·dims) k-NN probes of
 * prediction depth can afford (stages/score-difficulty/depth.ts).
 */

/** Output sizes of adaptive pooling of the spatial dims `spatial` so that prod(out)·channels ≤ budget. */
export function pooledShape(spatial: readonly number[], channels: number, budget: number): number[] {
  const out = [...spatial];
  const size = () => out.reduce((a, b) => a * b, 1) * channels;
  while (size() > budget && out.some((s) => s > 1)) {
    let widest = 0;
    for (let a = 1; a < out.length; a++) if (out[a]! > out[widest]!) widest = a;
    out[widest] = Math.ceil(out[widest]! / 2);
  }
  return out;
}

/** Adaptive average pooling of one sample x [spatial…, C] (row-major) to [outShape…, C]. */
export function adaptiveAvgPool(x: ArrayLike<number>, spatial: readonly number[], channels: number, outShape: readonly number[]): Float32Array {
  if (spatial.length === 0) return Float32Array.from(x);
  if (spatial.length > 2 || outShape.length !== spatial.length) throw new Error(`adaptiveAvgPool: spatial shape [${spatial.join(', ')}] → [${outShape.join(', ')}] (1 or 2 axes)`);
  const [H, W] = spatial.length === 1 ? [spatial[0]!, 1] : [spatial[0]!, spatial[1]!];
  const [h, w] = outShape.length === 1 ? [outShape[0]!, 1] : [outShape[0]!, outShape[1]!];
  const out = new Float32Array(h * w * channels);
  for (let i = 0; i < h; i++) {
    const r0 = Math.floor((i * H) / h);
    const r1 = Math.ceil(((i + 1) * H) / h);
    for (let j = 0; j < w; j++) {
      const c0 = Math.floor((j * W) / w);
      const c1 = Math.ceil(((j + 1) * W) / w);
      const count = (r1 - r0) * (c1 - c0);
      for (let c = 0; c < channels; c++) {
        let s = 0;
        for (let r = r0; r < r1; r++) for (let q = c0; q < c1; q++) s += x[(r * W + q) * channels + c]!;
        out[(i * w + j) * channels + c] = s / count;
      }
    }
  }
  return out;
}
