/**
 * End-to-end: a raw-waveform model (wavecnn, after M5). synth → inject-noise (noisy test copies) →
 * waveform (fixed length) → train wavecnn → evaluate-ood; the same training straight from the
 * clip table gives the same bytes; verify holds bit for bit; a waveform table given to a log-mel
 * model, or log-mels to wavecnn, is an error before anything runs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { tempProject, type TempProject } from './helpers.js';
import { flatFloat32, readTableFile } from '../src/core/arrow/io.js';
import { synthStage } from './support/pipelines.js';

let p: TempProject | undefined;
afterEach(() => {
  p?.remove();
  p = undefined;
});

const TRAIN = '{ model: { name: wavecnn }, epochs: 15, batch_size: 16, optimizer: { lr: 0.003 }, seed: 1 }';
const PIPELINE = `stages:
${synthStage('classes: 4, clips_per_class: 40, seconds: 0.5, sample_rate: 16000, seed: 1, test_fraction: 0.25, dev_fraction: 0.15')}  noisy:
    uses: inject-noise
    needs: [data]
    with: { seed: 3, data: { condition: clean, kind: white, test_copies: { snrs: [10, -10] } } }
  wave:
    uses: waveform
    needs: [noisy]
    with: { samples: 8000 }
  train:
    uses: train
    needs: [wave]
    with: ${TRAIN}
  direct:
    uses: train
    needs: [noisy]
    with: ${TRAIN}
  evaluate:
    uses: evaluate-ood
    needs: [train, wave]
    with: { saliency: null }
`;

describe('wavecnn (e2e)', () => {
  it('learns from waveforms, from a waveform table or the clip table alike, is evaluated on noisy copies, and verifies', async () => {
    p = tempProject({ 'pipeline.yaml': PIPELINE });
    const r = await p.conno(['repro'], { timeout: 240_000 });
    expect(r.exitCode, r.all).toBe(0);
    const wave = readTableFile((await p.conno(['show', 'wave:features', '--path'])).stdout.trim());
    expect(flatFloat32(wave, 'features').shape).toEqual([1, 8000]);
    expect(wave.schema.fields.map((f) => f.name)).toContain('label_orig'); // inject-noise's columns carried through
    const lock = parse(p.read('conno.lock'));
    // Chance is 0.25 on 40 test clips.
    expect(lock.stages.train.metrics.test_acc).toBeGreaterThan(0.45);
    // From the clip table directly (0.5 s clips: 8000 samples): the very same model.
    expect(lock.stages.direct.outs.model.hash).toBe(lock.stages.train.outs.model.hash);
    const ev = lock.stages.evaluate.metrics;
    expect(ev.acc_test).toBeCloseTo(lock.stages.train.metrics.test_acc, 6);
    expect(ev['acc_test@snr=-10']).toBeLessThan(ev['acc_test@snr=10']);
    const v = await p.conno(['verify', 'train', 'wave'], { timeout: 120_000 });
    expect(v.exitCode, v.all).toBe(0);
  }, 300_000);

  it('is a positioned error for a log-mel model on waveforms, and for wavecnn on log-mels', async () => {
    p = tempProject({
      'pipeline.yaml': `stages:
${synthStage('classes: 2, clips_per_class: 4, seconds: 0.2, sample_rate: 16000, seed: 1')}  wave:
    uses: waveform
    needs: [data]
  mels:
    uses: features
    needs: [data]
  a:
    uses: train
    needs: [wave]
    with: { model: { name: cnn4 } }
  b:
    uses: train
    needs: [mels]
    with: { model: { name: wavecnn } }
`,
    });
    const r = await p.conno(['repro']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/pipeline\.yaml:\d+:\d+: error: .*cnn4 takes log-mel features; the upstream waveform table is for model: \{ name: wavecnn \}/);
    expect(r.stderr).toMatch(/pipeline\.yaml:\d+:\d+: error: .*wavecnn takes waveforms \(uses: waveform, or a clip table\), not the output of features/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
