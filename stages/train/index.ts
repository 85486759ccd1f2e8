/**
 * train: a classifier on the upstream `features` table (TensorFlow.js; src/lab/ml/train.ts), with
 * per-sample training dynamics for the study of label noise.
 *
 * Learns from split `train`; `dev` (if present) drives the curves and early stopping; every split
 * is predicted by the final model. Targets are the given labels, smoothed by `target_eps` when
 * an inject-noise stage upstream set it: (1−ε)·onehot(label) + ε/K.
 *
 * Outputs (Arrow):
 *   model        one row per weight tensor: name, shape (JSON), values (List<Float32>), by
 *                layer and creation order (namedWeights); schema metadata conno.model (the model config), conno.classes,
 *                conno.input_shape, conno.backend, conno.best_epoch — enough for buildModel + setWeights
 *   dynamics     long format, one row per (train sample, epoch): clip_id, [patch,] epoch, loss
 *                (CE on the given label), p_given, correct_given, p_orig, correct_orig, margin
 *                (logit[given] − max other logit), flipped, logits (FixedSizeList<Float32>[K]) —
 *                inference mode after each epoch
 *   curves       one row per epoch (see EpochCurve in src/lab/ml/train.ts); NaN where undefined
 *   embeddings   clip_id, split, label, [patch,] embedding: the final model's `embedding` layer
 *   predictions  clip_id, split, label, label_orig, [patch,] logits, for every sample of every split;
 *                with `cv`, also cv_heldout (bool: a train row of the held-out fold, not trained on)
 *                and the schema metadata conno.cv
 *
 * `cv: { folds, fold }` leaves the train rows of one fold out of training and of the dynamics
 * (crossValidationFold in src/lab/ml/train.ts), for out-of-sample scores downstream.
 */
import { defineStage } from '../../src/core/stage/api.js';
import { TrainParamsSchema } from '../../src/lab/ml/params.js';
import { backendEnvironment } from '../../src/lab/ml/backend.js';
import type { EpochCurve } from '../../src/lab/ml/train.js';
import { checkTrain } from './check.js';
import { scored } from '../../src/lab/ml/curriculum.js';
import type { StageContext } from '../../src/core/stage/api.js';
import type { TrainParams } from '../../src/lab/ml/params.js';

/** The split name, internal to this stage, of train rows held out by `cv`. */
const CV_HELDOUT_SPLIT = 'train (cv held out)';

export const stage = defineStage({
  version: 1,
  description: 'Train a classifier on the features (TensorFlow.js), recording per-sample dynamics every epoch.',
  params: TrainParamsSchema,
  outputs: ['model', 'dynamics', 'curves', 'embeddings', 'predictions'],
  // Each backend (and tfjs version, and wasm with or without SIMD) gives different, each
  // reproducible, weights.
  environment: (p, env) => backendEnvironment(p.backend, env),
  check: checkTrain,
  async run(ctx) {
    const { readTableFile, makeTable, writeTableFile, flatFloat32 } = await import('../../src/core/arrow/io.js');
    const { canonicalJson } = await import('../../src/core/util/canonical.js');
    const { initBackend, backendFingerprint } = await import('../../src/lab/ml/backend.js');
    const T = await import('../../src/lab/ml/train.js');
    const p = ctx.params;

    // A raw-waveform model also trains on a clip table directly: its clips as waveforms [1, samples].
    const clipInputs = p.model.name === 'wavecnn' ? ctx.inputs.filter((i) => i.output === 'clips') : [];
    const inputs = ctx.inputs.filter((i) => i.output === 'features');
    if (inputs.length !== 1 && !(inputs.length === 0 && clipInputs.length === 1)) {
      const what = inputs.length === 0 ? 'none' : inputs.map((i) => i.from).join(', ');
      throw new Error(`train needs exactly one upstream stage with a 'features' output (e.g. needs: [features]${p.model.name === 'wavecnn' ? ', or [waveform], or one clip table' : ''}); got ${what}`);
    }
    const table = inputs.length === 1 ? readTableFile(inputs[0]!.path) : await clipsAsWaveforms(clipInputs[0]!.path, ctx.log);
    const classesText = table.schema.metadata.get('conno.classes');
    if (classesText === undefined) throw new Error(`${(inputs[0] ?? clipInputs[0])!.from}:${(inputs[0] ?? clipInputs[0])!.output} has no conno.classes metadata`);
    const classes = JSON.parse(classesText) as string[];
    const column = <V>(name: string): V[] | null => {
      const c = table.getChild(name);
      return c === null ? null : Array.from({ length: table.numRows }, (_, i) => c.get(i) as V);
    };
    const n = table.numRows;
    const clipIds = column<string>('clip_id')!;
    const splits = column<string>('split')!;
    const labels = Int32Array.from(column<number>('label')!);
    const orig = column<number>('label_orig');
    const eps = column<number>('target_eps');
    const patch = column<number>('patch');
    const feats = flatFloat32(table, 'features');
    if (feats.shape.length !== 2) throw new Error(`features have shape ${JSON.stringify(feats.shape)}; train expects [n_mels, frames]`);
    const heldout = p.cv ? splits.map((s, i) => s === 'train' && T.crossValidationFold(clipIds[i]!, p.cv!.folds, p.cv!.seed) === p.cv!.fold) : null;
    if (heldout) ctx.log(`cv: fold ${p.cv!.fold} of ${p.cv!.folds} holds out ${heldout.filter(Boolean).length} of ${splits.filter((s) => s === 'train').length} train rows`);
    const samples = {
      x: feats.values,
      shape: [feats.shape[0]!, feats.shape[1]!] as const,
      labels,
      // A copy even without label noise: apache-arrow's writer corrupts a file whose table holds
      // one typed array in two columns (label, label_orig of predictions).
      labelsOrig: Int32Array.from(orig ?? labels),
      flipped: orig ? Array.from(labels, (l, i) => l !== orig[i]) : new Array<boolean>(n).fill(false),
      targetEps: eps ? Float32Array.from(eps, (e) => e ?? 0) : null,
      // Held-out train rows (cv) get a split of their own: trainClassifier learns from 'train' only.
      splits: heldout ? splits.map((s, i) => (heldout[i] ? CV_HELDOUT_SPLIT : s)) : splits,
      numClasses: classes.length,
      difficulty: p.curriculum !== null && scored(p.curriculum.order) ? await curriculumDifficulty(ctx, readTableFile, clipIds, splits) : undefined,
    };

    let init: { weights: import('../../src/lab/ml/train.js').InitialWeights; from: string } | undefined;
    if (p.init_from !== null) {
      const from = p.init_from;
      const models = ctx.inputs.filter((i) => i.output === 'model' && (i.from === from || i.from.startsWith(`${from}@`)));
      if (models.length !== 1) {
        const what = models.length === 0 ? `no upstream instance of '${from}' with a model output (add it to needs)` : `${models.length} instances (${models.map((m) => m.from).join(', ')}): pair them on matrix keys, or name one instance`;
        throw new Error(`init_from: ${what}`);
      }
      const { weightsOfTable } = await import('../../src/lab/ml/load.js');
      init = { weights: weightsOfTable(readTableFile(models[0]!.path)), from: models[0]!.from };
    }

    const backend = await initBackend(p.backend, ctx.environment);
    const fingerprint = backendFingerprint();
    ctx.log(`backend ${fingerprint.join(', ')}; ${n} rows of [${samples.shape.join(', ')}], ${classes.length} classes`);
    const r = await T.trainClassifier(samples, p, { log: ctx.log }, init);
    try {
      const all = Int32Array.from({ length: n }, (_, i) => i);
      const final = await T.predictWithEmbeddings(r.model, samples, all, p.eval_batch_size);
      const patchCol = patch ? ([['patch', { type: 'int32' as const, values: Int32Array.from(patch) }]] as const) : [];

      // ---- model
      const weights = T.namedWeights(r.model);
      const flat: Float32Array[] = await Promise.all(weights.map((w) => w.tensor.data<'float32'>()));
      const offsets = new Int32Array(weights.length + 1);
      flat.forEach((v, i) => (offsets[i + 1] = offsets[i]! + v.length));
      const values = new Float32Array(offsets[weights.length]!);
      flat.forEach((v, i) => values.set(v, offsets[i]!));
      await writeTableFile(
        ctx.outPath('model'),
        makeTable(
          [
            ['name', { type: 'utf8', values: weights.map((w) => w.name) }],
            ['shape', { type: 'utf8', values: weights.map((w) => JSON.stringify(w.tensor.shape)) }],
            ['values', { type: 'listFloat32', values, offsets }],
          ],
          {
            'conno.model': canonicalJson(p.model),
            'conno.classes': JSON.stringify(classes),
            'conno.input_shape': JSON.stringify([...samples.shape, 1]),
            'conno.backend': JSON.stringify(fingerprint),
            'conno.best_epoch': String(r.bestEpoch),
            'conno.seed': String(p.seed),
          },
        ),
      );

      // ---- dynamics (train rows × epochs, epoch-major)
      const nt = r.trainRows.length;
      const epochs = r.dynamics.length;
      const rep = <V>(f: (row: number) => V): V[] => Array.from({ length: nt * epochs }, (_, j) => f(r.trainRows[j % nt]!));
      const perEpoch = (pick: (d: (typeof r.dynamics)[number]) => Float32Array): Float32Array => {
        const out = new Float32Array(nt * epochs);
        r.dynamics.forEach((d, e) => out.set(pick(d), e * nt));
        return out;
      };
      const perEpochLogits = (): Float32Array => {
        const out = new Float32Array(nt * epochs * classes.length);
        r.dynamics.forEach((d, e) => out.set(d.logits, e * nt * classes.length));
        return out;
      };
      await writeTableFile(
        ctx.outPath('dynamics'),
        makeTable([
          ['clip_id', { type: 'utf8', values: rep((i) => clipIds[i]!) }],
          ...(patch ? ([['patch', { type: 'int32', values: rep((i) => patch[i]!) }]] as const) : []),
          ['epoch', { type: 'int32', values: Int32Array.from({ length: nt * epochs }, (_, j) => Math.floor(j / nt)) }],
          ['loss', { type: 'float32', values: perEpoch((d) => d.loss) }],
          ['p_given', { type: 'float32', values: perEpoch((d) => d.pGiven) }],
          ['correct_given', { type: 'bool', values: r.dynamics.flatMap((d) => d.correctGiven) }],
          ['p_orig', { type: 'float32', values: perEpoch((d) => d.pOrig) }],
          ['correct_orig', { type: 'bool', values: r.dynamics.flatMap((d) => d.correctOrig) }],
          ['margin', { type: 'float32', values: perEpoch((d) => d.margin) }],
          ['flipped', { type: 'bool', values: rep((i) => samples.flipped[i]!) }],
          ['logits', { type: 'fixedSizeList', values: perEpochLogits(), size: classes.length }],
        ], { 'conno.classes': JSON.stringify(classes) }),
      );

      // ---- curves
      const curve = (key: Exclude<keyof EpochCurve, 'epoch' | 'train_samples'>) => ({ type: 'float64' as const, values: Float64Array.from(r.curves, (c) => c[key]) });
      await writeTableFile(
        ctx.outPath('curves'),
        makeTable([
          ['epoch', { type: 'int32', values: Int32Array.from(r.curves, (c) => c.epoch) }],
          ['lr', curve('lr')],
          ['objective', curve('objective')],
          ['train_samples', { type: 'int32', values: Int32Array.from(r.curves, (c) => c.train_samples) }],
          ['train_loss', curve('train_loss')],
          ['train_acc', curve('train_acc')],
          ['train_acc_orig', curve('train_acc_orig')],
          ['flipped_acc_noisy', curve('flipped_acc_noisy')],
          ['dev_loss', curve('dev_loss')],
          ['dev_acc', curve('dev_acc')],
        ], { 'conno.best_epoch': String(r.bestEpoch) }),
      );

      // ---- embeddings and predictions of every split
      const ident = [
        ['clip_id', { type: 'utf8' as const, values: clipIds }],
        ['split', { type: 'utf8' as const, values: splits }],
        ['label', { type: 'int32' as const, values: labels }],
      ] as const;
      await writeTableFile(
        ctx.outPath('embeddings'),
        makeTable([...ident, ...patchCol, ['embedding', { type: 'fixedSizeList', values: final.embeddings, size: final.embeddingSize }]], {
          'conno.classes': JSON.stringify(classes),
        }),
      );
      await writeTableFile(
        ctx.outPath('predictions'),
        makeTable(
          [
            ...ident,
            ['label_orig', { type: 'int32', values: samples.labelsOrig }],
            ...patchCol,
            ['logits', { type: 'fixedSizeList', values: final.logits, size: classes.length }],
            ...(heldout ? ([['cv_heldout', { type: 'bool', values: heldout }]] as const) : []),
          ],
          { 'conno.classes': JSON.stringify(classes), ...(p.cv ? { 'conno.cv': canonicalJson(p.cv) } : {}) },
        ),
      );

      // ---- metrics
      const k = classes.length;
      const accuracy = (split: string): number | null => {
        let right = 0;
        let count = 0;
        for (let i = 0; i < n; i++) {
          if (splits[i] !== split) continue;
          let arg = 0;
          for (let c = 1; c < k; c++) if (final.logits[i * k + c]! > final.logits[i * k + arg]!) arg = c;
          right += arg === labels[i]! ? 1 : 0;
          count++;
        }
        return count === 0 ? null : +(right / count).toFixed(6);
      };
      ctx.metric('train_acc', accuracy('train'));
      ctx.metric('dev_acc', accuracy('dev'));
      ctx.metric('test_acc', accuracy('test'));
      ctx.metric('best_epoch', r.bestEpoch);
      ctx.metric('epochs_run', r.curves.length);
      // (Throughput is logged, not a metric: conno.lock must hold only what the inputs determine.)
      ctx.log(
        `${backend.name}: ${r.curves.length} epochs, ${r.secondsPerEpoch.toFixed(2)} s/epoch, ${r.samplesPerSecond.toFixed(1)} samples/s; ` +
          `best epoch ${r.bestEpoch}; test accuracy ${accuracy('test') ?? 'n/a'}`,
      );
    } finally {
      r.model.dispose();
    }
  },
});

/** Each row's difficulty for the curriculum, from the scores output it names (./curriculum.ts). */
async function curriculumDifficulty(
  ctx: StageContext<TrainParams>,
  read: typeof import('../../src/core/arrow/io.js').readTableFile,
  clipIds: readonly string[],
  splits: readonly string[],
): Promise<Float64Array> {
  const C = await import('./curriculum.js');
  const c = ctx.params.curriculum!;
  const input = C.scoresInput(ctx.inputs, c);
  const t = read(input.path);
  const where = `${input.from}:scores`;
  const strings = (name: string): string[] => {
    const col = t.getChild(name);
    if (col === null) throw new Error(`${where} has no column '${name}'`);
    return Array.from({ length: t.numRows }, (_, i) => String(col.get(i)));
  };
  const numeric = t.schema.fields.filter((f) => t.numRows > 0 && typeof t.getChild(f.name)!.get(0) === 'number').map((f) => f.name);
  const score = (name: string) => (numeric.includes(name) ? Float64Array.from({ length: t.numRows }, (_, i) => t.getChild(name)!.get(i) as number) : null);
  const r = C.difficultyOfRows({ run: strings('run'), clip: strings('clip_id'), columns: numeric, score }, c, clipIds, splits, where);
  ctx.log(`curriculum: ${c.order} by ${c.score} of run '${r.run}' (${where}); ${c.pacing} pacing from ${c.start} of the train split to all of it at ${c.saturate} of the epochs`);
  return r.difficulty;
}

/** A clip table as the waveform stage would write it (every clip padded to the longest). */
async function clipsAsWaveforms(file: string, log: (m: string) => void): Promise<import('apache-arrow').Table> {
  const { readClips } = await import('../../src/lab/audio/clips.js');
  const { waveformTable } = await import('../../src/lab/audio/waveform.js');
  const { table, matrix, rate } = await waveformTable(readClips(file), 'max');
  log(`waveforms of the clip table: [1, ${matrix.samples}] at ${rate} Hz (${matrix.padded} padded)`);
  return table;
}
