import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/util/random.js';
import { centerColumns, linearCka } from './cka.js';

function randomMatrix(rng: Rng, n: number, d: number): Float64Array {
  return Float64Array.from({ length: n * d }, () => rng.normal());
}

/** A random d × d orthogonal matrix: Gram–Schmidt on a Gaussian matrix's columns. */
function randomOrthogonal(rng: Rng, d: number): Float64Array {
  const q = randomMatrix(rng, d, d);
  for (let c = 0; c < d; c++) {
    for (let prev = 0; prev < c; prev++) {
      let proj = 0;
      for (let r = 0; r < d; r++) proj += q[r * d + c]! * q[r * d + prev]!;
      for (let r = 0; r < d; r++) q[r * d + c]! -= proj * q[r * d + prev]!;
    }
    let norm = 0;
    for (let r = 0; r < d; r++) norm += q[r * d + c]! ** 2;
    for (let r = 0; r < d; r++) q[r * d + c]! /= Math.sqrt(norm);
  }
  return q;
}

/** A [n × k] · B [k × m]. */
function matmul(a: Float64Array, b: Float64Array, n: number, k: number, m: number): Float64Array {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let t = 0; t < k; t++) for (let j = 0; j < m; j++) out[i * m + j]! += a[i * k + t]! * b[t * m + j]!;
  return out;
}

describe('linear CKA', () => {
  const rng = new Rng(7, 2019);
  const n = 40;
  const p = 6;
  const q = 9;
  const x = randomMatrix(rng, n, p);
  // Y shares part of X's structure: its first columns are a linear map of X plus noise.
  const mix = randomMatrix(rng, p, q);
  const y = matmul(x, mix, n, p, q).map((v) => v + 2 * rng.normal());

  it('a small case by hand: X = [1 2 3]ᵀ, Y = [[1,0],[0,1],[0,0]] → 3/(2√10)', () => {
    // Centred X = [−1, 0, 1]ᵀ, ‖XᵀX‖ = 2; YᵀX = [−1, 0]; YᵀY = [[2/3, −1/3], [−1/3, 2/3]], ‖·‖ = √10/3.
    const want = 3 / (2 * Math.sqrt(10));
    expect(linearCka([1, 2, 3], 1, [1, 0, 0, 1, 0, 0], 2, 3, 'feature')).toBeCloseTo(want, 14);
    expect(linearCka([1, 2, 3], 1, [1, 0, 0, 1, 0, 0], 2, 3, 'gram')).toBeCloseTo(want, 14);
  });

  it('CKA(X, X) = 1 and CKA is symmetric, in [0, 1]', () => {
    expect(linearCka(x, p, x, p, n)).toBeCloseTo(1, 12);
    const xy = linearCka(x, p, y, q, n);
    expect(xy).toBeCloseTo(linearCka(y, q, x, p, n), 12);
    expect(xy).toBeGreaterThan(0);
    expect(xy).toBeLessThan(1);
  });

  it('the feature and Gram forms agree', () => {
    expect(linearCka(x, p, y, q, n, 'feature')).toBeCloseTo(linearCka(x, p, y, q, n, 'gram'), 12);
  });

  it('is invariant to orthogonal transforms, isotropic scaling and translation', () => {
    const base = linearCka(x, p, y, q, n);
    const rotated = matmul(y, randomOrthogonal(rng, q), n, q, q);
    expect(linearCka(x, p, rotated, q, n)).toBeCloseTo(base, 12);
    expect(linearCka(x.map((v) => 3.7 * v), p, y, q, n)).toBeCloseTo(base, 12);
    expect(linearCka(x.map((v, i) => v + (i % p) * 10), p, y, q, n)).toBeCloseTo(base, 12);
  });

  it('is not invariant to anisotropic scaling (so the invariances above are not trivially true)', () => {
    const base = linearCka(x, p, y, q, n);
    const stretched = x.map((v, i) => (i % p === 0 ? 20 * v : v));
    expect(Math.abs(linearCka(stretched, p, y, q, n) - base)).toBeGreaterThan(0.01);
  });

  it('unrelated representations score low; a constant one is NaN', () => {
    const z = randomMatrix(new Rng(99), 400, 3);
    const w = randomMatrix(new Rng(100), 400, 3);
    expect(linearCka(z, 3, w, 3, 400)).toBeLessThan(0.05);
    expect(linearCka(new Float64Array(n * 2).fill(5), 2, y, q, n)).toBeNaN();
  });

  it('centres columns and checks sizes', () => {
    expect(Array.from(centerColumns([1, 10, 3, 20], 2, 2))).toEqual([-1, -5, 1, 5]);
    expect(() => linearCka([1, 2, 3], 1, [1, 2], 1, 3)).toThrow(/expected 3 × 1 = 3 values, got 2/);
  });
});
