/**
 * evaluate-ood: one trained model (a train instance's `model` output, paired by matrix keys) on
 * in-domain, noisy, held-out and other-dataset sets; how its representation transfers (a linear
 * probe) and compares with other runs' (linear CKA); and where it looks (saliency maps).
 *
 * Sets: by default every split of the features table the model was trained from except train and
 * dev — `test`, the noisy copies `test@snr=…` (inject-noise `data.test_copies`) and `holdout`
 * (download `holdout:`); `sets:` adds splits of other feature tables through a class mapping. Rows
 * of one clip (feature patches) are scored together: the mean of their logits.
 *
 * Outputs (Arrow):
 *   metrics         one row per set: set, snr_db (NaN unless a noisy copy), n (clips), accuracy, uar,
 *                   macro_f1, nll, ece (src/lab/eval/metrics.ts), from (features instance), split
 *   confusion       set, true_class, predicted_class (class names), count (int32): every cell of
 *                   every set's K × K matrix, zeros included
 *   saliency        set, clip_id, label, predicted (class names), p_label (float64), map and
 *                   spectrogram (FixedSizeList<Float32>, shape [n_mels, frames] in conno.shape);
 *                   schema metadata conno.saliency (method, patch, stride)
 *   representation  kind ('probe' | 'cka'), other (probe table or other train instance), value
 *                   (probe test accuracy | linear CKA), n (samples)
 */
import { defineStage } from '../../src/core/stage/api.js';
import { backendEnvironment } from '../../src/lab/ml/backend.js';
import { EvaluateOodParamsSchema } from './params.js';
import { resolveInputs } from './inputs.js';
import { checkEvaluateOod } from './check.js';

const round6 = (v: number): number | null => (Number.isFinite(v) ? +v.toFixed(6) : null);

export const stage = defineStage({
  version: 1,
  description: 'Evaluate a trained model on clean, noisy, held-out and other-dataset sets; linear probe, CKA and saliency maps.',
  params: EvaluateOodParamsSchema,
  outputs: ['metrics', 'confusion', 'saliency', 'representation'],
  // Inference numerics differ between backends (and tfjs versions).
  environment: (p, env) => backendEnvironment(p.backend, env),
  check: checkEvaluateOod,
  async run(ctx) {
    const { readTableFile } = await import('../../src/core/arrow/io.js');
    const { writeSetResults, reportSet, writeSaliency, writeRepresentation, noSaliency, noRepresentation } = await import('./write.js');
    const { initBackend } = await import('../../src/lab/ml/backend.js');
    const { loadTrainedModel } = await import('../../src/lab/ml/load.js');
    const { readFeatureTable, gatherRows, rowsOfSplit, checkShape, bandMeans, readBandStats, restandardise } = await import('./tables.js');
    const { MIN_STD } = await import('../features/params.js');
    const { runModel, probabilityFn, gradientSaliency } = await import('../../src/lab/eval/model.js');
    const M = await import('../../src/lab/eval/metrics.js');
    const S = await import('../../src/lab/eval/sets.js');
    const { occlusionMap, pickSaliencyRows } = await import('../../src/lab/eval/saliency.js');
    const { linearCka } = await import('../../src/lab/eval/cka.js');
    const { softmaxRows } = await import('../../src/lab/difficulty/linear.js');
    const { linearProbe } = await import('../../src/lab/eval/probe.js');
    const p = ctx.params;

    const src = resolveInputs(ctx.inputs, ctx.item, p, ctx.id);
    if (src.model === undefined) {
      const { evaluatePredictions } = await import('./predictions.js');
      await evaluatePredictions(ctx, src);
      return;
    }
    await initBackend(p.backend, ctx.environment);
    const trained = await loadTrainedModel(src.model.path);
    const others: { id: string; model: Awaited<ReturnType<typeof loadTrainedModel>> }[] = [];
    try {
      const classes = trained.classes;
      const k = classes.length;
      const own = readFeatureTable(src.features);
      const shape = checkShape(own, trained.inputShape, src.model.from);
      if (JSON.stringify(own.classes) !== JSON.stringify(classes)) {
        throw new Error(`${src.features.from}:features has classes [${own.classes.join(', ')}], but ${src.model.from} was trained on [${classes.join(', ')}]; name its table with \`features:\``);
      }
      if (src.predictions) {
        const seen = readTableFile(src.predictions.path).getChild('clip_id')!;
        const same = seen.length === own.n && own.clipIds.every((id, i) => seen.get(i) === id);
        if (!same) throw new Error(`${src.model.from} was not trained on ${src.features.from}:features (its predictions cover other rows); name the right table with \`features:\``);
      }
      ctx.log(`model ${src.model.from} (${trained.config.name}, ${k} classes, input [${shape.join(', ')}]) on ${src.features.from}:features (${own.n} rows)`);
      const logitsOf = async (x: Float32Array, n: number) => (await runModel(trained.model, x, n, shape, k, p.batch_size)).logits;

      // ---- the sets: splits of the model's own table, then other tables through a class map
      const ownSplits = p.splits === 'auto' ? S.defaultSplits(own.splits) : p.splits;
      for (const s of ownSplits) if (!own.splits.includes(s)) throw new Error(`splits: '${s}' is not a split of ${src.features.from}:features (its splits: ${[...new Set(own.splits)].join(', ')})`);
      // Other tables, standardised by their own features stage, see the model's training
      // statistics instead (normalization: train): what a deployed model would be given.
      const statsOf = (from: string) => {
        const input = ctx.inputs.find((i) => i.from === from && i.output === 'stats');
        if (!input) throw new Error(`${from} has no 'stats' output to standardise with: evaluate with normalization: per_set`);
        return readBandStats(input);
      };
      const asTrained = (table: typeof own): typeof own => {
        if (p.normalization === 'per_set' || table.from === own.from || !table.normalize) return table;
        if (!own.normalize) throw new Error(`${table.from}:features is standardised and ${src.features.from}:features is not: make both with the same normalize`);
        ctx.log(`${table.from}: standardised with ${src.features.from}'s statistics (normalization: train)`);
        return restandardise(table, statsOf(table.from), statsOf(src.features.from), table.pad === 'zero', MIN_STD);
      };
      const identity = Int32Array.from(classes, (_, i) => i);
      const sets: { name: string; table: typeof own; split: string; mapping: Int32Array }[] = ownSplits.map((split) => ({ name: split, table: own, split, mapping: identity }));
      for (const [name, set] of Object.entries(p.sets)) {
        if (ownSplits.includes(name)) throw new Error(`sets.${name}: the name is already a split evaluated from ${src.features.from}:features; choose another`);
        const table = asTrained(readFeatureTable(src.tables.get(set.from)!));
        checkShape(table, trained.inputShape, src.model.from);
        if (!table.splits.includes(set.split)) throw new Error(`sets.${name}.split: '${set.split}' is not a split of ${table.from}:features (its splits: ${[...new Set(table.splits)].join(', ')})`);
        sets.push({ name, table, split: set.split, mapping: S.classMapping(table.classes, classes, set.class_map, `sets.${name}.class_map`) });
      }
      if (sets.length === 0) ctx.log('no sets to evaluate (the table has only train and dev splits)');

      // ---- metrics and confusion of each set
      const results: { name: string; from: string; split: string; snr: number; m: ReturnType<typeof M.evaluateSet> }[] = [];
      for (const set of sets) {
        const inSplit = rowsOfSplit(set.table, set.split);
        const rows = inSplit.filter((r) => set.mapping[set.table.labels[r]!]! >= 0);
        const dropped = inSplit.length - rows.length;
        if (dropped > 0) {
          const gone = set.table.classes.filter((_, c) => set.mapping[c]! < 0);
          ctx.log(`${set.name}: ${dropped} of ${inSplit.length} rows dropped: their classes map to none of the model's (${gone.join(', ')})`);
        }
        if (rows.length === 0) throw new Error(`${set.name}: no rows of ${set.table.from}:${set.split} have a class the model knows; give a class_map`);
        const logits = await logitsOf(gatherRows(set.table, rows), rows.length);
        const clips = S.groupByClip(rows.map((r) => set.table.clipIds[r]!));
        const y = Int32Array.from(clips.firstRow, (i) => set.mapping[set.table.labels[rows[i]!]!]!);
        const m = M.evaluateSet(y, softmaxRows(S.meanLogitsByClip(clips, logits, k), y.length, k), k);
        results.push({ name: set.name, from: set.table.from, split: set.split, snr: S.snrOfSplit(set.split), m });
        reportSet(ctx, results[results.length - 1]!);
      }
      await writeSetResults(ctx, results, classes, src.model.from, p.normalization);

      // ---- saliency maps of a few fixed clips
      const sal = noSaliency();
      const size = shape[0] * shape[1];
      if (p.saliency !== null && p.saliency.clips > 0) {
        const q = p.saliency;
        const stride = q.stride ?? q.patch;
        if (q.method === 'occlusion' && (q.patch[0] > shape[0] || q.patch[1] > shape[1])) {
          throw new Error(`saliency.patch [${q.patch.join(', ')}] does not fit the input [${shape.join(', ')}] (n_mels, frames)${shape[0] === 1 || shape[1] === 1 ? ': a waveform or an embedding has no spectrogram to occlude; set saliency: null' : ''}`);
        }
        const inSplit = rowsOfSplit(own, q.split);
        if (inSplit.length === 0) throw new Error(`saliency.split: '${q.split}' is not a split of ${src.features.from}:features (its splits: ${[...new Set(own.splits)].join(', ')})`);
        // One row per clip (its first patch when the table has patches).
        const candidates = Array.from(S.groupByClip(inSplit.map((r) => own.clipIds[r]!)).firstRow, (i) => inSplit[i]!);
        const picked = pickSaliencyRows(candidates.map((r) => own.clipIds[r]!), candidates.map((r) => own.labels[r]!), k, q.clips).map((i) => candidates[i]!);
        // The occluder: each band's mean over the train split (0 for normalised features).
        const fill = bandMeans(own, rowsOfSplit(own, 'train'));
        const predict = probabilityFn(trained.model, shape, k, p.batch_size);
        for (const r of picked) {
          const input = own.x.slice(r * size, (r + 1) * size);
          const target = own.labels[r]!;
          const out =
            q.method === 'occlusion'
              ? await occlusionMap(predict, input, shape, target, { patch: q.patch, stride, fill, batchSize: p.batch_size })
              : await gradientSaliency(trained.model, input, shape, target);
          sal.set.push(q.split);
          sal.clip.push(own.clipIds[r]!);
          sal.label.push(classes[target]!);
          sal.pred.push(classes[M.argmaxRows(out.probs, k)[0]!]!);
          sal.pLabel.push(out.probs[target]!);
          sal.maps.push(out.map);
          sal.inputs.push(input);
        }
        ctx.log(`saliency (${q.method}): ${picked.length} clips of ${q.split}: ${sal.clip.join(', ')}`);
      }
      await writeSaliency(ctx, sal, shape, classes, src.model.from, p.saliency);

      // ---- representation: a linear probe on another table, CKA with other runs
      const rep = noRepresentation();
      if (p.probe !== null) {
        const probe = p.probe;
        const table = asTrained(readFeatureTable(src.tables.get(probe.from)!));
        checkShape(table, trained.inputShape, src.model.from);
        const embed = async (split: string, param: string) => {
          const rows = rowsOfSplit(table, split);
          if (rows.length === 0) throw new Error(`probe.${param}: '${split}' is not a split of ${table.from}:features (its splits: ${[...new Set(table.splits)].join(', ')})`);
          const out = await runModel(trained.model, gatherRows(table, rows), rows.length, shape, k, p.batch_size);
          return { embeddings: out.embeddings, d: out.embeddingSize, labels: Int32Array.from(rows, (r) => table.labels[r]!) };
        };
        const tr = await embed(probe.train_split, 'train_split');
        const te = await embed(probe.test_split, 'test_split');
        const fit = linearProbe(tr, te, tr.d, table.classes.length, probe.l2);
        const acc = fit.accuracy;
        ctx.log(
          `probe on ${table.from}: ${tr.d}-d embeddings, ${tr.labels.length} train / ${te.labels.length} test rows, ${table.classes.length} classes; ` +
            `L-BFGS ${fit.iterations} iterations${fit.converged ? '' : ' (not converged)'}; accuracy ${acc.toFixed(4)}`,
        );
        rep.kind.push('probe');
        rep.other.push(table.from);
        rep.value.push(acc);
        rep.n.push(te.labels.length);
        ctx.metric('probe_acc', round6(acc));
      }
      if (p.cka !== null && src.ckaModels.length > 0) {
        const rows = rowsOfSplit(own, p.cka.split);
        if (rows.length < 2) throw new Error(`cka.split: '${p.cka.split}' has ${rows.length} rows in ${src.features.from}:features; CKA needs at least 2`);
        const x = gatherRows(own, rows);
        const mine = await runModel(trained.model, x, rows.length, shape, k, p.batch_size);
        for (const input of src.ckaModels) {
          const other = input.from === src.model.from ? trained : await loadTrainedModel(input.path);
          if (other !== trained) others.push({ id: input.from, model: other });
          checkShape(own, other.inputShape, input.from);
          const theirs = other === trained ? mine : await runModel(other.model, x, rows.length, shape, other.classes.length, p.batch_size);
          const v = linearCka(mine.embeddings, mine.embeddingSize, theirs.embeddings, theirs.embeddingSize, rows.length);
          ctx.log(`CKA with ${input.from} on ${p.cka.split} (${rows.length} rows): ${v.toFixed(4)}`);
          rep.kind.push('cka');
          rep.other.push(input.from);
          rep.value.push(v);
          rep.n.push(rows.length);
          ctx.metric(`cka_${input.from}`, round6(v));
        }
      }
      await writeRepresentation(ctx, rep, src.model.from);
    } finally {
      trained.model.dispose();
      for (const o of others) o.model.model.dispose();
    }
  },
});
