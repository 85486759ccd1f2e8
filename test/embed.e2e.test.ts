/**
 * End-to-end: a pretrained ONNX model as a frozen feature extractor. synth → embed (a raw-
 * waveform model) → train (an MLP head) → evaluate-ood (the test set and its noisy copies, CKA);
 * and features → embed (a log-mel model, every step kept). The model file is an input; embed
 * verifies bit for bit; a model that does not fit the data says what it expects.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO, tempProject, type TempProject } from './helpers.js';
import { flatFloat32, readTableFile } from '../src/core/arrow/io.js';
import { synthStage } from './support/pipelines.js';

let p: TempProject | undefined;
afterEach(() => {
  p?.remove();
  p = undefined;
});

const FIX = path.join(REPO, 'test', 'fixtures', 'onnx');

const PIPELINE = (melWith = '{ n_mels: 32, frames: 40, hop_length: 200, normalize: true }', embedWave = 'model: models/wave.onnx, input: waveform, sample_rate: 16000') => `stages:
${synthStage('classes: 4, clips_per_class: 40, seconds: 0.5, sample_rate: 16000, seed: 1, test_fraction: 0.25, dev_fraction: 0.15')}  noisy:
    uses: inject-noise
    needs: [data]
    with: { seed: 3, data: { condition: clean, kind: white, test_copies: { snrs: [10, -10] } } }
  embed:
    uses: embed
    needs: [noisy]
    with: { ${embedWave} }
  head:
    uses: train
    needs: [embed]
    with:
      model: { name: mlp, hidden: [32] }
      epochs: 30
      batch_size: 16
      optimizer: { lr: 0.01 }
      seed: 1
  evaluate:
    uses: evaluate-ood
    needs: [head, embed]
    with: { cka: { with: head }, saliency: null }
  mels:
    uses: features
    needs: [noisy]
    with: ${melWith}
  embed_mel:
    uses: embed
    needs: [mels]
    with: { model: models/mel.onnx, input: logmel, output: frames, pool: none }
`;

function project(pipeline = PIPELINE()): TempProject {
  const t = tempProject({ 'pipeline.yaml': pipeline });
  mkdirSync(path.join(t.dir, 'models'));
  copyFileSync(path.join(FIX, 'wave_embed.onnx'), path.join(t.dir, 'models', 'wave.onnx'));
  copyFileSync(path.join(FIX, 'mel_embed.onnx'), path.join(t.dir, 'models', 'mel.onnx'));
  return t;
}

describe('embed stage (e2e)', () => {
  it('embeds waveforms and log-mels with ONNX models, trains a head on them, verifies, and sees the model change', async () => {
    p = project();
    const r = await p.conno(['repro'], { timeout: 240_000 });
    expect(r.exitCode, r.all).toBe(0);
    const show = async (t: string) => (await p!.conno(['show', t, '--path'])).stdout.trim();

    // One 16-value embedding per clip of every split (test copies included), with the clip columns.
    const emb = readTableFile(await show('embed:features'));
    const noisyClips = readTableFile(await show('noisy:clips'));
    expect(emb.numRows).toBe(noisyClips.numRows);
    expect(emb.schema.fields.map((f) => f.name).slice(0, 5)).toEqual(['clip_id', 'split', 'label', 'speaker', 'fold']);
    expect(emb.schema.fields.at(-1)!.name).toBe('features');
    const f = flatFloat32(emb, 'features');
    expect(f.shape).toEqual([16, 1]);
    expect(f.values.every(Number.isFinite)).toBe(true);
    expect(new Set(Array.from(emb.getChild('split')!, (s) => s as string))).toEqual(new Set(['train', 'dev', 'test', 'test@snr=10', 'test@snr=-10']));
    const described = JSON.parse(emb.schema.metadata.get('conno.features')!) as { embed: Record<string, unknown> };
    expect(described.embed).toMatchObject({ model: 'models/wave.onnx', input: 'waveform', pool: 'mean', onnxruntime: expect.stringMatching(/^\d+\.\d+/) });

    // The head learns from the embeddings: the training set, and above chance (0.25) on the 40 test
    // clips. (A filterbank's mean log energies cannot tell a rising chirp from a falling one, and
    // synth's background noise is strong: this is a pipeline check, not a good model.)
    const lock = parse(p.read('conno.lock'));
    expect(lock.stages.head.metrics.train_acc).toBeGreaterThan(0.7);
    expect(lock.stages.head.metrics.test_acc).toBeGreaterThan(0.35);
    expect(lock.stages.evaluate.metrics['acc_test@snr=-10']).toBeDefined();
    // The runtime's version is part of embed's fingerprint; the model file is an input.
    expect(lock.stages.embed.env['onnxruntime-node']).toMatch(/^\d+\.\d+\.\d+/);
    expect(Object.keys(lock.stages.embed.deps)).toContain('models/wave.onnx');

    // Every step of the log-mel model: [12, 40].
    const mel = flatFloat32(readTableFile(await show('embed_mel:features')), 'features');
    expect(mel.shape).toEqual([12, 40]);

    // Rerun from the recorded inputs: the same bytes.
    const v = await p.conno(['verify', 'embed', 'embed_mel'], { timeout: 120_000 });
    expect(v.exitCode, v.all).toBe(0);
    expect(v.stdout).toContain('Verified: all 2 stage instances reproduce conno.lock bit for bit.');

    // Another model under the same name: embed and what it feeds are stale, naming the file.
    copyFileSync(path.join(FIX, 'mel_embed.onnx'), path.join(p.dir, 'models', 'wave.onnx'));
    const st = await p.conno(['status']);
    expect(st.stdout).toMatch(/embed:\n\s+input changed: models\/wave\.onnx/);
    expect(st.stdout).toContain('head:\n    upstream stale: embed');
    expect(st.stdout).not.toMatch(/embed_mel:/);
    // …and that model does not take waveforms: the error names what it expects.
    const bad = await p.conno(['repro', 'embed']);
    expect(bad.exitCode).toBe(1);
    expect(bad.all).toContain("pipeline.yaml:12:20: error: model models/wave.onnx: the model's input 'logmel' [batch, 32, frames] has 3 axes; clips of 8000 samples give [batch, 8000]\n 12 |     with: { model: models/wave.onnx, input: waveform, sample_rate: 16000 }\n    |                    ^^^^^^^^^^^^^^^^");
    expect(bad.all).not.toMatch(/\n\s+at /);
  }, 300_000);

  it('names what a log-mel model expects when the features do not fit, and a missing input name', async () => {
    p = project(PIPELINE('{ n_mels: 40, frames: 40, hop_length: 200 }', 'model: models/wave.onnx, input: waveform, input_name: audio'));
    const r = await p.conno(['repro', '-k'], { timeout: 120_000 });
    expect(r.exitCode).toBe(1);
    // Each at its place in pipeline.yaml: the model that does not fit, the name it lacks.
    expect(r.all).toContain("pipeline.yaml:33:20: error: model models/mel.onnx: the model's input 'logmel' [batch, 32, frames] wants 32 at axis 1; the features of mels give [batch, 40, 40]");
    expect(r.all).toContain("pipeline.yaml:12:67: error: model models/wave.onnx: input_name: the model has no input 'audio'; its inputs: 'waveform' [batch, samples]");
    // Nothing of the failed instances is in the lock.
    const lock = parse(p.read('conno.lock'));
    expect(lock.stages.embed).toBeUndefined();
    expect(lock.stages.embed_mel).toBeUndefined();
  }, 200_000);

  it('takes clips only at the rate the model expects', async () => {
    p = project(PIPELINE(undefined, 'model: models/wave.onnx, input: waveform, sample_rate: 22050'));
    const r = await p.conno(['repro', 'embed'], { timeout: 120_000 });
    expect(r.exitCode).toBe(1);
    expect(r.all).toMatch(/pipeline\.yaml:12:\d+: error: the model expects 22050 Hz/);
    expect(r.all).toContain('the model expects 22050 Hz (sample_rate), the clips of noisy are at 16000 Hz: resample them upstream (uses: resample, rate: 22050)');
  }, 120_000);
});
