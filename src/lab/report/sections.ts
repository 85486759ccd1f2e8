/**
 * The report's sections, from the study's data: which rows each plot and table gets, how to
 * read it, and, when the inputs lack what a section needs, one line saying what it would need.
 * Every section is a SectionSpec; their order in SECTIONS is the order of the page.
 */
import type { ReportData } from './data.js';
import type { ReportParams } from './params.js';
import { Context } from './context.js';
import type { Section, SectionSpec, Study } from './section.js';
import { findings } from './findings.js';
import { runs } from './sections/runs.js';
import { gap, labelNoise, snr } from './sections/accuracy.js';
import { memorisation } from './sections/curves.js';
import { auroc, correlations, scoreDistributions } from './sections/scores.js';
import { representation, saliency } from './sections/maps.js';

export { flattenParams } from './sections/runs.js';
export { histogramBins, meanScoreCorrelations, pooledScores } from './sections/scores.js';

export { RASTER_SCHEME } from './context.js';
export type { PlotFigure, TableFigure, Section, Study, SectionSpec } from './section.js';

const SECTIONS: readonly SectionSpec[] = [runs, labelNoise, snr, gap, memorisation, scoreDistributions, auroc, correlations, saliency, representation];

export function buildStudy(data: ReportData, params: ReportParams, lut: Uint8Array): Study {
  const ctx = new Context(data, params, lut);
  const sections = SECTIONS.map((spec): Section => {
    const s: Section = { id: spec.id, title: spec.title, read: typeof spec.read === 'string' ? spec.read : spec.read(ctx), plots: [], tables: [], notes: [] };
    const missing = spec.build(ctx, s);
    return missing === undefined ? s : { ...s, missing };
  });
  return { findings: findings(ctx), sections };
}
