import { describe, expect, it } from 'vitest';
import { NoiseRng } from './random.js';
import { achievedSnr, brownNoise, mixAtSnr, pinkNoise, power, pureNoise, welch, whiteNoise } from './signal.js';

const FS = 16000;

/** Slope in dB/octave of a least-squares line through octave-band powers (dB vs log2 f) between f0 and f1 Hz. */
async function slope(x: Float64Array, f0: number, f1: number): Promise<number> {
  const size = 4096;
  const spec = await welch(x, size);
  const pts: [number, number][] = [];
  for (let lo = f0; lo * 2 <= f1; lo *= 2) {
    let acc = 0;
    let cnt = 0;
    for (let kk = Math.ceil((lo * size) / FS); kk < (2 * lo * size) / FS; kk++) {
      acc += spec[kk]!;
      cnt++;
    }
    // Power spectral density of the band (mean over its bins) at its geometric centre.
    pts.push([Math.log2(lo * Math.SQRT2), 10 * Math.log10(acc / cnt)]);
  }
  const mx = pts.reduce((a, p) => a + p[0], 0) / pts.length;
  const my = pts.reduce((a, p) => a + p[1], 0) / pts.length;
  let num = 0;
  let den = 0;
  for (const [px, py] of pts) {
    num += (px - mx) * (py - my);
    den += (px - mx) ** 2;
  }
  return num / den;
}

describe('welch (pffft)', () => {
  it('equals the mean |DFT|² of Hann-windowed half-overlapping frames, computed directly', async () => {
    const size = 64;
    const x = Float64Array.from({ length: 160 }, (_, i) => Math.sin(0.7 * i) + 0.3 * Math.cos(2.1 * i + 1) + ((i * 7919) % 13) / 13 - 0.5);
    const got = await welch(x, size);
    const want = new Float64Array(size / 2 + 1);
    let frames = 0;
    for (let start = 0; start + size <= x.length; start += size / 2, frames++) {
      for (let k = 0; k <= size / 2; k++) {
        let re = 0;
        let im = 0;
        for (let i = 0; i < size; i++) {
          const v = x[start + i]! * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / size));
          re += v * Math.cos((2 * Math.PI * k * i) / size);
          im -= v * Math.sin((2 * Math.PI * k * i) / size);
        }
        want[k]! += re * re + im * im;
      }
    }
    const peak = Math.max(...want) / frames;
    for (let k = 0; k <= size / 2; k++) expect(Math.abs(got[k]! - want[k]! / frames)).toBeLessThan(1e-5 * peak);
  });
});

describe('coloured noise', () => {
  const n = FS * 20;
  it('white is flat, pink −3 dB/octave, brown −6 dB/octave (log-log fit of octave bands, 31 Hz – 4 kHz)', async () => {
    const w = await slope(whiteNoise(new NoiseRng(1), n), 31.25, 4000);
    const p = await slope(pinkNoise(new NoiseRng(2), n), 31.25, 4000);
    const b = await slope(brownNoise(new NoiseRng(3), n), 31.25, 4000);
    expect(Math.abs(w)).toBeLessThan(0.15);
    expect(Math.abs(p + 3.01)).toBeLessThan(0.3);
    expect(Math.abs(b + 6.02)).toBeLessThan(0.5);
  });
  it('is deterministic per seed', () => {
    expect(Array.from(pinkNoise(new NoiseRng(4), 1000))).toEqual(Array.from(pinkNoise(new NoiseRng(4), 1000)));
    expect(Array.from(pinkNoise(new NoiseRng(4), 1000))).not.toEqual(Array.from(pinkNoise(new NoiseRng(5), 1000)));
  });
});

describe('mixing', () => {
  const rng = new NoiseRng(11);
  const signal = Float32Array.from({ length: FS }, (_, i) => 0.2 * Math.sin((2 * Math.PI * 440 * i) / FS) * (0.5 + 0.5 * Math.sin(i / 900)));
  it.each([30, 20, 10, 0, -5, -20])('achieves a fixed SNR of %s dB within 0.01 dB for every colour', (snr) => {
    for (const noise of [whiteNoise(rng, FS), pinkNoise(rng, FS), brownNoise(rng, FS)]) {
      const m = mixAtSnr(signal, noise, snr);
      expect(Math.abs(m.snrDb! - snr)).toBeLessThan(0.01);
      expect(Math.abs(achievedSnr(signal, m.audio)! - snr)).toBeLessThan(0.01);
    }
  });
  it('SNRs drawn from a range are uniform on it (10k draws)', () => {
    const r = new NoiseRng(12);
    const draws = Array.from({ length: 10_000 }, () => r.uniform(-5, 20));
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
    expect(Math.abs(mean - 7.5)).toBeLessThan(4 * (25 / Math.sqrt(12)) / Math.sqrt(10_000));
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(-5);
    expect(Math.max(...draws)).toBeLessThan(20);
  });
  it('pure noise has the signal’s level and none of the signal', () => {
    const noise = whiteNoise(rng, FS);
    const m = pureNoise(signal, noise);
    expect(power(m.audio) / power(signal)).toBeCloseTo(1, 5);
    // Correlation with the signal is at chance level.
    let dot = 0;
    for (let i = 0; i < FS; i++) dot += m.audio[i]! * signal[i]!;
    expect(Math.abs(dot / Math.sqrt(power(m.audio) * power(signal)) / FS)).toBeLessThan(4 / Math.sqrt(FS));
    expect(m.snrDb).toBeNull();
    // At a given level (a split's mean power): that power, whatever the signal's.
    expect(power(pureNoise(signal, noise, 0.25).audio)).toBeCloseTo(0.25, 6);
    expect(power(pureNoise(new Float32Array(FS), noise, 0.25).audio)).toBeCloseTo(0.25, 6);
  });
  it('leaves a silent clip untouched (SNR undefined)', () => {
    const m = mixAtSnr(new Float32Array(100), whiteNoise(rng, 100), 10);
    expect(m.snrDb).toBeNull();
    expect(Array.from(m.audio)).toEqual(new Array(100).fill(0));
  });
});
