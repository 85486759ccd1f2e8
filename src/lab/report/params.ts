/**
 * Parameters of the report stage: one zod schema, the single source of their types and defaults
 * (stages/report/params.ts re-exports it; src/lab/report reads the type).
 */
import { z } from 'zod';

const matrixKey = z.string().min(1).nullable();

/** Which matrix keys of the upstream instances are the study's axes; a key no item has is not used. */
export const AxesSchema = z.strictObject({
  label_noise: matrixKey.default('noise').describe('matrix key of the label-noise rate (a number, e.g. 0.2)'),
  data_noise: matrixKey
    .default('data')
    .describe("matrix key of the training data's noise: inject-noise's conditions clean, <n>dB (or a number of dB) and pure"),
  method: matrixKey.default('loss').describe('matrix key of the method compared (loss, model, …): one colour each'),
  seed: matrixKey.default('seed').describe('matrix key of the training seed: runs equal in every other key are one condition, averaged with a 95% CI and paired by it in tests'),
});

export const ReportParamsSchema = z.strictObject({
  title: z.string().min(1).default('Consequences of training with noise'),
  axes: AxesSchema.default({ label_noise: 'noise', data_noise: 'data', method: 'loss', seed: 'seed' }),
  baseline: z
    .string()
    .min(1)
    .nullable()
    .default(null)
    .describe('the method (a value of axes.method) every other is tested against, paired by condition and seed; null: the first in the matrix'),
  in_domain_set: z
    .string()
    .min(1)
    .default('test')
    .describe('the in-domain test set (a split of predictions, a set of evaluate-ood metrics): the reference of the OOD gap'),
  histogram_bins: z.number().int().min(2).max(200).default(20).describe('bins of the score histograms'),
  saliency: z
    .strictObject({
      runs: z.number().int().nonnegative().default(2).describe('evaluations shown: the lowest and highest label noise first'),
      clips: z.number().int().positive().default(4).describe('clips per evaluation, in the saliency table order'),
    })
    .default({ runs: 2, clips: 4 }),
});
export type ReportParams = z.infer<typeof ReportParamsSchema>;
export type Axes = z.infer<typeof AxesSchema>;
