import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fitSoftmaxRegression, softmaxRows } from './linear.js';
import { Rng } from '../../core/util/random.js';

interface LogisticCase {
  name: string;
  n: number;
  d: number;
  k: number;
  l2: number;
  x: number[];
  labels: number[];
  proba: number[];
}
const fixture = JSON.parse(readFileSync(new URL('../../../test/fixtures/sklearn/logistic.json', import.meta.url), 'utf8')) as { cases: LogisticCase[] };

describe('fitSoftmaxRegression', () => {
  it.each(fixture.cases.map((c) => [c.name, c] as const))('matches sklearn LogisticRegression(multinomial, C = 1/l2) probabilities: %s', (_, c) => {
    const m = fitSoftmaxRegression(Float64Array.from(c.x), c.n, c.d, Int32Array.from(c.labels), c.k, { l2: c.l2 });
    expect(m.converged).toBe(true);
    const p = softmaxRows(m.predictLogits(c.x, c.n), c.n, c.k);
    let worst = 0;
    for (let i = 0; i < p.length; i++) worst = Math.max(worst, Math.abs(p[i]! - c.proba[i]!));
    expect(worst).toBeLessThan(1e-4);
  });

  it('separates separable data, deterministically', () => {
    const rng = new Rng(3);
    const n = 300;
    const d = 5;
    const k = 3;
    const x = new Float32Array(n * d);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = i % k;
      for (let j = 0; j < d; j++) x[i * d + j] = rng.normal() * 0.3 + (j === y[i] ? 3 : 0);
    }
    const a = fitSoftmaxRegression(x, n, d, y, k, { l2: 0.01 });
    const b = fitSoftmaxRegression(x, n, d, y, k, { l2: 0.01 });
    expect(Buffer.from(a.W.buffer).equals(Buffer.from(b.W.buffer))).toBe(true);
    const z = a.predictLogits(x, n);
    let right = 0;
    for (let i = 0; i < n; i++) {
      const row = Array.from(z.subarray(i * k, (i + 1) * k));
      right += row.indexOf(Math.max(...row)) === y[i] ? 1 : 0;
    }
    expect(right).toBe(n);
  });

  it('names the problem in bad input', () => {
    expect(() => fitSoftmaxRegression(new Float64Array(4), 2, 2, Int32Array.from([0, 3]), 2)).toThrow(/label 3 of row 1 is not in \[0, 2\)/);
    expect(() => fitSoftmaxRegression(Float64Array.from([0, NaN, 1, 1]), 2, 2, Int32Array.from([0, 1]), 2)).toThrow(/feature 1 of row 0 is NaN/);
    expect(() => fitSoftmaxRegression(new Float64Array(4), 2, 2, Int32Array.from([0, 1]), 2, { l2: 0 })).toThrow(/l2 must be > 0/);
  });
});
