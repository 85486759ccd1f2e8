/**
 * The report from constructed upstream outputs (the exact Arrow schemas of train, score-difficulty
 * and evaluate-ood, test/support/report-study.ts): every section, the numbers it shows, what it
 * says when inputs are missing, byte-identical output, and a self-contained page.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTable, readTableFile, writeTableFileSync } from '../../core/arrow/io.js';
import type { StageInput } from '../../core/stage/api.js';
import { writeStudy, type Study } from '../../../test/support/report-study.js';
import { readReportData } from './read.js';
import { buildReport, type Report } from './page.js';
import { pooledScores } from './sections.js';
import { ReportParamsSchema } from './params.js';
import { mdTable } from '../../../test/support/markdown.js';

let dir: string;
let study: Study;
let full: Report;
const params = ReportParamsSchema.parse({});

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'conno-report-'));
  study = writeStudy({ dir: path.join(dir, 'full'), scores: true, evaluations: true, fingerprints: true });
  full = await buildReport(readReportData(study.inputs), params);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;


describe('a full study', () => {
  it('shows every section, each plot as one inline SVG, with no Vega warning', () => {
    expect(full.missing).toEqual([]);
    expect(full.warnings).toEqual([]);
    expect(full.html.match(/<svg /g)).toHaveLength(full.plots);
    // label noise, SNR ×2 (training data, test copies), OOD gap, memorisation, histograms,
    // correlation heatmap, stability, saliency × 2 runs
    expect(full.plots).toBe(10);
    expect(full.md).not.toContain('Not shown');
  });

  it('is self-contained: no script, nothing loaded but data: images, ids unique and every reference resolved', () => {
    expect(full.html).not.toMatch(/<script/i);
    expect(full.html).toContain(`content="default-src 'none'; img-src data:; style-src 'unsafe-inline'"`);
    for (const m of full.html.matchAll(/\s(?:src|href|xlink:href)="([^"]*)"/g)) expect(m[1]).toMatch(/^(#|data:image\/png;base64,)/);
    const ids = [...full.html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]!);
    expect(new Set(ids).size).toBe(ids.length);
    const refs = [...full.html.matchAll(/url\(#([^)]+)\)/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(0); // legend gradients
    for (const r of refs) expect(ids).toContain(r);
  });

  it('states the study’s effects with the numbers of the runs', () => {
    const acc = (pred: (id: string) => boolean): number => mean([...study.testAcc].filter(([id]) => pred(id)).map(([, a]) => a));
    const clean = (noise: number, loss: string) => acc((id) => id === `train@noise=${noise},loss=${loss},data=clean`);
    const at = (loss: string, noise: number): number => acc((id) => id.includes(`noise=${noise},loss=${loss},`) && !id.endsWith('data=pure'));
    const ceDrop = at('ce', 0) - at('ce', 0.4);
    const gceDrop = at('gce', 0) - at('gce', 0.4);
    expect(ceDrop).toBeGreaterThan(gceDrop); // the constructed study has the effect …
    expect(full.md).toContain(`ce: ${at('ce', 0).toFixed(3)} at 0 → ${at('ce', 0.4).toFixed(3)} at 0.4 (−${ceDrop.toFixed(3)})`);
    expect(full.md).toContain('It falls most for ce and least for gce.'); // … and the report says so
    expect(clean(0.4, 'ce')).toBeLessThan(clean(0.4, 'gce'));

    const pure = acc((id) => id.endsWith('data=pure'));
    expect(full.md).toContain(`Trained on pure noise (2 runs): mean test accuracy ${pure.toFixed(3)}; chance is 0.250.`);
    expect(full.md).toMatch(/Finding flipped labels: aum ranks best, mean AUROC 0\.9\d\d over 4 runs; final_loss 0\.9\d\d \(chance 0\.5\)\./);
  });

  it('tabulates every run with its fingerprint and varying params, and every summary AUROC', () => {
    const runs = mdTable(full.md, 'Runs (10); test accuracy on split \'test\'.');
    expect(runs).toHaveLength(10);
    const fingerprints = new Map(study.inputs.filter((i) => i.output === 'model').map((i) => [i.from, i.fingerprint!]));
    for (const row of runs) {
      const id = row[0]!;
      expect(row[row.length - 1]).toBe(fingerprints.get(id));
      expect(row).toContain(study.testAcc.get(id)!.toFixed(3));
      expect(row).toContain(id.includes('loss=gce') ? '0.7' : '–'); // loss.q differs between runs
    }
    expect(full.md).toContain('Params shared by every run: epochs=15, model.name=cnn4, seed=1.');

    // Ensembles are rows of the AUROC table, but no part of the findings (aum's mean above) or the histograms.
    expect(mdTable(full.md, 'AUROC of each score (rows: runs, and ensembles over runs).').find((r) => r[0] === 'ensemble@noise=0.4')).toEqual([
      'ensemble@noise=0.4', '–', expect.any(String), '0.000', '0.000', '0.000', '0.000',
    ]);
    const summary = readTableFile(study.inputs.find((i) => i.output === 'summary')!.path);
    const auroc = mdTable(full.md, 'AUROC of each score (rows: runs, and ensembles over runs).');
    const columns = ['run', 'noise', 'flipped', 'final_loss', 'aum', 'forgetting', 'random'];
    for (let i = 0; i < summary.numRows; i++) {
      const run = summary.getChild('run')!.get(i) as string;
      const score = summary.getChild('score')!.get(i) as string;
      const row = auroc.find((r) => r[0] === run)!;
      expect(row[columns.indexOf(score)]).toBe((summary.getChild('auroc')!.get(i) as number).toFixed(3));
      expect(row[2]).toBe(String(summary.getChild('n_flipped')!.get(i)));
    }
  });

  it('pools the runs’ scores for the histograms, leaving out the ensembles’ rows', () => {
    const pooled = pooledScores(readReportData(study.inputs).scores);
    const loss = pooled.get('final_loss')!;
    expect(loss.clean.length + loss.flipped.length).toBe(4 * 80); // 4 noisy runs × 80 train clips
    expect(Math.max(...loss.clean, ...loss.flipped)).toBeLessThan(100);
  });

  it('shows the OOD gap from evaluate-ood metrics', () => {
    const gap = mdTable(full.md, 'Accuracy per out-of-domain set and its gap to the in-domain accuracy.');
    expect(gap).toHaveLength(8 * 2); // 8 evaluated runs × (holdout, fsdd)
    for (const [, , acc, inDomain, diff] of gap) expect(Number(diff)).toBeCloseTo(Number(acc) - Number(inDomain), 2);
  });

  it('is byte-identical when built again (no counters, time stamps or random ids)', async () => {
    const again = await buildReport(readReportData(study.inputs), params);
    expect(again.html).toBe(full.html);
    expect(again.md).toBe(full.md);
  });
});

describe('a study with train stages only', () => {
  it('shows runs, accuracy, SNR (noisy test splits), OOD (holdout split) and curves; the rest says what it needs', async () => {
    const s = writeStudy({ dir: path.join(dir, 'train-only') });
    const r = await buildReport(readReportData(s.inputs), params);
    expect(r.shown).toEqual(['runs', 'label-noise', 'snr', 'ood-gap', 'memorisation']);
    expect(r.missing).toEqual(['score-distributions', 'auroc', 'correlations', 'saliency', 'representation']);
    expect(r.md).toContain('## Saliency maps\n\nNot shown: needs an evaluate-ood stage (its saliency output) in `needs`.');
    expect(r.md).toContain('## Finding flipped labels: AUROC\n\nNot shown: needs a score-difficulty stage (its summary output) in `needs`.');
    expect(r.md).toContain('fingerprint (or model output hash)');
    const model = s.inputs.find((i) => i.output === 'model')!;
    expect(r.md).toContain(`| model ${model.hash} |`);
    expect(r.md).toContain("Accuracy on noisy test copies vs their SNR (splits 'test@snr=…' of the predictions).");
  });

  it('without the axes in the items, keeps the run table and curves and names the missing matrix key', async () => {
    const s = writeStudy({ dir: path.join(dir, 'no-axes') });
    const r = await buildReport(readReportData(s.inputs), ReportParamsSchema.parse({ axes: { label_noise: 'rate', data_noise: null, method: 'model' } }));
    expect(r.md).toContain("Not shown: needs train instances with a numeric matrix key 'rate' (params.axes.label_noise) and a 'test' split.");
    expect(r.shown).toContain('runs');
    expect(r.shown).toContain('memorisation');
    expect(r.shown).toContain('snr'); // from the test copies, which need no axis
  });
});

describe('reading upstream outputs', () => {
  const input = (from: string, output: string, file: string): StageInput => ({ from, output, path: file, hash: 'h', item: {} });

  it('pools the patches of a clip by the geometric mean of their probabilities', () => {
    const file = path.join(dir, 'patched.arrow');
    // Clip a: two patches lean weakly to class 1, one is sure of class 0 → class 0 (label 0).
    // Clip b: one patch, class 1, label 0 → wrong.
    const logits = Float32Array.of(0, 0.2, 0, 0.2, 6, 0, 0, 3);
    writeTableFileSync(
      file,
      makeTable(
        [
          ['clip_id', { type: 'utf8', values: ['a', 'a', 'a', 'b'] }],
          ['split', { type: 'utf8', values: ['test', 'test', 'test', 'test'] }],
          ['label', { type: 'int32', values: Int32Array.of(0, 0, 0, 0) }],
          ['patch', { type: 'int32', values: Int32Array.of(0, 1, 2, 0) }],
          ['logits', { type: 'fixedSizeList', values: logits, size: 2 }],
        ],
        { 'conno.classes': '["x","y"]' },
      ),
    );
    const data = readReportData([input('train', 'predictions', file)]);
    expect(data.runs[0]!.splits).toEqual([{ split: 'test', n: 2, correct: 1 }]);
    expect(data.runs[0]!.classes).toEqual(['x', 'y']);
  });

  it('names the input and the column when an expected column is missing', () => {
    const file = path.join(dir, 'summary.arrow');
    writeTableFileSync(file, makeTable({ run: { type: 'utf8', values: ['r'] }, score: { type: 'utf8', values: ['aum'] } }));
    expect(() => readReportData([input('score-difficulty', 'summary', file)])).toThrow("report: score-difficulty:summary has no column 'auroc' (columns: run, score)");
  });

  it('takes the saliency shape from schema metadata when the field has none, and refuses a wrong one', () => {
    const file = path.join(dir, 'saliency.arrow');
    const cols = (meta: Record<string, string>) =>
      makeTable(
        [
          ['clip_id', { type: 'utf8', values: ['c'] }],
          ['label', { type: 'utf8', values: ['dog'] }],
          ['predicted', { type: 'utf8', values: ['cat'] }],
          ['map', { type: 'fixedSizeList', values: new Float32Array(6), size: 6 }],
          ['spectrogram', { type: 'fixedSizeList', values: new Float32Array(6), size: 6 }],
        ],
        meta,
      );
    writeTableFileSync(file, cols({ 'conno.shape': '[2,3]' }));
    expect(readReportData([input('ev', 'saliency', file)]).evaluations[0]!.saliency!.shape).toEqual([2, 3]);
    writeTableFileSync(file, cols({}));
    expect(() => readReportData([input('ev', 'saliency', file)])).toThrow(/ev:saliency: map and spectrogram need the shape \[n_mels, frames\]/);
  });
});
