/**
 * End-to-end: synth → features → train (wasm) through the CLI: better than chance on synth,
 * curves shown, a second repro is up to date, and verify rebuilds bit-identical weights in a
 * new process.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { tempProject, type TempProject } from './helpers.js';
import { readTableFile } from '../src/core/arrow/io.js';
import { synthStage } from './support/pipelines.js';

let p: TempProject | undefined;
afterEach(() => {
  p?.remove();
  p = undefined;
});

const PIPELINE = `stages:
${synthStage('classes: 4, clips_per_class: 40, seconds: 0.5, sample_rate: 16000, seed: 1, test_fraction: 0.25, dev_fraction: 0.15')}  features:
    uses: features
    needs: [data]
    with: { n_fft: 512, hop_length: 160, n_mels: 32, f_max: 8000, frames: 50, normalize: true }
  train:
    uses: train
    needs: [features]
    with:
      model: { name: cnn4, filters: [8, 16, 16], batchnorm: false }
      epochs: 25
      batch_size: 16
      optimizer: { lr: 0.003 }
      early_stopping: { patience: 6, monitor: dev_acc }
      seed: 1
      backend: wasm
`;

/** A small synth set and its features, for the tests that train a few epochs on it. */
const SMALL_FEATURES = `${synthStage('classes: 3, clips_per_class: 12, seconds: 0.3, sample_rate: 16000, seed: 2, test_fraction: 0.25')}  features:
    uses: features
    needs: [data]
    with: { n_fft: 256, win_length: 256, hop_length: 160, n_mels: 16, f_max: 8000, frames: 24 }
`;

describe('train stage (e2e)', () => {
  it('trains on synth better than chance, shows curves, is up to date, and verifies bit for bit', async () => {
    p = tempProject({ 'pipeline.yaml': PIPELINE });
    let r = await p.conno(['repro'], { timeout: 120_000 });
    expect(r.exitCode, r.all).toBe(0);

    const lock = (await import('yaml')).parse(p.read('conno.lock'));
    const m = lock.stages.train.metrics;
    expect(m.test_acc).toBeGreaterThan(0.7); // chance: 0.25; 0.95 when this was written
    expect(m).not.toHaveProperty('samples_per_s'); // timing would make conno.lock differ run to run
    expect(lock.stages.train.env).toMatchObject({ backend: 'wasm', 'tfjs-core': '4.22.0', 'wasm-simd': 'true', 'wasm-fma': 'true' });
    // Without fused multiply-adds the stage computes other bits: status says it is stale, and why.
    const noFma = await p.conno(['status', 'train'], { env: { CONNO_WASM_FMA: '0' } });
    expect(noFma.stdout).toMatch(/train:\n\s+environment changed: wasm-fma true → false/);
    expect((await p.conno(['status', 'train'])).stdout).toContain('up to date');

    r = await p.conno(['show', 'train:curves']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('dev_acc');
    const curves = readTableFile((await p.conno(['show', 'train:curves', '--path'])).stdout.trim());
    expect(curves.numRows).toBe(m.epochs_run);

    const dyn = readTableFile((await p.conno(['show', 'train:dynamics', '--path'])).stdout.trim());
    const preds = readTableFile((await p.conno(['show', 'train:predictions', '--path'])).stdout.trim());
    const emb = readTableFile((await p.conno(['show', 'train:embeddings', '--path'])).stdout.trim());
    const splits = Array.from(preds.getChild('split')!, (s) => s as string);
    const nTrain = splits.filter((s) => s === 'train').length;
    expect(new Set(splits)).toEqual(new Set(['train', 'dev', 'test']));
    expect(dyn.numRows).toBe(nTrain * m.epochs_run);
    expect(emb.numRows).toBe(preds.numRows);
    // The logits column agrees with p_given of the same rows (softmax at the given label).
    const labelOf = new Map<string, number>();
    for (let i = 0; i < preds.numRows; i++) labelOf.set(preds.getChild('clip_id')!.get(i) as string, preds.getChild('label')!.get(i) as number);
    const dLogits = dyn.getChild('logits')!;
    for (const row of [0, 7, dyn.numRows - 1]) {
      const z = Array.from(dLogits.get(row)!.toArray() as Float32Array);
      expect(z).toHaveLength(4);
      const e = z.map((v) => Math.exp(v - Math.max(...z)));
      const given = labelOf.get(dyn.getChild('clip_id')!.get(row) as string)!;
      expect(e[given]! / e.reduce((a, b) => a + b, 0)).toBeCloseTo(dyn.getChild('p_given')!.get(row) as number, 5);
    }

    // The model output loads back (src/lab/ml/load.ts) and predicts what the stage predicted.
    const modelPath = (await p.conno(['show', 'train:model', '--path'])).stdout.trim();
    const { initBackend } = await import('../src/lab/ml/backend.js');
    const { loadTrainedModel } = await import('../src/lab/ml/load.js');
    const { flatFloat32 } = await import('../src/core/arrow/io.js');
    const tf = await import('@tensorflow/tfjs-core');
    await initBackend('wasm');
    const loaded = await loadTrainedModel(modelPath);
    try {
      const feats = flatFloat32(readTableFile((await p.conno(['show', 'features:features', '--path'])).stdout.trim()), 'features');
      const rows = 5;
      const size = feats.shape[0]! * feats.shape[1]!;
      const x = tf.tensor4d(feats.values.slice(0, rows * size), [rows, feats.shape[0]!, feats.shape[1]!, 1]);
      const out = loaded.model.predict(x) as import('@tensorflow/tfjs-core').Tensor;
      const got = await out.data();
      tf.dispose([x, out]);
      const want = preds.getChild('logits')!;
      for (let i = 0; i < rows; i++) {
        const w = want.get(i)!.toArray() as Float32Array;
        for (let c = 0; c < w.length; c++) expect(got[i * w.length + c]).toBeCloseTo(w[c]!, 4);
      }
      expect(loaded.classes).toHaveLength(4);
    } finally {
      loaded.model.dispose();
    }
    const model = readTableFile(modelPath);
    expect(JSON.parse(model.schema.metadata.get('conno.model')!)).toMatchObject({ name: 'cnn4' });
    expect(model.schema.metadata.get('conno.best_epoch')).toBe(String(m.best_epoch));

    r = await p.conno(['status']);
    expect(r.stdout).toContain('Everything is up to date (3 stage instances).');
    r = await p.conno(['repro']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).not.toContain('running train');
    r = await p.conno(['verify'], { timeout: 120_000 });
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('Verified');
  }, 180_000);
});

describe('the kernels’ arithmetic as a matrix axis (e2e)', () => {
  it('a stage’s env: CONNO_WASM_FMA "0" trains without fused multiply-adds, its fingerprint says so, and verify passes both', async () => {
    p = tempProject({
      'pipeline.yaml': `stages:
${SMALL_FEATURES}  train:
    uses: train
    needs: [features]
    matrix: { fma: ["0", "1"] }
    env: { CONNO_WASM_FMA: "\${item.fma}" }
    with: { model: { name: cnn4, filters: [4, 8], batchnorm: true }, epochs: 2, batch_size: 8, seed: 1 }
`,
    });
    let r = await p.conno(['repro'], { timeout: 120_000 });
    expect(r.exitCode, r.all).toBe(0);
    const lock = (await import('yaml')).parse(p.read('conno.lock'));
    expect(lock.stages['train@fma=0'].env).toMatchObject({ CONNO_WASM_FMA: '0', 'wasm-fma': 'false' });
    expect(lock.stages['train@fma=1'].env).toMatchObject({ CONNO_WASM_FMA: '1', 'wasm-fma': 'true' });
    // The same seed and data, other bits.
    expect(lock.stages['train@fma=0'].outs.model.hash).not.toBe(lock.stages['train@fma=1'].outs.model.hash);
    // A stage's env: wins over conno's own environment, as in the stage's process…
    r = await p.conno(['status'], { env: { CONNO_WASM_FMA: '0' } });
    expect(r.stdout).toContain('Everything is up to date');
    // …and with conno's kernels off (the JS kernels and XNNPACK: no fused multiply-adds), the
    // fma=1 instance would compute other bits: stale, and why.
    r = await p.conno(['status'], { env: { CONNO_SIMD_KERNELS: '0' } });
    expect(r.stdout).toMatch(/train@fma=1:\n\s+environment changed: wasm-fma true → false/);
    expect(r.stdout).not.toContain('train@fma=0:');
    r = await p.conno(['verify'], { timeout: 120_000 });
    expect(r.exitCode, r.all).toBe(0);
  }, 180_000);
});

describe('init_from and freeze (e2e)', () => {
  it('starts from another run and, with freeze: backbone, changes only the logits layer', async () => {
    p = tempProject({
      'pipeline.yaml': `stages:
${SMALL_FEATURES}  pretrain:
    uses: train
    needs: [features]
    with: { model: { name: cnn4, filters: [4, 8], batchnorm: true }, epochs: 2, batch_size: 8, seed: 1 }
  head:
    uses: train
    needs: [features, pretrain]
    with: { model: { name: cnn4, filters: [4, 8], batchnorm: true }, epochs: 2, batch_size: 8, seed: 2, init_from: pretrain, freeze: backbone }
`,
    });
    const r = await p.conno(['repro'], { timeout: 120_000 });
    expect(r.exitCode, r.all).toBe(0);
    const weights = async (stage: string) => {
      const t = readTableFile((await p!.conno(['show', `${stage}:model`, '--path'])).stdout.trim());
      return new Map(Array.from({ length: t.numRows }, (_, i) => [t.getChild('name')!.get(i) as string, Array.from((t.getChild('values')!.get(i) as { toArray(): Float32Array }).toArray())]));
    };
    const a = await weights('pretrain');
    const b = await weights('head');
    expect([...b.keys()]).toEqual([...a.keys()]); // the same order, frozen or not
    for (const [name, v] of b) {
      if (name.split('/')[1] === 'logits') expect(v, name).not.toEqual(a.get(name));
      else expect(v, name).toEqual(a.get(name)); // conv kernels, batchnorm γ/β and running statistics
    }

    // A name that is not upstream is a clear error, before anything runs.
    p.write('pipeline.yaml', p.read('pipeline.yaml').replace('init_from: pretrain', 'init_from: pretrian'));
    const bad = await p.conno(['repro'], { timeout: 120_000 });
    expect(bad.exitCode).toBe(2);
    expect(bad.all).toMatch(/pipeline\.yaml:\d+:\d+: error: init_from: no upstream instance of 'pretrian' with a model output; add it to needs \(upstream with a model: 'pretrain'\)/);
  }, 180_000);
});

describe('clean accuracy on the default synth data (e2e)', () => {
  it('a short run of a wider cnn4 reaches the expected clean accuracy (> 0.8; 0.83 when written, 0.86 with 40 epochs)', async () => {
    p = tempProject({
      'pipeline.yaml': `stages:
${synthStage('classes: 10, clips_per_class: 100, seconds: 1.0, sample_rate: 16000, seed: 0')}  features:
    uses: features
    needs: [data]
    with: { n_fft: 512, hop_length: 400, n_mels: 32, f_min: 50, f_max: 8000, frames: 40, normalize: true }
  train:
    uses: train
    needs: [features]
    with:
      model: { name: cnn4, filters: [16, 32, 64, 64], batchnorm: true }
      epochs: 20
      batch_size: 32
      optimizer: { name: adam, lr: 0.003 }
      lr_schedule: { name: cosine }
      seed: 0
`,
    });
    const r = await p.conno(['repro'], { timeout: 300_000 });
    expect(r.exitCode, r.all).toBe(0);
    const m = (await import('yaml')).parse(p.read('conno.lock')).stages.train.metrics;
    console.log(`synth clean: test accuracy ${m.test_acc}, dev ${m.dev_acc}`);
    expect(m.test_acc).toBeGreaterThan(0.8); // chance 0.1; nearest centroid on log spectra 0.295
    expect(m.dev_acc).toBeGreaterThan(0.8);
  }, 320_000);
});
