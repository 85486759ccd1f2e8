/**
 * From a clip set to the feature matrix: every clip's log-mel (or MFCC) frames, cropped or padded
 * to a fixed length or cut into patches, with per-band statistics of one split, optionally
 * standardised with them. Pure computation; index.ts reads and writes the tables.
 */
import type { Clip } from '../../src/lab/audio/clips.js';
import { frameCount, LogMelExtractor } from '../../src/lab/audio/mel.js';
import { melConfig, MIN_STD, type FeatureParams } from './params.js';

export interface FeatureMatrix {
  /** Row-major [rows, bands, width]. */
  values: Float32Array;
  bands: number;
  /** Frames per row. */
  width: number;
  /** The clip (index into the clip list) each row comes from [rows]. */
  clipOf: Int32Array;
  /** Patch index within its clip [rows] (0 without patches). */
  patchOf: Int32Array;
  stats: BandStats;
  /** Indexes of mel filters with no weight (n_mels too high for n_fft). */
  emptyFilters: number[];
}

export interface BandStats {
  split: string;
  clips: number;
  /** Frames the statistics were taken over. */
  frames: number;
  mean: Float64Array; // [bands]
  std: Float64Array; // [bands], population (ddof 0)
}

/** The sample rate shared by every clip, or an error naming the first clip that differs. */
export function commonSampleRate(clips: readonly Clip[]): number {
  const first = clips[0];
  if (first === undefined) throw new Error('the clip table has no clips');
  for (const c of clips) {
    if (c.sampleRate !== first.sampleRate) {
      throw new Error(
        `clips have different sample rates: '${c.clipId}' is ${c.sampleRate} Hz but '${first.clipId}' is ${first.sampleRate} Hz; ` +
          `add a resample stage before features (uses: resample, with: {rate: ${first.sampleRate}})`,
      );
    }
  }
  return first.sampleRate;
}

/** Where each row's frames come from: clip frames [start, start + width), of which `real` exist. */
interface RowPlan {
  clip: number;
  patch: number;
  start: number;
}

function planRows(clips: readonly Clip[], frames: Int32Array, p: FeatureParams): { rows: RowPlan[]; width: number; lengths: Int32Array } {
  // A clip's length after cropping/padding to `frames` (or its own length).
  let maxFrames = 0;
  for (const t of frames) maxFrames = Math.max(maxFrames, t);
  const fixed = p.frames === 'max' ? (p.patch === null ? maxFrames : null) : p.frames;
  const lengths = Int32Array.from(frames, (t) => fixed ?? t);
  const rows: RowPlan[] = [];
  if (p.patch === null) {
    clips.forEach((_, i) => rows.push({ clip: i, patch: 0, start: 0 }));
    return { rows, width: fixed ?? maxFrames, lengths };
  }
  const { frames: size, hop } = p.patch;
  clips.forEach((_, i) => {
    const len = lengths[i]!;
    const count = len < size ? 1 : 1 + Math.floor((len - size) / hop);
    for (let k = 0; k < count; k++) rows.push({ clip: i, patch: k, start: k * hop });
  });
  return { rows, width: size, lengths };
}

export async function extractFeatures(clips: readonly Clip[], p: FeatureParams): Promise<FeatureMatrix> {
  const rate = commonSampleRate(clips);
  const ex = await LogMelExtractor.create(melConfig(p, rate));
  try {
    const bands = ex.bands;
    const frames = Int32Array.from(clips, (c) => frameCount(c.audio.length, ex.config)); // [clips]
    const { rows, width, lengths } = planRows(clips, frames, p);
    const values = new Float32Array(rows.length * bands * width); // [rows, bands, width]
    const realOf = new Int32Array(rows.length); // real (unpadded) frames at the start of each row
    const sum = new Float64Array(bands);
    const sumSq = new Float64Array(bands);
    let statClips = 0;
    let statFrames = 0;
    let r = 0;
    clips.forEach((clip, i) => {
      const { values: f, frames: t } = ex.compute(clip.audio); // [bands, t + 1], column t = silence
      const cols = t + 1;
      if (clip.split === p.stats_split) {
        statClips++;
        statFrames += t;
        for (let b = 0; b < bands; b++) {
          let s = 0;
          let s2 = 0;
          for (let j = 0; j < t; j++) {
            const v = f[b * cols + j]!;
            s += v;
            s2 += v * v;
          }
          sum[b] = sum[b]! + s;
          sumSq[b] = sumSq[b]! + s2;
        }
      }
      const avail = Math.min(t, lengths[i]!); // frames of the clip that survive cropping
      for (; r < rows.length && rows[r]!.clip === i; r++) {
        const start = rows[r]!.start;
        const real = Math.max(0, Math.min(width, avail - start));
        realOf[r] = real;
        const base = r * bands * width;
        for (let b = 0; b < bands; b++) {
          const row = base + b * width;
          const src = b * cols;
          for (let j = 0; j < real; j++) values[row + j] = f[src + start + j]!;
          if (p.pad === 'silence') values.fill(f[src + t]!, row + real, row + width);
          // 'zero': the array is zero-filled already
        }
      }
    });
    const mean = new Float64Array(bands);
    const std = new Float64Array(bands);
    for (let b = 0; b < bands; b++) {
      mean[b] = statFrames > 0 ? sum[b]! / statFrames : Number.NaN;
      std[b] = statFrames > 0 ? Math.sqrt(Math.max(0, sumSq[b]! / statFrames - mean[b]! ** 2)) : Number.NaN;
    }
    const stats: BandStats = { split: p.stats_split, clips: statClips, frames: statFrames, mean, std };
    if (p.normalize) standardise(values, realOf, bands, width, stats, p.pad === 'silence');
    return {
      values,
      bands,
      width,
      clipOf: Int32Array.from(rows, (x) => x.clip),
      patchOf: Int32Array.from(rows, (x) => x.patch),
      stats,
      emptyFilters: ex.filterbank.empty,
    };
  } finally {
    ex.dispose();
  }
}

/** (x − mean) / std per band, in place; padding columns too unless they are literal zeros. */
function standardise(values: Float32Array, realOf: Int32Array, bands: number, width: number, stats: BandStats, padToo: boolean): void {
  if (stats.frames === 0) {
    throw new Error(`normalize needs clips of split '${stats.split}' to take statistics from, and the clip table has none (set stats_split)`);
  }
  for (let r = 0; r < realOf.length; r++) {
    const upTo = padToo ? width : realOf[r]!;
    for (let b = 0; b < bands; b++) {
      const m = stats.mean[b]!;
      const s = Math.max(stats.std[b]!, MIN_STD);
      const row = (r * bands + b) * width;
      for (let j = 0; j < upTo; j++) values[row + j] = (values[row + j]! - m) / s;
    }
  }
}
