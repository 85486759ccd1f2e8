/**
 * Parameters of the train stage: one zod schema, the single source of their types and defaults.
 * The model, loss, two-stage and augmentation entries reuse the schemas of src/lab/ml.
 */
import { z } from 'zod';
import { BACKENDS } from './backend.js';
import { ModelSchema } from './models.js';
// The tf-free schemas: `conno status` validates these params and must not load TensorFlow.js.
import { CurriculumSchema } from './curriculum.js';
import { LossSchema, LossMaskingSchema, LossPruningSchema, MixupSchema, SpecAugmentSchema, TimeShiftSchema } from './config.js';

const positive = z.number().positive();
const nonnegative = z.number().nonnegative();
const epochs = z.number().int().positive();

export const OptimizerSchema = z.strictObject({
  name: z.enum(['adam', 'sgd']).default('adam'),
  lr: positive.default(1e-3),
  momentum: nonnegative.max(1).default(0).describe('sgd only: heavy-ball momentum (0: plain SGD)'),
  weight_decay: nonnegative
    .default(0)
    .describe('decoupled weight decay on kernels (rank ≥ 2): w ← w·(1 − lr·wd) after every step'),
});

export const LrScheduleSchema = z.discriminatedUnion('name', [
  z.strictObject({ name: z.literal('constant') }),
  /** lr · gamma^⌊epoch / step_size⌋ */
  z.strictObject({ name: z.literal('step'), step_size: epochs.default(10), gamma: positive.max(1).default(0.1) }),
  /** Cosine annealing over the run's epochs, from lr down to min_lr (reached in the last epoch). */
  z.strictObject({ name: z.literal('cosine'), min_lr: nonnegative.default(0) }),
]);

export const EarlyStoppingSchema = z.strictObject({
  patience: z.number().int().nonnegative().default(15).describe('epochs without a better dev value before stopping (waspaa19: 15)'),
  monitor: z.enum(['dev_loss', 'dev_acc']).default('dev_loss'),
});

/** waspaa19's two-stage methods; `loss` (optional) replaces the loss from start_epoch on (e.g. gce q 0.5). */
export const TwoStageSchema = z.discriminatedUnion('method', [
  LossMaskingSchema.extend({ method: z.literal('mask'), loss: LossSchema.optional() }),
  LossPruningSchema.extend({ method: z.literal('prune'), loss: LossSchema.optional() }),
]);

/**
 * k-fold cross-validation: the train rows of fold `fold` are held out of training (and of the
 * dynamics) and predicted out of sample. A clip's fold is a hash of its id and `seed` (not the
 * training seed), so every instance of a `matrix: { fold: [0, …, folds−1] }` agrees on the folds
 * and all patches of a clip share one.
 */
export const CrossValidationSchema = z
  .strictObject({
    folds: z.number().int().min(2),
    fold: z.number().int().nonnegative(),
    seed: z.number().int().nonnegative().default(0).describe('seed of the fold assignment (independent of the training seed)'),
  })
  .refine((cv) => cv.fold < cv.folds, { message: 'cv.fold must be in [0, folds)', path: ['fold'] });

export const TrainParamsSchema = z.strictObject({
  model: ModelSchema.default({ name: 'waspaa19', l2: 1e-3, dropout: 0.5 }),
  loss: LossSchema.default({ name: 'ce', label_smoothing: 0 }),
  optimizer: OptimizerSchema.default({ name: 'adam', lr: 1e-3, momentum: 0, weight_decay: 0 }),
  lr_schedule: LrScheduleSchema.default({ name: 'constant' }),
  epochs: epochs.default(30),
  batch_size: z.number().int().positive().default(64),
  early_stopping: EarlyStoppingSchema.nullable()
    .default(null)
    .describe("stop on the dev split and restore the best epoch's weights (needs a dev split)"),
  seed: z.number().int().nonnegative().default(0),
  backend: z.enum(BACKENDS).default('wasm'),
  two_stage: TwoStageSchema.nullable().default(null),
  mixup: MixupSchema.nullable().default(null),
  spec_augment: SpecAugmentSchema.nullable().default(null),
  time_shift: TimeShiftSchema.nullable().default(null),
  eval_batch_size: z.number().int().positive().default(256).describe('batch size of inference (per-epoch records, outputs)'),
  init_from: z
    .string()
    .min(1)
    .nullable()
    .default(null)
    .describe("a train stage (also in needs) whose model's weights start this run; a logits layer of another class count starts fresh"),
  freeze: z
    .enum(['none', 'backbone'])
    .default('none')
    .describe('backbone: train only the logits layer (a classifier on fixed features; batchnorm in inference mode)'),
  cv: CrossValidationSchema.nullable().default(null).describe('hold out one fold of the train split (cross-validated scores downstream)'),
  curriculum: CurriculumSchema.nullable()
    .default(null)
    .describe('introduce the train samples by difficulty (a score-difficulty stage in needs), paced over the epochs'),
});
export type TrainParams = z.infer<typeof TrainParamsSchema>;
export type LrSchedule = z.infer<typeof LrScheduleSchema>;
export type CrossValidation = z.infer<typeof CrossValidationSchema>;
export type { Curriculum } from './curriculum.js';
