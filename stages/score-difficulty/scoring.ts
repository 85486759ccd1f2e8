/**
 * The scores of each run (src/lab/difficulty/scores.ts), from its training dynamics, its
 * cross-validation group, its model (prediction depth) or a teacher's embeddings. Loaded inside
 * the stage's `run` (it reads Arrow tables and may start TensorFlow.js).
 */
import type { StageContext } from '../../src/core/stage/api.js';
import { instanceId } from '../../src/core/pipeline/ids.js';
import { unreachable } from '../../src/core/util/errors.js';
import * as S from '../../src/lab/difficulty/scores.js';
import { fitSoftmaxRegression, softmaxRows } from '../../src/lab/difficulty/linear.js';
import { epochDynamics } from '../../src/lab/ml/dynamics.js';
import * as I from './inputs.js';
import type { ScoreName } from '../../src/lab/difficulty/scores.js';
import type { ScoreDifficultyParams } from './params.js';

export type Run = ReturnType<typeof I.readRun>;
export interface ScoredRun {
  run: Run;
  scored: { id: string; clipIds: string[]; flipped: boolean[]; scores: Map<string, Float64Array> };
  clIssue: boolean[];
}

/** Every run's scores, in the order of the runs. */
export async function scoreRuns(ctx: Pick<StageContext<ScoreDifficultyParams>, 'params' | 'inputs' | 'log' | 'environment'>, wanted: readonly ScoreName[]): Promise<{ runs: Run[]; scored: ScoredRun[] }> {
  const p = ctx.params;
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


  const scored: ScoredRun[] = [];
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
            await initBackend(p.backend, ctx.environment);
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
  return { runs, scored };
}

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
