/** score-difficulty's outputs (scores, summary, correlations) and its metrics in conno.lock. */
import { makeTable, writeTableFile } from '../../src/core/arrow/io.js';
import * as E from '../../src/lab/difficulty/evaluate.js';
import type { StageContext } from '../../src/core/stage/api.js';
import type { ScoreName } from '../../src/lab/difficulty/scores.js';
import type { ScoreDifficultyParams } from './params.js';
import type { Run, ScoredRun } from './scoring.js';
import type { Ensemble } from './ensembles.js';

export async function writeOutputs(ctx: StageContext<ScoreDifficultyParams>, runs: readonly Run[], scored: readonly ScoredRun[], ensembles: readonly Ensemble[], wanted: readonly ScoreName[]): Promise<void> {
  // ---- outputs
  const all = [
    ...scored.map((s) => ({ scored: s.scored, label: s.run.labels, labelOrig: s.run.labelsOrig, clIssue: s.clIssue })),
    ...ensembles,
  ];
  const rows = all.flatMap((r) => r.scored.clipIds.map((_, i) => ({ r, i })));
  const classes = runs[0]!.classes;
  await writeTableFile(
    ctx.outPath('scores'),
    makeTable(
      [
        ['run', { type: 'utf8', values: rows.map(({ r }) => r.scored.id) }],
        ['clip_id', { type: 'utf8', values: rows.map(({ r, i }) => r.scored.clipIds[i]!) }],
        ['label', { type: 'int32', values: Int32Array.from(rows, ({ r, i }) => r.label[i]!) }],
        ['label_orig', { type: 'int32', values: Int32Array.from(rows, ({ r, i }) => r.labelOrig[i]!) }],
        ['flipped', { type: 'bool', values: rows.map(({ r, i }) => r.scored.flipped[i]!) }],
        ...wanted.map((s) => [s, { type: 'float64' as const, values: Float64Array.from(rows, ({ r, i }) => r.scored.scores.get(s)![i]!) }] as const),
        ['cl_issue', { type: 'bool', values: rows.map(({ r, i }) => r.clIssue[i]!) }],
      ],
      { 'conno.classes': JSON.stringify(classes), 'conno.orientation': 'higher = harder / more likely mislabelled' },
    ),
  );

  const summary = all.flatMap((r) => E.summarize(r.scored));
  await writeTableFile(
    ctx.outPath('summary'),
    makeTable([
      ['run', { type: 'utf8', values: summary.map((s) => s.run) }],
      ['score', { type: 'utf8', values: summary.map((s) => s.score) }],
      ['auroc', { type: 'float64', values: Float64Array.from(summary, (s) => s.auroc) }],
      ['auprc', { type: 'float64', values: Float64Array.from(summary, (s) => s.auprc) }],
      ['n', { type: 'int32', values: Int32Array.from(summary, (s) => s.n) }],
      ['n_flipped', { type: 'int32', values: Int32Array.from(summary, (s) => s.n_flipped) }],
    ]),
  );

  const correlations = [...all.flatMap((r) => E.withinRunCorrelations(r.scored)), ...E.acrossRunCorrelations(scored.map((s) => s.scored))];
  await writeTableFile(
    ctx.outPath('correlations'),
    makeTable([
      ['score_a', { type: 'utf8', values: correlations.map((c) => c.score_a) }],
      ['run_a', { type: 'utf8', values: correlations.map((c) => c.run_a) }],
      ['score_b', { type: 'utf8', values: correlations.map((c) => c.score_b) }],
      ['run_b', { type: 'utf8', values: correlations.map((c) => c.run_b) }],
      ['spearman', { type: 'float64', values: Float64Array.from(correlations, (c) => c.spearman) }],
      ['kendall', { type: 'float64', values: Float64Array.from(correlations, (c) => c.kendall) }],
      ['n', { type: 'int32', values: Int32Array.from(correlations, (c) => c.n) }],
    ]),
  );

  // ---- metrics: each score's mean AUROC / AUPRC over the runs, and over the ensembles apart
  const mean = (xs: number[]) => {
    const f = xs.filter(Number.isFinite);
    return f.length === 0 ? null : +(f.reduce((a, b) => a + b, 0) / f.length).toFixed(6);
  };
  const runIds = new Set(scored.map((s) => s.run.id));
  const ofRuns = summary.filter((s) => runIds.has(s.run));
  for (const s of wanted) {
    ctx.metric(`auroc_${s}`, mean(ofRuns.filter((r) => r.score === s).map((r) => r.auroc)));
    ctx.metric(`auprc_${s}`, mean(ofRuns.filter((r) => r.score === s).map((r) => r.auprc)));
  }
  if (ensembles.length > 0) {
    const ofEnsembles = ensembles.flatMap((e) => E.summarize(e.scored));
    for (const s of wanted) ctx.metric(`ensemble_auroc_${s}`, mean(ofEnsembles.filter((r) => r.score === s).map((r) => r.auroc)));
  }
  if (wanted.includes('cleanlab')) {
    // How well confident learning's bool verdict finds the flips (precision NaN → null when nothing is flagged).
    const precision: number[] = [];
    const recall: number[] = [];
    for (const s of scored) {
      const flagged = s.clIssue.filter(Boolean).length;
      const hit = s.clIssue.filter((f, i) => f && s.run.flipped[i]).length;
      const flips = s.run.flipped.filter(Boolean).length;
      precision.push(flagged > 0 ? hit / flagged : NaN);
      recall.push(flips > 0 ? hit / flips : NaN);
      ctx.log(`${s.run.id}: cl_issue flags ${flagged} clips, ${hit} of the ${flips} flipped`);
    }
    ctx.metric('cl_issue_precision', mean(precision));
    ctx.metric('cl_issue_recall', mean(recall));
  }
  ctx.metric('runs', scored.length);
  for (const r of ofRuns) if (Number.isFinite(r.auroc)) ctx.log(`${r.run}: ${r.score} AUROC ${r.auroc.toFixed(3)}, AUPRC ${r.auprc.toFixed(3)}`);
}
