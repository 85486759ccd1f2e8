/**
 * Parameters of the score-difficulty stage: one zod schema, the single source of their types and
 * defaults. The common case (fan in every train instance, score everything computable) needs none.
 */
import { z } from 'zod';
import { BACKENDS } from '../../src/lab/ml/backend.js';
import { SCORE_NAMES } from '../../src/lab/difficulty/scores.js';

export const ScoreDifficultyParamsSchema = z.strictObject({
  scores: z
    .array(z.enum(SCORE_NAMES))
    .min(1)
    .nullable()
    .default(null)
    .describe('the score columns; null: every score, NaN where one cannot be computed (a listed score that cannot be is an error)'),
  el2n_epoch: z.number().int().nonnegative().default(1).describe("EL2N after this epoch (0-based, the dynamics' epoch column)"),
  knn_k: z.number().int().positive().default(30).describe('neighbours of the prediction-depth k-NN probes'),
  probe_dims: z
    .number()
    .int()
    .positive()
    .default(512)
    .describe('prediction depth: a probe layer is average-pooled over its spatial axes down to at most this many values (never below one per channel)'),
  teacher: z
    .string()
    .min(1)
    .nullable()
    .default(null)
    .describe('transfer teacher: the upstream train instance (e.g. "train@noise=0,seed=1") whose embeddings of the train split a linear classifier is fitted on'),
  teacher_l2: z.number().positive().default(1).describe("the teacher's L2 penalty (sklearn's 1/C) on standardised embeddings"),
  ensemble_over: z
    .array(z.string().min(1))
    .default(['seed'])
    .describe('matrix keys that only vary the training seed: runs equal in every other key are averaged into one ensemble'),
  cv_key: z.string().min(1).default('fold').describe('the matrix key that numbers the folds of cross-validation instances (train with cv)'),
  backend: z.enum(BACKENDS).default('wasm').describe('TensorFlow.js backend of the prediction-depth probes'),
  eval_batch_size: z.number().int().positive().default(256),
});
export type ScoreDifficultyParams = z.infer<typeof ScoreDifficultyParamsSchema>;
