import { describe, expect, it } from 'vitest';
import type { Clip } from '../../src/lab/audio/clips.js';
import { commonSampleRate, extractFeatures } from './extract.js';
import { FeatureParamsSchema } from './params.js';

/** Clips of 0.1 … 0.6 s of a tone at 16 kHz: 11, 21, … 61 frames with hop 160. */
function clips(): Clip[] {
  return Array.from({ length: 6 }, (_, i) => {
    const n = 1600 * (i + 1);
    return {
      clipId: `c${i}`,
      split: i < 3 ? 'train' : 'test',
      label: i % 2,
      speaker: null,
      fold: null,
      source: 'synth',
      sampleRate: 16000,
      audio: Float32Array.from({ length: n }, (_, t) => (0.1 + 0.1 * i) * Math.sin((2 * Math.PI * (200 + 100 * i) * t) / 16000)),
    };
  });
}

const params = (over: Record<string, unknown>) => FeatureParamsSchema.parse({ n_mels: 8, ...over });

describe('extractFeatures', () => {
  it("pads to the longest clip with 'max', crops and pads to a fixed length", async () => {
    let m = await extractFeatures(clips(), params({}));
    expect([m.clipOf.length, m.bands, m.width]).toEqual([6, 8, 61]);
    // The shortest clip (11 frames) is padded with its silent frame: ln(1e-6).
    expect(m.values[0 * 8 * 61 + 60]).toBeCloseTo(Math.log(1e-6), 5);
    m = await extractFeatures(clips(), params({ frames: 15, pad: 'zero' }));
    expect(m.width).toBe(15);
    expect(m.values[14]).toBe(0); // clip 0 has 11 frames
    expect(m.values[8 * 15 + 14]).not.toBe(0); // clip 1 has 21, cropped
  });

  it('cuts patches, one padded patch for a short clip, and keeps clip and patch indexes', async () => {
    const m = await extractFeatures(clips(), params({ patch: { frames: 20, hop: 10 } }));
    // frames per clip 11, 21, 31, 41, 51, 61 → patches 1, 1, 2, 3, 4, 5
    expect(Array.from(m.clipOf)).toEqual([0, 1, 2, 2, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 5]);
    expect(Array.from(m.patchOf)).toEqual([0, 0, 0, 1, 0, 1, 2, 0, 1, 2, 3, 0, 1, 2, 3, 4]);
    const whole = await extractFeatures(clips(), params({}));
    // Patch 1 of clip 2 is frames 10 … 29 of the clip.
    const band = 3;
    expect(m.values[(3 * 8 + band) * 20 + 0]).toBe(whole.values[(2 * 8 + band) * 61 + 10]);
  });

  it('takes statistics from the train split only and standardises every split with them', async () => {
    const raw = await extractFeatures(clips(), params({ frames: 61 }));
    expect(raw.stats).toMatchObject({ split: 'train', clips: 3, frames: 11 + 21 + 31 });
    // Recompute band 2's train mean from the unnormalised values (real frames only).
    let s = 0;
    [11, 21, 31].forEach((t, i) => {
      for (let j = 0; j < t; j++) s += raw.values[(i * 8 + 2) * 61 + j]!;
    });
    expect(raw.stats.mean[2]).toBeCloseTo(s / 63, 4);
    const norm = await extractFeatures(clips(), params({ frames: 61, normalize: true }));
    const x = raw.values[(4 * 8 + 2) * 61 + 5]!; // a test clip's frame
    expect(norm.values[(4 * 8 + 2) * 61 + 5]).toBeCloseTo((x - raw.stats.mean[2]!) / raw.stats.std[2]!, 4);
    await expect(extractFeatures(clips(), params({ normalize: true, stats_split: 'dev' }))).rejects.toThrow(/split 'dev'/);
  });

  it('names the first clip with another sample rate and suggests resampling', () => {
    const cs = clips();
    cs[4]!.sampleRate = 8000;
    expect(() => commonSampleRate(cs)).toThrow("'c4' is 8000 Hz but 'c0' is 16000 Hz; add a resample stage");
  });

  it('writes the same values twice', async () => {
    const a = await extractFeatures(clips(), params({ n_mfcc: 5, scale: 'db', top_db: 60, normalize: true }));
    const b = await extractFeatures(clips(), params({ n_mfcc: 5, scale: 'db', top_db: 60, normalize: true }));
    expect(Buffer.from(a.values.buffer).equals(Buffer.from(b.values.buffer))).toBe(true);
  });
});
