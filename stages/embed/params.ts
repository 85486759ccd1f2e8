/** The embed stage's parameters: one zod schema, the single place their defaults live. */
import { z } from 'zod';

export const EmbedParamsSchema = z.strictObject({
  model: z.string().min(1).describe('the ONNX file, relative to the project (an input of the stage: its content is fingerprinted)'),
  input: z.enum(['waveform', 'logmel']).describe("what the model takes: the upstream clip table's audio, or a features table's log-mels"),
  input_name: z.string().min(1).nullable().default(null).describe("the model's input to feed (default: its only one)"),
  output: z.string().min(1).nullable().default(null).describe("the model's output to keep (default: its first)"),
  pool: z.enum(['mean', 'none']).default('mean').describe('an output with a time axis [batch, steps, D]: its mean over steps, or every step'),
  sample_rate: z.number().int().positive().nullable().default(null).describe('the rate the model expects (waveform): clips at another rate are an error (resample upstream)'),
  normalize: z.boolean().default(true).describe("standardise each embedding dimension with the mean and std of the `stats_split` rows (as features' normalize)"),
  stats_split: z.string().min(1).default('train'),
  batch_size: z.number().int().positive().default(16),
  provider: z.enum(['cpu', 'cuda']).default('cpu').describe("onnxruntime's execution provider: cpu (one thread, bit for bit reproducible) or cuda (onnxruntime's CUDA binaries, installed on request)"),
});

export type EmbedParams = z.infer<typeof EmbedParamsSchema>;
