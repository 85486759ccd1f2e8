/**
 * Training-time augmentations on log-mel batches [batch, mels, frames, 1] (NHWC): mixup (Zhang
 * et al. 2018), SpecAugment masks (Park et al. 2019) and time shift. All randomness comes from a
 * seeded generator passed in (never Math.random), drawn in a documented order, so a run's seed
 * fixes every augmented batch. Each function also returns what it drew, for the run's records.
 *
 * The random draws are made in JavaScript (a few numbers per batch); the tensors are built with
 * tf.tidy and never read back.
 */
import * as tf from '@tensorflow/tfjs-core';
export { MixupSchema, SpecAugmentSchema, TimeShiftSchema } from './config.js';
export type { MixupConfig, SpecAugmentConfig, TimeShiftConfig } from './config.js';
import type { MixupConfig, SpecAugmentConfig, TimeShiftConfig } from './config.js';


/** A seeded source of uniform numbers in [0, 1); `Rng` (src/core/util/random.ts) is one. */
export interface Rng {
  next(): number;
}

/** A uniform integer in [0, n). */
function randomInt(rng: Rng, n: number): number {
  return Math.min(n - 1, Math.floor(rng.next() * n));
}

/** Standard normal (Box–Muller, one value per two draws: simpler to keep in a fixed order). */
function randomNormal(rng: Rng): number {
  const u1 = 1 - rng.next(); // (0, 1]
  const u2 = rng.next();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/**
 * log of a Gamma(shape, 1) sample (Marsaglia & Tsang 2000; shape < 1 boosted by U^(1/shape)).
 * In logs because for small shapes (mixup's α = 0.1) the sample itself underflows to 0.
 */
function logGamma(rng: Rng, shape: number): number {
  if (shape < 1) return logGamma(rng, shape + 1) + Math.log(1 - rng.next()) / shape;
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = randomNormal(rng);
    const v = (1 + c * x) ** 3;
    if (v <= 0) continue;
    if (Math.log(1 - rng.next()) < 0.5 * x * x + d - d * v + d * Math.log(v)) return Math.log(d * v);
  }
}

/** A Beta(a, b) sample: X/(X+Y) with X ~ Gamma(a), Y ~ Gamma(b), drawn in that order. */
export function sampleBeta(rng: Rng, a: number, b: number): number {
  const lx = logGamma(rng, a);
  const ly = logGamma(rng, b);
  return 1 / (1 + Math.exp(ly - lx));
}

// ---------------------------------------------------------------------------------------------
// Mixup


/** Whether mixup applies in this epoch (from 0): after the warm-up epochs. */
export function mixupActive(config: MixupConfig, epochIndex: number): boolean {
  return epochIndex >= config.warmup_epochs;
}

/**
 * x̃_i = λ_i x_i + (1−λ_i) x_j, ỹ_i = λ_i y_i + (1−λ_i) y_j, with j = partner[i] a random
 * permutation of the batch (a sample may be its own partner, as with torch.randperm).
 * Draws: the permutation (Fisher–Yates from the last position down), then λ (once, or per
 * sample in order). x [batch, …], y [batch, K] (see `toDistribution` for int labels).
 */
export function mixup(
  x: tf.Tensor,
  y: tf.Tensor2D,
  rng: Rng,
  config: Pick<MixupConfig, 'alpha' | 'lambda'>,
): { x: tf.Tensor; y: tf.Tensor2D; lambda: Float64Array; partner: Int32Array } {
  const batch = x.shape[0]!;
  if (y.shape[0] !== batch) throw new Error(`mixup: ${batch} inputs but ${y.shape[0]} targets`);
  const partner = Int32Array.from({ length: batch }, (_, i) => i);
  for (let i = batch - 1; i > 0; i--) {
    const j = randomInt(rng, i + 1);
    [partner[i], partner[j]] = [partner[j]!, partner[i]!];
  }
  const lambda = new Float64Array(batch);
  if (config.lambda === 'batch') lambda.fill(sampleBeta(rng, config.alpha, config.alpha));
  else for (let i = 0; i < batch; i++) lambda[i] = sampleBeta(rng, config.alpha, config.alpha);

  const mixed = tf.tidy(() => {
    const index = tf.tensor1d(partner, 'int32');
    const mix = (t: tf.Tensor): tf.Tensor => {
      const l = tf.tensor(Float32Array.from(lambda), [batch, ...t.shape.slice(1).map(() => 1)]); // [batch, 1, …]
      return tf.add(tf.mul(t, l), tf.mul(tf.gather(t, index), tf.sub(1, l)));
    };
    return { x: mix(x), y: mix(tf.cast(y, 'float32')) as tf.Tensor2D };
  });
  return { ...mixed, lambda, partner };
}

// ---------------------------------------------------------------------------------------------
// SpecAugment masks



/** A masked band [start, start + width) along mels ('freq') or frames ('time'). */
export type SpecMask = { axis: 'freq' | 'time'; start: number; width: number };

/**
 * Sets the masked cells of each sample to mask_value. Per sample, in order: its frequency masks,
 * then its time masks; each mask draws its width w uniform in 0…min(W, size), then its start
 * uniform in 0…size − w. Masks may overlap. x [batch, mels, frames, 1].
 */
export function specAugment(x: tf.Tensor4D, rng: Rng, config: SpecAugmentConfig): { x: tf.Tensor4D; masks: SpecMask[][] } {
  const [batch, mels, frames] = x.shape;
  const keep = new Float32Array(batch * mels * frames).fill(1); // [batch, mels, frames]
  const masks: SpecMask[][] = [];
  const draw = (axis: SpecMask['axis'], size: number, maxWidth: number): SpecMask => {
    const width = randomInt(rng, Math.min(maxWidth, size) + 1);
    return { axis, start: randomInt(rng, size - width + 1), width };
  };
  for (let b = 0; b < batch; b++) {
    const own: SpecMask[] = [];
    for (let m = 0; m < config.freq_masks; m++) own.push(draw('freq', mels, config.freq_width));
    for (let m = 0; m < config.time_masks; m++) own.push(draw('time', frames, config.time_width));
    for (const { axis, start, width } of own) {
      for (let i = start; i < start + width; i++) {
        if (axis === 'freq') keep.fill(0, (b * mels + i) * frames, (b * mels + i + 1) * frames);
        else for (let m = 0; m < mels; m++) keep[(b * mels + m) * frames + i] = 0;
      }
    }
    masks.push(own);
  }
  const out = tf.tidy(() => {
    const k = tf.tensor4d(keep, [batch, mels, frames, 1]);
    return tf.add(tf.mul(x, k), tf.mul(tf.sub(1, k), config.mask_value)) as tf.Tensor4D;
  });
  return { x: out, masks };
}

// ---------------------------------------------------------------------------------------------
// Time shift


/**
 * out[b, :, t] = x[b, :, t − s_b]: a positive shift moves the sound later. One draw per sample,
 * s_b uniform in −S…S. x [batch, mels, frames, 1].
 */
export function timeShift(x: tf.Tensor4D, rng: Rng, config: TimeShiftConfig): { x: tf.Tensor4D; shifts: Int32Array } {
  const [batch, , frames] = x.shape;
  const shifts = Int32Array.from({ length: batch }, () => randomInt(rng, 2 * config.max_shift + 1) - config.max_shift);
  const source = new Int32Array(batch * frames); // [batch, frames]: the frame each output frame reads
  const valid = new Float32Array(batch * frames); // [batch, frames]: 0 where zero mode fills
  shifts.forEach((s, b) => {
    for (let t = 0; t < frames; t++) {
      const from = t - s;
      const inside = from >= 0 && from < frames;
      source[b * frames + t] = ((from % frames) + frames) % frames;
      valid[b * frames + t] = inside || config.mode === 'circular' ? 1 : 0;
    }
  });
  const out = tf.tidy(() => {
    const gathered = tf.gather(x, tf.tensor2d(source, [batch, frames], 'int32'), 2, 1); // [batch, mels, frames, 1]
    if (config.mode === 'circular') return gathered as tf.Tensor4D;
    return tf.mul(gathered, tf.tensor4d(valid, [batch, 1, frames, 1])) as tf.Tensor4D;
  });
  return { x: out, shifts };
}
