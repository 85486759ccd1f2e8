/**
 * resample: converts the upstream clip table to one sample rate with a band-limited sinc
 * resampler (libsamplerate). Output `clips`: the same table (rows, order, metadata) with every
 * waveform at `rate`; each clip of n samples at rate r becomes exactly round(n · rate / r)
 * samples. Clips already at `rate` pass through bit for bit.
 */
import { z } from 'zod';
import { defineStage } from '../../src/core/stage/api.js';

export const stage = defineStage({
  version: 1,
  description: 'Resample every clip of the upstream clip table to one sample rate (libsamplerate sinc).',
  params: z.strictObject({
    /** Target sample rate in Hz. */
    rate: z.number().int().min(1000).max(384_000).default(16000),
    /** libsamplerate converter: best = SRC_SINC_BEST_QUALITY, medium = SRC_SINC_MEDIUM_QUALITY, fast = SRC_SINC_FASTEST. */
    quality: z.enum(['best', 'medium', 'fast']).default('best'),
  }),
  outputs: ['clips'],
  environment: () => ({ libsamplerate: '@alexanderolsen/libsamplerate-js@2.1.2' }),
  async run(ctx) {
    const { readClips, writeClips } = await import('../../src/lab/audio/clips.js');
    const { resampleClipSet } = await import('../../src/lab/audio/resample.js');
    const tables = ctx.inputs.filter((i) => i.output === 'clips');
    if (tables.length !== 1) {
      const what = tables.length === 0 ? 'no upstream clip table' : `${tables.length} upstream clip tables (${tables.map((t) => t.from).join(', ')})`;
      throw new Error(`resample needs exactly one upstream stage with a 'clips' output (e.g. needs: [download]); got ${what}`);
    }
    const input = tables[0]!;
    const set = readClips(input.path);
    const rates = new Map<number, number>();
    let inSamples = 0;
    for (const c of set.clips) {
      rates.set(c.sampleRate, (rates.get(c.sampleRate) ?? 0) + 1);
      inSamples += c.audio.length;
    }
    const t0 = performance.now();
    const out = await resampleClipSet(set, ctx.params.rate, ctx.params.quality);
    const seconds = (performance.now() - t0) / 1000;
    let audioSeconds = 0;
    for (const c of set.clips) audioSeconds += c.audio.length / c.sampleRate;
    const fromText = [...rates].sort((a, b) => a[0] - b[0]).map(([r, n]) => `${n} at ${r} Hz`).join(', ');
    ctx.log(`resampled ${set.clips.length} clips (${fromText}; ${inSamples} samples, ${audioSeconds.toFixed(1)} s of audio) to ${ctx.params.rate} Hz in ${seconds.toFixed(2)} s`);
    await writeClips(ctx.outPath('clips'), out);
  },
});
