/**
 * Parameters of evaluate-ood: one zod schema, the single source of their types and defaults.
 * Every default is chosen so that `uses: evaluate-ood` with `needs: [train, features]` and no
 * `with:` evaluates the model on every held-out split of the table it was trained from.
 */
import { z } from 'zod';
import { BACKENDS } from '../../src/lab/ml/backend.js';

/** An upstream stage instance (`fsdd_features`, `train@noise=0.2,seed=1`) or a stage name that pairs by matrix keys. */
const instanceRef = z.string().min(1);
const split = z.string().min(1);
const patchSize = z.tuple([z.number().int().positive(), z.number().int().positive()]);

export const OodSetSchema = z.strictObject({
  /** The upstream stage (in needs) whose `features` output holds the set, e.g. another dataset's features. */
  from: instanceRef,
  split: split.default('test'),
  /**
   * Source class → model class. Classes left out, or mapped to null, are dropped (counted in the
   * log). null: classes are matched by name, and classes the model does not know are dropped.
   */
  class_map: z.record(z.string(), z.string().nullable()).nullable().default(null),
});

export const ProbeSchema = z.strictObject({
  /** The upstream stage (in needs) whose `features` output is the probe dataset (same input shape as the model). */
  from: instanceRef,
  train_split: split.default('train'),
  test_split: split.default('test'),
  /** L2 penalty of the softmax regression on the standardised embeddings (scikit-learn's 1/C). */
  l2: z.number().positive().default(1),
});

export const CkaSchema = z.strictObject({
  /** Other train instances (in needs) whose `embedding` layer is compared with this model's. */
  with: z.union([instanceRef, z.array(instanceRef).min(1)]),
  /** The split of the evaluated features table whose clips both models embed. */
  split: split.default('test'),
});

export const SaliencySchema = z.strictObject({
  /** How many clips: the first (by clip id) of each class in class order, then the second of each, … */
  clips: z.number().int().nonnegative().default(4),
  split: split.default('test'),
  /** occlusion: drop of the true-class probability under a sliding patch; gradient: |∂p_true/∂x|. */
  method: z.enum(['occlusion', 'gradient']).default('occlusion'),
  /** Occlusion patch [mels, frames]. */
  patch: patchSize.default([4, 5]),
  /** Occlusion stride [mels, frames]; null: the patch size (patches tile the input). */
  stride: patchSize.nullable().default(null),
});

export const EvaluateOodParamsSchema = z.strictObject({
  /** The features instance the model was trained from; null: the one upstream features output that pairs with the model. */
  features: instanceRef.nullable().default(null),
  /** Splits of that table to evaluate; auto: every split but train and dev (test, test@snr=…, holdout, …). */
  splits: z.union([z.literal('auto'), z.array(split).min(1)]).default('auto'),
  /** More sets, from other feature tables (other datasets through a class mapping), by name. */
  sets: z.record(z.string().regex(/^[A-Za-z0-9_.@=+-]+$/, 'set names are letters, digits and _ . @ = + -'), OodSetSchema).default({}),
  probe: ProbeSchema.nullable().default(null),
  cka: CkaSchema.nullable().default(null),
  saliency: SaliencySchema.nullable().default({ clips: 4, split: 'test', method: 'occlusion', patch: [4, 5], stride: null }),
  /**
   * Standardisation of tables other than the model's own (sets, probe) when their features are
   * standardised (features `normalize`): `train` re-standardises them with the statistics of
   * the table the model was trained on, as a deployed model sees new data; `per_set` keeps each
   * table's own statistics (which hides part of a shift in level or spectrum).
   */
  normalization: z.enum(['train', 'per_set']).default('train'),
  batch_size: z.number().int().positive().default(256),
  backend: z.enum(BACKENDS).default('wasm'),
});

export type EvaluateOodParams = z.infer<typeof EvaluateOodParamsSchema>;
export type OodSet = z.infer<typeof OodSetSchema>;
