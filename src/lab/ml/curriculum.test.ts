/**
 * Curriculum learning: the pacing functions against values computed by hand from their formulas
 * (Wu et al. 2021, Table 1), the order by score and its baselines, the paced draws, the params'
 * rules, and training that only sees the pool the pacing allows.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { CurriculumSchema, curriculumOrder, pacedDraws, pacingShare, poolSize, type Curriculum } from './curriculum.js';
import { initBackend } from './backend.js';
import { trainClassifier, predictLogits, type Samples } from './train.js';
import { TrainParamsSchema } from './params.js';
import { NoiseRng } from '../noise/random.js';

const pace = (pacing: Curriculum['pacing'], over: Partial<Curriculum> = {}) => ({ pacing, start: 0.2, saturate: 0.5, steps: 1, ...over });

describe('pacing functions (T = 10 epochs, start b = 0.2, saturate a = 0.5: x = epoch / 5)', () => {
  // b + (1 − b)·g(x), worked out by hand at x = 0.2, 0.4, 0.8:
  const cases: [Curriculum['pacing'], number[]][] = [
    ['linear', [0.36, 0.52, 0.84]], // 0.2 + 0.8·x
    ['quadratic', [0.232, 0.328, 0.712]], // 0.2 + 0.8·x²
    ['root', [0.557771, 0.705964, 0.915542]], // 0.2 + 0.8·√x
    ['exponential', [0.200232, 0.201947, 0.308237]], // 0.2 + 0.8·(e^{10x} − 1)/(e^{10} − 1)
    ['logarithmic', [0.871263, 0.926706, 0.982153]], // 0.2 + 0.8·(1 + ln(x + e^{−10})/10)
    ['step', [0.2, 0.2, 0.2]], // 0.2 until x = 1
  ];
  for (const [pacing, values] of cases) {
    it(pacing, () => {
      expect(pacingShare(pace(pacing), 0, 10)).toBeCloseTo(0.2, 12); // every function starts at b
      [1, 2, 4].forEach((e, i) => expect(pacingShare(pace(pacing), e, 10)).toBeCloseTo(values[i]!, 6));
      for (const e of [5, 6, 9]) expect(pacingShare(pace(pacing), e, 10)).toBe(1); // saturated from epoch a·T on
    });
  }

  it('step with several steps is a staircase', () => {
    // x = 0.2, 0.4, 0.6, 0.8 → ⌊4x⌋/4 = 0, 0.25, 0.5, 0.75
    expect([1, 2, 3, 4].map((e) => pacingShare(pace('step', { steps: 4 }), e, 10))).toEqual([0.2, 0.4, 0.6000000000000001, 0.8]);
  });

  it('never reaches the whole split when saturate is above 1', () => {
    expect(pacingShare(pace('linear', { saturate: 2 }), 9, 10)).toBeCloseTo(0.2 + 0.8 * 0.45, 12);
  });

  it('pool sizes: ⌈N·share⌉, at least one, a float error below an integer not rounded up', () => {
    expect(poolSize(100, 0.36)).toBe(36);
    expect(poolSize(7, 0.2)).toBe(2);
    expect(poolSize(10, 0.1 + 0.2)).toBe(3); // 0.30000000000000004
    expect(poolSize(10, 0.001)).toBe(1);
    expect(poolSize(10, 1)).toBe(10);
  });
});

describe('order and draws', () => {
  const rows = Int32Array.of(10, 11, 12, 13, 14, 15);
  const difficulty = [0.5, -1, 2, 0.5, 7, 0];

  it('easy_first sorts by ascending difficulty, hard_first by descending, ties in row order', () => {
    expect([...curriculumOrder(rows, difficulty, 'easy_first', 1)]).toEqual([11, 15, 10, 13, 12, 14]);
    expect([...curriculumOrder(rows, difficulty, 'hard_first', 1)]).toEqual([14, 12, 10, 13, 15, 11]);
  });

  it('random is a seeded permutation, whatever the scores', () => {
    const a = curriculumOrder(rows, null, 'random', 1);
    expect([...a].sort()).toEqual([...rows]);
    expect(curriculumOrder(rows, null, 'random', 1)).toEqual(a);
    const others = [2, 3, 4, 5].map((s) => [...curriculumOrder(rows, null, 'random', s)].join());
    expect(others.some((o) => o !== [...a].join())).toBe(true);
  });

  it('draws as many rows as the train split, in passes that each permute the whole pool', () => {
    const pool = Int32Array.of(4, 8, 9);
    const draws = pacedDraws(pool, 10, 3, 2);
    expect(draws).toHaveLength(10);
    for (let pass = 0; pass < 3; pass++) expect([...draws.subarray(pass * 3, pass * 3 + 3)].sort()).toEqual([4, 8, 9]);
    expect(pool).toContain(draws[9]!);
    expect(pacedDraws(pool, 10, 3, 2)).toEqual(draws);
    expect(pacedDraws(pool, 10, 3, 3)).not.toEqual(draws); // another epoch, other shuffles
  });
});

describe('params', () => {
  it('defaults, and scores and score required unless the order is random', () => {
    expect(CurriculumSchema.parse({ scores: 'score', score: 'aum' })).toEqual({ scores: 'score', score: 'aum', run: 'ensemble', pacing: 'linear', start: 0.2, saturate: 0.8, steps: 1, order: 'easy_first' });
    const bad = CurriculumSchema.safeParse({ order: 'hard_first' });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues.map((i) => i.path.join('.'))).toEqual(['scores', 'score']);
    expect(CurriculumSchema.parse({ order: 'random' }).scores).toBeNull();
    expect(CurriculumSchema.safeParse({ scores: 's', score: 'aum', pacing: 'cubic' }).success).toBe(false);
    expect(CurriculumSchema.safeParse({ scores: 's', score: 'aum', start: 0 }).success).toBe(false);
  });
});

describe('training with a curriculum', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  /** 4 classes × 20 train rows; class c lights up mel rows 2c, 2c+1. */
  function data(): Samples {
    const rng = new NoiseRng(5);
    const xs: number[] = [];
    const labels: number[] = [];
    const splits: string[] = [];
    for (const [split, count] of [['train', 20], ['test', 5]] as const) {
      for (let c = 0; c < 4; c++) {
        for (let j = 0; j < count; j++) {
          for (let m = 0; m < 8; m++) for (let f = 0; f < 8; f++) xs.push(rng.normal() + (Math.floor(m / 2) === c ? 1.5 : 0));
          labels.push(c);
          splits.push(split);
        }
      }
    }
    const l = Int32Array.from(labels);
    return { x: Float32Array.from(xs), shape: [8, 8], labels: l, labelsOrig: Int32Array.from(l), flipped: labels.map(() => false), targetEps: null, splits, numClasses: 4, difficulty: Float64Array.from(labels) };
  }
  const params = (curriculum: Record<string, unknown> | null, epochs = 4) =>
    TrainParamsSchema.parse({ model: { name: 'mlp', hidden: [16] }, epochs, batch_size: 16, seed: 3, backend: 'cpu', optimizer: { lr: 0.01 }, curriculum });

  /** The class the trained model predicts most often on the train split. */
  async function favourite(s: Samples, curriculum: Record<string, unknown>): Promise<{ cls: number; share: number }> {
    const r = await trainClassifier(s, params(curriculum, 6));
    try {
      const train = Int32Array.from(s.splits.flatMap((sp, i) => (sp === 'train' ? [i] : [])));
      const logits = await predictLogits(r.model, s, train, 256);
      const votes = [0, 0, 0, 0];
      for (let i = 0; i < train.length; i++) {
        const row = Array.from(logits.subarray(i * 4, i * 4 + 4));
        votes[row.indexOf(Math.max(...row))]!++;
      }
      const cls = votes.indexOf(Math.max(...votes));
      return { cls, share: votes[cls]! / train.length };
    } finally {
      r.model.dispose();
    }
  }

  it('records the pool of each epoch as train_samples, as the pacing sets it', async () => {
    const r = await trainClassifier(data(), params({ scores: 'score', score: 'aum', pacing: 'linear', start: 0.25, saturate: 0.5 }));
    r.model.dispose();
    // x = e/2: 0.25, 0.25 + 0.75·0.5 = 0.625, 1, 1 of 80 train rows
    expect(r.curves.map((c) => c.train_samples)).toEqual([20, 50, 80, 80]);
  });

  it('trains only on the pool: easy_first on the easiest quarter (class 0) learns class 0 alone, hard_first class 3', async () => {
    // The pool never grows past the first quarter: a step that comes after the run.
    const held = { scores: 'score', score: 'aum', pacing: 'step', start: 0.25, saturate: 2 };
    const easy = await favourite(data(), { ...held, order: 'easy_first' });
    expect(easy.cls).toBe(0);
    expect(easy.share).toBeGreaterThan(0.6);
    const hard = await favourite(data(), { ...held, order: 'hard_first' });
    expect(hard.cls).toBe(3);
    expect(hard.share).toBeGreaterThan(0.6);
    // The whole split from the start (start 1): every class is learnt, none dominates.
    expect((await favourite(data(), { ...held, start: 1 })).share).toBeLessThan(0.4);
  });

  it('is deterministic, and each order gives other weights than no curriculum', async () => {
    const weights = async (curriculum: Record<string, unknown> | null) => {
      const r = await trainClassifier(data(), params(curriculum));
      const w = Buffer.concat(await Promise.all(r.model.getWeights().map(async (t) => Buffer.from((await t.data()).buffer))));
      r.model.dispose();
      return w.toString('base64');
    };
    const base = { scores: 'score', score: 'aum', pacing: 'root', start: 0.3, saturate: 0.75 };
    const easy = await weights({ ...base, order: 'easy_first' });
    expect(await weights({ ...base, order: 'easy_first' })).toBe(easy);
    const none = await weights(null);
    const all = new Set([easy, await weights({ ...base, order: 'hard_first' }), await weights({ ...base, order: 'random' }), none]);
    expect(all.size).toBe(4);
    expect(await weights({ order: 'none' })).toBe(none); // order none: the same bytes as no curriculum
  });

  it('refuses two_stage prune beside a curriculum', async () => {
    const p = TrainParamsSchema.parse({ ...params({ order: 'random' }), two_stage: { method: 'prune', start_epoch: 1, percentile: 90 } });
    await expect(trainClassifier(data(), p)).rejects.toThrow('curriculum and two_stage prune both choose the samples an epoch trains on');
  });
});
