/**
 * End-to-end: a command stage that trains "elsewhere" (here a nearest-centroid classifier in a
 * plain Node script) declares its outputs as conno's table kinds (`as: predictions`, `dynamics`,
 * `curves`), and score-difficulty, evaluate-ood and the report take them like train's. A table
 * that does not fit its kind fails the command, naming the column, and nothing is cached; an
 * unknown kind is a positioned error; renaming an output makes its readers stale.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { distModule, tempProject, type TempProject } from './helpers.js';
import { flatFloat32, readTableFile } from '../src/core/arrow/io.js';
import { synthStage } from './support/pipelines.js';

let p: TempProject | undefined;
afterEach(() => {
  p?.remove();
  p = undefined;
});

/**
 * The "trainer": logits = −distance to each class's train centroid, scaled by (epoch+1)/epochs
 * for the dynamics. BREAK=label leaves out the predictions' label column; BREAK=order writes the
 * dynamics clip-major (not epoch-major).
 */
const TRAINER = `import { readTableFile, writeTableFile, makeTable, flatFloat32 } from ${distModule('src/core/arrow/io.js')};
const [predOut, dynOut, curvesOut] = process.argv.slice(2);
const input = JSON.parse(process.env.CONNO_INPUTS).find((i) => i.output === 'features');
const t = readTableFile(input.path);
const col = (n) => Array.from({ length: t.numRows }, (_, i) => t.getChild(n).get(i));
const ids = col('clip_id'), splits = col('split'), labels = col('label');
const orig = t.getChild('label_orig') ? col('label_orig') : labels;
const classes = JSON.parse(t.schema.metadata.get('conno.classes'));
const k = classes.length;
const { values: x, size: d } = flatFloat32(t, 'features');
const centroids = new Float64Array(k * d), counts = new Float64Array(k);
for (let i = 0; i < t.numRows; i++) if (splits[i] === 'train') { counts[labels[i]]++; for (let j = 0; j < d; j++) centroids[labels[i] * d + j] += x[i * d + j]; }
for (let c = 0; c < k; c++) for (let j = 0; j < d; j++) centroids[c * d + j] /= Math.max(1, counts[c]);
const logitsOf = (i, scale) => Array.from({ length: k }, (_, c) => { let s = 0; for (let j = 0; j < d; j++) s += (x[i * d + j] - centroids[c * d + j]) ** 2; return -scale * Math.sqrt(s) / 10; });
const meta = { 'conno.classes': JSON.stringify(classes) };
const predCols = [
  ['clip_id', { type: 'utf8', values: ids }], ['split', { type: 'utf8', values: splits }],
  ...(process.env.BREAK === 'label' ? [] : [['label', { type: 'int32', values: labels }]]),
  ['label_orig', { type: 'int32', values: orig }],
  ['logits', { type: 'fixedSizeList', values: Float32Array.from(ids.flatMap((_, i) => logitsOf(i, 1))), size: k }],
];
await writeTableFile(predOut, makeTable(predCols, meta));
const train = ids.map((_, i) => i).filter((i) => splits[i] === 'train');
const E = 3;
let rows = [];
for (let e = 0; e < E; e++) for (const i of train) rows.push({ i, e });
if (process.env.BREAK === 'order') rows = train.flatMap((i) => Array.from({ length: E }, (_, e) => ({ i, e })));
const dyn = rows.map(({ i, e }) => {
  const z = logitsOf(i, (e + 1) / E), y = labels[i];
  const m = Math.max(...z), lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
  const other = Math.max(...z.filter((_, c) => c !== y));
  return { id: ids[i], e, loss: lse - z[y], correct: z[y] > other, margin: z[y] - other, z };
});
await writeTableFile(dynOut, makeTable([
  ['clip_id', { type: 'utf8', values: dyn.map((r) => r.id) }],
  ['epoch', { type: 'int32', values: Int32Array.from(dyn, (r) => r.e) }],
  ['loss', { type: 'float32', values: Float32Array.from(dyn, (r) => r.loss) }],
  ['correct_given', { type: 'bool', values: dyn.map((r) => r.correct) }],
  ['margin', { type: 'float32', values: Float32Array.from(dyn, (r) => r.margin) }],
  ['logits', { type: 'fixedSizeList', values: Float32Array.from(dyn.flatMap((r) => r.z)), size: k }],
], meta));
await writeTableFile(curvesOut, makeTable([['epoch', { type: 'int32', values: Int32Array.from([0, 1, 2]) }], ['train_acc', { type: 'float64', values: Float64Array.from([0.5, 0.7, 0.8]) }]], { 'conno.best_epoch': '2' }));
`;

const FEATURES = '{ n_fft: 512, hop_length: 160, n_mels: 16, f_max: 8000, frames: 20, normalize: true }';
const pipeline = (opts: { predAs?: string; saliency?: boolean; curvesUnnamed?: boolean } = {}) => `stages:
${synthStage('classes: 3, clips_per_class: 20, seconds: 0.4, sample_rate: 16000, seed: 1, test_fraction: 0.25, dev_fraction: 0')}  noisy:
    uses: inject-noise
    needs: [data]
    matrix: { rate: [0, 0.3] }
    with: { seed: 3, label: { model: symmetric, rate: "\${item.rate}" }, data: { condition: clean, kind: white, test_copies: { snrs: [0] } } }
  features:
    uses: features
    needs: [noisy]
    matrix: { rate: [0, 0.3] }
    with: ${FEATURES}
  centroid:
    needs: [features]
    matrix: { rate: [0, 0.3] }
    cmd: node trainer.mjs out/pred-\${item.rate}.arrow out/dyn-\${item.rate}.arrow out/curves-\${item.rate}.arrow
    deps: [trainer.mjs]
    outs:
      - { path: "out/pred-\${item.rate}.arrow", as: ${opts.predAs ?? 'predictions'} }
      - { path: "out/dyn-\${item.rate}.arrow", as: dynamics }
      - ${opts.curvesUnnamed ? '"out/curves-\${item.rate}.arrow"' : '{ path: "out/curves-\${item.rate}.arrow", as: curves }'}
  score:
    uses: score-difficulty
    needs: [centroid]
    matrix: { rate: [0, 0.3] }
  ood:
    uses: evaluate-ood
    needs: [centroid, features]
    matrix: { rate: [0, 0.3] }
    with: { ${opts.saliency ? 'saliency: { clips: 2 }' : 'saliency: null'} }
  report:
    uses: report
    needs: [centroid, score, ood]
`;

describe('command stages whose outputs are conno table kinds (e2e)', () => {
  it('feeds score-difficulty, evaluate-ood and the report like a train stage', async () => {
    p = tempProject({ 'pipeline.yaml': pipeline(), 'trainer.mjs': TRAINER });
    const r = await p.conno(['repro'], { timeout: 150_000 });
    expect(r.exitCode, r.all).toBe(0);
    const path = async (target: string) => (await p!.conno(['show', target, '--path'])).stdout.trim();

    // evaluate-ood scored the splits of the predictions, checked against the features table.
    const metrics = readTableFile(await path('ood@rate=0:metrics'));
    const sets = Array.from({ length: metrics.numRows }, (_, i) => metrics.getChild('set')!.get(i) as string);
    expect(sets).toEqual(['test', 'test@snr=0']);
    const acc = metrics.getChild('accuracy')!.get(0) as number;
    // The same accuracy as the predictions' own argmax over the test rows (shown by its name).
    expect(await path('centroid@rate=0:predictions')).toBe(await path('centroid@rate=0:out/pred-0.arrow'));
    const pred = readTableFile(await path('centroid@rate=0:predictions'));
    const { values: z, size: k } = flatFloat32(pred, 'logits');
    let n = 0;
    let right = 0;
    for (let i = 0; i < pred.numRows; i++) {
      if (pred.getChild('split')!.get(i) !== 'test') continue;
      const row = Array.from(z.subarray(i * k, (i + 1) * k));
      n++;
      if (row.indexOf(Math.max(...row)) === pred.getChild('label')!.get(i)) right++;
    }
    expect(metrics.getChild('n')!.get(0)).toBe(n);
    expect(acc).toBeCloseTo(right / n, 12);
    expect(acc).toBeGreaterThan(1 / 3); // better than chance on three classes
    expect(metrics.schema.metadata.get('conno.model')).toBe('centroid@rate=0');
    expect(readTableFile(await path('ood@rate=0:saliency')).numRows).toBe(0);
    const log = p.read('cache/logs/ood@rate=0.log');
    expect(log).toContain('checked against features@rate=0:features: the same rows and labels in test, test@snr=0');

    // score-difficulty read the dynamics and predictions, with the flips of rate 0.3.
    const scores = readTableFile(await path('score@rate=0.3:scores'));
    expect(scores.numRows).toBeGreaterThan(0);
    const flipped = scores.getChild('flipped');
    expect(flipped).not.toBeNull();
    expect(Array.from({ length: scores.numRows }, (_, i) => flipped!.get(i)).some(Boolean)).toBe(true);

    // the report lists the command's runs.
    const html = p.read('report/index.html');
    const reportLog = p.read('cache/logs/report.log');
    expect(reportLog).not.toContain('warning');
    expect(reportLog).toMatch(/not shown: .*memorisation/);
    expect(html).toContain('centroid@rate=0.3');
    expect(html).toContain('Not shown: the evaluate-ood stages made no maps (saliency: null; a run known by its predictions alone has no model to explain).');

    // The lock records the names, and `verify` reproduces everything.
    const lock = (await import('yaml')).parse(p.read('conno.lock')) as { stages: Record<string, { as?: Record<string, string>; deps: Record<string, unknown> }> };
    expect(lock.stages['centroid@rate=0']!.as).toEqual({ 'out/pred-0.arrow': 'predictions', 'out/dyn-0.arrow': 'dynamics', 'out/curves-0.arrow': 'curves' });
    expect(Object.keys(lock.stages['ood@rate=0']!.deps)).toContain('out/pred-0.arrow as predictions');
    const v = await p.conno(['verify'], { timeout: 150_000 });
    expect(v.exitCode, v.all).toBe(0);
    // The readers alone, from the recorded command outputs (the commands do not run again).
    const readers = await p.conno(['verify', 'score', 'ood'], { timeout: 150_000 });
    expect(readers.exitCode, readers.all).toBe(0);
    expect(readers.stdout).toContain('ok ood@rate=0.3');
    expect(readers.stdout).not.toMatch(/ok centroid/);

    // Renaming an output makes the command and its readers stale, saying why.
    p.write('pipeline.yaml', pipeline({ curvesUnnamed: true }));
    const s = await p.conno(['status']);
    expect(s.stdout).toContain('centroid@rate=0:\n    output names changed: out/curves-0.arrow curves → (unset)');
    expect(s.stdout).toMatch(/report:\n(\s+upstream stale: .*\n)+/);
    // The readers' inputs are keyed by name: the report reads the file as a plain path now.
    const again = await p.conno(['repro'], { timeout: 150_000 });
    expect(again.exitCode, again.all).toBe(0);
    const relock = (await import('yaml')).parse(p.read('conno.lock')) as typeof lock;
    expect(Object.keys(relock.stages['report']!.deps)).toContain('out/curves-0.arrow');
    expect(Object.keys(relock.stages['report']!.deps)).not.toContain('out/curves-0.arrow as curves');
  }, 240_000);

  it('fails a command whose table does not fit its kind, naming the column, and caches nothing', async () => {
    p = tempProject({ 'pipeline.yaml': pipeline(), 'trainer.mjs': TRAINER });
    const r = await p.conno(['repro', 'centroid'], { env: { BREAK: 'label' }, timeout: 120_000 });
    expect(r.exitCode).toBe(1);
    expect(r.all).toContain("out/pred-0.arrow (as predictions): no column 'label' (int32), which a predictions table needs");
    expect(r.all).not.toMatch(/\n\s+at /); // no stack trace
    expect(p.exists('conno.lock') ? p.read('conno.lock') : '').not.toContain('centroid@');

    const o = await p.conno(['repro', 'centroid'], { env: { BREAK: 'order' }, timeout: 120_000 });
    expect(o.exitCode).toBe(1);
    expect(o.all).toMatch(/out\/dyn-0\.arrow \(as dynamics\): row 1 \(epoch 1, clip \S+\) breaks the epoch-major order/);
  }, 180_000);

  it('reports an unknown kind, a name given twice, and model-only parameters at their place in pipeline.yaml', async () => {
    p = tempProject({ 'pipeline.yaml': pipeline({ predAs: 'prediction', saliency: true }), 'trainer.mjs': TRAINER });
    const r = await p.conno(['status']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/pipeline\.yaml:21:\d+: error: .*'prediction' is not a kind of table conno knows; did you mean 'predictions'\? \(known: predictions, dynamics, embeddings, curves\)/);

    p.write('pipeline.yaml', pipeline({ predAs: 'dynamics' }));
    const twice = await p.conno(['status']);
    expect(twice.exitCode).toBe(2);
    expect(twice.stderr).toMatch(/pipeline\.yaml:22:\d+: error: .*two outputs are named 'dynamics' \(outs 0 and 1\)/);

    p.write('pipeline.yaml', pipeline({ saliency: true }));
    const sal = await p.conno(['status']);
    expect(sal.exitCode).toBe(2);
    expect(sal.stderr).toMatch(/error: .*saliency needs the model, and 'centroid@rate=0' gives its predictions only .*set saliency: null/);
  }, 60_000);
});
