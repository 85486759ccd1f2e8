/**
 * Clips as fixed-length waveforms, one row each, shaped like a features table ([1, samples] per
 * row) so that a raw-waveform model (wavecnn) trains and is evaluated as log-mel models are:
 * longer clips are cropped (their start kept), shorter ones padded with zeros after their end.
 */
import type { Clip, ClipSet } from './clips.js';

export interface WaveformMatrix {
  /** Row-major [clips × samples]. */
  values: Float32Array;
  samples: number;
  /** How many clips were cropped and how many padded. */
  cropped: number;
  padded: number;
}

export function waveformMatrix(clips: readonly Clip[], samples: number | 'max'): WaveformMatrix {
  if (clips.length === 0) throw new Error('no clips');
  const rates = [...new Set(clips.map((c) => c.sampleRate))];
  if (rates.length > 1) throw new Error(`the clips have several sample rates (${rates.join(', ')} Hz): resample them to one first (uses: resample)`);
  const n = samples === 'max' ? Math.max(...clips.map((c) => c.audio.length)) : samples;
  const values = new Float32Array(clips.length * n);
  let cropped = 0;
  let padded = 0;
  clips.forEach((c, r) => {
    const len = Math.min(n, c.audio.length);
    values.set(c.audio.subarray(0, len), r * n);
    if (c.audio.length > n) cropped++;
    else if (c.audio.length < n) padded++;
  });
  return { values, samples: n, cropped, padded };
}

/**
 * A clip set as a waveform table (the waveform stage's output, and what train makes of a clip
 * table for a raw-waveform model): the clip columns, the set's extra columns, `features` [1, samples].
 */
export async function waveformTable(set: ClipSet, samples: number | 'max'): Promise<{ table: import('apache-arrow').Table; matrix: WaveformMatrix; rate: number }> {
  const { makeTable } = await import('../../core/arrow/io.js');
  const { canonicalJson } = await import('../../core/util/canonical.js');
  const { CLASSES_KEY, identityColumns } = await import('./clips.js');
  const matrix = waveformMatrix(set.clips, samples);
  const rate = set.clips[0]!.sampleRate;
  const table = makeTable(
    [
      ...identityColumns(set.clips),
      ...Object.entries(set.extra ?? {}),
      ['features', { type: 'fixedSizeList', values: matrix.values, shape: [1, matrix.samples] }],
    ],
    { ...set.metadata, [CLASSES_KEY]: JSON.stringify(set.classes), 'conno.features': canonicalJson({ waveform: { samples: matrix.samples, sample_rate: rate } }) },
  );
  return { table, matrix, rate };
}
