/**
 * A constructed study for the report's tests: the Arrow outputs that train, score-difficulty and
 * evaluate-ood write (their exact schemas), for a matrix of label-noise rates × losses × training
 * data noise, with the effects the study expects built in and every random choice seeded:
 * accuracy falls with label noise (more for CE than for GCE), pure-noise training is at chance,
 * flipped samples have higher loss-based scores, OOD sets are harder than the test set.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeTable, writeTableFileSync } from '../../src/core/arrow/io.js';
import type { StageInput } from '../../src/core/stage/api.js';
import { hashText, Rng } from '../../src/core/util/random.js';

export const CLASSES = ['dog', 'rain', 'siren', 'bell'];
const K = CLASSES.length;
const EPOCHS = 15;
const SHAPE = [32, 50] as const;

/** The matrix values; `data` is a data-noise condition as inject-noise names them; `seed` only in a study of several seeds. */
type Item = { noise: number; loss: string; data: string; seed?: number };

export interface StudyOptions {
  dir: string;
  scores?: boolean;
  evaluations?: boolean;
  /** Give each input its upstream's fingerprint and params, as the engine will. */
  fingerprints?: boolean;
  /** Train each condition with this many seeds (a `seed` matrix key); one run each without. */
  seeds?: number;
}

export interface Study {
  inputs: StageInput[];
  /** The items of the runs, in order. */
  items: Item[];
  /** Realised test accuracy per run id. */
  testAcc: Map<string, number>;
}

const idOf = (stage: string, it: Item): string => `${stage}@noise=${it.noise},loss=${it.loss},data=${it.data}${it.seed === undefined ? '' : `,seed=${it.seed}`}`;

/** The accuracy each condition aims at (before sampling). */
function target(it: Item): number {
  if (it.data === 'pure') return 1 / K;
  const base = it.data === 'clean' ? 0.95 : 0.85;
  return base - it.noise * (it.loss === 'ce' ? 1.0 : 0.25);
}

export function studyItems(seeds?: number): Item[] {
  const conditions: Item[] = [
    ...[0, 0.2, 0.4].flatMap((noise) => ['ce', 'gce'].map((loss) => ({ noise, loss, data: 'clean' }))),
    { noise: 0, loss: 'ce', data: '10dB' },
    { noise: 0, loss: 'gce', data: '10dB' },
    { noise: 0, loss: 'ce', data: 'pure' },
    { noise: 0, loss: 'gce', data: 'pure' },
  ];
  if (seeds === undefined) return conditions;
  return conditions.flatMap((c) => Array.from({ length: seeds }, (_, seed) => ({ ...c, seed })));
}

export function writeStudy(opts: StudyOptions): Study {
  mkdirSync(opts.dir, { recursive: true });
  const inputs: StageInput[] = [];
  const testAcc = new Map<string, number>();
  const items = studyItems(opts.seeds);
  const extras = (id: string, it: Item): Partial<StageInput> =>
    opts.fingerprints
      ? {
          fingerprint: (hashText(id).toString(16) + hashText(id, 7).toString(16)).padStart(16, '0'),
          params: { loss: it.loss === 'ce' ? { name: 'ce', label_smoothing: 0 } : { name: 'gce', q: 0.7 }, epochs: EPOCHS, seed: it.seed ?? 1, model: { name: 'cnn4' } },
        }
      : {};
  const add = (from: string, output: string, it: Item, file: string, extra: Partial<StageInput> = {}): void => {
    inputs.push({ from, output, path: file, hash: hashText(`${from}:${output}`).toString(16).padStart(8, '0'), item: { ...it }, ...extra });
  };
  const perRun = new Map<string, { flipped: boolean[]; labels: number[]; orig: number[]; acc: Map<string, number> }>();

  for (const it of items) {
    const id = idOf('train', it);
    const rng = new Rng(hashText(id));
    const acc = target(it);
    const rows = { clip: [] as string[], split: [] as string[], label: [] as number[], orig: [] as number[], logits: [] as number[] };
    const splitAcc = new Map<string, number>();
    const splits: [string, number, number][] = [
      ['train', 20, acc + 0.03],
      ['dev', 5, acc],
      ['test', 10, acc],
      ['holdout', 5, 1 / K + (acc - 1 / K) * 0.7],
      ...[20, 0, -10].map((s): [string, number, number] => [`test@snr=${s}`, 10, 1 / K + (acc - 1 / K) * Math.min(1, Math.max(0, (s + 15) / 35))]),
    ];
    const flipped: boolean[] = [];
    const trainLabels: number[] = [];
    const trainOrig: number[] = [];
    for (const [split, perClass, p] of splits) {
      let right = 0;
      for (let c = 0; c < K; c++) {
        for (let j = 0; j < perClass; j++) {
          const base = `${CLASSES[c]}-${String(j).padStart(3, '0')}`;
          const flip = split === 'train' && rng.next() < it.noise;
          const label = flip ? (c + 1 + rng.int(K - 1)) % K : c;
          const correct = rng.next() < p;
          const predicted = correct ? label : (label + 1 + rng.int(K - 1)) % K;
          right += correct ? 1 : 0;
          rows.clip.push(split.startsWith('test@') ? `${base}@${split.slice(5)}` : base);
          rows.split.push(split);
          rows.label.push(label);
          rows.orig.push(c);
          for (let k = 0; k < K; k++) rows.logits.push((k === predicted ? 3 : 0) + 0.5 * rng.normal());
          if (split === 'train') {
            flipped.push(flip);
            trainLabels.push(label);
            trainOrig.push(c);
          }
        }
      }
      splitAcc.set(split, right / (perClass * K));
    }
    testAcc.set(id, splitAcc.get('test')!);
    perRun.set(id, { flipped, labels: trainLabels, orig: trainOrig, acc: splitAcc });

    const model = path.join(opts.dir, `${id}.model`);
    writeFileSync(model, 'weights');
    add(id, 'model', it, model, extras(id, it));

    const curves = path.join(opts.dir, `${id}.curves.arrow`);
    const epoch = Int32Array.from({ length: EPOCHS }, (_, e) => e);
    const memorise = it.noise === 0 ? NaN : it.loss === 'ce' ? 0.8 : 0.2;
    const rise = (e: number): number => 1 / (1 + Math.exp(-(e - 8)));
    writeTableFileSync(
      curves,
      makeTable(
        [
          ['epoch', { type: 'int32', values: epoch }],
          ['lr', { type: 'float64', values: Float64Array.from(epoch, () => 1e-3) }],
          ['train_acc', { type: 'float64', values: Float64Array.from(epoch, (e) => Math.min(1, (acc + 0.05) * (1 - Math.exp(-e / 3)) + 0.1 * rise(e))) }],
          ['train_acc_orig', { type: 'float64', values: Float64Array.from(epoch, (e) => (acc + 0.05) * (1 - Math.exp(-e / 3)) - it.noise * 0.5 * rise(e) * (it.loss === 'ce' ? 1 : 0.2)) }],
          ['flipped_acc_noisy', { type: 'float64', values: Float64Array.from(epoch, (e) => 0.05 + (memorise - 0.05) * rise(e)) }],
          ['dev_loss', { type: 'float64', values: Float64Array.from(epoch, (e) => 1.4 * Math.exp(-e / 4) + 0.3) }],
          ['dev_acc', { type: 'float64', values: Float64Array.from(epoch, (e) => acc * (1 - Math.exp(-e / 3))) }],
        ],
        { 'conno.best_epoch': String(EPOCHS - 3) },
      ),
    );
    add(id, 'curves', it, curves, extras(id, it));

    const predictions = path.join(opts.dir, `${id}.predictions.arrow`);
    writeTableFileSync(
      predictions,
      makeTable(
        [
          ['clip_id', { type: 'utf8', values: rows.clip }],
          ['split', { type: 'utf8', values: rows.split }],
          ['label', { type: 'int32', values: Int32Array.from(rows.label) }],
          ['label_orig', { type: 'int32', values: Int32Array.from(rows.orig) }],
          ['logits', { type: 'fixedSizeList', values: Float32Array.from(rows.logits), size: K }],
        ],
        { 'conno.classes': JSON.stringify(CLASSES) },
      ),
    );
    add(id, 'predictions', it, predictions, extras(id, it));
  }

  if (opts.scores) writeScores(opts.dir, items, perRun, add);
  if (opts.evaluations) writeEvaluations(opts.dir, items, perRun, add);
  return { inputs, items, testAcc };
}

type Add = (from: string, output: string, it: Item, file: string) => void;
type PerRun = Map<string, { flipped: boolean[]; labels: number[]; orig: number[]; acc: Map<string, number> }>;

/** Fraction of (flipped, clean) pairs ranked right, ties half: AUROC by its definition. */
function auroc(score: ArrayLike<number>, flipped: boolean[]): number {
  let good = 0;
  let pairs = 0;
  for (let i = 0; i < flipped.length; i++) {
    if (!flipped[i]) continue;
    for (let j = 0; j < flipped.length; j++) {
      if (flipped[j]) continue;
      pairs++;
      good += score[i]! > score[j]! ? 1 : score[i] === score[j] ? 0.5 : 0;
    }
  }
  return pairs === 0 ? NaN : good / pairs;
}

/** Average precision: the mean, over flipped samples, of the precision at their rank (no ties in these scores). */
function averagePrecision(score: ArrayLike<number>, flipped: boolean[]): number {
  const order = Array.from({ length: flipped.length }, (_, i) => i).sort((a, b) => score[b]! - score[a]!);
  let hits = 0;
  let sum = 0;
  order.forEach((i, rank) => {
    if (!flipped[i]) return;
    hits++;
    sum += hits / (rank + 1);
  });
  return hits === 0 ? NaN : sum / hits;
}

function ranks(v: ArrayLike<number>): number[] {
  const idx = Array.from({ length: v.length }, (_, i) => i).sort((a, b) => v[a]! - v[b]!);
  const r = new Array<number>(v.length);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && v[idx[j + 1]!] === v[idx[i]!]) j++;
    for (let t = i; t <= j; t++) r[idx[t]!] = (i + j) / 2;
    i = j + 1;
  }
  return r;
}

function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ra = ranks(a);
  const rb = ranks(b);
  const mean = (x: number[]): number => x.reduce((s, y) => s + y, 0) / x.length;
  const ma = mean(ra);
  const mb = mean(rb);
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < ra.length; i++) {
    num += (ra[i]! - ma) * (rb[i]! - mb);
    da += (ra[i]! - ma) ** 2;
    db += (rb[i]! - mb) ** 2;
  }
  return num / Math.sqrt(da * db);
}

const SCORES = ['final_loss', 'aum', 'forgetting', 'random'] as const;

function writeScores(dir: string, items: Item[], perRun: PerRun, add: Add): void {
  const scored = items.filter((it) => it.noise > 0);
  const rows = { run: [] as string[], clip: [] as string[], label: [] as number[], orig: [] as number[], flipped: [] as boolean[] };
  const cols: Record<(typeof SCORES)[number], number[]> = { final_loss: [], aum: [], forgetting: [], random: [] };
  const byRun = new Map<string, Record<(typeof SCORES)[number], number[]>>();
  for (const it of scored) {
    const run = idOf('train', it);
    const r = perRun.get(run)!;
    const rng = new Rng(hashText(`scores ${run}`));
    const mine: Record<(typeof SCORES)[number], number[]> = { final_loss: [], aum: [], forgetting: [], random: [] };
    r.flipped.forEach((f, i) => {
      rows.run.push(run);
      rows.clip.push(`${CLASSES[r.orig[i]!]}-${String(i % 20).padStart(3, '0')}`);
      rows.label.push(r.labels[i]!);
      rows.orig.push(r.orig[i]!);
      rows.flipped.push(f);
      const hard = f ? 1 : 0;
      mine.final_loss.push(Math.abs(0.4 + 1.6 * hard + 0.7 * rng.normal()));
      mine.aum.push(-2 + 3 * hard + rng.normal());
      mine.forgetting.push(Math.max(0, Math.round(1 + 2 * hard + rng.normal())));
      mine.random.push(rng.next());
    });
    for (const s of SCORES) cols[s].push(...mine[s]);
    byRun.set(run, mine);
  }
  // An ensemble (score-difficulty's mean over seeds): its rows follow the runs'. Its values are
  // made far off the runs' so that a report that pooled them with the runs would show it.
  const ensemble = 'ensemble@noise=0.4';
  const first = perRun.get(idOf('train', scored[0]!))!;
  first.flipped.forEach((f, i) => {
    rows.run.push(ensemble);
    rows.clip.push(rows.clip[i]!);
    rows.label.push(first.labels[i]!);
    rows.orig.push(first.orig[i]!);
    rows.flipped.push(f);
    for (const s of SCORES) cols[s].push(f ? -1000 : 1000);
  });
  const scoresFile = path.join(dir, 'score.scores.arrow');
  writeTableFileSync(
    scoresFile,
    makeTable([
      ['run', { type: 'utf8', values: rows.run }],
      ['clip_id', { type: 'utf8', values: rows.clip }],
      ['label', { type: 'int32', values: Int32Array.from(rows.label) }],
      ['label_orig', { type: 'int32', values: Int32Array.from(rows.orig) }],
      ['flipped', { type: 'bool', values: rows.flipped }],
      ...SCORES.map((s) => [s, { type: 'float64' as const, values: Float64Array.from(cols[s]) }] as const),
      ['cl_issue', { type: 'bool', values: cols.final_loss.map((v) => v > 1.5) }],
    ]),
  );
  const sum = { run: [] as string[], score: [] as string[], auroc: [] as number[], auprc: [] as number[], n: [] as number[], nf: [] as number[] };
  const corr = { sa: [] as string[], ra: [] as string[], sb: [] as string[], rb: [] as string[], rho: [] as number[] };
  for (const [run, mine] of byRun) {
    const flipped = perRun.get(run)!.flipped;
    for (const s of SCORES) {
      sum.run.push(run);
      sum.score.push(s);
      sum.auroc.push(auroc(mine[s], flipped));
      sum.auprc.push(averagePrecision(mine[s], flipped));
      sum.n.push(flipped.length);
      sum.nf.push(flipped.filter(Boolean).length);
    }
    for (let a = 0; a < SCORES.length; a++) {
      for (let b = a + 1; b < SCORES.length; b++) {
        corr.sa.push(SCORES[a]!);
        corr.sb.push(SCORES[b]!);
        corr.ra.push(run);
        corr.rb.push(run);
        corr.rho.push(spearman(mine[SCORES[a]!], mine[SCORES[b]!]));
      }
    }
  }
  for (const s of SCORES) {
    sum.run.push(ensemble);
    sum.score.push(s);
    sum.auroc.push(0);
    sum.auprc.push(0.01);
    sum.n.push(first.flipped.length);
    sum.nf.push(first.flipped.filter(Boolean).length);
  }
  corr.sa.push('final_loss');
  corr.sb.push('aum');
  corr.ra.push(ensemble);
  corr.rb.push(ensemble);
  corr.rho.push(-1);
  const runs = [...byRun.keys()];
  for (let a = 0; a < runs.length; a++) {
    for (let b = a + 1; b < runs.length; b++) {
      for (const s of SCORES) {
        corr.sa.push(s);
        corr.sb.push(s);
        corr.ra.push(runs[a]!);
        corr.rb.push(runs[b]!);
        corr.rho.push(spearman(byRun.get(runs[a]!)![s], byRun.get(runs[b]!)![s]));
      }
    }
  }
  const summaryFile = path.join(dir, 'score.summary.arrow');
  writeTableFileSync(
    summaryFile,
    makeTable([
      ['run', { type: 'utf8', values: sum.run }],
      ['score', { type: 'utf8', values: sum.score }],
      ['auroc', { type: 'float64', values: Float64Array.from(sum.auroc) }],
      ['auprc', { type: 'float64', values: Float64Array.from(sum.auprc) }],
      ['n', { type: 'int32', values: Int32Array.from(sum.n) }],
      ['n_flipped', { type: 'int32', values: Int32Array.from(sum.nf) }],
    ]),
  );
  const corrFile = path.join(dir, 'score.correlations.arrow');
  writeTableFileSync(
    corrFile,
    makeTable([
      ['score_a', { type: 'utf8', values: corr.sa }],
      ['run_a', { type: 'utf8', values: corr.ra }],
      ['score_b', { type: 'utf8', values: corr.sb }],
      ['run_b', { type: 'utf8', values: corr.rb }],
      ['spearman', { type: 'float64', values: Float64Array.from(corr.rho) }],
      ['kendall', { type: 'float64', values: Float64Array.from(corr.rho, (r) => (2 / Math.PI) * Math.asin(r)) }],
    ]),
  );
  add('score-difficulty', 'scores', {} as Item, scoresFile);
  add('score-difficulty', 'summary', {} as Item, summaryFile);
  add('score-difficulty', 'correlations', {} as Item, corrFile);
}

function writeEvaluations(dir: string, items: Item[], perRun: PerRun, add: Add): void {
  for (const it of items.filter((x) => x.data !== 'pure')) {
    const id = idOf('evaluate-ood', it);
    const acc = perRun.get(idOf('train', it))!.acc;
    const sets: [string, number, number][] = [
      ['test', NaN, acc.get('test')!],
      ...[20, 0, -10].map((s): [string, number, number] => [`test@snr=${s}`, s, acc.get(`test@snr=${s}`)!]),
      ['holdout', NaN, acc.get('holdout')!],
      ['fsdd', NaN, 1 / K + (acc.get('test')! - 1 / K) * 0.5],
    ];
    const metrics = path.join(dir, `${id}.metrics.arrow`);
    writeTableFileSync(
      metrics,
      makeTable([
        ['set', { type: 'utf8', values: sets.map((s) => s[0]) }],
        ['snr_db', { type: 'float64', values: Float64Array.from(sets, (s) => s[1]) }],
        ['n', { type: 'int32', values: Int32Array.from(sets, () => 40) }],
        ['accuracy', { type: 'float64', values: Float64Array.from(sets, (s) => s[2]) }],
        ['uar', { type: 'float64', values: Float64Array.from(sets, (s) => s[2]) }],
        ['macro_f1', { type: 'float64', values: Float64Array.from(sets, (s) => Math.max(0, s[2] - 0.02)) }],
        ['nll', { type: 'float64', values: Float64Array.from(sets, (s) => -Math.log(Math.max(0.05, s[2]))) }],
        ['ece', { type: 'float64', values: Float64Array.from(sets, (s) => 0.05 + 0.1 * (1 - s[2])) }],
      ]),
    );
    add(id, 'metrics', it, metrics);

    // Saliency: a spectrogram with class-dependent harmonics; the map a blob on the first harmonic,
    // broader the noisier the labels.
    const [mels, frames] = SHAPE;
    const n = 4;
    const map = new Float32Array(n * mels * frames);
    const spec = new Float32Array(n * mels * frames);
    const rng = new Rng(hashText(`saliency ${id}`));
    for (let c = 0; c < n; c++) {
      const f0 = 4 + 5 * c;
      for (let m = 0; m < mels; m++) {
        for (let t = 0; t < frames; t++) {
          const at = c * mels * frames + m * frames + t;
          const harmonic = [1, 2, 3].some((h) => Math.abs(m - h * f0) < 1.5) && t > 5 && t < 45 ? 1 : 0;
          spec[at] = -4 + 4 * harmonic + 0.5 * rng.normal();
          const width = 3 + 10 * it.noise;
          map[at] = Math.exp(-(((m - f0) / width) ** 2) - ((t - 25) / (2 * width)) ** 2);
        }
      }
    }
    const saliency = path.join(dir, `${id}.saliency.arrow`);
    writeTableFileSync(
      saliency,
      makeTable(
        [
          ['clip_id', { type: 'utf8', values: CLASSES.map((c) => `${c}-000`) }],
          ['label', { type: 'int32', values: Int32Array.from({ length: n }, (_, c) => c) }],
          ['predicted', { type: 'int32', values: Int32Array.from({ length: n }, (_, c) => (c === 3 && it.noise > 0.3 ? 0 : c)) }],
          ['map', { type: 'fixedSizeList', values: map, shape: SHAPE }],
          ['spectrogram', { type: 'fixedSizeList', values: spec, shape: SHAPE }],
        ],
        { 'conno.classes': JSON.stringify(CLASSES), 'conno.shape': JSON.stringify(SHAPE) },
      ),
    );
    add(id, 'saliency', it, saliency);

    const representation = path.join(dir, `${id}.representation.arrow`);
    writeTableFileSync(
      representation,
      makeTable([
        ['kind', { type: 'utf8', values: ['probe', 'cka'] }],
        ['other', { type: 'utf8', values: ['fsdd', 'train@noise=0,loss=ce,data=clean'] }],
        ['value', { type: 'float64', values: Float64Array.of(0.6 - 0.3 * it.noise, 1 - 0.8 * it.noise) }],
      ]),
    );
    add(id, 'representation', it, representation);
  }
}
