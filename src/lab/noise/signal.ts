/**
 * Data noise in the waveform domain: coloured noise generators, mixing at a target SNR
 * (x̃ = s + g·n, g = sqrt(P_s / (P_n·10^(SNR/10))), P = mean(x²)), and the small spectral tools
 * the instance-dependent label noise and the tests use. All arithmetic in float64; outputs float32.
 */
import type { NoiseRng } from './random.js';
import { createRealFft, type RealFft } from '../audio/fft.js';

/** Samples dropped before a coloured-noise stream starts, so its filters are in their stationary state. */
export const WARMUP = 8192;

export function whiteNoise(rng: NoiseRng, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal();
  return out;
}

/** Pink (1/f, −3 dB/octave): Paul Kellet's refined filter on white noise (accurate to ±0.05 dB above ~fs/4800). */
export function pinkNoise(rng: NoiseRng, n: number): Float64Array {
  const out = new Float64Array(n);
  let b0 = 0, b1 = 0, b2 = 0, b3 = 0, b4 = 0, b5 = 0, b6 = 0;
  for (let i = -WARMUP; i < n; i++) {
    const w = rng.normal();
    b0 = 0.99886 * b0 + w * 0.0555179;
    b1 = 0.99332 * b1 + w * 0.0750759;
    b2 = 0.969 * b2 + w * 0.153852;
    b3 = 0.8665 * b3 + w * 0.3104856;
    b4 = 0.55 * b4 + w * 0.5329522;
    b5 = -0.7616 * b5 - w * 0.016898;
    const y = b0 + b1 + b2 + b3 + b4 + b5 + b6 + w * 0.5362;
    b6 = w * 0.115926;
    if (i >= 0) out[i] = y;
  }
  return out;
}

/** Leak of the brown-noise integrator: its corner frequency is about (1 − BROWN_LEAK)·fs/2π (≈ 5 Hz at 16 kHz). */
export const BROWN_LEAK = 0.998;

/** Brown (1/f², −6 dB/octave): leaky integration of white noise, y[i] = a·y[i−1] + w[i]. */
export function brownNoise(rng: NoiseRng, n: number): Float64Array {
  const out = new Float64Array(n);
  let y = 0;
  for (let i = -WARMUP; i < n; i++) {
    y = BROWN_LEAK * y + rng.normal();
    if (i >= 0) out[i] = y;
  }
  return out;
}

export function power(x: ArrayLike<number>): number {
  let acc = 0;
  for (let i = 0; i < x.length; i++) acc += x[i]! * x[i]!;
  return x.length ? acc / x.length : 0;
}

/** `src` scaled to unit power and tiled (cyclically, from `offset`) to length n. */
export function tileUnit(src: ArrayLike<number>, n: number, offset = 0): Float64Array {
  const out = new Float64Array(n);
  const p = power(src);
  if (src.length === 0 || p === 0) return out;
  const s = 1 / Math.sqrt(p);
  for (let i = 0; i < n; i++) out[i] = src[(offset + i) % src.length]! * s;
  return out;
}

export interface Mixed {
  audio: Float32Array;
  /** Achieved SNR of the float32 result, 10·log10(P_s / mean((x̃ − s)²)); null when undefined (silent signal or noise). */
  snrDb: number | null;
  gain: number;
}

/** Mix `noise` into `signal` at `snrDb`; a silent signal or noise leaves the signal as it is. */
export function mixAtSnr(signal: Float32Array, noise: ArrayLike<number>, snrDb: number): Mixed {
  const ps = power(signal);
  const pn = power(noise);
  if (ps === 0 || pn === 0) return { audio: Float32Array.from(signal), snrDb: null, gain: 0 };
  const g = Math.sqrt(ps / (pn * 10 ** (snrDb / 10)));
  const audio = new Float32Array(signal.length);
  for (let i = 0; i < signal.length; i++) audio[i] = signal[i]! + g * noise[i]!;
  return { audio, snrDb: achievedSnr(signal, audio), gain: g };
}

/**
 * Replace the signal by noise (labels kept): "pure noise", SNR → −∞. The noise has power `level`
 * when given (one level for a whole split: nothing of the clip is left), else the signal's own
 * power (which keeps the clip's loudness).
 */
export function pureNoise(signal: Float32Array, noise: ArrayLike<number>, level?: number): Mixed {
  const ps = level ?? power(signal);
  const pn = power(noise);
  const g = pn === 0 ? 0 : Math.sqrt(ps / pn);
  const audio = new Float32Array(signal.length);
  for (let i = 0; i < signal.length; i++) audio[i] = g * noise[i]!;
  return { audio, snrDb: null, gain: g };
}

export function achievedSnr(signal: ArrayLike<number>, mixed: ArrayLike<number>): number | null {
  let ps = 0;
  let pn = 0;
  for (let i = 0; i < signal.length; i++) {
    ps += signal[i]! * signal[i]!;
    const d = mixed[i]! - signal[i]!;
    pn += d * d;
  }
  return ps > 0 && pn > 0 ? 10 * Math.log10(ps / pn) : null;
}

const ffts = new Map<number, Promise<RealFft>>();

/** A shared real FFT of `size` points (pffft, as the features stage uses), made once per size. */
function sharedFft(size: number): Promise<RealFft> {
  let f = ffts.get(size);
  if (!f) {
    f = createRealFft(size);
    ffts.set(size, f);
  }
  return f;
}

/** |X[k]|² for k = 0 … size/2 from pffft's ordered real spectrum (see RealFft.output). */
export function powerFromOrdered(spec: Float32Array, out: Float64Array): void {
  const size = spec.length;
  out[0] = spec[0]! * spec[0]!;
  out[size / 2] = spec[1]! * spec[1]!;
  for (let k = 1; k < size / 2; k++) out[k] = spec[2 * k]! * spec[2 * k]! + spec[2 * k + 1]! * spec[2 * k + 1]!;
}

/** Welch power spectrum: mean |FFT|² of Hann-windowed frames of `size` (power of two ≥ 32), hop size/2; [size/2 + 1]. */
export async function welch(x: ArrayLike<number>, size: number): Promise<Float64Array> {
  const fft = await sharedFft(size);
  const out = new Float64Array(size / 2 + 1);
  const frame = new Float64Array(size / 2 + 1);
  const win = Float64Array.from({ length: size }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / size));
  let frames = 0;
  for (let start = 0; start + size <= Math.max(x.length, size); start += size / 2) {
    const input = fft.input;
    for (let i = 0; i < size; i++) input[i] = (x[start + i] ?? 0) * win[i]!;
    fft.forward();
    powerFromOrdered(fft.output, frame);
    for (let k = 0; k <= size / 2; k++) out[k]! += frame[k]!;
    frames++;
  }
  for (let k = 0; k < out.length; k++) out[k]! /= frames;
  return out;
}

/**
 * A clip's coarse log spectrum: log(mean power + 1e-10) in `bands` equal-width bands of a
 * 512-point Welch spectrum. The feature vector of instance-dependent label noise.
 */
export async function coarseLogSpectrum(x: ArrayLike<number>, bands = 16): Promise<Float64Array> {
  const spec = await welch(x, 512);
  const out = new Float64Array(bands);
  const per = (spec.length - 1) / bands;
  for (let b = 0; b < bands; b++) {
    let acc = 0;
    const lo = Math.floor(b * per) + 1;
    const hi = Math.floor((b + 1) * per) + 1;
    for (let k = lo; k < hi; k++) acc += spec[k]!;
    out[b] = Math.log(acc / Math.max(1, hi - lo) + 1e-10);
  }
  return out;
}
