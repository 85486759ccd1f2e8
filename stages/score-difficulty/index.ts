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
import { defineStage } from '../../src/core/stage/api.js';
import { backendEnvironment } from '../../src/lab/ml/backend.js';
import { ScoreDifficultyParamsSchema } from './params.js';
import { SCORE_NAMES, type ScoreName } from '../../src/lab/difficulty/scores.js';
import { checkScoreDifficulty } from './check.js';

export const stage = defineStage({
  version: 1,
  description: 'Per-sample difficulty scores (loss, forgetting, AUM, EL2N, CV loss, prediction depth, transfer teacher, confident learning), their AUROC against the flipped labels and their stability.',
  params: ScoreDifficultyParamsSchema,
  outputs: ['scores', 'summary', 'correlations'],
  // Prediction depth runs the models on a TensorFlow.js backend.
  environment: (p, env) => backendEnvironment(p.backend, env),
  check: checkScoreDifficulty,
  async run(ctx) {
    const { scoreRuns } = await import('./scoring.js');
    const { ensemblesOf } = await import('./ensembles.js');
    const { writeOutputs } = await import('./outputs.js');
    const wanted: readonly ScoreName[] = ctx.params.scores ?? SCORE_NAMES;
    const { runs, scored } = await scoreRuns(ctx, wanted);
    const ensembles = ensemblesOf(runs, scored, wanted, ctx.params.ensemble_over, (m) => ctx.log(m));
    await writeOutputs(ctx, runs, scored, ensembles, wanted);
  },
});
