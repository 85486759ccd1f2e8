/**
 * `dataset: synth` — a deterministic procedural dataset of sound-event classes, so that
 * `conno repro` runs offline on a fresh machine in seconds.
 *
 * Each clip holds one event of its class (harmonic tone, chirp up/down, band-limited noise
 * burst, click train, AM tone, FM tone, decaying pluck, two-tone alarm, beeps) with a random
 * pitch, duration, onset and level, plus background noise at a random SNR and, now and then, a
 * quieter distractor event of another class. Classes overlap on purpose (shared pitch ranges,
 * shallow modulations, low SNRs) so that the task is learnable but not trivial.
 *
 * Every random number comes from a counter-based generator keyed on (seed, class, clip index):
 * a clip does not depend on how many clips are generated, or in what order (the number of
 * classes matters: it bounds the distractor's class), and the
 * same parameters give the same samples in any process (only +, *, Math.sin/cos/exp/log/sqrt,
 * which V8 computes identically on every platform).
 */
import { Rng } from '../../core/util/random.js';
import { z } from 'zod';
import type { Clip, ClipSet } from './clips.js';

/** The kinds of sound event, in label order. `classes: K` uses the first K. */
export const SYNTH_CLASSES = [
  'tone',
  'chirp_up',
  'chirp_down',
  'noise_burst',
  'click_train',
  'am_tone',
  'fm_tone',
  'pluck',
  'alarm',
  'beeps',
] as const;

export const SynthParamsSchema = z.strictObject({
  /** Number of classes K (the first K of SYNTH_CLASSES). */
  classes: z.number().int().min(2).max(SYNTH_CLASSES.length).default(10),
  clips_per_class: z.number().int().min(1).max(100_000).default(100),
  /** Clip length in seconds (every clip has exactly round(seconds · sample_rate) samples). */
  seconds: z.number().min(0.25).max(60).default(1),
  sample_rate: z.number().int().min(8000).max(192_000).default(16000),
  seed: z.number().int().min(0).max(0xffffffff).default(0),
  /** Fraction of each class held out as `test` (rounded per class). */
  test_fraction: z.number().min(0).max(1).default(0.2),
  /** Fraction of each class held out as `dev` (rounded per class). */
  dev_fraction: z.number().min(0).max(1).default(0.1),
});

export type SynthParams = z.infer<typeof SynthParamsSchema>;

/** Event peak level range (dBFS) before background noise is added. */
export const SYNTH_LEVEL_DB: readonly [number, number] = [-30, -3];
/** Event-to-background SNR range (dB, event RMS over its duration vs noise RMS). */
export const SYNTH_SNR_DB: readonly [number, number] = [-3, 24];

// ---------------------------------------------------------------------------------------------
// Event generators. Each writes an event into `out[start .. start + len)` (float64), with a
// peak of about 1; the caller scales it to its level.

type Kind = (typeof SYNTH_CLASSES)[number];

interface EventCtx {
  rng: Rng;
  sr: number;
  /** Highest frequency an event may contain (below Nyquist). */
  fmax: number;
}

const TWO_PI = 2 * Math.PI;

/** Raised-cosine attack/release envelope value at sample i of len. */
function fadeEnv(i: number, len: number, fade: number): number {
  if (i < fade) return 0.5 - 0.5 * Math.cos((Math.PI * (i + 0.5)) / fade);
  const j = len - 1 - i;
  if (j < fade) return 0.5 - 0.5 * Math.cos((Math.PI * (j + 0.5)) / fade);
  return 1;
}

/** Harmonic amplitudes for a tone at f0 (1–4 harmonics, random roll-off, skipping > fmax). */
function harmonics(ctx: EventCtx, f0: number, maxH = 4): number[] {
  const nh = 1 + ctx.rng.int(maxH);
  const rolloff = ctx.rng.uniform(0.5, 2);
  const amps: number[] = [];
  for (let h = 1; h <= nh; h++) amps.push(h === 1 || h * f0 * 1.1 < ctx.fmax ? Math.pow(h, -rolloff) : 0);
  return amps;
}

/**
 * A tone whose instantaneous frequency is f0 · ratio(t) (per sample), with harmonics; the
 * phase is accumulated so that frequency changes are continuous.
 */
function renderTone(out: Float64Array, start: number, len: number, amps: number[], freq: (i: number) => number, sr: number, fmax: number, gain?: (i: number) => number): void {
  const phase0 = 0;
  let phase = phase0;
  for (let i = 0; i < len; i++) {
    const f = freq(i);
    phase += (TWO_PI * f) / sr;
    if (phase > TWO_PI * 1e6) phase -= TWO_PI * 1e6;
    let s = 0;
    for (let h = 0; h < amps.length; h++) {
      const a = amps[h]!;
      if (a !== 0 && (h === 0 || f * (h + 1) < fmax)) s += a * Math.sin((h + 1) * phase);
    }
    out[start + i]! += s * (gain ? gain(i) : 1);
  }
}

/** RBJ band-pass biquad (constant 0 dB peak gain), applied in place over out[start, start+len). */
function bandpass(x: Float64Array, start: number, len: number, fc: number, q: number, sr: number): void {
  const w0 = (TWO_PI * fc) / sr;
  const alpha = Math.sin(w0) / (2 * q);
  const a0 = 1 + alpha;
  const b0 = alpha / a0;
  const b2 = -alpha / a0;
  const a1 = (-2 * Math.cos(w0)) / a0;
  const a2 = (1 - alpha) / a0;
  let x1 = 0, x2 = 0, y1 = 0, y2 = 0;
  for (let i = start; i < start + len; i++) {
    const xi = x[i]!;
    const y = b0 * xi + b2 * x2 - a1 * y1 - a2 * y2;
    x2 = x1;
    x1 = xi;
    y2 = y1;
    y1 = y;
    x[i] = y;
  }
}

const F0_RANGE: readonly [number, number] = [220, 1800];

function renderEvent(kind: Kind, ctx: EventCtx, out: Float64Array, start: number, len: number): void {
  const { rng, sr, fmax } = ctx;
  const fade = Math.max(1, Math.min(Math.round(0.01 * sr), Math.floor(len / 4)));
  const env = (i: number) => fadeEnv(i, len, fade);
  const f0 = () => rng.logUniform(F0_RANGE[0], Math.min(F0_RANGE[1], fmax / 1.2));
  switch (kind) {
    case 'tone': {
      const f = f0();
      renderTone(out, start, len, harmonics(ctx, f), () => f, sr, fmax, env);
      return;
    }
    case 'chirp_up':
    case 'chirp_down': {
      const ratio = rng.uniform(1.4, 4);
      let fa = f0();
      if (fa * ratio > fmax / 1.1) fa = fmax / 1.1 / ratio;
      const fb = fa * ratio;
      const [from, to] = kind === 'chirp_up' ? [fa, fb] : [fb, fa];
      const k = Math.log(to / from) / len;
      renderTone(out, start, len, harmonics(ctx, Math.max(from, to), 2), (i) => from * Math.exp(k * i), sr, fmax, env);
      return;
    }
    case 'noise_burst': {
      const fc = rng.logUniform(300, Math.min(5000, fmax / 1.3));
      const q = rng.uniform(0.8, 4);
      for (let i = 0; i < len; i++) out[start + i] = rng.normal();
      bandpass(out, start, len, fc, q, sr);
      for (let i = 0; i < len; i++) out[start + i]! *= env(i);
      return;
    }
    case 'click_train': {
      const rate = rng.uniform(6, 40);
      const fc = rng.logUniform(800, Math.min(6000, fmax / 1.1));
      const tau = rng.uniform(0.0005, 0.003) * sr;
      const jitter = rng.uniform(0, 0.25);
      const period = sr / rate;
      for (let t = rng.uniform(0, period); t < len; t += period * (1 + jitter * (rng.next() - 0.5))) {
        const c0 = Math.floor(t);
        const amp = rng.uniform(0.6, 1);
        const clen = Math.min(len - c0, Math.ceil(tau * 6));
        for (let j = 0; j < clen; j++) out[start + c0 + j]! += amp * Math.exp(-j / tau) * Math.sin((TWO_PI * fc * j) / sr);
      }
      return;
    }
    case 'am_tone': {
      const f = f0();
      const rate = rng.uniform(3, 30);
      const depth = rng.uniform(0.25, 1);
      const ph = rng.uniform(0, TWO_PI);
      renderTone(out, start, len, harmonics(ctx, f), () => f, sr, fmax, (i) => env(i) * (1 - depth * 0.5 * (1 + Math.sin(ph + (TWO_PI * rate * i) / sr))));
      return;
    }
    case 'fm_tone': {
      const f = f0();
      const rate = rng.uniform(3, 12);
      const depth = rng.uniform(0.02, 0.12);
      const ph = rng.uniform(0, TWO_PI);
      renderTone(out, start, len, harmonics(ctx, f), (i) => f * (1 + depth * Math.sin(ph + (TWO_PI * rate * i) / sr)), sr, fmax, env);
      return;
    }
    case 'pluck': {
      const f = f0();
      const tau = rng.uniform(0.04, 0.3) * sr;
      const nh = 2 + rng.int(5);
      const bright = rng.uniform(0.6, 1.6);
      const attack = Math.max(1, Math.round(0.002 * sr));
      for (let h = 1; h <= nh; h++) {
        const fh = h * f;
        if (fh >= fmax) break;
        const a = Math.pow(h, -bright);
        const th = tau / (1 + 0.5 * (h - 1));
        for (let i = 0; i < len; i++) {
          const g = Math.min(1, (i + 1) / attack) * Math.exp(-i / th);
          out[start + i]! += a * g * Math.sin((TWO_PI * fh * i) / sr);
        }
      }
      return;
    }
    case 'alarm': {
      const fa = f0();
      const ratio = rng.uniform(1.15, 1.6);
      const f1 = Math.min(fa * ratio, fmax / 1.1);
      const rate = rng.uniform(2, 8); // switches per second
      const half = sr / rate;
      renderTone(out, start, len, harmonics(ctx, f1, 3), (i) => (Math.floor(i / half) % 2 === 0 ? fa : f1), sr, fmax, env);
      return;
    }
    case 'beeps': {
      const f = f0();
      const period = rng.uniform(0.06, 0.25) * sr;
      const duty = rng.uniform(0.3, 0.7);
      const on = Math.max(4, Math.round(period * duty));
      const bf = Math.max(1, Math.min(Math.round(0.004 * sr), Math.floor(on / 4)));
      renderTone(out, start, len, harmonics(ctx, f), () => f, sr, fmax, (i) => {
        const p = i % period;
        return p < on ? env(i) * fadeEnv(Math.floor(p), on, bf) : 0;
      });
      return;
    }
  }
}

function peakAbs(x: Float64Array, start = 0, end = x.length): number {
  let m = 0;
  for (let i = start; i < end; i++) {
    const a = Math.abs(x[i]!);
    if (a > m) m = a;
  }
  return m;
}

function rms(x: Float64Array, start: number, end: number): number {
  let s = 0;
  for (let i = start; i < end; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s / Math.max(1, end - start));
}

/** Probability that a clip also holds a quieter event of another class. */
const DISTRACTOR_P = 0.2;

/** One clip's waveform: deterministic in (seed, label, index, seconds, sample_rate, classes). */
export function synthClip(params: SynthParams, label: number, index: number): Float32Array {
  const sr = params.sample_rate;
  const n = Math.round(params.seconds * sr);
  const rng = new Rng(params.seed >>> 0, Math.floor(params.seed / 4294967296) >>> 0, label, index, 0x5eed);
  const ctx: EventCtx = { rng, sr, fmax: Math.min(0.45 * sr, 7000) };
  const kind = SYNTH_CLASSES[label]!;

  const placeEvent = (k: Kind, minFrac: number, maxFrac: number): { start: number; len: number; sig: Float64Array } => {
    const len = Math.max(16, Math.min(n, Math.round(rng.uniform(minFrac, maxFrac) * n)));
    const start = rng.int(n - len + 1);
    const sig = new Float64Array(n);
    renderEvent(k, ctx, sig, start, len);
    const pk = peakAbs(sig, start, start + len);
    if (pk > 0) for (let i = start; i < start + len; i++) sig[i]! /= pk;
    return { start, len, sig };
  };

  const ev = placeEvent(kind, 0.25, 0.8);
  const level = Math.pow(10, rng.uniform(SYNTH_LEVEL_DB[0], SYNTH_LEVEL_DB[1]) / 20);
  const mix = new Float64Array(n);
  for (let i = 0; i < n; i++) mix[i] = ev.sig[i]! * level;
  const eventRms = rms(mix, ev.start, ev.start + ev.len);

  if (params.classes > 1 && rng.next() < DISTRACTOR_P) {
    const other = SYNTH_CLASSES[(label + 1 + rng.int(params.classes - 1)) % params.classes]!;
    const d = placeEvent(other, 0.1, 0.4);
    const dl = level * Math.pow(10, -rng.uniform(10, 20) / 20);
    for (let i = d.start; i < d.start + d.len; i++) mix[i]! += d.sig[i]! * dl;
  }

  // Background: white noise with a random tilt (one-pole low-pass blend), at a random SNR.
  const snr = rng.uniform(SYNTH_SNR_DB[0], SYNTH_SNR_DB[1]);
  const tilt = rng.uniform(0, 0.95);
  const noise = new Float64Array(n);
  let lp = 0;
  for (let i = 0; i < n; i++) {
    const w = rng.normal();
    lp = tilt * lp + (1 - tilt) * w;
    noise[i] = 0.5 * w + 0.5 * lp / Math.sqrt((1 - tilt) / (1 + tilt));
  }
  const noiseRms = rms(noise, 0, n);
  const g = noiseRms > 0 ? eventRms / Math.pow(10, snr / 20) / noiseRms : 0;
  for (let i = 0; i < n; i++) mix[i]! += g * noise[i]!;

  // Never clip: scale down a clip whose peak would exceed 0.99.
  const pk = peakAbs(mix);
  const scale = pk > 0.99 ? 0.99 / pk : 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = mix[i]! * scale;
  return out;
}

/**
 * Per class, the clip indices held out as test and dev: a seeded shuffle of 0..n-1, the first
 * round(n · test_fraction) are test, the next round(n · dev_fraction) dev, the rest train.
 */
function splitsFor(params: SynthParams, label: number): string[] {
  const n = params.clips_per_class;
  const rng = new Rng(params.seed >>> 0, Math.floor(params.seed / 4294967296) >>> 0, label, 0xffffffff, 0x5b1f);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const nTest = Math.min(n, Math.round(n * params.test_fraction));
  const nDev = Math.min(n - nTest, Math.round(n * params.dev_fraction));
  const split = new Array<string>(n).fill('train');
  order.forEach((clip, rank) => {
    if (rank < nTest) split[clip] = 'test';
    else if (rank < nTest + nDev) split[clip] = 'dev';
  });
  return split;
}

/** The whole dataset, clips sorted by clip id (`<class>_<index, zero-padded>`). */
export function generateSynth(input: z.input<typeof SynthParamsSchema> | SynthParams): ClipSet {
  const params = SynthParamsSchema.parse(input);
  if (params.test_fraction + params.dev_fraction > 1) throw new Error('synth: test_fraction + dev_fraction must be at most 1');
  const classes = SYNTH_CLASSES.slice(0, params.classes) as string[];
  const width = String(params.clips_per_class - 1).length;
  const clips: Clip[] = [];
  for (let label = 0; label < classes.length; label++) {
    const split = splitsFor(params, label);
    for (let i = 0; i < params.clips_per_class; i++) {
      const clipId = `${classes[label]}_${String(i).padStart(width, '0')}`;
      clips.push({
        clipId,
        split: split[i]!,
        label,
        speaker: null,
        fold: null,
        source: `synth/${classes[label]}/${i}`,
        sampleRate: params.sample_rate,
        audio: synthClip(params, label, i),
      });
    }
  }
  clips.sort((a, b) => (a.clipId < b.clipId ? -1 : a.clipId > b.clipId ? 1 : 0));
  return {
    clips,
    classes,
    metadata: {
      'conno.dataset': 'synth',
      'conno.synth.params': JSON.stringify(params, Object.keys(params).sort()),
    },
  };
}
