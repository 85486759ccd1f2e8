/**
 * What evaluate-ood evaluates on, decided from the feature tables alone (no TensorFlow.js):
 * which splits form sets and in what order, the SNR of a noisy copy, how another dataset's classes
 * map onto the model's, and how the patches of one clip (features `patch: {…}`) become one
 * prediction.
 */

/** Splits a model learns or selects from, never evaluated by default. */
export const TRAINING_SPLITS: ReadonlySet<string> = new Set(['train', 'dev']);

/** The SNR of a noisy copy from its split name (`test@snr=10` → 10, `test@snr=-5` → −5); NaN otherwise. */
export function snrOfSplit(split: string): number {
  const m = /@snr=([^@,]+)$/.exec(split);
  if (m === null) return NaN;
  const v = Number(m[1]);
  return Number.isFinite(v) ? v : NaN;
}

/**
 * The splits evaluated by default: every split but train and dev, `test` first and its noisy
 * copies from the highest SNR down, then the others (holdout, …) by name.
 */
export function defaultSplits(splits: Iterable<string>): string[] {
  const names = [...new Set(splits)].filter((s) => !TRAINING_SPLITS.has(s));
  const base = (s: string) => s.replace(/@.*$/, '');
  return names.sort((a, b) => {
    const ta = base(a) === 'test' ? 0 : 1;
    const tb = base(b) === 'test' ? 0 : 1;
    if (ta !== tb) return ta - tb;
    if (base(a) !== base(b)) return base(a) < base(b) ? -1 : 1;
    const sa = snrOfSplit(a);
    const sb = snrOfSplit(b);
    if (Number.isNaN(sa) !== Number.isNaN(sb)) return Number.isNaN(sa) ? -1 : 1;
    if (!Number.isNaN(sa) && sa !== sb) return sb - sa;
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

/**
 * Source class index → model class index, −1 for a class that maps to nothing (its rows are
 * dropped). With `classMap` null, classes are matched by name; otherwise `classMap` lists source
 * class → model class (a null target, or a class left out, drops that class). `where` names the
 * parameter in errors.
 */
export function classMapping(
  sourceClasses: readonly string[],
  modelClasses: readonly string[],
  classMap: Readonly<Record<string, string | null>> | null,
  where: string,
): Int32Array {
  const modelIndex = new Map(modelClasses.map((c, i) => [c, i]));
  if (classMap === null) return Int32Array.from(sourceClasses, (c) => modelIndex.get(c) ?? -1);
  const sourceIndex = new Map(sourceClasses.map((c, i) => [c, i]));
  const out = new Int32Array(sourceClasses.length).fill(-1);
  for (const [src, dst] of Object.entries(classMap)) {
    const s = sourceIndex.get(src);
    if (s === undefined) throw new Error(`${where}: '${src}' is not a class of the evaluated table (its classes: ${sourceClasses.join(', ')})`);
    if (dst === null) continue;
    const d = modelIndex.get(dst);
    if (d === undefined) throw new Error(`${where}: '${src}' → '${dst}', but '${dst}' is not a class of the model (its classes: ${modelClasses.join(', ')})`);
    out[s] = d;
  }
  return out;
}

/** Rows grouped by clip id, groups in order of first appearance. */
export interface ClipGroups {
  /** The first row of each clip [clips]. */
  firstRow: Int32Array;
  /** The group (clip) of each row [rows]. */
  groupOf: Int32Array;
  /** Rows per clip [clips]. */
  count: Int32Array;
}

export function groupByClip(clipIds: readonly string[]): ClipGroups {
  const index = new Map<string, number>();
  const first: number[] = [];
  const groupOf = new Int32Array(clipIds.length);
  for (let i = 0; i < clipIds.length; i++) {
    let g = index.get(clipIds[i]!);
    if (g === undefined) {
      g = first.length;
      index.set(clipIds[i]!, g);
      first.push(i);
    }
    groupOf[i] = g;
  }
  const count = new Int32Array(first.length);
  for (const g of groupOf) count[g]!++;
  return { firstRow: Int32Array.from(first), groupOf, count };
}

/**
 * One prediction per clip from the rows (patches) of each clip: the mean of their logits
 * [clips × k]. Its softmax is the normalised geometric mean of the patches' probabilities
 * (waspaa19's clip prediction), since log p = z − logsumexp(z) and the shared term cancels in the
 * softmax. Rows of a table without patches are their own clips.
 */
export function meanLogitsByClip(groups: ClipGroups, logits: ArrayLike<number>, k: number): Float64Array {
  const out = new Float64Array(groups.firstRow.length * k);
  for (let i = 0; i < groups.groupOf.length; i++) {
    const g = groups.groupOf[i]!;
    for (let c = 0; c < k; c++) out[g * k + c]! += logits[i * k + c]!;
  }
  for (let g = 0; g < groups.count.length; g++) for (let c = 0; c < k; c++) out[g * k + c]! /= groups.count[g]!;
  return out;
}
