/**
 * Band-limited sample-rate conversion of clips with libsamplerate (the WebAssembly port
 * `@alexanderolsen/libsamplerate-js`), through its full (streaming) API.
 *
 * libsamplerate's `simple()` drops the tail (the converter holds back half a filter length of
 * input until it sees more), so each clip is fed through a freshly initialised converter,
 * followed by zeros until at least round(n · out / in) samples have come out; the output is cut
 * to exactly that length. libsamplerate compensates the filter delay, so output sample k is the
 * signal at time k / out. The converter runs in single-precision WebAssembly with no
 * platform-dependent math, so the same input gives the same bytes on every run.
 *
 * Clips already at the target rate are returned untouched (the same Float32Array).
 */
import { createRequire } from 'node:module';
import type { ClipSet } from './clips.js';

export const RESAMPLE_QUALITIES = ['best', 'medium', 'fast'] as const;
export type ResampleQuality = (typeof RESAMPLE_QUALITIES)[number];

/** libsamplerate converter types: SRC_SINC_BEST_QUALITY, SRC_SINC_MEDIUM_QUALITY, SRC_SINC_FASTEST. */
const CONVERTER: Record<ResampleQuality, 0 | 1 | 2> = { best: 0, medium: 1, fast: 2 };

/** The library's in/out transfer buffers hold 1,008,000 floats; stay well below. */
const MAX_BUFFER = 1_000_000;
const ZERO_BLOCK = 4096;

interface SrcHandle {
  full(dataIn: Float32Array, dataOut?: Float32Array | null, outLength?: { frames: number } | null): Float32Array;
  destroy(): void;
  inputSampleRate: number;
  outputSampleRate: number;
}

interface LibSampleRate {
  create(nChannels: number, inputSampleRate: number, outputSampleRate: number, options?: { converterType: 0 | 1 | 2 | 3 | 4 }): Promise<SrcHandle>;
}

let lib: LibSampleRate | undefined;
function loadLib(): LibSampleRate {
  // A CommonJS module; loaded on first use so that importing this file stays cheap.
  // conno:package @alexanderolsen/libsamplerate-js
  lib ??= createRequire(import.meta.url)('@alexanderolsen/libsamplerate-js') as LibSampleRate;
  return lib;
}

/** Output length for n input samples: exactly round(n · outRate / inRate). */
export function resampledLength(n: number, inRate: number, outRate: number): number {
  return Math.round((n * outRate) / inRate);
}

/**
 * A resampler to one target rate; keeps one converter per input rate and resets it per clip.
 * Call `close()` when done.
 */
export class Resampler {
  private readonly handles = new Map<number, SrcHandle>();
  constructor(
    readonly outRate: number,
    readonly quality: ResampleQuality = 'best',
  ) {
    if (!Number.isInteger(outRate) || outRate < 1 || outRate > 768_000) throw new Error(`resample: bad target rate ${outRate}`);
  }

  private async handle(inRate: number): Promise<SrcHandle> {
    let h = this.handles.get(inRate);
    if (h) {
      // The setter re-creates the converter state (src_delete + src_new): a clean start per clip.
      h.inputSampleRate = inRate;
    } else {
      h = await loadLib().create(1, inRate, this.outRate, { converterType: CONVERTER[this.quality] });
      this.handles.set(inRate, h);
    }
    return h;
  }

  /** Resample one mono clip; at the target rate already, the input itself is returned. */
  async resample(x: Float32Array, inRate: number): Promise<Float32Array> {
    if (!Number.isInteger(inRate) || inRate < 1) throw new Error(`resample: bad input rate ${inRate}`);
    if (inRate === this.outRate) return x;
    const target = resampledLength(x.length, inRate, this.outRate);
    const out = new Float32Array(target);
    if (target === 0) return out;
    const h = await this.handle(inRate);
    const ratio = this.outRate / inRate;
    // Chunks whose output also fits the transfer buffer.
    const chunk = Math.max(1, Math.floor(MAX_BUFFER / Math.max(1, ratio)) - 16);
    let filled = 0;
    const push = (y: Float32Array) => {
      const take = Math.min(y.length, target - filled);
      out.set(take === y.length ? y : y.subarray(0, take), filled);
      filled += take;
    };
    for (let i = 0; i < x.length && filled < target; i += chunk) push(h.full(x.subarray(i, Math.min(x.length, i + chunk))));
    const zeros = new Float32Array(Math.min(ZERO_BLOCK, chunk));
    // Flush: the converter holds back about half a filter length; zeros push it out.
    for (let guard = 0; filled < target; guard++) {
      if (guard > 1_000_000) throw new Error('resample: converter produced no output');
      push(h.full(zeros));
    }
    return out;
  }

  close(): void {
    for (const h of this.handles.values()) h.destroy();
    this.handles.clear();
  }
}

/** Resample a single clip (convenience; creates and frees a converter). */
export async function resampleAudio(x: Float32Array, inRate: number, outRate: number, quality: ResampleQuality = 'best'): Promise<Float32Array> {
  const r = new Resampler(outRate, quality);
  try {
    return await r.resample(x, inRate);
  } finally {
    r.close();
  }
}

/** Every clip at `outRate`; clips already there pass through untouched. Metadata is kept. */
export async function resampleClipSet(set: ClipSet, outRate: number, quality: ResampleQuality = 'best'): Promise<ClipSet> {
  const r = new Resampler(outRate, quality);
  try {
    const clips = [];
    for (const c of set.clips) {
      clips.push(c.sampleRate === outRate ? c : { ...c, sampleRate: outRate, audio: await r.resample(c.audio, c.sampleRate) });
    }
    return { clips, classes: set.classes, metadata: { ...set.metadata } };
  } finally {
    r.close();
  }
}
