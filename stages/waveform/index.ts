/**
 * waveform: the upstream clips as fixed-length waveforms for raw-waveform models (`model: { name:
 * wavecnn }`), shaped like the features stage's output so that train, score-difficulty,
 * evaluate-ood and the report take it as they take log-mels.
 *
 * Output `features` (Arrow): clip_id, split, label, speaker, fold, the input's extra columns, and
 * `features`: FixedSizeList<Float32>, shape [1, samples]; longer clips cropped (the start kept),
 * shorter ones padded with zeros. Schema metadata: the input's plus `conno.features`
 * (`{ waveform: { samples, sample_rate } }`).
 */
import { z } from 'zod';
import { defineStage } from '../../src/core/stage/api.js';

export const stage = defineStage({
  version: 1,
  description: 'The clips as fixed-length waveforms [1, samples] (cropped or zero-padded), for raw-waveform models.',
  params: z.strictObject({
    /** Samples per clip; 'max': the longest clip's length. */
    samples: z.union([z.number().int().positive(), z.literal('max')]).default('max'),
  }),
  outputs: ['features'],
  async run(ctx) {
    const { readClips } = await import('../../src/lab/audio/clips.js');
    const { waveformTable } = await import('../../src/lab/audio/waveform.js');
    const { writeTableFile } = await import('../../src/core/arrow/io.js');
    const tables = ctx.inputs.filter((i) => i.output === 'clips');
    if (tables.length !== 1) {
      const what = tables.length === 0 ? 'none' : tables.map((t) => t.from).join(', ');
      throw new Error(`waveform needs exactly one upstream stage with a 'clips' output (e.g. needs: [resample]); got ${what}`);
    }
    const set = readClips(tables[0]!.path);
    const { table, matrix: m, rate } = await waveformTable(set, ctx.params.samples);
    await writeTableFile(ctx.outPath('features'), table);
    ctx.log(`${set.clips.length} clips as [1, ${m.samples}] at ${rate} Hz (${(m.samples / rate).toFixed(3)} s): ${m.cropped} cropped, ${m.padded} padded`);
    ctx.metric('rows', set.clips.length);
    ctx.metric('shape', [1, m.samples]);
  },
});
