/**
 * The models conno's backends are measured and checked on (feasibility.md, "TensorFlow.js"):
 * bench/train.mjs times them against PyTorch (bench/train_torch.py defines the same ones) and the
 * backend tests train them for determinism. Every initializer is seeded, so a seed fixes the
 * initial weights.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { buildModel, ModelSchema } from './models.js';

export type ReferenceModelName = 'cnn-bn' | 'cnn' | 'tc-resnet8' | 'wavecnn';

export interface ReferenceModelOptions {
  /** Input [mels, frames]; the reference is 64 × 128. */
  mels?: number;
  frames?: number;
  classes?: number;
  seed?: number;
}

/**
 * - `cnn-bn`: 4 blocks of conv 3×3 (16/32/64/64 filters, 'same') → batchnorm → ReLU →
 *   max-pool 2×2, then global average pool and dense softmax: 61,402 parameters for 10 classes.
 *   Input [mels, frames, 1].
 * - `cnn`: the same without batchnorm (conv with bias, 60,874 parameters).
 * - `tc-resnet8` (Choi et al. 2019, width 1): 1-D temporal convolutions over frames with the mel
 *   bins as channels. conv 3 (16) → 3 residual blocks (24/32/48 channels, two conv 9 with
 *   batchnorm, the first with stride 2; 1×1 strided conv + BN + ReLU shortcut) → global average
 *   pool → dense softmax. Built by src/lab/ml/models.ts from input [mels, frames, 1].
 * - `wavecnn` (after M5, Dai et al. 2017): 1 s of 16 kHz waveform [1, 16000, 1]: conv 80/4 (32)
 *   → BN → ReLU → max-pool 4, then conv 3 (32, 64, 64) blocks likewise, global average pool,
 *   dense softmax. The log-mel models' input is 64 × 128; this one the raw samples.
 */
export async function buildReferenceModel(
  name: ReferenceModelName,
  opts: ReferenceModelOptions = {},
): Promise<tfl.LayersModel> {
  const tf = await import('@tensorflow/tfjs-layers');
  const { mels = 64, frames = 128, classes = 10, seed = 1 } = opts;
  // The study's own model builders; a softmax on top because the benchmark trains with
  // trainOnBatch and categorical cross-entropy, as the PyTorch side does.
  const cfg = ModelSchema.parse(name === 'tc-resnet8' ? { name: 'tcresnet8' } : name === 'wavecnn' ? { name: 'wavecnn' } : { name: 'cnn4', batchnorm: name === 'cnn-bn' });
  const logits = await buildModel(cfg, referenceInputShape(name, mels, frames), classes, seed);
  const probs = tf.layers.activation({ activation: 'softmax' }).apply(logits.outputs[0]!) as tfl.SymbolicTensor;
  return tf.model({ inputs: logits.inputs, outputs: probs });
}

/** The input shape (without batch) of a reference model. */
export function referenceInputShape(name: ReferenceModelName, mels = 64, frames = 128): number[] {
  // tcresnet8 turns [mels, frames, 1] into [frames, mels] itself; wavecnn takes 1 s at 16 kHz.
  return name === 'wavecnn' ? [1, 16000, 1] : [mels, frames, 1];
}
