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
  it('trains with PyTorch in a command stage; difficulty, OOD and the report read its tables; verify holds', async () => {
    p = tempProject();
    const skip = new Set(['cache', 'report', 'conno.lock', 'out']);
    const src = path.join(REPO, 'examples/pytorch');
    cpSync(src, p.dir, { recursive: true, filter: (f) => !skip.has(path.relative(src, f).split(path.sep)[0]!) });
    p.write('params/study.yaml', p.read('params/study.yaml').replace(/^helpers: .*$/m, `helpers: ${JSON.stringify(path.join(REPO, 'python'))}`));
    const env = { PYTHON: PYTHON! };
    const r = await p.conno(['repro', '--gpus', '7'], { env, timeout: 300_000 });
    expect(r.exitCode, r.all).toBe(0);

    const lock = parse(p.read('conno.lock')) as { stages: Record<string, { metrics?: Record<string, { test_acc?: number }>; as?: Record<string, string> }> };
    const runs = ['0-0', '0-1', '0.4-0', '0.4-1'];
    for (const run of runs) {
      const [noise, seed] = run.split('-');
      const entry = lock.stages[`torch_cnn@noise=${noise},seed=${seed}`]!;
      expect(entry.as?.[`out/${run}/dynamics.arrow`]).toBe('dynamics');
      const acc = entry.metrics?.[`out/${run}/summary.json`]?.test_acc;
      expect(acc, run).toBeTypeOf('number');
      if (noise === '0') expect(acc, run).toBeGreaterThan(0.4); // six classes: chance is 0.17
    }
    // The stage held the GPU slot conno gave it (no CUDA here: PyTorch fell back to the CPU).
    expect(p.read('cache/logs/torch_cnn@noise=0,seed=0.log')).toMatch(/CUDA_VISIBLE_DEVICES=7, device cpu/);

    // evaluate-ood scored the test set and its noisy copies from the predictions.
    const show = async (target: string) => (await p!.conno(['show', target, '--path'])).stdout.trim();
    const metrics = readTableFile(await show('ood@noise=0,seed=0:metrics'));
    expect(Array.from({ length: metrics.numRows }, (_, i) => metrics.getChild('set')!.get(i))).toEqual(['test', 'test@snr=10', 'test@snr=0']);
    expect(metrics.getChild('accuracy')!.get(0)).toBeCloseTo(lock.stages['torch_cnn@noise=0,seed=0']!.metrics!['out/0-0/summary.json']!.test_acc!, 6);
    // score-difficulty scored every train clip of both seeds, against the injected flips.
    const scores = readTableFile(await show('score@noise=0.4:scores'));
    expect(scores.numRows).toBeGreaterThan(0);
    expect(Array.from({ length: scores.numRows }, (_, i) => scores.getChild('flipped')!.get(i)).some(Boolean)).toBe(true);
    // The report has the PyTorch runs, their curves and their difficulty.
    const md = p.read('report/report.md');
    expect(md).toContain('torch_cnn@noise=0.4,seed=1');
    expect(md).toMatch(/## Memorisation/);

    // PyTorch on one CPU thread with deterministic algorithms: the same bytes again.
    const v = await p.conno(['verify'], { env, timeout: 300_000 });
    expect(v.exitCode, v.all).toBe(0);
  }, 600_000);
});
