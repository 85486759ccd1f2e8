/**
 * Occlusion saliency on spectrograms (Zeiler & Fergus 2014): slide a patch over the
 * [n_mels × frames] input, replace what it covers by a neutral value, and record how much the
 * probability of the clip's true class drops. A cell's value is the mean drop over the patch
 * positions covering it (positive: hiding it hurts the true class; negative: it spoke against it).
 *
 * The model is any function from inputs to class probabilities, so this file does not load
 * TensorFlow.js (src/lab/eval/model.ts wraps a trained model; tests use plain functions).
 */

/** Class probabilities [count × k] of `count` row-major inputs [count × mels × frames]. */
export type ProbabilityFn = (x: Float32Array, count: number) => Promise<Float64Array>;

export interface OcclusionOptions {
  /** Patch size [mels, frames]. */
  patch: readonly [number, number];
  /** Step between patch positions [mels, frames]; a last position flush with the edge is added so that every cell is covered. */
  stride: readonly [number, number];
  /** The occluder: one value per mel band [mels] (the train split's band means: 0 after `normalize`). */
  fill: Float32Array;
  /** Occluded copies per call of the model. */
  batchSize: number;
}

/** Start offsets 0, stride, 2·stride, … and, if that misses the end, length − size. */
export function patchStarts(length: number, size: number, stride: number): number[] {
  if (size > length) throw new Error(`occlusion patch of ${size} is larger than the input's ${length}`);
  const starts: number[] = [];
  for (let s = 0; s + size <= length; s += stride) starts.push(s);
  if (starts[starts.length - 1]! + size < length) starts.push(length - size);
  return starts;
}

export interface OcclusionResult {
  /** [mels × frames] mean drop of the target probability. */
  map: Float32Array;
  /** The target class probability of the intact input. */
  pTarget: number;
  /** Class probabilities of the intact input [k]. */
  probs: Float64Array;
}

/** The occlusion map of one input [mels × frames] for class `target`. */
export async function occlusionMap(
  predict: ProbabilityFn,
  input: Float32Array,
  shape: readonly [number, number],
  target: number,
  opt: OcclusionOptions,
): Promise<OcclusionResult> {
  const [mels, frames] = shape;
  const size = mels * frames;
  if (input.length !== size) throw new Error(`input has ${input.length} values, not ${mels} × ${frames}`);
  if (opt.fill.length !== mels) throw new Error(`occlusion fill has ${opt.fill.length} bands, the input ${mels}`);
  const [pm, pf] = opt.patch;
  const rows = patchStarts(mels, pm, opt.stride[0]);
  const cols = patchStarts(frames, pf, opt.stride[1]);
  const positions = rows.flatMap((r) => cols.map((c) => [r, c] as const));

  const base = await predict(input, 1);
  const k = base.length;
  if (!(target >= 0 && target < k)) throw new Error(`target class ${target} is not in 0..${k - 1}`);
  const pTarget = base[target]!;

  const drop = new Float64Array(size);
  const covered = new Float64Array(size);
  for (let at = 0; at < positions.length; at += opt.batchSize) {
    const part = positions.slice(at, at + opt.batchSize);
    const batch = new Float32Array(part.length * size); // [b × mels × frames]
    part.forEach(([r, c], b) => {
      const x = batch.subarray(b * size, (b + 1) * size);
      x.set(input);
      for (let m = r; m < r + pm; m++) x.fill(opt.fill[m]!, m * frames + c, m * frames + c + pf);
    });
    const probs = await predict(batch, part.length);
    part.forEach(([r, c], b) => {
      const d = pTarget - probs[b * k + target]!;
      for (let m = r; m < r + pm; m++) {
        for (let f = c; f < c + pf; f++) {
          drop[m * frames + f]! += d;
          covered[m * frames + f]!++;
        }
      }
    });
  }
  return { map: Float32Array.from(drop, (d, i) => d / covered[i]!), pTarget, probs: base };
}

/**
 * Which samples get a saliency map: rows taken in clip-id order, the first of each class in
 * class order, then the second of each, … until `count` rows (fewer if the set is smaller).
 * Depends on the clip ids and labels only, so every model of a study explains the same clips.
 */
export function pickSaliencyRows(clipIds: readonly string[], labels: ArrayLike<number>, k: number, count: number): number[] {
  const order = clipIds.map((_, i) => i).sort((a, b) => (clipIds[a]! < clipIds[b]! ? -1 : clipIds[a]! > clipIds[b]! ? 1 : a - b));
  const byClass: number[][] = Array.from({ length: k }, () => []);
  for (const i of order) byClass[labels[i]!]?.push(i);
  const picked: number[] = [];
  for (let round = 0; picked.length < count; round++) {
    let any = false;
    for (let c = 0; c < k && picked.length < count; c++) {
      const row = byClass[c]![round];
      if (row === undefined) continue;
      picked.push(row);
      any = true;
    }
    if (!any) break;
  }
  return picked;
}
