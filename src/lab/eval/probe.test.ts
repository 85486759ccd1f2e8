import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/util/random.js';
import { linearProbe } from './probe.js';

/** n samples of k Gaussian clusters in d dimensions (class c centred at `gap`·e_c, on a large offset and scale). */
function clusters(rng: Rng, n: number, k: number, d: number, gap: number) {
  const labels = Int32Array.from({ length: n }, (_, i) => i % k);
  const embeddings = Float64Array.from({ length: n * d }, (_, i) => {
    const row = Math.floor(i / d);
    const j = i % d;
    return 1000 + 50 * ((j === labels[row] ? gap : 0) + rng.normal());
  });
  return { labels, embeddings };
}

describe('linear probe', () => {
  it('reads separable classes perfectly, whatever the offset and scale of the embeddings', () => {
    const rng = new Rng(5);
    const r = linearProbe(clusters(rng, 90, 3, 6, 8), clusters(rng, 60, 3, 6, 8), 6, 3, 1);
    expect(r.accuracy).toBe(1);
    expect(r.converged).toBe(true);
  });

  it('is near chance when the embeddings carry no information about the labels', () => {
    const rng = new Rng(6);
    const r = linearProbe(clusters(rng, 300, 3, 6, 0), clusters(rng, 600, 3, 6, 0), 6, 3, 1);
    expect(r.accuracy).toBeGreaterThan(0.2);
    expect(r.accuracy).toBeLessThan(0.45);
  });

  it('refuses an empty split', () => {
    const empty = { labels: new Int32Array(0), embeddings: new Float64Array(0) };
    expect(() => linearProbe(empty, clusters(new Rng(1), 6, 3, 2, 1), 2, 3, 1)).toThrow(/0 train and 6 test rows/);
  });
});
