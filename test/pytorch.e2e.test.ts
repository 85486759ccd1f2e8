/**
 * examples/pytorch through the CLI: a PyTorch CNN (train.py, a command stage) trains on conno's
 * log-mels and writes its predictions, dynamics, embeddings and curves with python/conno_io.py;
 * score-difficulty, evaluate-ood and the report read them like a built-in train's, the stage gets
 * its GPU slot, and `verify` reproduces every output bit for bit.
 *
 * Needs a Python with numpy and PyTorch (Debian's python3-torch): CONNO_PYTHON, else python3,
 * else /usr/bin/python3. Without one the test is skipped, unless CONNO_REQUIRE_PYTHON=1 (CI).
 */
import { cpSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO, tempProject, type TempProject } from './helpers.js';
import { readTableFile } from '../src/core/arrow/io.js';
import { findPython } from './support/python.js';

const PYTHON = findPython(['numpy', 'torch']);
if (!PYTHON && process.env.CONNO_REQUIRE_PYTHON === '1') throw new Error('CONNO_REQUIRE_PYTHON=1, but no Python with numpy and torch was found (CONNO_PYTHON, python3, /usr/bin/python3)');

let p: TempProject | undefined;
afterEach(() => {
  p?.remove();
  p = undefined;
});

describe.skipIf(!PYTHON)(`examples/pytorch (e2e, ${PYTHON ?? 'no Python with torch'})`, () => {
  it('a PyTorch stage beside wavecnn and an ONNX extractor + MLP: difficulty, OOD and the report read every run; verify holds', async () => {
    p = tempProject();
    const skip = new Set(['cache', 'report', 'conno.lock', 'out']);
    const src = path.join(REPO, 'examples/pytorch');
    cpSync(src, p.dir, { recursive: true, filter: (f) => !skip.has(path.relative(src, f).split(path.sep)[0]!) });
    p.write(
      'params/study.yaml',
      p
        .read('params/study.yaml')
        .replace(/^helpers: .*$/m, `helpers: ${JSON.stringify(path.join(REPO, 'python'))}`)
        .replace(/^extractor: .*$/m, `extractor: ${JSON.stringify(path.join(REPO, 'examples/architectures/models/extractor.onnx'))}`)
        .replace(/clips_per_class: \d+/, 'clips_per_class: 24')
        .replace(/ epochs: \d+/, ' epochs: 15')
        .replace(/wave_epochs: \d+/, 'wave_epochs: 6'),
    );
    const env = { PYTHON: PYTHON! };
    const r = await p.conno(['repro', '--gpus', '7'], { env, timeout: 400_000 });
    expect(r.exitCode, r.all).toBe(0);

    const lock = parse(p.read('conno.lock')) as { stages: Record<string, { metrics?: Record<string, { test_acc?: number }>; as?: Record<string, string> }> };
    const accs: number[] = [];
    for (const noise of ['0', '0.4']) {
      for (const seed of ['0', '1']) {
        const entry = lock.stages[`torch_cnn@arch=torch_cnn,noise=${noise},seed=${seed}`]!;
        expect(entry.as?.[`out/${noise}-${seed}/dynamics.arrow`]).toBe('dynamics');
        const acc = entry.metrics?.[`out/${noise}-${seed}/summary.json`]?.test_acc;
        expect(acc, `${noise} ${seed}`).toBeTypeOf('number');
        if (noise === '0') accs.push(acc!);
      }
    }
    expect((accs[0]! + accs[1]!) / 2).toBeGreaterThan(1 / 6); // above chance with clean labels
    // The stage held the GPU slot conno gave it (no CUDA here: PyTorch fell back to the CPU).
    expect(p.read('cache/logs/torch_cnn@arch=torch_cnn,noise=0,seed=0.log')).toMatch(/CUDA_VISIBLE_DEVICES=7, device cpu/);

    // evaluate-ood scored every run: the PyTorch one from its predictions, the others by their model.
    const show = async (target: string) => (await p!.conno(['show', target, '--path'])).stdout.trim();
    for (const arch of ['torch_cnn', 'wavecnn', 'extractor_mlp']) {
      const metrics = readTableFile(await show(`ood@arch=${arch},noise=0,seed=0:metrics`));
      expect(Array.from({ length: metrics.numRows }, (_, i) => metrics.getChild('set')!.get(i)), arch).toEqual(['test', 'test@snr=10', 'test@snr=0']);
    }
    const torchOod = readTableFile(await show('ood@arch=torch_cnn,noise=0,seed=0:metrics'));
    expect(torchOod.getChild('accuracy')!.get(0)).toBeCloseTo(accs[0]!, 6);
    // score-difficulty scored every train clip of both seeds of each architecture, against the flips.
    for (const arch of ['torch_cnn', 'wavecnn', 'extractor_mlp']) {
      const scores = readTableFile(await show(`score@arch=${arch},noise=0.4:scores`));
      expect(Array.from({ length: scores.numRows }, (_, i) => scores.getChild('flipped')!.get(i)).some(Boolean), arch).toBe(true);
    }
    // The report has every run, the PyTorch curves, and compares each architecture with PyTorch's.
    const md = p.read('report/report.md');
    expect(md).toContain('torch_cnn@arch=torch_cnn,noise=0.4,seed=1');
    expect(md).toMatch(/## Memorisation/);
    expect(md).toMatch(/Test accuracy, (wavecnn|extractor_mlp)[^\n]*torch_cnn/);

    // Every kind of run reproduces from its recorded inputs, PyTorch's bit for bit too.
    const one = ['torch_cnn@arch=torch_cnn,noise=0.4,seed=1', 'wavecnn@arch=wavecnn,noise=0.4,seed=1', 'embedded@arch=extractor_mlp,noise=0.4', 'extractor_mlp@arch=extractor_mlp,noise=0.4,seed=1'];
    const v = await p.conno(['verify', ...one], { env, timeout: 300_000 });
    expect(v.exitCode, v.all).toBe(0);
    for (const id of one) expect(v.stdout).toContain(`ok ${id}`);
  }, 700_000);
});
