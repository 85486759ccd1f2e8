/**
 * examples/fsdd runs offline through the data mirror (the real FSDD archive in
 * ../shared/datasets/fsdd): a cut-down grid of the study, from download to the report, with the
 * held-out speaker evaluated as the out-of-distribution set.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cpSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { REPO, tempProject, type TempProject } from './helpers.js';
import { readTableFile } from '../src/core/arrow/io.js';

const FSDD = path.resolve(REPO, '../shared/datasets/fsdd');
if (!existsSync(path.join(FSDD, 'fsdd-1.0.10.tar.gz'))) throw new Error(`the FSDD archive is missing: expected ${FSDD}/fsdd-1.0.10.tar.gz`);

let p: TempProject | undefined;
afterEach(() => {
  p?.remove();
  p = undefined;
});

describe('examples/fsdd (e2e, offline through the mirror)', () => {
  it('runs the study with a held-out speaker and writes the report', async () => {
    p = tempProject();
    cpSync(path.join(REPO, 'examples/fsdd'), p.dir, { recursive: true });
    // A quick grid: the example's structure, fewer conditions, clips and epochs.
    const params = p
      .read('params/study.yaml')
      .replace(/label_rates: \[[^\]]*\]/, 'label_rates: [0.0, 0.4]')
      .replace(/  data: \[clean[^\]]*\]/, '  data: [clean, pure]')
      .replace(/test_snrs: \[[^\]]*\]/, 'test_snrs: [10, -5]')
      .replace(/losses: \[[^\]]*\]/, 'losses: [ce]')
      .replace(/seeds: \[[^\]]*\]/, 'seeds: [0]')
      .replace(/epochs: \d+/, 'epochs: 30')
      .replace(/batch_size: \d+/, 'batch_size: 32');
    p.write('params/study.yaml', params);
    p.write('pipeline.yaml', p.read('pipeline.yaml').replace('      dataset: fsdd\n', '      dataset: fsdd\n      max_clips_per_class: 40\n'));

    const r = await p.conno(['repro'], { env: { CONNO_DATA_MIRROR: FSDD }, timeout: 400_000 });
    expect(r.exitCode, r.all).toBe(0);
    const lock = parse(p.read('conno.lock'));
    const clean = lock.stages['ood@noise=0,data=clean,loss=ce,seed=0'].metrics;
    const pure = lock.stages['ood@noise=0,data=pure,loss=ce,seed=0'].metrics;
    // The held-out speaker is evaluated, and is harder than the seen speakers' test takes (an
    // OOD gap); a model trained on pure noise is near chance (10 classes).
    expect(clean.acc_test).toBeGreaterThan(0.3); // 400 training clips, 30 epochs: 0.46 when written
    expect(clean.acc_holdout).toBeLessThan(clean.acc_test);
    expect(pure.acc_test).toBeLessThan(0.25);
    const ood = readTableFile((await p.conno(['show', 'ood@noise=0,data=clean,loss=ce,seed=0:metrics', '--path'])).stdout.trim());
    const sets = Array.from(ood.getChild('set')!, (s) => s as string);
    expect(sets).toEqual(['test', 'test@snr=10', 'test@snr=-5', 'holdout']);
    const html = readFileSync(path.join(p.dir, 'report/index.html'), 'utf8');
    expect(html).toContain('speaker theo held out');
    expect(html).toContain('holdout');
    expect(p.exists('report/report.md')).toBe(true);
  }, 420_000);
});
