/**
 * Linear centered kernel alignment (Kornblith, Norouzi, Lee, Hinton, "Similarity of neural
 * network representations revisited", ICML 2019) between two representations of the same n
 * samples, X [n × p] and Y [n × q] (row-major, any float array; computed in float64):
 *
 *   X, Y ← column-centred X, Y
 *   CKA(X, Y) = ‖YᵀX‖²_F / (‖XᵀX‖_F · ‖YᵀY‖_F)
 *             = ⟨K, L⟩_F / (‖K‖_F · ‖L‖_F)   with K = XXᵀ, L = YYᵀ (centred Gram matrices)
 *
 * In [0, 1]; 1 for X = Y; invariant to orthogonal transforms and isotropic scaling of either
 * representation (not to arbitrary invertible linear maps). The feature form costs about
 * n·(p + q)² and the Gram form n²·(p + q); whichever is cheaper is used. A representation that is
 * constant over the samples (e.g. all-dead ReLUs) has no alignment to speak of: NaN.
 */

/** Column-centred float64 copy of a row-major [n × d] matrix. */
export function centerColumns(x: ArrayLike<number>, n: number, d: number): Float64Array {
  if (x.length !== n * d) throw new Error(`expected ${n} × ${d} = ${n * d} values, got ${x.length}`);
  const out = Float64Array.from(x as ArrayLike<number>);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += out[i * d + j]!;
  for (let j = 0; j < d; j++) mean[j]! /= n;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) out[i * d + j]! -= mean[j]!;
  return out;
}

/** AᵀB for centred A [n × a], B [n × b]: [a × b]. */
function crossProduct(a: Float64Array, da: number, b: Float64Array, db: number, n: number): Float64Array {
  const out = new Float64Array(da * db);
  for (let i = 0; i < n; i++) {
    for (let r = 0; r < da; r++) {
      const v = a[i * da + r]!;
      if (v === 0) continue;
      for (let c = 0; c < db; c++) out[r * db + c]! += v * b[i * db + c]!;
    }
  }
  return out;
}

/** AAᵀ for A [n × d]: [n × n]. */
function gram(a: Float64Array, n: number, d: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let t = 0; t < d; t++) s += a[i * d + t]! * a[j * d + t]!;
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  }
  return out;
}

function sumOfSquares(a: Float64Array): number {
  let s = 0;
  for (const v of a) s += v * v;
  return s;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

export type CkaForm = 'feature' | 'gram';

/**
 * Linear CKA of X [n × p] and Y [n × q] (same samples in the same row order).
 * `form` forces one of the two equal formulas (tests); by default the cheaper one.
 */
export function linearCka(x: ArrayLike<number>, p: number, y: ArrayLike<number>, q: number, n: number, form?: CkaForm): number {
  if (n < 2) throw new Error(`CKA needs at least 2 samples, got ${n}`);
  const xc = centerColumns(x, n, p);
  const yc = centerColumns(y, n, q);
  const use = form ?? (n * (p + q) ** 2 <= n * n * (p + q) ? 'feature' : 'gram');
  let hsic: number;
  let normX: number;
  let normY: number;
  if (use === 'feature') {
    hsic = sumOfSquares(crossProduct(yc, q, xc, p, n)); // ‖YᵀX‖²_F
    normX = Math.sqrt(sumOfSquares(crossProduct(xc, p, xc, p, n))); // ‖XᵀX‖_F
    normY = Math.sqrt(sumOfSquares(crossProduct(yc, q, yc, q, n)));
  } else {
    const k = gram(xc, n, p);
    const l = gram(yc, n, q);
    hsic = dot(k, l); // ⟨K, L⟩_F
    normX = Math.sqrt(sumOfSquares(k));
    normY = Math.sqrt(sumOfSquares(l));
  }
  if (normX === 0 || normY === 0) return NaN;
  return hsic / (normX * normY);
}
