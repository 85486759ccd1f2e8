/**
 * Seeded randomness for noise injection: one stream per clip and purpose (src/core/util/random.ts), so
 * a clip's noise depends on the seed and the clip alone, never on which other clips are in the
 * table or in what order they are processed.
 */
import { Rng, hashText } from '../../core/util/random.js';

export { Rng as NoiseRng, mix32, hashText } from '../../core/util/random.js';

/** The stream of one clip for one purpose ("label", "noise", "copy:10", …). */
export function clipRng(seed: number, purpose: string, clipId: string): Rng {
  return new Rng(seed >>> 0, Math.floor(seed / 4294967296) >>> 0, hashText(purpose), hashText(clipId, 1), hashText(clipId, 2));
}

/** Mean of Normal(mean, sd²) truncated to [lo, hi]. */
export function truncNormalMean(mean: number, sd: number, lo: number, hi: number): number {
  if (sd === 0) return Math.min(hi, Math.max(lo, mean));
  const a = (lo - mean) / sd;
  const b = (hi - mean) / sd;
  const pdf = (x: number) => Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
  return mean + (sd * (pdf(a) - pdf(b))) / (normCdf(b) - normCdf(a));
}

/** Standard normal CDF (Abramowitz–Stegun 7.1.26 erf, |error| < 1.5e-7). */
export function normCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}
