/**
 * download: a dataset → one clip table (src/lab/audio/clips.ts) at the dataset's own sample rate.
 *
 * Registered datasets (src/lab/data/datasets.ts) are fetched once into `<cache>/downloads/`, or taken
 * from a mirror folder (`mirror:` or CONNO_DATA_MIRROR), verified against their published
 * checksum, extracted into a scratch folder, decoded and sorted by clip id. `folder` reads the
 * user's own WAV files; `synth` generates a procedural dataset (src/lab/audio/synth.ts).
 */
import { z } from 'zod';
import { defineStage } from '../../src/core/stage/api.js';
import { SynthParamsSchema } from '../../src/lab/audio/synth.js';

const DATASET_NAMES = ['fsdd', 'speechcommands', 'esc50', 'esc10', 'fsdnoisy18k', 'urbansound8k', 'emodb', 'ravdess', 'cremad', 'folder', 'synth'] as const;
const EMOTION_DATASETS = new Set(['emodb', 'ravdess', 'cremad']);
const FOLD_DATASETS = new Set(['esc50', 'esc10', 'urbansound8k']);

const params = z
  .strictObject({
    dataset: z.enum(DATASET_NAMES),
    /** Download from here instead of the registry's URL (a folder URL when the dataset has several archives). */
    url: z.string().min(1).optional(),
    /** Pin the archive's sha256 where the registry has no published checksum (esc50/esc10, fsdd from GitHub). */
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 is 64 lower-case hex digits').optional(),
    /** A folder holding the archive(s) by file name, looked in before downloading (relative to the project). */
    mirror: z.string().min(1).optional(),
    /** What to do with a WAV file that cannot be decoded: fail the stage, or skip it and count it. */
    on_bad_file: z.enum(['error', 'skip']).default('error'),
    /** Clips of these speakers / folds get split `holdout` (an out-of-distribution test set). */
    holdout: z
      .strictObject({ speakers: z.array(z.string()).default([]), folds: z.array(z.number().int()).default([]) })
      .optional(),
    /**
     * A dev split (for early stopping) carved out of train: whole speakers (`by: speaker`, or the
     * `speakers` named) or clips drawn per class (`by: clip`), `fraction` of them, chosen by a
     * seeded hash of their names.
     */
    dev: z
      .strictObject({
        by: z.enum(['clip', 'speaker']).default('clip'),
        fraction: z.number().gt(0).lt(1).default(0.1),
        seed: z.number().int().nonnegative().default(0),
        speakers: z.array(z.string().min(1)).min(1).optional(),
      })
      .optional(),
    /** Quick runs: keep at most this many clips of each class in each split (the first by clip id). */
    max_clips_per_class: z.number().int().positive().optional(),
    /** speechcommands: keep only these words, labelled in this order (e.g. zero … nine). */
    words: z.array(z.string().min(1)).min(1).optional(),
    /** esc50/esc10 (default 5), urbansound8k (default 10): the fold used as the test split. */
    test_fold: z.number().int().positive().optional(),
    /** emodb, ravdess, cremad: the speakers (as in the file names: '03', '21', '1074') whose clips are the test split. */
    test_speakers: z.array(z.string().min(1)).min(1).optional(),
    /** fsdnoisy18k: train on all clips, the verified (`clean`) ones, or clean + `noisy_small`. */
    subset: z.enum(['all', 'clean', 'noisy_small']).optional(),
    /** dataset: folder — a folder of WAV files (an input of the stage), labelled by a CSV or a file-name pattern. */
    folder: z
      .strictObject({ path: z.string().min(1), csv: z.string().min(1).optional(), pattern: z.string().min(1).optional() })
      .optional(),
    /** dataset: synth — the generator's parameters. */
    synth: SynthParamsSchema.optional(),
  })
  .superRefine((p, ctx) => {
    const only = (key: keyof typeof p, allowed: (d: string) => boolean, which: string) => {
      if (p[key] !== undefined && !allowed(p.dataset)) ctx.addIssue({ code: 'custom', path: [key], message: `'${key}' applies to ${which} only, not '${p.dataset}'` });
    };
    only('words', (d) => d === 'speechcommands', 'speechcommands');
    only('test_fold', (d) => FOLD_DATASETS.has(d), 'esc50, esc10 and urbansound8k');
    only('subset', (d) => d === 'fsdnoisy18k', 'fsdnoisy18k');
    only('test_speakers', (d) => EMOTION_DATASETS.has(d), 'emodb, ravdess and cremad');
    only('folder', (d) => d === 'folder', 'dataset: folder');
    only('synth', (d) => d === 'synth', 'dataset: synth');
    only('dev', (d) => d !== 'synth' && d !== 'speechcommands', 'datasets without a dev split of their own (synth has dev_fraction; speechcommands its validation list)');
    const registered = (d: string) => d !== 'folder' && d !== 'synth';
    only('url', registered, 'registered datasets');
    only('sha256', registered, 'registered datasets');
    only('mirror', registered, 'registered datasets');
    if (p.dataset === 'folder') {
      if (!p.folder) ctx.addIssue({ code: 'custom', path: ['folder'], message: "dataset: folder needs `folder: { path, csv | pattern }`" });
      else if (!p.folder.csv === !p.folder.pattern) ctx.addIssue({ code: 'custom', path: ['folder'], message: 'give exactly one of `csv` and `pattern`' });
      else if (p.folder.pattern) {
        try {
          if (!new RegExp(p.folder.pattern).source.includes('(?<label>')) ctx.addIssue({ code: 'custom', path: ['folder', 'pattern'], message: 'the pattern needs a named group (?<label>…)' });
        } catch (err) {
          ctx.addIssue({ code: 'custom', path: ['folder', 'pattern'], message: `invalid regular expression: ${(err as Error).message}` });
        }
      }
    }
  });

/** `a/b` joined with a path relative to it, as the pipeline writes paths. */
const posixJoin = (dir: string, rel: string): string => (rel.startsWith('/') ? rel : `${dir.replace(/\/+$/, '')}/${rel}`);

export const stage = defineStage({
  version: 1,
  description: 'Fetch, verify, extract and decode a dataset into a clip table',
  params,
  outputs: ['clips'],
  // Your own WAV files (and a labels CSV beside or inside them) are inputs: edit one, and the
  // stage reruns, without listing the folder in `deps` as well.
  inputs: (p) => (p.dataset === 'folder' && p.folder ? [p.folder.path, ...(p.folder.csv ? [posixJoin(p.folder.path, p.folder.csv)] : [])] : []),
  async run(ctx) {
    const p = ctx.params;
    const path = (await import('node:path')).default;
    const { writeClips } = await import('../../src/lab/audio/clips.js');
    const { countBySplit } = await import('../../src/lab/data/clipset.js');

    if (p.dataset === 'synth') {
      const { generateSynth } = await import('../../src/lab/audio/synth.js');
      const set = generateSynth(p.synth ?? {});
      set.metadata = { ...set.metadata, 'conno.dataset': 'synth' };
      await writeClips(ctx.outPath('clips'), set);
      ctx.metric('clips', countBySplit(set.clips));
      ctx.metric('classes', set.classes.length);
      return;
    }

    const { buildClipSet } = await import('../../src/lab/data/clipset.js');
    const { prepareDataset } = await import('../../src/lab/data/prepare.js');
    const cacheDir = ctx.cacheDir ?? process.env.CONNO_CACHE_DIR ?? path.join(ctx.projectRoot, 'cache');
    const prepared = await prepareDataset({
      dataset: p.dataset,
      projectRoot: ctx.projectRoot,
      cacheDir,
      deps: ctx.deps,
      url: p.url,
      sha256: p.sha256,
      mirror: p.mirror,
      folder: p.folder,
      indexOptions: { words: p.words, testFold: p.test_fold, subset: p.subset, testSpeakers: p.test_speakers },
      log: (m) => ctx.log(m),
    });
    try {
      const t0 = performance.now();
      const { set, skipped } = await buildClipSet(prepared.index, {
        onBadFile: p.on_bad_file,
        holdout: p.holdout,
        dev: p.dev,
        maxClipsPerClass: p.max_clips_per_class,
        metadata: prepared.metadata,
        log: (m) => ctx.log(m),
      });
      ctx.log(`decoded ${set.clips.length} clips in ${((performance.now() - t0) / 1000).toFixed(2)} s (${skipped.length} skipped)`);
      if (set.clips.length === 0) throw new Error(`no clips left in ${p.dataset} after selection`);
      await writeClips(ctx.outPath('clips'), set);
      const splits = countBySplit(set.clips);
      ctx.log(`wrote ${set.clips.length} clips: ${Object.entries(splits).map(([s, n]) => `${s} ${n}`).join(', ')}; ${set.classes.length} classes`);
      ctx.metric('clips', splits);
      ctx.metric('classes', set.classes.length);
      ctx.metric('skipped_files', skipped.length);
      // Where an archive came from (cache, mirror, URL) is in the log, not the metrics: it does
      // not change the result.
      if (prepared.archives.length) ctx.metric('archives', prepared.archives.map(({ file, sha256, verified }) => ({ file, sha256, verified })));
    } finally {
      await prepared.cleanup();
    }
  },
});
