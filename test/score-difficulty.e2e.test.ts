/**
 * End-to-end: synth → inject-noise (symmetric, 40 %) → features → train (two seeds) and a 2-fold
 * cross-validation of train → score-difficulty, through the CLI. Loss-based scores find the
 * flipped labels, the outputs have the documented schemas, cross-validation covers every clip
 * once, and a second `conno status` is up to date.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { tempProject, type TempProject } from './helpers.js';
import { readTableFile } from '../src/core/arrow/io.js';
import { auroc } from '../src/lab/difficulty/rank.js';
import { synthStage } from './support/pipelines.js';

let p: TempProject | undefined;
afterEach(() => {
  p?.remove();
  p = undefined;
});

const TRAIN = `
      model: { name: cnn4, filters: [8, 16, 16], batchnorm: false }
      epochs: 25
      batch_size: 16
      optimizer: { lr: 0.005 }`;

const PIPELINE = `stages:
${synthStage('classes: 4, clips_per_class: 60, seconds: 0.5, sample_rate: 16000, seed: 1, test_fraction: 0.25, dev_fraction: 0')}  noisy:
    uses: inject-noise
    needs: [data]
    with: { seed: 1, label: { model: symmetric, rate: 0.4 } }
  features:
    uses: features
    needs: [noisy]
    with: { n_fft: 512, hop_length: 160, n_mels: 32, f_max: 8000, frames: 50, normalize: true }
  train:
    uses: train
    needs: [features]
    matrix: { seed: [1, 2] }
    with:${TRAIN}
      seed: "\${item.seed}"
  train_cv:
    uses: train
    needs: [features]
    matrix: { fold: [0, 1] }
    with:${TRAIN}
      seed: 1
      cv: { folds: 2, fold: "\${item.fold}" }
  difficulty:
    uses: score-difficulty
    needs: [train, train_cv, features]
    with: { teacher: "train@seed=2" }
`;

const SCORES = ['final_loss', 'cum_acc', 'first_learned', 'forgetting', 'aum', 'el2n', 'cv_loss', 'prediction_depth', 'transfer_teacher', 'cleanlab'];

const schemaOf = (t: ReturnType<typeof readTableFile>) => t.schema.fields.map((f) => `${f.name}:${String(f.type)}`);
const col = <V>(t: ReturnType<typeof readTableFile>, name: string): V[] => Array.from({ length: t.numRows }, (_, i) => t.getChild(name)!.get(i) as V);

describe('score-difficulty stage (e2e)', () => {
  it('finds flipped labels from training dynamics, cross-validation and a teacher; outputs as documented', async () => {
    p = tempProject({ 'pipeline.yaml': PIPELINE });
    let r = await p.conno(['repro'], { timeout: 170_000 });
    expect(r.exitCode, r.all).toBe(0);
    const table = async (what: string) => readTableFile((await p!.conno(['show', what, '--path'])).stdout.trim());

    // ---- scores
    const scores = await table('difficulty:scores');
    expect(schemaOf(scores)).toEqual([
      'run:Utf8', 'clip_id:Utf8', 'label:Int32', 'label_orig:Int32', 'flipped:Bool',
      ...SCORES.map((s) => `${s}:Float64`),
      'cl_issue:Bool',
    ]);
    const runs = col<string>(scores, 'run');
    const nTrain = runs.filter((x) => x === 'train@seed=1').length;
    expect(nTrain).toBe(180); // 4 classes × 60 clips × (1 − 0.25)
    expect(runs.filter((x) => x === 'train@seed=2')).toHaveLength(nTrain);
    expect(runs.filter((x) => x === 'ensemble')).toHaveLength(nTrain);
    const flipped = col<boolean>(scores, 'flipped');
    const labels = col<number>(scores, 'label');
    const orig = col<number>(scores, 'label_orig');
    flipped.forEach((f, i) => expect(f).toBe(labels[i] !== orig[i]));
    const nFlipped = flipped.slice(0, nTrain).filter(Boolean).length;
    expect(nFlipped / nTrain).toBeGreaterThan(0.3);
    // Every score is computable here: no NaN; depth is a probe index, forgetting a count.
    for (const s of SCORES) expect(col<number>(scores, s).every(Number.isFinite), s).toBe(true);
    // (the ensemble's rows are means over the seeds)
    const ofRuns = (name: string) => col<number>(scores, name).filter((_, i) => runs[i] !== 'ensemble');
    expect(ofRuns('prediction_depth').every((d) => Number.isInteger(d) && d >= 0 && d <= 5)).toBe(true); // input + 3 pools + embedding
    expect(ofRuns('forgetting').every(Number.isInteger)).toBe(true);

    // ---- summary: loss-based scores find the flips in every run
    const summary = await table('difficulty:summary');
    expect(schemaOf(summary)).toEqual(['run:Utf8', 'score:Utf8', 'auroc:Float64', 'auprc:Float64', 'n:Int32', 'n_flipped:Int32']);
    expect(summary.numRows).toBe(3 * SCORES.length);
    const rowOf = (run: string, score: string) => {
      const i = col<string>(summary, 'run').findIndex((x, j) => x === run && summary.getChild('score')!.get(j) === score);
      expect(i, `${run} ${score}`).toBeGreaterThanOrEqual(0);
      return { auroc: summary.getChild('auroc')!.get(i) as number, auprc: summary.getChild('auprc')!.get(i) as number, n: summary.getChild('n')!.get(i) as number, nFlipped: summary.getChild('n_flipped')!.get(i) as number };
    };
    for (const run of ['train@seed=1', 'train@seed=2', 'ensemble']) {
      for (const s of ['final_loss', 'aum', 'cum_acc']) expect(rowOf(run, s).auroc, `${run} ${s}`).toBeGreaterThan(0.7);
      expect(rowOf(run, 'final_loss')).toMatchObject({ n: nTrain, nFlipped });
      expect(rowOf(run, 'final_loss').auprc).toBeGreaterThan(nFlipped / nTrain); // above a random ranking
    }
    // The summary describes the scores table's rows of that run.
    const seed2 = runs.map((x, i) => (x === 'train@seed=2' ? i : -1)).filter((i) => i >= 0);
    const aum2 = col<number>(scores, 'aum');
    expect(rowOf('train@seed=2', 'aum').auroc).toBe(auroc(seed2.map((i) => flipped[i]!), seed2.map((i) => aum2[i]!)));

    // ---- cross-validation: each train clip held out by exactly one fold, not trained on there
    const heldBy = new Map<string, number>();
    for (const fold of [0, 1]) {
      const preds = await table(`train_cv@fold=${fold}:predictions`);
      const dyn = await table(`train_cv@fold=${fold}:dynamics`);
      const held = col<boolean>(preds, 'cv_heldout');
      const split = col<string>(preds, 'split');
      const ids = col<string>(preds, 'clip_id');
      const heldIds = ids.filter((_, i) => held[i]);
      expect(held.every((h, i) => !h || split[i] === 'train')).toBe(true);
      heldIds.forEach((id) => heldBy.set(id, (heldBy.get(id) ?? 0) + 1));
      const trained = new Set(col<string>(dyn, 'clip_id'));
      expect(heldIds.some((id) => trained.has(id))).toBe(false);
      expect(trained.size + heldIds.length).toBe(nTrain);
      expect(heldIds.length).toBeGreaterThan(nTrain / 4);
    }
    expect(heldBy.size).toBe(nTrain);
    expect([...heldBy.values()].every((c) => c === 1)).toBe(true);

    // ---- correlations: 45 score pairs in each of 3 runs, 10 scores between the 2 seeds
    const corr = await table('difficulty:correlations');
    expect(schemaOf(corr)).toEqual(['score_a:Utf8', 'run_a:Utf8', 'score_b:Utf8', 'run_b:Utf8', 'spearman:Float64', 'kendall:Float64', 'n:Int32']);
    expect(corr.numRows).toBe(3 * 45 + SCORES.length);
    const across = (score: string) => {
      const i = col<string>(corr, 'score_a').findIndex((s, j) => s === score && corr.getChild('run_a')!.get(j) !== corr.getChild('run_b')!.get(j));
      return { spearman: corr.getChild('spearman')!.get(i) as number, kendall: corr.getChild('kendall')!.get(i) as number };
    };
    // Both seeds share the one cross-validation and the one teacher: identical rankings.
    expect(across('cv_loss')).toEqual({ spearman: 1, kendall: 1 });
    expect(across('transfer_teacher').spearman).toBeCloseTo(1, 12);
    // Seeds agree on final loss, but not perfectly.
    expect(across('final_loss').spearman).toBeGreaterThan(0.3);
    expect(across('final_loss').spearman).toBeLessThan(1);

    // ---- metrics in conno.lock
    const lock = (await import('yaml')).parse(p.read('conno.lock'));
    const m = lock.stages.difficulty.metrics;
    expect(m.auroc_final_loss).toBeGreaterThan(0.7);
    expect(m.runs).toBe(2);
    expect(m.cl_issue_recall).toBeGreaterThan(0.3); // confident learning finds flips (precision is low on 2-fold probabilities)
    expect(m.ensemble_auroc_aum).toBeGreaterThan(0.7);
    const log = p.read('cache/logs/difficulty.log');
    expect(log).not.toContain('in-sample'); // cleanlab used the out-of-sample probabilities

    r = await p.conno(['status']);
    expect(r.stdout, r.all).toContain('Everything is up to date (8 stage instances).');

    // A listed score that cannot be computed is an error naming it.
    p.write('pipeline.yaml', `${PIPELINE}  strict:\n    uses: score-difficulty\n    needs: [train]\n    with: { scores: [final_loss, transfer_teacher] }\n`);
    r = await p.conno(['repro', 'strict']);
    expect(r.exitCode).toBe(1);
    expect(r.all).toContain("score 'transfer_teacher' (param scores) cannot be computed for train@seed=1: no teacher (param teacher)");
  }, 180_000);
});
