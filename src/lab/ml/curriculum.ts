/**
 * Curriculum learning by difficulty: the order in which train samples are introduced (from
 * score-difficulty's scores, higher = harder), and the pacing function that says how many of
 * them each epoch may draw from.
 *
 * Pacing as in Wu, Dyer & Neyshabur 2021 ("When do curricula work?", Table 1), with t the epoch
 * (from 0) of T, b = `start` (the share of the train split available at first) and a =
 * `saturate` (the share of training after which all of it is), x = t / (a·T):
 *
 *   linear       b + (1 − b)·x
 *   quadratic    b + (1 − b)·x²
 *   root         b + (1 − b)·√x
 *   exponential  b + (1 − b)·(e^{10x} − 1)/(e^{10} − 1)
 *   logarithmic  b + (1 − b)·(1 + ln(x + e^{−10})/10)
 *   step         b + (1 − b)·⌊x·steps⌋/steps   (steps = 1: Wu et al.'s single step; more: a staircase
 *                as in Hacohen & Weinshall 2019)
 *
 * each clipped to [b, 1]; the pool holds ⌈N·share⌉ samples. The training budget stays that of
 * the run without a curriculum (both papers fix the number of steps): every epoch takes N draws,
 * passes over the pool in fresh seeded shuffles. Orders: `easy_first` (the curriculum),
 * `hard_first` (the anti-curriculum) and `random` (a seeded random order paced the same way),
 * the baselines of both papers; `none` trains as if there were no curriculum (the same bytes),
 * so that a matrix over `order` holds the plain run too. Free of TensorFlow.js: `conno status` validates these params.
 */
import { z } from 'zod';
import { Rng } from '../../core/util/random.js';
import { unreachable } from '../../core/util/errors.js';

export const PACINGS = ['linear', 'quadratic', 'root', 'exponential', 'logarithmic', 'step'] as const;
export type Pacing = (typeof PACINGS)[number];

export const CurriculumSchema = z
  .strictObject({
    scores: z
      .string()
      .min(1)
      .nullable()
      .default(null)
      .describe("the score-difficulty stage (in needs) whose `scores` output orders the samples; not needed by order: random"),
    score: z.string().min(1).nullable().default(null).describe('the score column (aum, final_loss, forgetting, …): higher = harder'),
    run: z
      .string()
      .min(1)
      .default('ensemble')
      .describe("the scores' `run` to order by: a run id (train@noise=0.4,seed=1), an ensemble's id, or a name before '@' that only one run has (ensemble)"),
    pacing: z.enum(PACINGS).default('linear'),
    start: z.number().gt(0).max(1).default(0.2).describe('b: the share of the train split (easiest first) available in the first epoch'),
    saturate: z.number().positive().default(0.8).describe('a: the share of the epochs after which the whole train split is available'),
    steps: z.number().int().positive().default(1).describe('pacing step only: the number of steps up to the whole split'),
    order: z
      .enum(['easy_first', 'hard_first', 'random', 'none'])
      .default('easy_first')
      .describe('easy_first: curriculum; hard_first: anti-curriculum; random: a random order, paced alike; none: no curriculum (as without curriculum:, for a matrix of orders)'),
  })
  .superRefine((c, ctx) => {
    if (!scored(c.order)) return;
    if (c.scores === null) ctx.addIssue({ code: 'custom', path: ['scores'], message: `order ${c.order} needs scores: the score-difficulty stage whose scores order the samples` });
    if (c.score === null) ctx.addIssue({ code: 'custom', path: ['score'], message: `order ${c.order} needs score: the score column to order by (e.g. aum)` });
  });
export type Curriculum = z.infer<typeof CurriculumSchema>;

/** Whether an order reads difficulty scores (random and none do not). */
export function scored(order: Curriculum['order']): boolean {
  return order === 'easy_first' || order === 'hard_first';
}

/** The share of the train split available in epoch `epoch` (from 0) of `epochs`. */
export function pacingShare(c: Pick<Curriculum, 'pacing' | 'start' | 'saturate' | 'steps'>, epoch: number, epochs: number): number {
  const b = c.start;
  const x = Math.min(1, epoch / (c.saturate * epochs));
  let g: number;
  switch (c.pacing) {
    case 'linear':
      g = x;
      break;
    case 'quadratic':
      g = x * x;
      break;
    case 'root':
      g = Math.sqrt(x);
      break;
    case 'exponential':
      g = Math.expm1(10 * x) / Math.expm1(10);
      break;
    case 'logarithmic':
      g = 1 + Math.log(x + Math.exp(-10)) / 10;
      break;
    case 'step':
      g = Math.floor(x * c.steps) / c.steps;
      break;
    default:
      return unreachable(c.pacing);
  }
  return Math.min(1, Math.max(b, b + (1 - b) * g));
}

/** ⌈N·share⌉ samples, at least one (a rounding error below an integer does not add one). */
export function poolSize(n: number, share: number): number {
  return Math.min(n, Math.max(1, Math.ceil(n * share - 1e-9)));
}

/**
 * The rows in the order they are introduced. easy_first: ascending difficulty; hard_first:
 * descending; ties (and NaN, last in both) kept in row order. random: a permutation drawn from the
 * training seed's own stream.
 */
export function curriculumOrder(rows: Int32Array, difficulty: ArrayLike<number> | null, order: Exclude<Curriculum['order'], 'none'>, seed: number): Int32Array {
  if (order === 'random') return permuted(rows, new Rng(seed, 0x6375726c)); // 'curl'
  if (difficulty === null) throw new Error(`curriculum order ${order} needs difficulty scores`);
  const sign = order === 'easy_first' ? 1 : -1;
  const at = (i: number) => difficulty[i]!;
  const idx = Array.from(rows.keys());
  idx.sort((p, q) => {
    const [a, b] = [at(p), at(q)];
    const [na, nb] = [Number.isNaN(a), Number.isNaN(b)];
    if (na || nb) return na === nb ? p - q : na ? 1 : -1;
    return a === b ? p - q : sign * (a - b);
  });
  return Int32Array.from(idx, (i) => rows[i]!);
}

/**
 * Epoch `epoch`'s draws: `total` rows from `pool`, pass after pass, each pass a fresh shuffle of
 * the pool from the stream (seed, epoch, pass).
 */
export function pacedDraws(pool: Int32Array, total: number, seed: number, epoch: number): Int32Array {
  const out = new Int32Array(total);
  for (let at = 0, pass = 0; at < total; pass++) {
    const shuffled = permuted(pool, new Rng(seed, epoch, 0x70616365, pass)); // 'pace'
    const take = Math.min(shuffled.length, total - at);
    out.set(shuffled.subarray(0, take), at);
    at += take;
  }
  return out;
}

/** A Fisher–Yates shuffle of `rows` drawn from `rng` (training's epoch order uses it too). */
export function permuted(rows: Int32Array, rng: Rng): Int32Array {
  const out = Int32Array.from(rows);
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = out[i]!;
    out[i] = out[j]!;
    out[j] = t;
  }
  return out;
}
