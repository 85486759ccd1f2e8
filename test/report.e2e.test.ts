/**
 * End-to-end: synth → inject-noise (label noise 0 / 0.4, and a pure-noise training set) →
 * features → train (CE and GCE) → evaluate-ood → report, through the CLI. The report's numbers
 * are the upstream stages' own (conno.lock metrics, evaluate-ood's metrics table), the page opens
 * in headless Chromium without an error, and a report that needs no usable stage fails with a
 * message naming what it needs.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempProject, type TempProject } from './helpers.js';
import { readTableFile } from '../src/core/arrow/io.js';
// @ts-expect-error: a plain .mjs script (the one that makes the README picture)
import { screenshotReport } from '../scripts/report-screenshot.mjs';
import { mdTable } from './support/markdown.js';
import { synthStage } from './support/pipelines.js';

let p: TempProject | undefined;
afterEach(() => {
  p?.remove();
  p = undefined;
});

const PIPELINE = `stages:
${synthStage('classes: 4, clips_per_class: 28, seconds: 0.5, sample_rate: 16000, seed: 1, test_fraction: 0.3, dev_fraction: 0')}  noisy:
    uses: inject-noise
    needs: [data]
    matrix: { noise: [0, 0.4] }
    with:
      seed: 2
      label: { model: symmetric, rate: "\${item.noise}" }
      data: { kind: white, fraction: 0, test_copies: { snrs: [20, 0] } }
  pure:
    uses: inject-noise
    needs: [data]
    with: { seed: 2, data: { condition: pure } }
  features:
    uses: features
    needs: [noisy]
    matrix: { noise: [0, 0.4] }
    with: &features { n_fft: 512, hop_length: 160, n_mels: 32, f_max: 8000, frames: 50, normalize: true }
  features_pure:
    uses: features
    needs: [pure]
    with: *features
  train:
    uses: train
    needs: [features]
    matrix: { noise: [0, 0.4], loss: [ce, gce], data: [clean] }
    with: &train
      model: { name: cnn4, filters: [8, 16, 16], batchnorm: false }
      loss: { name: "\${item.loss}" }
      epochs: 12
      batch_size: 16
      optimizer: { lr: 0.003 }
      seed: 1
  train_pure:
    uses: train
    needs: [features_pure]
    matrix: { loss: [ce], data: [pure], noise: [0] }
    with: *train
  evaluate:
    uses: evaluate-ood
    needs: [train, features]
    matrix: { noise: [0, 0.4], loss: [ce, gce], data: [clean] }
    with: { saliency: { clips: 2 } }
  report:
    uses: report
    needs: [train, train_pure, evaluate]
    with: { title: Tiny study }
`;


const show = async (target: string): Promise<string> => (await p!.conno(['show', target, '--path'])).stdout.trim();

describe('report stage (e2e)', () => {
  it('reports a real study: the run table has the train stage’s accuracies, the page opens in Chromium', async () => {
    p = tempProject({ 'pipeline.yaml': PIPELINE });
    let r = await p.conno(['repro'], { timeout: 150_000 });
    expect(r.exitCode, r.all).toBe(0);
    const lock = (await import('yaml')).parse(p.read('conno.lock')) as { stages: Record<string, { fingerprint: string; metrics?: Record<string, unknown> }> };

    // The outputs, and their copies in the project (the stage's workspace map).
    const md = readFileSync(await show('report:md'), 'utf8');
    const html = readFileSync(await show('report:html'), 'utf8');
    expect(p.read('report/report.md')).toBe(md);
    expect(p.read('report/index.html')).toBe(html);
    expect(md).toMatch(/^# Tiny study/);

    // Every train instance is a row of the run table, with the test accuracy the train stage recorded.
    const trainIds = Object.keys(lock.stages).filter((id) => id.startsWith('train'));
    expect(trainIds).toHaveLength(5);
    const runRows = md.split('\n').filter((l) => l.startsWith('| train'));
    expect(runRows).toHaveLength(5);
    for (const id of trainIds) {
      const row = runRows.find((l) => l.startsWith(`| ${id} |`));
      expect(row, id).toBeDefined();
      expect(row).toContain(`| ${(lock.stages[id]!.metrics!.test_acc as number).toFixed(3)} |`);
      expect(row!.endsWith(`| ${lock.stages[id]!.fingerprint} |`), row).toBe(true);
    }
    // The params that differ between runs are columns (but loss.name, which only mirrors the
    // matrix key loss); the rest are listed once.
    expect(md).toMatch(/\| run \| noise \| loss \| data \| loss\.label_smoothing \| loss\.q \| test acc \|/);
    expect(md).not.toContain('loss.name');
    expect(md).toContain('Params shared by every run: backend=wasm, batch_size=16,');
    // What train and evaluate-ood provide is shown; the rest says what it needs.
    for (const section of ['label-noise', 'snr', 'memorisation', 'ood-gap', 'saliency']) expect(html).toContain(`<section id="${section}">\n<h2>`);
    expect(html).toMatch(/<section id="auroc">\n<h2>[^<]*<\/h2>\n<p class="missing">Not shown: needs a score-difficulty stage/);
    expect(html).toMatch(/<section id="representation">\n<h2>[^<]*<\/h2>\n<p class="missing">Not shown: needs an evaluate-ood stage with a probe/);
    expect(md).toContain("Accuracy on noisy test copies vs their SNR (evaluate-ood metrics).");
    // evaluate-ood's metrics, row for row.
    const evaluated = mdTable(md, 'Every evaluated set (evaluate-ood metrics).');
    const evalIds = Object.keys(lock.stages).filter((id) => id.startsWith('evaluate@'));
    expect(evalIds).toHaveLength(4);
    let rows = 0;
    for (const id of evalIds) {
      const m = readTableFile(await show(`${id}:metrics`));
      for (let i = 0; i < m.numRows; i++, rows++) {
        const row = evaluated.find((r) => r[0] === id.slice('evaluate@'.length) && r[1] === m.getChild('set')!.get(i));
        expect(row, `${id} ${m.getChild('set')!.get(i)}`).toBeDefined();
        expect(row![4]).toBe((m.getChild('accuracy')!.get(i) as number).toFixed(3));
      }
    }
    expect(evaluated).toHaveLength(rows);
    // The findings name both methods and the pure-noise run; its accuracy is the train stage's.
    const pureAcc = lock.stages['train_pure@loss=ce,data=pure,noise=0']!.metrics!.test_acc as number;
    expect(md).toMatch(/- Label noise 0 → [\d.]+, ce: test accuracy [\d.]+ \(n = 1\) → [\d.]+ \(n = 1\), a change of .*\(one seed × condition pair only: no test; run more seeds\)\./);
    expect(md).toMatch(/- Label noise 0 → [\d.]+, gce: /);
    expect(md).toContain(`- Trained on pure noise: mean test accuracy ${pureAcc.toFixed(3)} (n = 1); against chance (0.250): `);
    expect(md).toContain('(one run only: no test; run more seeds)');
    expect(pureAcc).toBeLessThan(0.45); // chance 0.25: the model had nothing to learn
    expect(lock.stages['train@noise=0,loss=ce,data=clean']!.metrics!.test_acc).toBeGreaterThan(0.7);

    const dir = mkdtempSync(path.join(os.tmpdir(), 'conno-report-e2e-'));
    try {
      const page = (await screenshotReport(path.join(p.dir, 'report/index.html'), path.join(dir, 'report.png'))) as { problems: string[]; svgs: number; rasters: number };
      expect(page.problems).toEqual([]);
      expect(page.svgs).toBe((html.match(/<svg /g) ?? []).length);
      expect(page.svgs).toBeGreaterThanOrEqual(5);
      expect(page.rasters).toBe(2 * 2 * 2); // saliency of 2 runs × 2 clips × (spectrogram, map)
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    r = await p.conno(['status']);
    expect(r.stdout).toContain('Everything is up to date');
    // Rebuilt in a new process, the page is the same bytes.
    r = await p.conno(['repro', 'report', '--force']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain('running report');
    expect(p.read('report/index.html')).toBe(html);
  }, 180_000);

  it('fails with a clear message when no upstream stage has anything to report', async () => {
    p = tempProject({
      'pipeline.yaml': `stages:
${synthStage('classes: 2, clips_per_class: 2, seconds: 0.25, sample_rate: 16000')}  report:
    uses: report
    needs: [data]
`,
    });
    const r = await p.conno(['repro']);
    expect(r.exitCode).toBe(1);
    expect(r.all).toContain('report needs upstream train, score-difficulty or evaluate-ood stages in `needs`');
    expect(r.all).toContain('data:clips');
  });
});
