/**
 * The training configuration schemas, free of TensorFlow.js: `conno status` validates a train
 * stage's params with them and must never load TensorFlow.js. The code that uses each config
 * (losses-config.ts, losses-twostage.ts, augment.ts) re-exports it.
 */
import { z } from 'zod';

const unit = z.number().min(0).max(1);
const percentile = z.number().gt(0).max(100);
const epoch = z.number().int().nonnegative();
const count = z.number().int().nonnegative();


// From losses-config.ts
export const LossSchema = z.discriminatedUnion('name', [
  /** Cross-entropy; label smoothing ε (waspaa19: 0.15), or one ε_k per class (noise-dependent smoothing). */
  z.strictObject({
    name: z.literal('ce'),
    label_smoothing: z
      .union([unit, z.array(unit).min(2)])
      .default(0)
      .describe('ε, or a list of K values ε_k: a sample gets the ε of its given label'),
  }),
  /** Generalised cross-entropy / Lq (Zhang & Sabuncu 2018); waspaa19: q = 0.7. */
  z.strictObject({
    name: z.literal('gce'),
    q: z.number().gt(0).max(1).default(0.7).describe('q → 0: cross-entropy; q = 1: MAE/2'),
  }),
  /** Σ_k |y_k − p_k| (= 2(1 − p_y)). */
  z.strictObject({ name: z.literal('mae') }),
  /** Symmetric cross-entropy (Wang et al. 2019), defaults of its CIFAR-10 setting. */
  z.strictObject({
    name: z.literal('sce'),
    alpha: z.number().nonnegative().default(0.1).describe('weight of CE'),
    beta: z.number().nonnegative().default(1).describe('weight of the reverse CE'),
    log_zero: z.number().negative().default(-4).describe('A: the value of log 0 in the reverse CE'),
  }),
  /** Soft bootstrapping (Reed et al. 2015). */
  z.strictObject({ name: z.literal('bootstrap_soft'), beta: unit.default(0.95).describe('weight of the given label') }),
  /** Hard bootstrapping (Reed et al. 2015). */
  z.strictObject({ name: z.literal('bootstrap_hard'), beta: unit.default(0.8).describe('weight of the given label') }),
  /** Early-learning regularisation (Liu et al. 2020). */
  z.strictObject({
    name: z.literal('elr'),
    lambda: z.number().nonnegative().default(3).describe('weight of the regulariser'),
    beta: unit.default(0.7).describe('momentum of the per-sample target memory'),
  }),
]);

export type LossConfig = z.infer<typeof LossSchema>;


// From losses-twostage.ts
/** Per-mini-batch loss masking. waspaa19 used n1 = 20 and P ∈ {99, 96, 93}. */
export const LossMaskingSchema = z.strictObject({
  start_epoch: epoch.default(20).describe('n1: the first epoch (from 0) whose batches are masked'),
  percentile: percentile.describe('P: losses above the P-th percentile of their mini-batch are zeroed'),
});

export type LossMaskingConfig = z.infer<typeof LossMaskingSchema>;

/** Dataset pruning by loss. waspaa19 used n1 = 15 and P from 99.25 down to 96.25. */
export const LossPruningSchema = z.strictObject({
  start_epoch: epoch.default(15).describe('n1: the train set is scored and pruned before this epoch (from 0)'),
  percentile: percentile.describe('P: clips whose loss is above the P-th percentile of the train set are dropped'),
});

export type LossPruningConfig = z.infer<typeof LossPruningSchema>;


// From augment.ts
export const MixupSchema = z.strictObject({
  alpha: z.number().positive().default(0.1).describe('λ ~ Beta(α, α) (waspaa19: 0.1)'),
  warmup_epochs: z.number().int().nonnegative().default(10).describe('epochs (from 0) trained without mixup first'),
  lambda: z
    .enum(['batch', 'sample'])
    .default('batch')
    .describe('one λ for the whole batch (Zhang et al.) or one per sample'),
});

export type MixupConfig = z.infer<typeof MixupSchema>;

export const SpecAugmentSchema = z.strictObject({
  freq_masks: count.default(2).describe('masks of consecutive mel bands per sample (Park et al.: mF = 2)'),
  freq_width: count.describe('F: a frequency mask is 0…F bands wide'),
  time_masks: count.default(2).describe('masks of consecutive frames per sample (mT = 2)'),
  time_width: count.describe('T: a time mask is 0…T frames wide'),
  mask_value: z.number().default(0).describe('what masked cells are set to (0 = the mean of standardised features)'),
});

export type SpecAugmentConfig = z.infer<typeof SpecAugmentSchema>;

export const TimeShiftSchema = z.strictObject({
  max_shift: count.describe('S: each sample is shifted by a whole number of frames in −S…S'),
  mode: z
    .enum(['circular', 'zero'])
    .default('circular')
    .describe('circular: frames shifted out come back at the other end; zero: the gap is filled with 0'),
});

export type TimeShiftConfig = z.infer<typeof TimeShiftSchema>;
