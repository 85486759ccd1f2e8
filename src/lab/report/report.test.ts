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
import { pairedT } from '../../core/util/stats.js';

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
    // AUROC per score, correlation heatmap, stability, saliency × 2 runs
    expect(full.plots).toBe(11);
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

  it('states each effect with its numbers, and runs no test on one run per condition', () => {
    const acc = (id: string) => study.testAcc.get(id)!;
    const clean = (noise: number, loss: string) => acc(`train@noise=${noise},loss=${loss},data=clean`);
    for (const loss of ['ce', 'gce']) {
      const [lo, hi] = [clean(0, loss), clean(0.4, loss)];
      expect(full.md).toContain(`- Label noise 0 → 0.4, ${loss}: test accuracy ${lo.toFixed(3)} (n = 1) → ${hi.toFixed(3)} (n = 1), a change of −${(lo - hi).toFixed(3)} (one seed × condition pair only: no test; run more seeds).`);
    }
    // A drop of one run against another is not a finding: the report says it is untested.
    expect(full.md).toContain('whether accuracy falls more for ce than for gce is untested');
    expect(full.md).not.toMatch(/falls more for \w+ than for \w+:/);

    const pure = [...study.testAcc].filter(([id]) => id.endsWith('data=pure')).map(([, a]) => a);
    const t = pairedT(pure, pure.map(() => 0.25));
    expect(full.md).toContain(`- Trained on pure noise: mean test accuracy ${mean(pure).toFixed(3)} ± ${((t.ci95![1] - t.ci95![0]) / 2).toFixed(3)} (n = 2); against chance (0.250): `);
    expect(full.md).toMatch(/Finding flipped labels: aum ranks best, mean AUROC 0\.9\d\d ± 0\.0\d\d \(n = 4\) over runs \(chance 0\.5\); against final_loss: \+0\.\d{3} \(95% CI .* paired t-test over 4 runs, p = 0\.\d+\)\./);
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

describe('a study of three seeds per condition', () => {
  let seeded: Study;
  let r: Report;
  beforeAll(async () => {
    seeded = writeStudy({ dir: path.join(dir, 'seeds'), scores: true, evaluations: true, fingerprints: true, seeds: 3 });
    r = await buildReport(readReportData(seeded.inputs), params);
  });
  const acc = (noise: number, loss: string, seed: number) => seeded.testAcc.get(`train@noise=${noise},loss=${loss},data=clean,seed=${seed}`)!;
  const seeds = [0, 1, 2];
  const half = (ci: readonly [number, number] | null) => ((ci![1] - ci![0]) / 2).toFixed(3);
  const signed = (x: number) => (x < 0 ? `−${(-x).toFixed(3)}` : `+${x.toFixed(3)}`);

  it('tests the label-noise effect per method, paired by seed, with its CI and p-value', () => {
    for (const loss of ['ce', 'gce']) {
      const lo = seeds.map((s) => acc(0, loss, s));
      const hi = seeds.map((s) => acc(0.4, loss, s));
      const t = pairedT(hi, lo);
      expect(t.n).toBe(3);
      const verdict = t.p < 0.05 ? '' : ': not significant at α = 0.05';
      const p = t.p < 0.01 ? t.p.toFixed(4) : t.p.toFixed(3);
      expect(r.md).toContain(
        `- Label noise 0 → 0.4, ${loss}: test accuracy ${mean(lo).toFixed(3)} ± ${half(pairedT(lo, [0, 0, 0]).ci95)} (n = 3) → ${mean(hi).toFixed(3)} ± ${half(pairedT(hi, [0, 0, 0]).ci95)} (n = 3), ` +
          `a change of ${signed(t.diff)} (95% CI ${signed(t.ci95![0])} to ${signed(t.ci95![1])}; paired t-test over 3 seed × condition pairs, p = ${p}${verdict}).`,
      );
    }
    // The difference of the drops, paired by seed: stated as a finding only when significant.
    const drop = (loss: string) => seeds.map((s) => acc(0, loss, s) - acc(0.4, loss, s));
    const t = pairedT(drop('ce'), drop('gce'));
    expect(r.md).toContain(`the drop for ce minus the drop for gce is ${signed(t.diff)} (95% CI ${signed(t.ci95![0])} to ${signed(t.ci95![1])}; paired t-test over 3 seed × condition pairs`);
    expect(r.md).toContain(t.p < 0.05 ? 'accuracy falls more for ce than for gce:' : 'a difference between the drops of ce and gce is not shown');
    // A smaller drop of a method near chance is called a floor, not robustness.
    const chance = Number(/against chance \((\d\.\d+)\)/.exec(r.md)![1]);
    const [most, least] = mean(drop('ce')) >= mean(drop('gce')) ? ['ce', 'gce'] : ['gce', 'ce'];
    const room = mean(seeds.map((s) => acc(0, least!, s))) - chance;
    expect(r.md.includes('(a floor effect)')).toBe(room < mean(drop(most!)));
  });

  it("calls a near-chance method's smaller drop a floor effect, not robustness", async () => {
    // gce made near chance: chance + 0.05 with clean labels, chance with noise — less room than ce's drop.
    const data = readReportData(seeded.inputs);
    const chance = Number(/against chance \((\d\.\d+)\)/.exec(r.md)![1]);
    for (const run of data.runs) {
      if (!run.id.includes('loss=gce') || run.id.includes('data=pure')) continue;
      const test = run.splits.find((sp) => sp.split === 'test')!;
      test.correct = Math.round((run.id.includes('noise=0,') ? chance + 0.05 : chance) * test.n);
    }
    const f = await buildReport(data, params);
    expect(f.md).toMatch(/But gce reaches only \d\.\d{3} with label noise 0, 0\.0\d{2} above chance \(\d\.\d{3}\): less room to fall than ce's drop of \d\.\d{3}, so its smaller drop does not show robustness \(a floor effect\)\./);
  });

  it('tests each method against the baseline (the first), paired over every condition and seed, pure noise aside', () => {
    const pairs = [...seeded.testAcc].filter(([id]) => id.includes('loss=gce') && !id.includes('data=pure'));
    const gce = pairs.map(([, a]) => a);
    const ce = pairs.map(([id]) => seeded.testAcc.get(id.replace('loss=gce', 'loss=ce'))!);
    const t = pairedT(gce, ce);
    expect(t.n).toBe(12);
    const p = t.p < 0.01 ? t.p.toFixed(4) : t.p.toFixed(3);
    const said = t.p < 0.05 ? `gce scores ${t.diff > 0 ? 'higher' : 'lower'} than ce` : 'gce against ce';
    expect(r.md).toContain(`- Test accuracy, ${said}: ${signed(t.diff)} (95% CI ${signed(t.ci95![0])} to ${signed(t.ci95![1])}; paired t-test over 12 condition × seed pairs, p = ${p}${t.p < 0.05 ? '' : ': not significant at α = 0.05'}).`);
  });

  it('says when two scores rank alike (the same AUROC in every run), and tests the best against another', async () => {
    const data = readReportData(seeded.inputs);
    // A score that orders every run's clips like final_loss (as 1 − p does): equal AUROCs.
    data.summary.push(...data.summary.filter((x) => x.score === 'aum').map((x) => ({ ...x, score: 'cleanlab' })));
    const tied = await buildReport(data, params);
    expect(tied.md).toMatch(/Finding flipped labels: aum ranks best \(cleanlab alike: the same AUROC in every run\), mean AUROC .*; against final_loss: [+−]0\.\d{3} \(95% CI/);
  });

  it('names a baseline that is no method', async () => {
    const other = await buildReport(readReportData(seeded.inputs), ReportParamsSchema.parse({ baseline: 'mae' }));
    expect(other.md).toContain("No method is compared with the baseline: params.baseline 'mae' is not a value of 'loss' (ce, gce).");
  });

  it('draws each condition as its mean with a 95% CI over the seeds, and tabulates it', () => {
    const table = mdTable(r.md, 'Test accuracy by method and label-noise rate: mean ± the half-width of its 95% CI over the seeds (n runs).');
    const ce = table.find((row) => row[0] === 'ce' && row[1] === 'clean')!;
    const v = seeds.map((s) => acc(0.2, 'ce', s));
    expect(ce[3]).toBe(`${mean(v).toFixed(3)} ± ${half(pairedT(v, [0, 0, 0]).ci95)} (n = 3)`);
    // A CI bar per condition of the label-noise plot (10 conditions of 3 seeds); none with one run per condition.
    const ciBars = (html: string, from = 'label-noise', to = 'snr') => {
      const section = html.slice(html.indexOf(`id="${from}"`), html.indexOf(`id="${to}"`));
      return [...section.matchAll(/<g class="mark-rule role-mark[^"]*"[^>]*>(.*?)<\/g>/g)].flatMap((m) => m[1]!.match(/<line [^>]*stroke-width="2"/g) ?? []).length;
    };
    expect(ciBars(r.html)).toBe(10);
    expect(ciBars(full.html)).toBe(0);
    // SNR: 10 conditions against their training data; 8 evaluated conditions × 3 noisy test copies.
    expect(ciBars(r.html, 'snr', 'ood-gap')).toBe(10 + 8 * 3);
    expect(ciBars(full.html, 'snr', 'ood-gap')).toBe(0);
    const pivot = mdTable(r.md, 'Accuracy on every evaluated set, per condition: mean ± the half-width of its 95% CI over the seeds (n runs).');
    expect(pivot).toHaveLength(8);
    for (const row of pivot) for (const cell of row.slice(1)) expect(cell).toMatch(/\(n = 3\)$/);
  });

  it('says how stable each score is between seeds of one condition (and not between conditions)', () => {
    const table = mdTable(
      r.md,
      'Seed stability: Spearman correlation of each score between runs that differ only in their seed, averaged per condition (mean ± the half-width of its 95% CI over the conditions, n conditions).',
    );
    const rows = readReportData(seeded.inputs).correlations.filter((c) => c.score_a === c.score_b && c.run_a !== c.run_b && !c.run_a.startsWith('ensemble'));
    const condition = (id: string) => id.replace(/,seed=\d+$/, '');
    for (const score of ['final_loss', 'aum', 'forgetting', 'random']) {
      const same = rows.filter((c) => c.score_a === score && condition(c.run_a) === condition(c.run_b));
      expect(same).toHaveLength(4 * 3); // 4 noisy conditions × 3 seed pairs
      expect(rows.filter((c) => c.score_a === score).length).toBeGreaterThan(same.length);
      const perCondition = [...new Set(same.map((c) => condition(c.run_a)))].map((k) => mean(same.filter((c) => condition(c.run_a) === k).map((c) => c.spearman)));
      expect(perCondition).toHaveLength(4);
      expect(table.find((row) => row[0] === score)!.slice(1)).toEqual([`${mean(perCondition).toFixed(3)} ± ${half(pairedT(perCondition, [0, 0, 0, 0]).ci95)} (n = 4)`, '12']);
    }
    expect(r.md).toMatch(/Across training seeds, \w+ ranks the samples most alike \(mean Spearman -?\d\.\d{3} over 4 conditions\)/);
  });

  it('shows each score’s AUROC as a mean over runs with its CI, and per condition over the seeds', () => {
    const summary = readReportData(seeded.inputs).summary.filter((x) => !x.run.startsWith('ensemble'));
    const aum = summary.filter((x) => x.score === 'aum').map((x) => x.auroc);
    expect(aum).toHaveLength(12);
    const t = pairedT(aum, aum.map(() => 0));
    // The bar and its CI rule, as Vega draws them from the spec's data.
    expect(r.html).toContain('AUROC of each score: the mean over runs with its 95% confidence interval');
    const perCondition = mdTable(r.md, 'AUROC per condition: mean ± the half-width of its 95% CI over the seeds (n runs).');
    expect(perCondition).toHaveLength(4);
    const ce04 = summary.filter((x) => x.score === 'aum' && x.run.startsWith('train@noise=0.4,loss=ce,data=clean,')).map((x) => x.auroc);
    const columns = ['condition', 'final_loss', 'aum', 'forgetting', 'random'];
    expect(perCondition.find((row) => row[0] === 'data=clean,loss=ce,noise=0.4')![columns.indexOf('aum')]).toBe(`${mean(ce04).toFixed(3)} ± ${half(pairedT(ce04, [0, 0, 0]).ci95)} (n = 3)`);
    expect(t.n).toBe(12);
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
