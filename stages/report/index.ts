/**
 * report: one self-contained HTML page (inline SVG plots from Vega-Lite, no script) and
 * report.md with its tables, from every upstream instance it `needs` (fan-in): train runs
 * (curves, predictions, model), score-difficulty (scores, summary, correlations) and
 * evaluate-ood (metrics, saliency, representation). Each section shows what its inputs provide
 * and says in one line what a missing one would need.
 *
 * Outputs:
 *   html  the page (copied to report/index.html in the project)
 *   md    report.md: the findings and every table (copied to report/report.md)
 */
import { writeFile } from 'node:fs/promises';
import { defineStage } from '../../src/core/stage/api.js';
import { ReportParamsSchema } from './params.js';

export const stage = defineStage({
  version: 1,
  description: 'An HTML report (Vega-Lite plots as inline SVG) and report.md with the tables, from the upstream runs, scores and evaluations.',
  params: ReportParamsSchema,
  outputs: ['html', 'md'],
  // The run table shows each run's fingerprint and params.
  upstreamRecords: true,
  workspace: { html: 'report/index.html', md: 'report/report.md' },
  async run(ctx) {
    const { readReportData, isReportInput } = await import('../../src/lab/report/read.js');
    const { buildReport } = await import('../../src/lab/report/page.js');

    const used = ctx.inputs.filter((i) => isReportInput(i.output));
    if (used.length === 0) {
      const got = ctx.inputs.length === 0 ? 'no inputs' : `only ${[...new Set(ctx.inputs.map((i) => `${i.from}:${i.output}`))].join(', ')}`;
      throw new Error(
        `report needs upstream train, score-difficulty or evaluate-ood stages in \`needs\` (outputs curves/predictions/model, scores/summary/correlations, metrics/saliency/representation); got ${got}`,
      );
    }
    const data = readReportData(used);
    const report = await buildReport(data, ctx.params);
    for (const w of report.warnings) ctx.log(`warning: ${w}`);
    await writeFile(ctx.outPath('html'), report.html);
    await writeFile(ctx.outPath('md'), report.md);
    ctx.metric('plots', report.plots);
    ctx.metric('sections_missing', report.missing);
    ctx.log(`${data.runs.length} runs, ${data.evaluations.length} evaluations; ${report.plots} plots; sections shown: ${report.shown.join(', ')}; not shown: ${report.missing.join(', ') || 'none'}`);
  },
});
