/**
 * Label-noise models (η = rate, K classes, T[i][j] = P(noisy = j | true = i)) and their seeded
 * application to a list of labels. See /work/shared/notes/domain.md.
 */
import { NoiseRng, clipRng } from './random.js';

export type Matrix = number[][];

/** Symmetric, to other classes: T = (1−η)I + η/(K−1)(11ᵀ−I). */
export function symmetricMatrix(k: number, rate: number): Matrix {
  return rows(k, (i, j) => (i === j ? 1 - rate : k > 1 ? rate / (k - 1) : 0));
}

/** Symmetric, may keep the true class: T = (1−η)I + (η/K)11ᵀ (flips ≈ η(K−1)/K; expected target = smoothing with ε = η). */
export function symmetricInclMatrix(k: number, rate: number): Matrix {
  return rows(k, (i, j) => (i === j ? 1 - rate + rate / k : rate / k));
}

/** Pair flip: T_ii = 1−η, T_{i,π(i)} = η; π(i) = i+1 mod K unless `mapping` gives it (classes not in it keep their label). */
export function pairMatrix(k: number, rate: number, mapping?: ReadonlyMap<number, number>): Matrix {
  return rows(k, (i, j) => {
    const to = mapping ? mapping.get(i) : (i + 1) % k;
    if (to === undefined || to === i) return i === j ? 1 : 0;
    return i === j ? 1 - rate : j === to ? rate : 0;
  });
}

/** Per-class rates, symmetric within a row: T_ii = 1−η_i, T_ij = η_i/(K−1). */
export function perClassMatrix(rates: readonly number[]): Matrix {
  const k = rates.length;
  return rows(k, (i, j) => (i === j ? 1 - rates[i]! : k > 1 ? rates[i]! / (k - 1) : 0));
}

function rows(k: number, f: (i: number, j: number) => number): Matrix {
  return Array.from({ length: k }, (_, i) => Array.from({ length: k }, (_, j) => f(i, j)));
}

/** The first problem of a would-be transition matrix for K classes, with its [row, col] path, or undefined. */
export function matrixProblem(m: readonly (readonly number[])[], k?: number): { path: number[]; message: string } | undefined {
  if (k !== undefined && m.length !== k) return { path: [], message: `a transition matrix for ${k} classes needs ${k} rows, not ${m.length}` };
  for (let i = 0; i < m.length; i++) {
    const row = m[i]!;
    if (row.length !== m.length) return { path: [i], message: `row ${i} has ${row.length} entries; the matrix must be square (${m.length}×${m.length})` };
    for (let j = 0; j < row.length; j++) {
      if (!(row[j]! >= 0 && row[j]! <= 1)) return { path: [i, j], message: `T[${i}][${j}] = ${row[j]} is not a probability in [0, 1]` };
    }
    const sum = row.reduce((a, b) => a + b, 0);
    if (Math.abs(sum - 1) > 1e-6) return { path: [i], message: `row ${i} sums to ${+sum.toPrecision(6)}, not 1 (T[i][j] = P(noisy = j | true = i))` };
  }
  return undefined;
}

export interface FlipResult {
  /** The noisy labels [n]. */
  labels: Int32Array;
  flipped: boolean[];
}

/**
 * Draws each noisy label from row `labels[n]` of `t`, with clip n's own stream. `apply[n]` false
 * keeps the label (clips outside the noisy splits).
 */
export function applyTransition(labels: ArrayLike<number>, t: Matrix, seed: number, ids: readonly string[], apply?: readonly boolean[]): FlipResult {
  const out = Int32Array.from(labels as ArrayLike<number>);
  const flipped: boolean[] = new Array(out.length).fill(false);
  for (let n = 0; n < out.length; n++) {
    if (apply && !apply[n]) continue;
    const y = out[n]!;
    const row = t[y];
    if (!row) throw new Error(`label ${y} of clip '${ids[n]}' has no row in the ${t.length}-class transition matrix`);
    const z = clipRng(seed, 'label', ids[n]!).categorical(row);
    out[n] = z;
    flipped[n] = z !== y;
  }
  return { labels: out, flipped };
}

export interface InstanceOptions {
  rate: number;
  /** Standard deviation of the per-sample rate (Xia et al.: 0.1). */
  sd: number;
  classes: number;
}

/**
 * Instance-dependent flips (Xia et al. 2020, "Part-dependent label noise"; their
 * `get_instance_noisy_label`): per-sample rate q_n ~ TruncNormal(η, sd²) on [0, 1]; a seeded
 * Gaussian projection W_y ∈ R^{D×K} of the sample's feature vector x_n gives scores
 * s = x_n W_{y_n}; s_y = −∞; p = q_n·softmax(s); p_y = 1 − q_n; the noisy label is drawn from p.
 * Features are standardised per dimension over the given samples (and divided by √D) so the
 * softmax neither saturates nor goes flat. Returns the rates q_n as well (NaN where not applied).
 */
export function instanceFlips(
  labels: ArrayLike<number>,
  features: readonly Float64Array[],
  o: InstanceOptions,
  seed: number,
  ids: readonly string[],
  apply?: readonly boolean[],
): FlipResult & { q: Float64Array } {
  const n = labels.length;
  const k = o.classes;
  const d = features[0]?.length ?? 0;
  // Standardise each dimension over the samples.
  const mean = new Float64Array(d);
  const sd = new Float64Array(d);
  for (const f of features) for (let j = 0; j < d; j++) mean[j]! += f[j]! / n;
  for (const f of features) for (let j = 0; j < d; j++) sd[j]! += (f[j]! - mean[j]!) ** 2 / n;
  for (let j = 0; j < d; j++) sd[j] = Math.sqrt(sd[j]!) || 1;
  // W[y]: [D, K], one projection per true class, from the seed alone.
  const w = Array.from({ length: k }, (_, y) => {
    const rng = new NoiseRng(seed >>> 0, 0x1d2d3d4d, y);
    return Float64Array.from({ length: d * k }, () => rng.normal());
  });
  const out = Int32Array.from(labels as ArrayLike<number>);
  const flipped: boolean[] = new Array(n).fill(false);
  const q = new Float64Array(n).fill(NaN);
  const p = new Float64Array(k);
  for (let s = 0; s < n; s++) {
    if (apply && !apply[s]) continue;
    const y = out[s]!;
    if (y < 0 || y >= k) throw new Error(`label ${y} of clip '${ids[s]}' is not one of the ${k} classes`);
    const rng = clipRng(seed, 'label', ids[s]!);
    const qn = rng.truncNormal(o.rate, o.sd, 0, 1);
    q[s] = qn;
    const x = features[s]!;
    const wy = w[y]!;
    let max = -Infinity;
    for (let c = 0; c < k; c++) {
      if (c === y) continue;
      let acc = 0;
      for (let j = 0; j < d; j++) acc += ((x[j]! - mean[j]!) / sd[j]!) * wy[j * k + c]!;
      p[c] = acc / Math.sqrt(d || 1);
      if (p[c]! > max) max = p[c]!;
    }
    let sum = 0;
    for (let c = 0; c < k; c++) {
      if (c === y) continue;
      p[c] = Math.exp(p[c]! - max);
      sum += p[c]!;
    }
    for (let c = 0; c < k; c++) p[c] = c === y ? 1 - qn : (qn * p[c]!) / sum;
    const z = rng.categorical(p);
    out[s] = z;
    flipped[s] = z !== y;
  }
  return { labels: out, flipped, q };
}

/** Realised flip rate per class (by true label; NaN for classes without noisy-split samples) and overall. */
export function flipRates(orig: ArrayLike<number>, flipped: readonly boolean[], k: number, apply?: readonly boolean[]): { perClass: number[]; overall: number; n: number; flips: number } {
  const count = new Array<number>(k).fill(0);
  const flips = new Array<number>(k).fill(0);
  let n = 0;
  let f = 0;
  for (let s = 0; s < orig.length; s++) {
    if (apply && !apply[s]) continue;
    const y = orig[s]!;
    count[y]!++;
    n++;
    if (flipped[s]) {
      flips[y]!++;
      f++;
    }
  }
  return { perClass: count.map((c, y) => (c ? flips[y]! / c : NaN)), overall: n ? f / n : NaN, n, flips: f };
}
