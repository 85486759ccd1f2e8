/**
 * End-to-end: synth → inject-noise (clean, and pure noise on train; both with noisy test copies
 * at 20, 0 and −10 dB) → features → train (two runs) → evaluate-ood through the CLI, with another
 * synth dataset as an out-of-distribution set (through a class map) and as the probe dataset, and
 * CKA of both runs against the clean one.
 */
import { readFileSync } from 'node:fs';
import nodePath from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, REPO, tempProject, type TempProject } from './helpers.js';
import { flatFloat32, readTableFile } from '../src/core/arrow/io.js';
import { synthStage } from './support/pipelines.js';

let p: TempProject | undefined;
afterEach(() => {
  p?.remove();
  p = undefined;
});

const FEATURES = '{ n_fft: 512, hop_length: 160, n_mels: 32, f_max: 8000, frames: 50, normalize: true }';
const PIPELINE = `stages:
${synthStage('classes: 4, clips_per_class: 40, seconds: 0.5, sample_rate: 16000, seed: 1, test_fraction: 0.25, dev_fraction: 0.15')}  noisy:
    uses: inject-noise
    needs: [data]
    matrix: { fraction: [0, 1] }
    with:
      seed: 3
      data: { kind: pure, fraction: "\${item.fraction}", test_copies: { snrs: [20, 0, -10] } }
  features:
    uses: features
    needs: [noisy]
    matrix: { fraction: [0, 1] }
    with: ${FEATURES}
  train:
    uses: train
    needs: [features]
    matrix: { fraction: [0, 1] }
    with:
      model: { name: cnn4, filters: [8, 16, 16], batchnorm: false }
      epochs: 25
      batch_size: 16
      optimizer: { lr: 0.003 }
      early_stopping: { patience: 6, monitor: dev_acc }
      seed: 1
${synthStage('classes: 3, clips_per_class: 24, seconds: 0.5, sample_rate: 16000, seed: 2, test_fraction: 0.5, dev_fraction: 0', 'other_data')}  other_features:
    uses: features
    needs: [other_data]
    with: ${FEATURES}
  evaluate:
    uses: evaluate-ood
    needs: [{ stage: train, on: [] }, features, other_features]
    matrix: { fraction: [0, 1] }
    with:
      sets: { other: { from: other_features, class_map: { tone: tone, chirp_up: chirp_up, chirp_down: null } } }
      probe: { from: other_features }
      cka: { with: "train@fraction=0" }
      saliency: { clips: 4 }
  report:
    uses: report
    needs: [train, evaluate]
`;

type Row = Record<string, unknown>;
function rows(path: string): { rows: Row[]; table: ReturnType<typeof readTableFile> } {
  const table = readTableFile(path);
  return { table, rows: table.toArray().map((r) => r.toJSON() as Row) };
}

describe('evaluate-ood stage (e2e)', () => {
  it('scores clean, noisy, other-dataset sets; probe, CKA and saliency; a model trained on pure noise is near chance', async () => {
    p = tempProject({ 'pipeline.yaml': PIPELINE });
    const r = await p.conno(['repro'], { timeout: 150_000 });
    expect(r.exitCode, r.all).toBe(0);
    const lock = (await import('yaml')).parse(p.read('conno.lock'));
    const path = async (target: string) => (await p!.conno(['show', target, '--path'])).stdout.trim();

    const clean = rows(await path('evaluate@fraction=0:metrics'));
    const sets = clean.rows.map((row) => row['set']);
    expect(sets).toEqual(['test', 'test@snr=20', 'test@snr=0', 'test@snr=-10', 'other']);
    expect(clean.rows.map((row) => row['snr_db'])).toEqual([NaN, 20, 0, -10, NaN]);
    const acc = Object.fromEntries(clean.rows.map((row) => [row['set'], row['accuracy'] as number]));
    expect(acc['test']).toBeGreaterThan(0.7); // chance 0.25
    expect(acc['test@snr=-10']).toBeLessThan(acc['test@snr=20']!);
    // The loaded model agrees with the train stage's own predictions of the test split.
    const m0 = lock.stages['evaluate@fraction=0'].metrics;
    expect(m0.acc_test).toBeCloseTo(lock.stages['train@fraction=0'].metrics.test_acc, 6);
    expect(m0['acc_test@snr=-10']).toBeCloseTo(acc['test@snr=-10']!, 6);
    for (const row of clean.rows) for (const key of ['uar', 'macro_f1', 'nll', 'ece']) expect(Number.isFinite(row[key]), `${String(row['set'])} ${key}`).toBe(true);

    // n: every test clip; 'other' keeps the two mapped classes of the other dataset's test split.
    const feats = readTableFile(await path('features@fraction=0:features'));
    const split = Array.from(feats.getChild('split')!, (s) => s as string);
    const n = Object.fromEntries(clean.rows.map((row) => [row['set'], row['n'] as number]));
    for (const s of ['test', 'test@snr=20', 'test@snr=0', 'test@snr=-10']) expect(n[s]).toBe(split.filter((x) => x === s).length);
    const other = readTableFile(await path('other_features:features'));
    const otherTest = Array.from({ length: other.numRows }, (_, i) => i).filter((i) => other.getChild('split')!.get(i) === 'test');
    expect(n['other']).toBe(otherTest.filter((i) => (other.getChild('label')!.get(i) as number) < 2).length);
    expect(n['other']).toBeLessThan(otherTest.length);

    // Confusion: every set's counts sum to its n, the diagonal to its accuracy.
    const conf = rows(await path('evaluate@fraction=0:confusion')).rows;
    for (const row of clean.rows) {
      const cells = conf.filter((c) => c['set'] === row['set']);
      expect(cells).toHaveLength(16);
      expect(cells.reduce((a, c) => a + (c['count'] as number), 0)).toBe(row['n']);
      const right = cells.filter((c) => c['true_class'] === c['predicted_class']).reduce((a, c) => a + (c['count'] as number), 0);
      expect(right / (row['n'] as number)).toBeCloseTo(row['accuracy'] as number, 12);
    }

    // Saliency: the first test clip of each class, its spectrogram, a map of the same shape.
    const sal = rows(await path('evaluate@fraction=0:saliency'));
    expect(sal.rows).toHaveLength(4);
    const classes = JSON.parse(feats.schema.metadata.get('conno.classes')!) as string[];
    const ids = Array.from(feats.getChild('clip_id')!, (s) => s as string);
    const labels = Array.from(feats.getChild('label')!, (v) => v as number);
    const firstOf = classes.map((_, c) => ids.filter((id, i) => split[i] === 'test' && labels[i] === c).sort()[0]);
    expect(sal.rows.map((row) => row['clip_id'])).toEqual(firstOf);
    expect(sal.rows.map((row) => row['label'])).toEqual(classes);
    const maps = flatFloat32(sal.table, 'map');
    const specs = flatFloat32(sal.table, 'spectrogram');
    expect(maps.shape).toEqual([32, 50]);
    expect(specs.shape).toEqual([32, 50]);
    const x = flatFloat32(feats, 'features');
    const row0 = ids.indexOf(firstOf[0]!);
    expect(Array.from(specs.values.subarray(0, 1600))).toEqual(Array.from(x.values.subarray(row0 * 1600, (row0 + 1) * 1600)));
    expect(maps.values.some((v) => v !== 0)).toBe(true);

    // Representation: the probe beats chance (3 classes); CKA of the clean run with itself is 1.
    const rep0 = rows(await path('evaluate@fraction=0:representation')).rows;
    expect(rep0.map((row) => [row['kind'], row['other']])).toEqual([['probe', 'other_features'], ['cka', 'train@fraction=0']]);
    expect(rep0[0]!['value']).toBeGreaterThan(0.5);
    expect(rep0[1]!['value']).toBeCloseTo(1, 9);

    // The run trained on pure noise: near chance on clean test clips, and another representation.
    const m1 = lock.stages['evaluate@fraction=1'].metrics;
    expect(m1.acc_test).toBeLessThan(0.45);
    expect(m0.acc_test - m1.acc_test).toBeGreaterThan(0.3);
    const rep1 = rows(await path('evaluate@fraction=1:representation')).rows;
    expect(rep1[1]!['other']).toBe('train@fraction=0');
    // Not the clean run's representation (CKA 1 is the same up to rotation and scale); a network
    // that learnt nothing from pure noise at one level still shares much of its input's structure.
    expect(rep1[1]!['value']).toBeLessThan(0.99);
    expect(rep1[1]!['value']).toBeLessThan(rep0[1]!['value'] - 0.01);
    expect(rep1[1]!['value']).toBeGreaterThan(0);

    // Up to date; `conno status` validates evaluate-ood's params without loading TensorFlow.js or Arrow.
    const trace = nodePath.join(p.dir, 'imports.txt');
    const st = await execa(process.execPath, ['--import', nodePath.join(REPO, 'test/fixtures/hooks/trace-imports.mjs'), BIN, 'status'], {
      cwd: p.dir,
      reject: false,
      env: { CONNO_TRACE_IMPORTS: trace, CONNO_GPUS: '' },
    });
    expect(st.stdout).toContain('Everything is up to date (12 stage instances).');
    const mods = readFileSync(trace, 'utf8');
    expect(mods).toContain('/dist/stages/evaluate-ood/index.js');
    for (const heavy of ['@tensorflow', 'apache-arrow']) expect(mods).not.toContain(heavy);

    // The other dataset's table, standardised with its own statistics by its features stage, is
    // evaluated with the training table's (normalization: train, the default); per_set keeps its
    // own, and gives other numbers. The report says which was used.
    const nllOther = async () => rows(await path('evaluate@fraction=0:metrics')).rows.find((row) => row['set'] === 'other')!['nll'] as number;
    const asTrained = await nllOther();
    expect(readFileSync(nodePath.join(p.dir, 'cache', 'logs', 'evaluate@fraction=0.log'), 'utf8')).toContain("other_features: standardised with features@fraction=0's statistics (normalization: train)");
    expect(p.read('report/report.md')).toContain("Sets from other feature tables are standardised with the statistics of the table each model was trained on (evaluate-ood normalization: train)");
    p.write('pipeline.yaml', PIPELINE.replace('      saliency: { clips: 4 }\n', '      saliency: { clips: 4 }\n      normalization: per_set\n'));
    const again = await p.conno(['repro', 'evaluate@fraction=0', 'report']);
    expect(again.exitCode, again.all).toBe(0);
    const perSet = await nllOther();
    expect(Math.abs(perSet - asTrained)).toBeGreaterThan(1e-4);
    expect(readFileSync(nodePath.join(p.dir, 'cache', 'logs', 'evaluate@fraction=0.log'), 'utf8')).not.toContain('standardised with');
    expect(p.read('report/report.md')).toContain('standardised with their own statistics (evaluate-ood normalization: per_set)');

    // User mistakes: a class the other dataset does not have (found when the stage runs, named with
    // its parameter), and a patch of size 0 (rejected before anything runs, with its position).
    p.write('pipeline.yaml', PIPELINE.replace('chirp_down: null', 'chirp_dwn: null'));
    const bad = await p.conno(['repro', 'evaluate@fraction=0']);
    expect(bad.exitCode).toBe(1);
    expect(bad.all).toContain("sets.other.class_map: 'chirp_dwn' is not a class of the evaluated table (its classes: tone, chirp_up, chirp_down)");
    p.write('pipeline.yaml', PIPELINE.replace('saliency: { clips: 4 }', 'saliency: { clips: 4, patch: [0, 5] }'));
    const invalid = await p.conno(['status']);
    expect(invalid.exitCode).toBe(2);
    expect(invalid.all).toMatch(/pipeline\.yaml:\d+:\d+: error: .*saliency\.patch/);
  }, 180_000);
});
