import { describe, expect, it } from 'vitest';
import { applyTransition, flipRates, instanceFlips, matrixProblem, pairMatrix, perClassMatrix, symmetricInclMatrix, symmetricMatrix, type Matrix } from './label.js';
import { NoiseRng, clipRng, truncNormalMean } from './random.js';

const N = 10_000;
const K = 5;
const ids = Array.from({ length: N }, (_, i) => `clip_${i}`);
const labels = Int32Array.from({ length: N }, (_, i) => i % K);
/** Four binomial standard errors. */
const tol = (p: number, n: number) => 4 * Math.sqrt((p * (1 - p)) / n) + 1e-12;

function empirical(orig: Int32Array, noisy: Int32Array): Matrix {
  const m = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  const count = new Array<number>(K).fill(0);
  orig.forEach((y, i) => {
    m[y]![noisy[i]!]!++;
    count[y]!++;
  });
  return m.map((row, y) => row.map((v) => v / count[y]!));
}

function expectRowsMatch(t: Matrix, seed = 1) {
  const r = applyTransition(labels, t, seed, ids);
  const e = empirical(labels, r.labels);
  const nPer = N / K;
  for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) expect(Math.abs(e[i]![j]! - t[i]![j]!)).toBeLessThan(tol(t[i]![j]!, nPer));
  return r;
}

describe('random', () => {
  it('is counter-based and keyed: same key same stream, other clip other stream', () => {
    const a = clipRng(3, 'label', 'x');
    const b = clipRng(3, 'label', 'x');
    const c = clipRng(3, 'label', 'y');
    const sa = Array.from({ length: 5 }, () => a.u32());
    expect(Array.from({ length: 5 }, () => b.u32())).toEqual(sa);
    expect(Array.from({ length: 5 }, () => c.u32())).not.toEqual(sa);
  });
  it('uniform and normal moments', () => {
    const r = new NoiseRng(7);
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < 100_000; i++) {
      const z = r.normal();
      s += z;
      s2 += z * z;
    }
    expect(Math.abs(s / 1e5)).toBeLessThan(0.02);
    expect(Math.abs(s2 / 1e5 - 1)).toBeLessThan(0.02);
  });
});

describe('label noise models', () => {
  it.each([0.1, 0.2, 0.4, 0.6])('symmetric η=%s: realised rate and rows (off-diagonal η/(K−1))', (eta) => {
    const r = expectRowsMatch(symmetricMatrix(K, eta));
    const rates = flipRates(labels, r.flipped, K);
    expect(Math.abs(rates.overall - eta)).toBeLessThan(tol(eta, N));
    for (const pc of rates.perClass) expect(Math.abs(pc - eta)).toBeLessThan(tol(eta, N / K));
    r.labels.forEach((z, i) => expect(r.flipped[i]).toBe(z !== labels[i]));
  });

  it('symmetric_incl keeps the true class with probability 1 − η + η/K (flips η(K−1)/K)', () => {
    const eta = 0.4;
    const r = expectRowsMatch(symmetricInclMatrix(K, eta));
    const rates = flipRates(labels, r.flipped, K);
    const flip = (eta * (K - 1)) / K;
    expect(Math.abs(rates.overall - flip)).toBeLessThan(tol(flip, N));
  });

  it('pair flip goes to the next class only; a mapping is honoured', () => {
    const r = expectRowsMatch(pairMatrix(K, 0.3));
    r.labels.forEach((z, i) => expect(z === labels[i] || z === (labels[i]! + 1) % K).toBe(true));
    const mapped = pairMatrix(K, 0.3, new Map([[0, 3], [2, 1]]));
    const m = expectRowsMatch(mapped, 2);
    m.labels.forEach((z, i) => {
      const y = labels[i]!;
      if (y === 0) expect([0, 3]).toContain(z);
      else if (y === 2) expect([2, 1]).toContain(z);
      else expect(z).toBe(y);
    });
  });

  it('any transition matrix: empirical rows match; per-class rates', () => {
    const t: Matrix = [
      [0.7, 0.1, 0.1, 0.1, 0],
      [0, 1, 0, 0, 0],
      [0.25, 0.25, 0.25, 0.25, 0],
      [0, 0, 0.5, 0.5, 0],
      [0.05, 0.05, 0.05, 0.05, 0.8],
    ];
    expect(matrixProblem(t, K)).toBeUndefined();
    expectRowsMatch(t);
    const rates = [0, 0.1, 0.3, 0.5, 0.9];
    const r = expectRowsMatch(perClassMatrix(rates));
    flipRates(labels, r.flipped, K).perClass.forEach((pc, y) => expect(Math.abs(pc - rates[y]!)).toBeLessThan(tol(rates[y]!, N / K)));
  });

  it('rejects a matrix whose row does not sum to 1, naming the row', () => {
    expect(matrixProblem([[0.5, 0.5], [0.2, 0.7]])).toEqual({ path: [1], message: 'row 1 sums to 0.9, not 1 (T[i][j] = P(noisy = j | true = i))' });
    expect(matrixProblem([[1.5, -0.5], [0, 1]])?.path).toEqual([0, 0]);
    expect(matrixProblem([[1, 0], [0, 1]], 3)?.message).toMatch(/3 rows/);
  });

  it('applies only where asked and is deterministic', () => {
    const apply = ids.map((_, i) => i % 2 === 0);
    const a = applyTransition(labels, symmetricMatrix(K, 0.5), 9, ids, apply);
    const b = applyTransition(labels, symmetricMatrix(K, 0.5), 9, ids, apply);
    expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
    a.labels.forEach((z, i) => (i % 2 ? expect(z).toBe(labels[i]) : undefined));
    const c = applyTransition(labels, symmetricMatrix(K, 0.5), 10, ids, apply);
    expect(Array.from(c.labels)).not.toEqual(Array.from(a.labels));
  });

  it('instance-dependent: realised rate ≈ E[TruncNormal(η, 0.1²)], destination depends on the features', () => {
    const eta = 0.3;
    const rng = new NoiseRng(5);
    // Two clusters of features.
    const feats = ids.map((_, i) => Float64Array.from({ length: 8 }, (_, j) => (i % 2 ? 3 : -3) * (j % 2 ? 1 : -1) + rng.normal()));
    const r = instanceFlips(labels, feats, { rate: eta, sd: 0.1, classes: K }, 4, ids);
    const expected = truncNormalMean(eta, 0.1, 0, 1);
    const rates = flipRates(labels, r.flipped, K);
    expect(Math.abs(rates.overall - expected)).toBeLessThan(tol(expected, N));
    for (const q of r.q) expect(q >= 0 && q <= 1).toBe(true);
    // Destinations of class 0 differ between the clusters.
    const dest = (parity: number) => {
      const h = new Array<number>(K).fill(0);
      r.labels.forEach((z, i) => (labels[i] === 0 && i % 2 === parity && r.flipped[i] ? h[z]!++ : undefined));
      const s = h.reduce((a, b) => a + b, 0);
      return h.map((v) => v / s);
    };
    const d0 = dest(0);
    const d1 = dest(1);
    expect(d0.reduce((a, v, j) => a + Math.abs(v - d1[j]!), 0)).toBeGreaterThan(0.3);
    // Truncation at 0 raises the mean for small η.
    expect(truncNormalMean(0.2, 0.1, 0, 1)).toBeCloseTo(0.2055, 3);
  });
});
