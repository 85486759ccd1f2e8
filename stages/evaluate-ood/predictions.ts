/**
 * evaluate-ood of a run known by its predictions alone: a command stage that trained elsewhere
 * (PyTorch, …) and wrote `predictions` (`outs: [{ path, as: predictions }]`) for every sample of
 * every split. Each split is scored from its logits as a model's would be (patches of a clip
 * averaged in logit space); with a features table paired with the run, its rows and labels are
 * checked against the predictions first, so that a script cannot grade itself on other labels.
 * Saliency and the representation tables stay empty (they need the model).
 */
import { flatFloat32, readTableFile } from '../../src/core/arrow/io.js';
import type { StageContext } from '../../src/core/stage/api.js';
import { evaluateSet } from '../../src/lab/eval/metrics.js';
import { defaultSplits, groupByClip, meanLogitsByClip, snrOfSplit } from '../../src/lab/eval/sets.js';
import { softmaxRows } from '../../src/lab/difficulty/linear.js';
import type { PredictionInputs } from './inputs.js';
import type { EvaluateOodParams } from './params.js';
import { readRowIdentity } from './tables.js';
import { noRepresentation, noSaliency, reportSet, writeRepresentation, writeSaliency, writeSetResults, type SetResult } from './write.js';

export async function evaluatePredictions(ctx: StageContext<EvaluateOodParams>, src: PredictionInputs): Promise<void> {
  const p = ctx.params;
  const run = src.predictions.from;
  const where = `${run}:predictions`;
  const table = readTableFile(src.predictions.path);
  const preds = readRowIdentity(table, where);
  const { classes } = preds;
  const k = classes.length;
  const logits = flatFloat32(table, 'logits').values;
  ctx.log(`predictions of ${run} (${k} classes, ${preds.clipIds.length} rows): no model to run, every split scored from its logits`);

  const present = [...new Set(preds.splits)];
  const splits = p.splits === 'auto' ? defaultSplits(present) : p.splits;
  for (const s of splits) if (!present.includes(s)) throw new Error(`splits: '${s}' is not a split of ${where} (its splits: ${present.join(', ')})`);

  if (src.features) {
    const fwhere = `${src.features.from}:features`;
    const feats = readRowIdentity(readTableFile(src.features.path), fwhere);
    if (JSON.stringify(feats.classes) !== JSON.stringify(classes)) throw new Error(`${where} has classes [${classes.join(', ')}], but ${fwhere} has [${feats.classes.join(', ')}]`);
    const labelOf = new Map<string, number>();
    feats.clipIds.forEach((id, i) => labelOf.set(`${feats.splits[i]}\u0000${id}`, feats.labels[i]!));
    for (const s of splits) {
      const mine = preds.splits.filter((x) => x === s).length;
      const theirs = feats.splits.filter((x) => x === s).length;
      if (mine !== theirs) throw new Error(`${where} has ${mine} rows of split '${s}', ${fwhere} has ${theirs}: the predictions must cover every row of the table the run was given`);
    }
    preds.clipIds.forEach((id, i) => {
      if (!splits.includes(preds.splits[i]!)) return;
      const want = labelOf.get(`${preds.splits[i]}\u0000${id}`);
      if (want === undefined) throw new Error(`${where} row ${i}: clip ${id} of split '${preds.splits[i]}' is not in ${fwhere}`);
      if (want !== preds.labels[i]) throw new Error(`${where} row ${i}: clip ${id} has label ${classes[preds.labels[i]!] ?? preds.labels[i]}, ${fwhere} says ${classes[want]}`);
    });
    ctx.log(`checked against ${fwhere}: the same rows and labels in ${splits.join(', ')}`);
  } else {
    ctx.log(`no features table pairs with ${run}: its predictions' own labels are taken as given (nothing to check them against)`);
  }

  const results: SetResult[] = [];
  for (const split of splits) {
    const rows = preds.splits.flatMap((s, i) => (s === split ? [i] : []));
    const clips = groupByClip(rows.map((r) => preds.clipIds[r]!));
    const z = new Float32Array(rows.length * k);
    rows.forEach((r, j) => z.set(logits.subarray(r * k, (r + 1) * k), j * k));
    const y = Int32Array.from(clips.firstRow, (j) => preds.labels[rows[j]!]!);
    const m = evaluateSet(y, softmaxRows(meanLogitsByClip(clips, z, k), y.length, k), k);
    results.push({ name: split, from: src.features?.from ?? run, split, snr: snrOfSplit(split), m });
    reportSet(ctx, results[results.length - 1]!);
  }
  await writeSetResults(ctx, results, classes, run, p.normalization);

  // No model: no maps, no probe, no CKA (asking for them is an error at analysis).
  await writeSaliency(ctx, noSaliency(), [1, 1], classes, run, p.saliency);
  await writeRepresentation(ctx, noRepresentation(), run);
}
