/**
 * The features stage's parameters: one zod schema, the single place their defaults live.
 *
 * Defaults are autrainer's 16 kHz log-mel front end: n_fft 512, a 512-point (32 ms) periodic
 * Hann window, hop 160 (10 ms), 64 htk mel bands from 50 to 8000 Hz without area
 * normalisation, power spectrum, log(x + 1e-6) (the offset torchaudio's MFCC uses with
 * log_mels=True), reflect-padded centred frames. f_max must not exceed the clips' Nyquist
 * frequency: for 8 kHz audio (FSDD) set f_max ≤ 4000 or resample first.
 */
import { z } from 'zod';
import type { MelConfig } from '../../src/lab/audio/mel.js';

const positiveInt = z.number().int().positive();

/** The floor on a band's standard deviation when standardising (a silent band would divide by 0). */
export const MIN_STD = 1e-8;

export const FeatureParamsSchema = z
  .strictObject({
    n_fft: positiveInt.default(512).describe('FFT size, a power of two ≥ 32'),
    /** null: n_fft (as torchaudio). */
    win_length: positiveInt.nullable().default(512),
    hop_length: positiveInt.default(160),
    window: z.enum(['hann', 'hamming']).default('hann'),
    center: z.boolean().default(true),
    pad_mode: z.enum(['reflect', 'constant']).default('reflect'),
    n_mels: positiveInt.default(64),
    f_min: z.number().nonnegative().default(50),
    /** null: half the sample rate. */
    f_max: z.number().positive().nullable().default(8000),
    mel_scale: z.enum(['htk', 'slaney']).default('htk'),
    /** 'slaney': divide each triangle by half its width in Hz (torchaudio norm='slaney'). */
    mel_norm: z.enum(['none', 'slaney']).default('none'),
    power: z.union([z.literal(1), z.literal(2)]).default(2),
    /** 'log': ln(x + log_offset). 'db': AmplitudeToDB (10·log10 for power 2, 20·log10 for power 1). */
    scale: z.enum(['log', 'db']).default('log'),
    log_offset: z.number().positive().default(1e-6),
    amin: z.number().positive().default(1e-10),
    /** dB only: floor every value at the clip's maximum minus top_db. */
    top_db: z.number().positive().nullable().default(null),
    /** MFCCs (DCT-II, ortho) of the scaled mel bands instead of the bands themselves. */
    n_mfcc: positiveInt.nullable().default(null),
    /**
     * Frames per clip. A number crops longer clips (keeping the start) and pads shorter ones;
     * 'max': pad every clip to the longest clip's frame count.
     */
    frames: z.union([positiveInt, z.literal('max')]).default('max'),
    /**
     * Padding of short clips. 'silence': the features of an all-zero frame (ln(log_offset) for
     * log-mel, 10·log10(amin) or the clip's max − top_db in dB, and their DCT for MFCCs), so
     * padding reads as the quietest possible sound. 'zero': literal zeros in the output (after
     * normalisation, when that is on).
     */
    pad: z.enum(['silence', 'zero']).default('silence'),
    /**
     * One row per patch of `frames` frames every `hop` frames (waspaa19: 100 and 50) instead of one
     * row per clip; a clip shorter than a patch gives one padded patch; frames after the last
     * whole patch are dropped. With a numeric `frames`, clips are cropped/padded to it first.
     */
    patch: z.strictObject({ frames: positiveInt, hop: positiveInt }).nullable().default(null),
    /**
     * Per-band standardisation (x − mean) / std with statistics from the `stats_split` clips only
     * (every real frame of every such clip, before cropping, padding and patching), applied to
     * every split. The statistics are the `stats` output either way.
     */
    normalize: z.boolean().default(false),
    stats_split: z.string().min(1).default('train'),
  })
  .refine((p) => (p.n_fft & (p.n_fft - 1)) === 0 && p.n_fft >= 32, { message: 'n_fft must be a power of two ≥ 32', path: ['n_fft'] })
  .refine((p) => (p.win_length ?? p.n_fft) <= p.n_fft, { message: 'win_length must not exceed n_fft', path: ['win_length'] })
  .refine((p) => p.f_max === null || p.f_min < p.f_max, { message: 'f_min must be below f_max', path: ['f_min'] })
  .refine((p) => p.n_mfcc === null || p.n_mfcc <= p.n_mels, { message: 'n_mfcc must not exceed n_mels', path: ['n_mfcc'] });

export type FeatureParams = z.infer<typeof FeatureParamsSchema>;

/** The extractor configuration for clips of `sampleRate` Hz. */
export function melConfig(p: FeatureParams, sampleRate: number): MelConfig {
  return {
    sampleRate,
    nFft: p.n_fft,
    winLength: p.win_length ?? p.n_fft,
    hopLength: p.hop_length,
    window: p.window,
    center: p.center,
    padMode: p.pad_mode,
    nMels: p.n_mels,
    fMin: p.f_min,
    fMax: p.f_max ?? sampleRate / 2,
    melScale: p.mel_scale,
    melNorm: p.mel_norm,
    power: p.power,
    scaling: p.scale === 'log' ? { kind: 'log', offset: p.log_offset } : { kind: 'db', amin: p.amin, topDb: p.top_db },
    nMfcc: p.n_mfcc,
  };
}
