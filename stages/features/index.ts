/**
 * features: log-mel spectrograms (or MFCCs) of every clip of the upstream clip table, with the
 * semantics of torchaudio's MelSpectrogram / MFCC (see src/lab/audio/mel.ts; parameters and their
 * defaults in params.ts).
 *
 * Output `features` (Arrow): clip_id, split, label, speaker, fold, [patch,] features —
 * FixedSizeList<Float32>[bands × frames], shape [bands, frames] in the field's `conno.shape`;
 * schema metadata: the input's (`conno.classes`, `conno.dataset`, …) plus `conno.features`, the
 * parameters after defaults and the sample rate. One row per clip, or per patch with `patch`.
 * Output `stats` (Arrow): band, mean, std of each band over every real frame of the
 * `stats_split` clips (NaN when there are none); with `normalize` they standardise all splits.
 * Extra columns of the input clip table (e.g. inject-noise's label_orig, flipped, target_eps,
 * snr_db, noise) are carried through, row-aligned (repeated for each patch of a clip), before
 * `features`.
 */
import { defineStage } from '../../src/core/stage/api.js';
import { fftBackendSync } from '../../src/lab/audio/fft.js';
import { FeatureParamsSchema } from './params.js';

export const stage = defineStage({
  version: 1,
  description: 'Log-mel spectrograms or MFCCs of every clip (torchaudio semantics), fixed length or patches, per-band statistics.',
  params: FeatureParamsSchema,
  outputs: ['features', 'stats'],
  // The SIMD and scalar PFFFT builds may differ in the last bit of a float32.
  environment: () => ({ fft: fftBackendSync() }),
  async run(ctx) {
    const { readClips, takeRows, CLASSES_KEY } = await import('../../src/lab/audio/clips.js');
    const { makeTable, writeTableFile } = await import('../../src/core/arrow/io.js');
    const { canonicalJson } = await import('../../src/core/util/canonical.js');
    const { extractFeatures } = await import('./extract.js');
    const p = ctx.params;

    const tables = ctx.inputs.filter((i) => i.output === 'clips');
    if (tables.length !== 1) {
      const what = tables.length === 0 ? 'no upstream clip table' : `${tables.length} upstream clip tables (${tables.map((t) => t.from).join(', ')})`;
      throw new Error(`features needs exactly one upstream stage with a 'clips' output (e.g. needs: [resample]); got ${what}`);
    }
    const set = readClips(tables[0]!.path);
    const t0 = performance.now();
    const m = await extractFeatures(set.clips, p);
    const seconds = (performance.now() - t0) / 1000;
    const rate = set.clips[0]!.sampleRate;
    if (m.emptyFilters.length > 0) {
      ctx.log(`warning: mel filters ${m.emptyFilters.join(', ')} have no FFT bin (n_mels ${p.n_mels} is too many for n_fft ${p.n_fft} at ${rate} Hz); they are constant`);
    }

    const describe = canonicalJson({ ...p, sample_rate: rate, fft: fftBackendSync() });
    const clipAt = (r: number) => set.clips[m.clipOf[r]!]!;
    const rows = m.clipOf.length;
    const features = makeTable(
      [
        ['clip_id', { type: 'utf8', values: Array.from({ length: rows }, (_, r) => clipAt(r).clipId) }],
        ['split', { type: 'utf8', values: Array.from({ length: rows }, (_, r) => clipAt(r).split) }],
        ['label', { type: 'int32', values: Int32Array.from({ length: rows }, (_, r) => clipAt(r).label) }],
        ['speaker', { type: 'utf8', values: Array.from({ length: rows }, (_, r) => clipAt(r).speaker), nullable: true }],
        ['fold', { type: 'int32', values: Array.from({ length: rows }, (_, r) => clipAt(r).fold), nullable: true }],
        ...(p.patch === null ? [] : [['patch', { type: 'int32', values: m.patchOf }] as const]),
        ...Object.entries(set.extra ?? {}).map(([name, spec]) => [name, takeRows(spec, m.clipOf)] as const),
        ['features', { type: 'fixedSizeList', values: m.values, shape: [m.bands, m.width] }],
      ],
      { ...set.metadata, [CLASSES_KEY]: JSON.stringify(set.classes), 'conno.features': describe },
    );
    await writeTableFile(ctx.outPath('features'), features);

    const stats = makeTable(
      [
        ['band', { type: 'int32', values: Int32Array.from({ length: m.bands }, (_, b) => b) }],
        ['mean', { type: 'float64', values: m.stats.mean }],
        ['std', { type: 'float64', values: m.stats.std }],
      ],
      {
        'conno.features': describe,
        'conno.stats': canonicalJson({ split: m.stats.split, clips: m.stats.clips, frames: m.stats.frames, ddof: 0 }),
      },
    );
    await writeTableFile(ctx.outPath('stats'), stats);

    let audioSeconds = 0;
    for (const c of set.clips) audioSeconds += c.audio.length / c.sampleRate;
    ctx.log(
      `features of ${set.clips.length} clips (${audioSeconds.toFixed(1)} s at ${rate} Hz) in ${seconds.toFixed(2)} s: ` +
        `${rows} rows of [${m.bands}, ${m.width}]${p.normalize ? `, standardised with ${m.stats.split} statistics` : ''}`,
    );
    ctx.metric('rows', rows);
    ctx.metric('shape', [m.bands, m.width]);
  },
});
