/**
 * Log-mel spectrograms and MFCCs with the semantics of torchaudio.transforms.MelSpectrogram /
 * MFCC (torchaudio 0.13), checked against it in mel.test.ts:
 *
 *   frames   torch.stft(center, pad_mode, window zero-padded to n_fft and centred), onesided
 *   power    |X|^power (1: magnitude, 2: power), unnormalised
 *   mel      triangular filters on freqs linspace(0, sample_rate // 2, n_fft/2 + 1), mel points
 *            evenly spaced on the htk or slaney scale between f_min and f_max; `slaney` area
 *            normalisation divides each filter by half its width in Hz (torchaudio norm='slaney')
 *   scale    log(x + offset) (torchaudio MFCC's log_mels=True uses offset 1e-6), or dB as
 *            AmplitudeToDB: multiplier·log10(max(x, amin)), multiplier 10 for power 2 and 20 for
 *            power 1, ref 1, optionally floored at (the clip's maximum − top_db)
 *   mfcc     DCT-II with norm='ortho' of the scaled mel bands (torchaudio F.create_dct)
 *
 * Two deliberate differences, both for inputs torchaudio refuses: with reflect padding a clip
 * shorter than n_fft/2 + 1 samples is first zero-extended to that length (torch raises); without
 * centring a clip shorter than n_fft is zero-extended to n_fft (torch raises).
 *
 * Arithmetic: the FFT is float32 (PFFFT, like torch's float32 path); windows, power, filterbank,
 * log and DCT are float64; outputs are float32.
 */
import { createRealFft, type FftBackend, type RealFft } from './fft.js';
import { unreachable } from '../../core/util/errors.js';

export type WindowKind = 'hann' | 'hamming';
export type MelScale = 'htk' | 'slaney';

export type Scaling = { kind: 'log'; offset: number } | { kind: 'db'; amin: number; topDb: number | null };

export interface MelConfig {
  sampleRate: number;
  /** FFT size: a power of two ≥ 32. */
  nFft: number;
  /** ≤ nFft; the window is zero-padded to nFft, centred (as torch.stft). */
  winLength: number;
  hopLength: number;
  window: WindowKind;
  center: boolean;
  /** Padding at both ends when centring (n_fft/2 samples each side). */
  padMode: 'reflect' | 'constant';
  nMels: number;
  fMin: number;
  fMax: number;
  melScale: MelScale;
  melNorm: 'none' | 'slaney';
  power: 1 | 2;
  scaling: Scaling;
  /** Number of MFCCs, or null for log-mel bands. */
  nMfcc: number | null;
}

/** Periodic window of `winLength` points (torch.hann_window / hamming_window, periodic=True). */
export function periodicWindow(kind: WindowKind, winLength: number): Float64Array {
  const w = new Float64Array(winLength); // [winLength]
  for (let n = 0; n < winLength; n++) {
    const c = Math.cos((2 * Math.PI * n) / winLength);
    switch (kind) {
      case 'hann':
        w[n] = 0.5 - 0.5 * c;
        break;
      case 'hamming':
        w[n] = 0.54 - 0.46 * c;
        break;
      default:
        unreachable(kind);
    }
  }
  return w;
}

const SLANEY_F_SP = 200 / 3;
const SLANEY_MIN_LOG_HZ = 1000;
const SLANEY_MIN_LOG_MEL = SLANEY_MIN_LOG_HZ / SLANEY_F_SP;
const SLANEY_LOGSTEP = Math.log(6.4) / 27;

export function hzToMel(hz: number, scale: MelScale): number {
  switch (scale) {
    case 'htk':
      return 2595 * Math.log10(1 + hz / 700);
    case 'slaney':
      return hz < SLANEY_MIN_LOG_HZ ? hz / SLANEY_F_SP : SLANEY_MIN_LOG_MEL + Math.log(hz / SLANEY_MIN_LOG_HZ) / SLANEY_LOGSTEP;
    default:
      return unreachable(scale);
  }
}

export function melToHz(mel: number, scale: MelScale): number {
  switch (scale) {
    case 'htk':
      return 700 * (10 ** (mel / 2595) - 1);
    case 'slaney':
      return mel < SLANEY_MIN_LOG_MEL ? mel * SLANEY_F_SP : SLANEY_MIN_LOG_HZ * Math.exp(SLANEY_LOGSTEP * (mel - SLANEY_MIN_LOG_MEL));
    default:
      return unreachable(scale);
  }
}

/** A mel filterbank stored sparsely: filter m has weights for bins first[m] … first[m] + count[m] − 1. */
export interface MelFilterbank {
  nMels: number;
  nFreqs: number;
  first: Int32Array; // [nMels]
  count: Int32Array; // [nMels]
  /** Weights of every filter, concatenated, in filter order. */
  weights: Float64Array;
  /** Indexes of filters with no non-zero weight (torchaudio warns about these). */
  empty: number[];
  /** Dense [nFreqs, nMels] matrix, as torchaudio's melscale_fbanks returns (for tests). */
  dense(): Float64Array;
}

/** torchaudio.functional.melscale_fbanks(n_freqs, f_min, f_max, n_mels, sample_rate, norm, mel_scale). */
export function melFilterbank(
  nFreqs: number,
  fMin: number,
  fMax: number,
  nMels: number,
  sampleRate: number,
  norm: 'none' | 'slaney',
  scale: MelScale,
): MelFilterbank {
  const top = Math.floor(sampleRate / 2); // torchaudio uses sample_rate // 2
  const freqs = Float64Array.from({ length: nFreqs }, (_, i) => (nFreqs === 1 ? 0 : (top * i) / (nFreqs - 1))); // [nFreqs]
  const mMin = hzToMel(fMin, scale);
  const mMax = hzToMel(fMax, scale);
  const fPts = Float64Array.from({ length: nMels + 2 }, (_, i) => melToHz(mMin + ((mMax - mMin) * i) / (nMels + 1), scale)); // [nMels + 2]
  const first = new Int32Array(nMels);
  const count = new Int32Array(nMels);
  const all: number[] = [];
  const empty: number[] = [];
  for (let m = 0; m < nMels; m++) {
    const lo = fPts[m]!;
    const mid = fPts[m + 1]!;
    const hi = fPts[m + 2]!;
    const enorm = norm === 'slaney' ? 2 / (hi - lo) : 1;
    let start = -1;
    let n = 0;
    for (let k = 0; k < nFreqs; k++) {
      const f = freqs[k]!;
      const down = (f - lo) / (mid - lo);
      const up = (hi - f) / (hi - mid);
      const w = Math.max(0, Math.min(down, up)) * enorm;
      if (w > 0) {
        if (start < 0) start = k;
        // Triangles are convex: zeros between non-zero bins cannot occur, but keep them if they did.
        while (start + n < k) {
          all.push(0);
          n++;
        }
        all.push(w);
        n++;
      }
    }
    if (n === 0) empty.push(m);
    first[m] = Math.max(start, 0);
    count[m] = n;
  }
  const weights = Float64Array.from(all);
  return {
    nMels,
    nFreqs,
    first,
    count,
    weights,
    empty,
    dense() {
      const d = new Float64Array(nFreqs * nMels); // [nFreqs, nMels]
      let at = 0;
      for (let m = 0; m < nMels; m++) {
        for (let j = 0; j < count[m]!; j++) d[(first[m]! + j) * nMels + m] = weights[at++]!;
      }
      return d;
    },
  };
}

/** torchaudio.functional.create_dct(n_mfcc, n_mels, norm='ortho'), stored [nMfcc, nMels]. */
export function dctOrtho(nMfcc: number, nMels: number): Float64Array {
  const d = new Float64Array(nMfcc * nMels); // [nMfcc, nMels]
  for (let k = 0; k < nMfcc; k++) {
    const scale = Math.sqrt(2 / nMels) * (k === 0 ? 1 / Math.SQRT2 : 1);
    for (let n = 0; n < nMels; n++) d[k * nMels + n] = Math.cos((Math.PI / nMels) * (n + 0.5) * k) * scale;
  }
  return d;
}

/** Samples after the short-clip extension described at the top of this file. */
function effectiveLength(numSamples: number, cfg: MelConfig): number {
  if (cfg.center) return cfg.padMode === 'reflect' ? Math.max(numSamples, (cfg.nFft >> 1) + 1) : numSamples;
  return Math.max(numSamples, cfg.nFft);
}

/** STFT frames of a clip of `numSamples` samples. */
export function frameCount(numSamples: number, cfg: MelConfig): number {
  const len = effectiveLength(numSamples, cfg);
  const padded = cfg.center ? len + 2 * (cfg.nFft >> 1) : len;
  return 1 + Math.floor((padded - cfg.nFft) / cfg.hopLength);
}

/** Checks that torchaudio would accept the configuration (and that PFFFT can run it). */
export function validateMelConfig(cfg: MelConfig): string[] {
  const errors: string[] = [];
  const nyquist = cfg.sampleRate / 2;
  if (cfg.nFft < 32 || (cfg.nFft & (cfg.nFft - 1)) !== 0) errors.push(`n_fft ${cfg.nFft} must be a power of two ≥ 32`);
  if (cfg.winLength > cfg.nFft) errors.push(`win_length ${cfg.winLength} is longer than n_fft ${cfg.nFft}`);
  if (cfg.fMin >= cfg.fMax) errors.push(`f_min ${cfg.fMin} Hz must be below f_max ${cfg.fMax} Hz`);
  if (cfg.fMax > nyquist) {
    errors.push(`f_max ${cfg.fMax} Hz is above the Nyquist frequency ${nyquist} Hz of ${cfg.sampleRate} Hz audio (set f_max ≤ ${nyquist}, or resample)`);
  }
  if (cfg.nMfcc !== null && cfg.nMfcc > cfg.nMels) errors.push(`n_mfcc ${cfg.nMfcc} is more than n_mels ${cfg.nMels}`);
  return errors;
}

/** Features of one clip: `bands` rows of `frames + 1` columns; the last column is a silent frame. */
export interface ClipFeatures {
  /** Band-major [bands, frames + 1]; valid until the next `compute` call. */
  values: Float32Array;
  /** Real STFT frames (the column after them is what a frame of zeros turns into). */
  frames: number;
}

/**
 * Computes log-mel spectrograms (or MFCCs) of clips of one configuration, reusing every buffer.
 * Each call also yields the features of an all-zero frame (the last column), scaled in the same
 * way (for dB with top_db: against the clip's own maximum), so that callers can pad with
 * "silence" that means the same thing as the clip's own quiet frames.
 */
export class LogMelExtractor {
  readonly bands: number;
  readonly filterbank: MelFilterbank;
  readonly fftBackend: FftBackend;
  private readonly window: Float32Array; // [winLength], float32 as torch's window buffer
  private readonly winOffset: number;
  private readonly dct: Float64Array | null;
  private readonly spectrum: Float64Array; // [nFreqs]
  private mel = new Float64Array(0); // [(frames + 1) * nMels], frame-major
  private out = new Float32Array(0); // [bands * (frames + 1)]
  private padded = new Float32Array(0);

  private constructor(
    readonly config: MelConfig,
    private readonly fft: RealFft,
  ) {
    const errors = validateMelConfig(config);
    if (errors.length > 0) throw new Error(errors.join('; '));
    const nFreqs = (config.nFft >> 1) + 1;
    this.filterbank = melFilterbank(nFreqs, config.fMin, config.fMax, config.nMels, config.sampleRate, config.melNorm, config.melScale);
    this.window = Float32Array.from(periodicWindow(config.window, config.winLength));
    this.winOffset = (config.nFft - config.winLength) >> 1;
    this.dct = config.nMfcc === null ? null : dctOrtho(config.nMfcc, config.nMels);
    this.bands = config.nMfcc ?? config.nMels;
    this.spectrum = new Float64Array(nFreqs);
    this.fftBackend = fft.backend;
    fft.input.fill(0); // bins outside the (shorter) window stay zero for every frame
  }

  static async create(config: MelConfig): Promise<LogMelExtractor> {
    const fft = await createRealFft(config.nFft);
    try {
      return new LogMelExtractor(config, fft);
    } catch (err) {
      fft.dispose();
      throw err;
    }
  }

  dispose(): void {
    this.fft.dispose();
  }

  compute(audio: Float32Array): ClipFeatures {
    const cfg = this.config;
    const { nMels } = cfg;
    const frames = frameCount(audio.length, cfg);
    const signal = this.padSignal(audio);
    if (this.mel.length < (frames + 1) * nMels) this.mel = new Float64Array((frames + 1) * nMels);
    const mel = this.mel;
    mel.fill(0, frames * nMels, (frames + 1) * nMels); // the silent frame
    // The heap cannot grow during a clip: take the FFT's views once.
    const input = this.fft.input;
    const output = this.fft.output;
    for (let t = 0; t < frames; t++) this.melFrame(signal, t * cfg.hopLength, input, output, mel, t * nMels);
    this.scale(mel, (frames + 1) * nMels);
    return { values: this.toBands(mel, frames + 1), frames };
  }

  /** The clip with its centre padding (or short-clip extension), as the frames read it. */
  private padSignal(audio: Float32Array): Float32Array {
    const cfg = this.config;
    const len = effectiveLength(audio.length, cfg);
    const pad = cfg.center ? cfg.nFft >> 1 : 0;
    if (pad === 0 && len === audio.length) return audio;
    const total = len + 2 * pad;
    if (this.padded.length < total) this.padded = new Float32Array(total);
    const x = this.padded.subarray(0, total); // [pad | clip (zero-extended to len) | pad]
    x.fill(0);
    x.set(audio, pad);
    if (cfg.center && cfg.padMode === 'reflect') {
      // torch 'reflect': the edge sample is not repeated.
      for (let i = 1; i <= pad; i++) {
        x[pad - i] = x[pad + i]!;
        x[pad + len - 1 + i] = x[pad + len - 1 - i]!;
      }
    }
    return x;
  }

  /** One frame's mel energies into mel[at … at + nMels). */
  private melFrame(signal: Float32Array, start: number, input: Float32Array, out: Float32Array, mel: Float64Array, at: number): void {
    const { window, winOffset, spectrum } = this;
    const w = window.length;
    const s0 = start + winOffset;
    for (let i = 0; i < w; i++) input[winOffset + i] = signal[s0 + i]! * window[i]!;
    this.fft.forward();
    const half = this.config.nFft >> 1;
    if (this.config.power === 2) {
      spectrum[0] = out[0]! * out[0]!;
      spectrum[half] = out[1]! * out[1]!;
      for (let k = 1; k < half; k++) {
        const re = out[2 * k]!;
        const im = out[2 * k + 1]!;
        spectrum[k] = re * re + im * im;
      }
    } else {
      spectrum[0] = Math.abs(out[0]!);
      spectrum[half] = Math.abs(out[1]!);
      for (let k = 1; k < half; k++) {
        const re = out[2 * k]!;
        const im = out[2 * k + 1]!;
        spectrum[k] = Math.sqrt(re * re + im * im);
      }
    }
    const { first, count, weights, nMels } = this.filterbank;
    let wi = 0;
    for (let m = 0; m < nMels; m++) {
      let acc = 0;
      const f = first[m]!;
      const n = count[m]!;
      for (let j = 0; j < n; j++) acc += weights[wi + j]! * spectrum[f + j]!;
      wi += n;
      mel[at + m] = acc;
    }
  }

  private scale(mel: Float64Array, n: number): void {
    const s = this.config.scaling;
    switch (s.kind) {
      case 'log':
        for (let i = 0; i < n; i++) mel[i] = Math.log(mel[i]! + s.offset);
        return;
      case 'db': {
        const multiplier = this.config.power === 2 ? 10 : 20;
        let max = -Infinity;
        for (let i = 0; i < n; i++) {
          const v = multiplier * Math.log10(Math.max(mel[i]!, s.amin));
          mel[i] = v;
          if (v > max) max = v;
        }
        if (s.topDb !== null) {
          const floor = max - s.topDb;
          for (let i = 0; i < n; i++) if (mel[i]! < floor) mel[i] = floor;
        }
        return;
      }
      default:
        unreachable(s);
    }
  }

  /** Frame-major mel [columns, nMels] → band-major float32 [bands, columns], through the DCT for MFCCs. */
  private toBands(mel: Float64Array, columns: number): Float32Array {
    const { nMels } = this.config;
    const bands = this.bands;
    if (this.out.length !== bands * columns) this.out = new Float32Array(bands * columns);
    const out = this.out;
    const dct = this.dct;
    if (dct === null) {
      for (let t = 0; t < columns; t++) for (let m = 0; m < nMels; m++) out[m * columns + t] = mel[t * nMels + m]!;
      return out;
    }
    for (let t = 0; t < columns; t++) {
      const base = t * nMels;
      for (let k = 0; k < bands; k++) {
        let acc = 0;
        const row = k * nMels;
        for (let m = 0; m < nMels; m++) acc += dct[row + m]! * mel[base + m]!;
        out[k * columns + t] = acc;
      }
    }
    return out;
  }
}
