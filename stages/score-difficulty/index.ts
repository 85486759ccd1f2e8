/**
 * score-difficulty: per-sample difficulty scores of the training set of every upstream train
 * instance (a "run"), how well each finds the injected label flips, and how stable they are.
 * Formulas and orientation (higher = harder) in src/lab/difficulty/scores.ts.
 *
 * Inputs: every train instance it needs (fan-in). Train instances with `cv` (their predictions
 * carry cv_heldout) are not runs: grouped by everything but the fold key (`cv_key`), they give
 * each matching run its cv_loss and out-of-sample probabilities for confident learning. A
 * `features` upstream enables prediction depth; `teacher` names the instance whose embeddings
 * the transfer teacher is fitted on.
 *
 * Outputs (Arrow):
 *   scores        one row per (run, train clip): run, clip_id, label, label_orig, flipped, one
 *                 float64 column per score (NaN where not computable), cl_issue (bool); rows of
 *                 the ensembles (run `ensemble…`) follow those of the runs
 *   summary       one row per (run, score): run, score, auroc, auprc, n, n_flipped
 *   correlations  score_a, run_a, score_b, run_b, spearman, kendall, n: every pair of scores within
 *                 each run and ensemble, and each score between every pair of runs
 */
import { createRequire } from 'node:module';
import { defineStage } from '../../src/core/stage/api.js';
import { ScoreDifficultyParamsSchema } from './params.js';
import { SCORE_NAMES, type ScoreName } from '../../src/lab/difficulty/scores.js';
import { checkScoreDifficulty } from './check.js';

const tfjsVersion = (): string => (createRequire(import.meta.url)('@tensorflow/tfjs-core/package.json') as { version: string }).version;

export const stage = defineStage({
  version: 1,
  description: 'Per-sample difficulty scores (loss, forgetting, AUM, EL2N, CV loss, prediction depth, transfer teacher, confident learning), their AUROC against the flipped labels and their stability.',
  params: ScoreDifficultyParamsSchema,
  outputs: ['scores', 'summary', 'correlations'],
  // Prediction depth runs the models on a TensorFlow.js backend.
  environment: (p) => ({ backend: p.backend, 'tfjs-core': tfjsVersion() }),
  check: checkScoreDifficulty,
  async run(ctx) {
    const { makeTable, writeTableFile } = await import('../../src/core/arrow/io.js');
    const { instanceId } = await import('../../src/core/pipeline/ids.js');
    const { unreachable } = await import('../../src/core/util/errors.js');
    const S = await import('../../src/lab/difficulty/scores.js');
    const { fitSoftmaxRegression, softmaxRows } = await import('../../src/lab/difficulty/linear.js');
    const E = await import('../../src/lab/difficulty/evaluate.js');
    const { epochDynamics } = await import('../../src/lab/ml/dynamics.js');
    const I = await import('./inputs.js');
    const p = ctx.params;
    const wanted: readonly ScoreName[] = p.scores ?? SCORE_NAMES;

    // ---- runs and cross-validation groups
    const instances = I.groupInstances(ctx.inputs);
    const trainInstances = instances.filter((i) => i.outputs.has('dynamics'));
    if (trainInstances.length === 0) {
      throw new Error(`score-difficulty needs upstream train instances (e.g. needs: [train]); got ${instances.map((i) => i.id).join(', ') || 'none'}`);
    }
    const cvInstances = trainInstances.filter(I.isCrossValidation);
    const plain = trainInstances.filter((i) => !cvInstances.includes(i));
    const cvGroups = I.readCvGroups(cvInstances, p.cv_key, instanceId);
    const runs = plain.length > 0 ? plain.map(I.readRun) : cvGroups.map(I.runOfCvGroup);
    if (plain.length === 0) ctx.log(`only cross-validation instances upstream: scoring their groups ${cvGroups.map((g) => g.id).join(', ')} (cv_loss and cleanlab)`);
    ctx.log(`${runs.length} run(s): ${runs.map((r) => `${r.id} (${r.clipIds.length} clips, ${r.flipped.filter(Boolean).length} flipped)`).join('; ')}`);

    /** A score that cannot be computed: an error when the user listed it, else NaN and one log line. */
    const told = new Set<string>();
    const unavailable = (score: ScoreName, run: string, why: string): Float64Array | null => {
      if (p.scores !== null) throw new Error(`score-difficulty: score '${score}' (param scores) cannot be computed for ${run}: ${why}`);
      const line = `${score}: ${why}; NaN`;
      if (!told.has(line)) ctx.log(line);
      told.add(line);
      return null;
    };

    const sameKeys = (a: Record<string, unknown>, b: Record<string, unknown>) => Object.keys(a).every((k) => k === p.cv_key || !(k in b) || a[k] === b[k]);
    const cvGroupOf = (run: (typeof runs)[number]) => {
      if (plain.length === 0) return cvGroups.find((g) => g.id === run.id)!;
      const matches = cvGroups.filter((g) => sameKeys(g.item, run.item));
      if (matches.length > 1) throw new Error(`score-difficulty: run ${run.id} matches several cross-validation groups (${matches.map((g) => g.id).join(', ')}); give them a matrix key the run has too`);
      return matches[0] ?? null;
    };

    const featureInputs = ctx.inputs.filter((i) => i.output === 'features');
    // Each run's features: the upstream table whose matrix values agree with the run's on every
    // key both have (train@noise=0.2,loss=ce ← features@noise=0.2).
    const featuresFor = (run: { id: string; item: Record<string, unknown> }) => {
      const agree = featureInputs.filter((f) => Object.keys(f.item).every((key) => !(key in run.item) || f.item[key] === run.item[key]));
      if (agree.length !== 1) {
        const which = agree.length === 0 ? 'none' : agree.map((f) => f.from).join(', ');
        throw new Error(`score-difficulty: prediction depth of ${run.id} needs the one features table its matrix values agree with; found ${which} (of ${featureInputs.map((i) => i.from).join(', ')})`);
      }
      return agree[0]!;
    };
    let backendStarted = false;
    const teacherInstance = p.teacher === null ? null : instances.find((i) => i.id === p.teacher && i.outputs.has('embeddings'));
    if (teacherInstance === undefined) {
      const have = instances.filter((i) => i.outputs.has('embeddings')).map((i) => i.id);
      throw new Error(`teacher: '${p.teacher}' is not an upstream instance with embeddings; add it to needs (upstream with embeddings: ${have.join(', ') || 'none'})`);
    }
    const teacherFits = new Map<string, Float64Array>();

    // ---- scores of every run
    const scored = [];
    for (const run of runs) {
      const n = run.clipIds.length;
      const k = run.classes.length;
      const d = run.dynamics;
      const cv = cvGroupOf(run);
      let cvLogits: Float32Array | null = null;
      let cvCovered = 0;
      if (cv) {
        cvLogits = new Float32Array(n * k).fill(NaN);
        run.clipIds.forEach((clip, i) => {
          const h = cv.heldout.get(clip);
          if (!h) return;
          if (h.label !== run.labels[i]) throw new Error(`score-difficulty: ${h.from} gives clip ${clip} label ${h.label}, run ${run.id} label ${run.labels[i]}; cross-validation must see the run's labels`);
          cvLogits!.set(h.logits, i * k);
          cvCovered++;
        });
        if (cvCovered < n) ctx.log(`${run.id}: cross-validation ${cv.id} holds out ${cvCovered} of ${n} clips (a fold missing?); cv_loss is NaN for the others`);
      }
      const values = new Map<ScoreName, Float64Array | null>();
      let clIssue = new Array<boolean>(n).fill(false);
      const fromDynamics = (score: ScoreName, f: (dyn: NonNullable<typeof d>) => Float64Array) =>
        d ? f(d) : unavailable(score, run.id, 'no training dynamics (a cross-validation group only)');
      for (const score of wanted) {
        switch (score) {
          case 'final_loss':
            values.set(score, fromDynamics(score, S.finalLoss));
            break;
          case 'cum_acc':
            values.set(score, fromDynamics(score, S.cumulativeError));
            break;
          case 'first_learned':
            values.set(score, fromDynamics(score, S.firstLearned));
            break;
          case 'forgetting':
            values.set(score, fromDynamics(score, S.forgettingEvents));
            break;
          case 'aum':
            values.set(score, fromDynamics(score, S.negativeAum));
            break;
          case 'el2n':
            values.set(
              score,
              fromDynamics(score, (dyn) =>
                p.el2n_epoch < dyn.epochs ? S.el2n(dyn, p.el2n_epoch) : (unavailable(score, run.id, `el2n_epoch ${p.el2n_epoch} was not recorded (epochs 0–${dyn.epochs - 1})`) ?? new Float64Array(n).fill(NaN)),
              ),
            );
            break;
          case 'cv_loss': {
            if (!cvLogits) {
              values.set(score, unavailable(score, run.id, `no cross-validation instances (train with cv, a matrix over '${p.cv_key}') match it`));
              break;
            }
            const loss = epochDynamics(cvLogits, k, run.labels, run.labels).loss;
            values.set(score, Float64Array.from(run.clipIds, (_, i) => (Number.isNaN(cvLogits![i * k]!) ? NaN : loss[i]!)));
            break;
          }
          case 'prediction_depth': {
            if (featureInputs.length === 0) {
              values.set(score, unavailable(score, run.id, 'no features upstream (add the features stage to needs)'));
              break;
            }
            if (!run.model) {
              values.set(score, unavailable(score, run.id, 'no model output'));
              break;
            }
            if (!backendStarted) {
              const { initBackend } = await import('../../src/lab/ml/backend.js');
              await initBackend(p.backend);
              backendStarted = true;
            }
            const { modelPredictionDepth } = await import('./depth.js');
            const feats = featuresFor(run);
            const x = I.trainRowsOf(feats.path, 'features', run.clipIds, `${feats.from}:features`);
            const r = await modelPredictionDepth(run.model, x.values, n, run.labels, { k: p.knn_k, probeDims: p.probe_dims, batchSize: p.eval_batch_size });
            ctx.log(`${run.id}: prediction depth on ${r.probes.length} probes (${r.probes.map((q) => `${q.name}: ${q.dims}`).join(', ')})`);
            values.set(score, r.depth);
            break;
          }
          case 'transfer_teacher': {
            if (!teacherInstance) {
              values.set(score, unavailable(score, run.id, 'no teacher (param teacher)'));
              break;
            }
            const key = `${run.clipIds.join('\n')}\n${run.labels.join(',')}`;
            let margin = teacherFits.get(key);
            if (!margin) {
              const emb = I.trainRowsOf(teacherInstance.outputs.get('embeddings')!, 'embedding', run.clipIds, `${teacherInstance.id}:embeddings`);
              const z = standardized(emb.values, n, emb.size);
              const fit = fitSoftmaxRegression(z, n, emb.size, run.labels, k, { l2: p.teacher_l2 });
              ctx.log(`${run.id}: transfer teacher ${teacherInstance.id} (${emb.size}-d embeddings), L-BFGS ${fit.iterations} iterations${fit.converged ? '' : ' (not converged)'}`);
              margin = S.negativeMargin(fit.predictLogits(z, n), run.labels, k);
              teacherFits.set(key, margin);
            }
            values.set(score, margin);
            break;
          }
          case 'cleanlab': {
            let probs: Float64Array | null = null;
            if (cvLogits && cvCovered === n) {
              probs = softmaxRows(cvLogits, n, k);
            } else if (d) {
              ctx.log(`${run.id}: cleanlab on the last epoch's in-sample probabilities (no complete cross-validation)`);
              probs = softmaxRows(d.logits.subarray((d.epochs - 1) * n * k), n, k);
            }
            if (!probs) {
              values.set(score, unavailable(score, run.id, 'no probabilities'));
              break;
            }
            const cl = S.confidentLearning(probs, run.labels, k);
            clIssue = cl.issue;
            values.set(score, cl.selfConfidence);
            break;
          }
          default:
            unreachable(score);
        }
      }
      const scores = new Map<string, Float64Array>(wanted.map((s) => [s, values.get(s) ?? new Float64Array(n).fill(NaN)]));
      scored.push({ run, scored: { id: run.id, clipIds: run.clipIds, flipped: run.flipped, scores }, clIssue });
    }

    // ---- ensembles: runs equal in every matrix key but `ensemble_over`
    const groups = new Map<string, typeof scored>();
    const stages = new Set(runs.map((r) => r.stage));
    for (const s of scored) {
      const name = instanceId(stages.size > 1 ? `ensemble-${s.run.stage}` : 'ensemble', I.without(s.run.item, p.ensemble_over));
      groups.set(name, [...(groups.get(name) ?? []), s]);
    }
    const ensembles = [];
    for (const [name, members] of groups) {
      if (members.length < 2) continue;
      const clipIds: string[] = [];
      const at = new Map<string, number>();
      const label: number[] = [];
      const labelOrig: number[] = [];
      for (const m of members) {
        m.run.clipIds.forEach((c, i) => {
          const j = at.get(c);
          if (j === undefined) {
            at.set(c, clipIds.length);
            clipIds.push(c);
            label.push(m.run.labels[i]!);
            labelOrig.push(m.run.labelsOrig[i]!);
          } else if (label[j] !== m.run.labels[i]) {
            throw new Error(
              `score-difficulty: runs ${members[0]!.run.id} and ${m.run.id} of ensemble ${name} give clip ${c} different labels; ` +
                `ensembles average runs of the same labels: set ensemble_over to the matrix keys that only vary the training seed (now [${p.ensemble_over.join(', ')}])`,
            );
          }
        });
      }
      const aligned = (m: (typeof members)[number], values: Float64Array) => {
        const out = new Float64Array(clipIds.length).fill(NaN);
        m.run.clipIds.forEach((c, i) => (out[at.get(c)!] = values[i]!));
        return out;
      };
      const scores = new Map(wanted.map((s) => [s as string, S.ensembleMean(members.map((m) => aligned(m, m.scored.scores.get(s)!)))]));
      const votes = new Array<number>(clipIds.length).fill(0);
      const present = new Array<number>(clipIds.length).fill(0);
      for (const m of members) {
        m.run.clipIds.forEach((c, i) => {
          present[at.get(c)!]!++;
          if (m.clIssue[i]) votes[at.get(c)!]!++;
        });
      }
      ensembles.push({
        scored: { id: name, clipIds, flipped: clipIds.map((_, i) => label[i] !== labelOrig[i]), scores },
        label: Int32Array.from(label),
        labelOrig: Int32Array.from(labelOrig),
        clIssue: votes.map((v, i) => v > present[i]! / 2), // a majority of the runs
      });
      ctx.log(`${name}: mean of ${members.map((m) => m.run.id).join(', ')}`);
    }

    // ---- outputs
    const all = [
      ...scored.map((s) => ({ scored: s.scored, label: s.run.labels, labelOrig: s.run.labelsOrig, clIssue: s.clIssue })),
      ...ensembles,
    ];
    const rows = all.flatMap((r) => r.scored.clipIds.map((_, i) => ({ r, i })));
    const classes = runs[0]!.classes;
    await writeTableFile(
      ctx.outPath('scores'),
      makeTable(
        [
          ['run', { type: 'utf8', values: rows.map(({ r }) => r.scored.id) }],
          ['clip_id', { type: 'utf8', values: rows.map(({ r, i }) => r.scored.clipIds[i]!) }],
          ['label', { type: 'int32', values: Int32Array.from(rows, ({ r, i }) => r.label[i]!) }],
          ['label_orig', { type: 'int32', values: Int32Array.from(rows, ({ r, i }) => r.labelOrig[i]!) }],
          ['flipped', { type: 'bool', values: rows.map(({ r, i }) => r.scored.flipped[i]!) }],
          ...wanted.map((s) => [s, { type: 'float64' as const, values: Float64Array.from(rows, ({ r, i }) => r.scored.scores.get(s)![i]!) }] as const),
          ['cl_issue', { type: 'bool', values: rows.map(({ r, i }) => r.clIssue[i]!) }],
        ],
        { 'conno.classes': JSON.stringify(classes), 'conno.orientation': 'higher = harder / more likely mislabelled' },
      ),
    );

    const summary = all.flatMap((r) => E.summarize(r.scored));
    await writeTableFile(
      ctx.outPath('summary'),
      makeTable([
        ['run', { type: 'utf8', values: summary.map((s) => s.run) }],
        ['score', { type: 'utf8', values: summary.map((s) => s.score) }],
        ['auroc', { type: 'float64', values: Float64Array.from(summary, (s) => s.auroc) }],
        ['auprc', { type: 'float64', values: Float64Array.from(summary, (s) => s.auprc) }],
        ['n', { type: 'int32', values: Int32Array.from(summary, (s) => s.n) }],
        ['n_flipped', { type: 'int32', values: Int32Array.from(summary, (s) => s.n_flipped) }],
      ]),
    );

    const correlations = [...all.flatMap((r) => E.withinRunCorrelations(r.scored)), ...E.acrossRunCorrelations(scored.map((s) => s.scored))];
    await writeTableFile(
      ctx.outPath('correlations'),
      makeTable([
        ['score_a', { type: 'utf8', values: correlations.map((c) => c.score_a) }],
        ['run_a', { type: 'utf8', values: correlations.map((c) => c.run_a) }],
        ['score_b', { type: 'utf8', values: correlations.map((c) => c.score_b) }],
        ['run_b', { type: 'utf8', values: correlations.map((c) => c.run_b) }],
        ['spearman', { type: 'float64', values: Float64Array.from(correlations, (c) => c.spearman) }],
        ['kendall', { type: 'float64', values: Float64Array.from(correlations, (c) => c.kendall) }],
        ['n', { type: 'int32', values: Int32Array.from(correlations, (c) => c.n) }],
      ]),
    );

    // ---- metrics: each score's mean AUROC / AUPRC over the runs, and over the ensembles apart
    const mean = (xs: number[]) => {
      const f = xs.filter(Number.isFinite);
      return f.length === 0 ? null : +(f.reduce((a, b) => a + b, 0) / f.length).toFixed(6);
    };
    const runIds = new Set(scored.map((s) => s.run.id));
    const ofRuns = summary.filter((s) => runIds.has(s.run));
    for (const s of wanted) {
      ctx.metric(`auroc_${s}`, mean(ofRuns.filter((r) => r.score === s).map((r) => r.auroc)));
      ctx.metric(`auprc_${s}`, mean(ofRuns.filter((r) => r.score === s).map((r) => r.auprc)));
    }
    if (ensembles.length > 0) {
      const ofEnsembles = ensembles.flatMap((e) => E.summarize(e.scored));
      for (const s of wanted) ctx.metric(`ensemble_auroc_${s}`, mean(ofEnsembles.filter((r) => r.score === s).map((r) => r.auroc)));
    }
    if (wanted.includes('cleanlab')) {
      // How well confident learning's bool verdict finds the flips (precision NaN → null when nothing is flagged).
      const precision: number[] = [];
      const recall: number[] = [];
      for (const s of scored) {
        const flagged = s.clIssue.filter(Boolean).length;
        const hit = s.clIssue.filter((f, i) => f && s.run.flipped[i]).length;
        const flips = s.run.flipped.filter(Boolean).length;
        precision.push(flagged > 0 ? hit / flagged : NaN);
        recall.push(flips > 0 ? hit / flips : NaN);
        ctx.log(`${s.run.id}: cl_issue flags ${flagged} clips, ${hit} of the ${flips} flipped`);
      }
      ctx.metric('cl_issue_precision', mean(precision));
      ctx.metric('cl_issue_recall', mean(recall));
    }
    ctx.metric('runs', scored.length);
    for (const r of ofRuns) if (Number.isFinite(r.auroc)) ctx.log(`${r.run}: ${r.score} AUROC ${r.auroc.toFixed(3)}, AUPRC ${r.auprc.toFixed(3)}`);
  },
});

/** Each column of x [n × d] to zero mean and unit variance (constant columns to 0), in float64. */
function standardized(x: Float32Array, n: number, d: number): Float64Array {
  const out = new Float64Array(n * d);
  for (let j = 0; j < d; j++) {
    let m = 0;
    for (let i = 0; i < n; i++) m += x[i * d + j]!;
    m /= n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (x[i * d + j]! - m) ** 2;
    const sd = Math.sqrt(v / n);
    for (let i = 0; i < n; i++) out[i * d + j] = sd > 0 ? (x[i * d + j]! - m) / sd : 0;
  }
  return out;
}
