/**
 * examples/architectures through the CLI, cut down: the same noisy clips reach a log-mel CNN, a
 * raw-waveform CNN and an MLP on a frozen ONNX extractor's embeddings; the report compares each
 * architecture with the log-mel CNN, paired by seed; verify holds on each kind of run.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cpSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { REPO, tempProject, type TempProject } from './helpers.js';

let p: TempProject | undefined;
afterEach(() => {
  p?.remove();
  p = undefined;
});

describe('examples/architectures (e2e)', () => {
  it('trains the three architectures on the same clips, reports each against the log-mel CNN, and verifies', async () => {
    p = tempProject();
    const skip = new Set(['cache', 'report', 'conno.lock']);
    const src = path.join(REPO, 'examples/architectures');
    cpSync(src, p.dir, { recursive: true, filter: (f) => !skip.has(path.relative(src, f).split(path.sep)[0]!) });
    p.write(
      'params/study.yaml',
      p
        .read('params/study.yaml')
        .replace(/classes: \d+/, 'classes: 4')
        .replace(/clips_per_class: \d+/, 'clips_per_class: 24')
        .replace(/seconds: [\d.]+/, 'seconds: 0.5')
        .replace(/label_rates: \[[^\]]*\]/, 'label_rates: [0.4]')
        .replace(/data: \[clean, 0dB\]/, 'data: [clean]')
        .replace(/seeds: \[[^\]]*\]/, 'seeds: [1, 2]')
        .replace(/epochs: \d+/, 'epochs: 3')
        .replace(/wave_epochs: \d+/, 'wave_epochs: 3'),
    );
    const r = await p.conno(['repro'], { timeout: 300_000 });
    expect(r.exitCode, r.all).toBe(0);
    const lock = parse(p.read('conno.lock'));
    const run = (arch: string, seed: number) => lock.stages[`${arch}@arch=${arch},noise=0.4,data=clean,seed=${seed}`];
    for (const arch of ['logmel_cnn', 'wavecnn', 'extractor_mlp']) for (const seed of [1, 2]) expect(run(arch, seed)?.metrics?.test_acc, `${arch} ${seed}`).toBeTypeOf('number');
    // Each architecture against the baseline, paired by seed (two pairs: a test, not a finding).
    const md = p.read('report/report.md');
    for (const arch of ['wavecnn', 'extractor_mlp']) expect(md).toMatch(new RegExp(`${arch}.*logmel_cnn|logmel_cnn.*${arch}`));
    expect(md).toMatch(/(t-test over|all) 2 condition × seed pairs/);
    // The three kinds of run reproduce from their recorded inputs.
    const v = await p.conno(['verify', '--sample', '3', '--seed', '1', 'wavecnn', 'extractor_mlp', 'embedded'], { timeout: 200_000 });
    expect(v.exitCode, v.all).toBe(0);
  }, 400_000);
});
