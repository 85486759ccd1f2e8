/**
 * The report as one self-contained HTML page (inline CSS and SVG, no script, nothing fetched:
 * its Content-Security-Policy forbids every load but inline styles and data: images) and as
 * report.md with the same findings and tables. Both are pure functions of the data and params:
 * no time stamps, no random ids.
 */
import type { ReportData } from './data.js';
import type { ReportParams } from './params.js';
import { renderSvg, schemeTable } from './render.js';
import { buildStudy, RASTER_SCHEME, type Section, type Study } from './sections.js';
import { escapeHtml, tableToHtml, tableToMarkdown } from './table.js';

export interface Report {
  html: string;
  md: string;
  /** Plots drawn (SVG elements in the page). */
  plots: number;
  /** Sections with something to show / without. */
  shown: string[];
  missing: string[];
  /** Vega-Lite or Vega warnings, prefixed with the plot's id. */
  warnings: string[];
}

export async function buildReport(data: ReportData, params: ReportParams): Promise<Report> {
  const study = buildStudy(data, params, schemeTable(RASTER_SCHEME));
  const svgs = new Map<string, string>();
  const warnings: string[] = [];
  for (const s of study.sections) {
    for (const p of s.plots) {
      const r = await renderSvg(p.spec, p.id);
      svgs.set(p.id, r.svg);
      warnings.push(...r.warnings.map((w) => `${p.id}: ${w}`));
    }
  }
  return {
    html: pageHtml(study, params, data, svgs),
    md: pageMarkdown(study, params, data),
    plots: svgs.size,
    shown: study.sections.filter((s) => s.missing === undefined).map((s) => s.id),
    missing: study.sections.filter((s) => s.missing !== undefined).map((s) => s.id),
    warnings,
  };
}

function inputsLine(data: ReportData): string {
  const n = (count: number, what: string): string => `${count} ${what}${count === 1 ? '' : 's'}`;
  const scoring = new Set([...data.scores, ...data.summary, ...data.correlations].map((x) => x.from)).size;
  return `From ${n(data.runs.length, 'training run')}, ${n(scoring, 'difficulty scoring')} and ${n(data.evaluations.length, 'evaluation')}.`;
}

const CSS = `
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; margin: 0; background: #fafafa; }
main { max-width: 1200px; margin: 0 auto; padding: 1.5rem 2rem 4rem; background: white; }
h1 { font-size: 1.7rem; margin-bottom: .2rem; }
h2 { font-size: 1.3rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2.2rem; }
p.meta, p.read, p.note { color: #555; max-width: 60rem; }
p.missing { color: #8a5a00; background: #fff7e0; padding: .4rem .7rem; border-left: 3px solid #e0a800; }
nav ol { columns: 2; max-width: 40rem; }
figure { margin: 1rem 0; overflow-x: auto; }
figcaption { color: #555; font-size: .9rem; }
svg image { image-rendering: pixelated; }
table { border-collapse: collapse; margin: .6rem 0 1.2rem; font-size: .85rem; }
th, td { border: 1px solid #ddd; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.table-wrap { overflow-x: auto; }
.caption { font-size: .9rem; color: #555; margin-bottom: 0; }
summary.caption { cursor: pointer; margin: .8rem 0 .4rem; }
`;

function pageHtml(study: Study, params: ReportParams, data: ReportData, svgs: Map<string, string>): string {
  const out: string[] = [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(params.title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    '<main>',
    `<h1>${escapeHtml(params.title)}</h1>`,
    `<p class="meta">${escapeHtml(inputsLine(data))} Built by conno's report stage; the tables are also in report.md.</p>`,
    '<nav><ol>',
    '<li><a href="#findings">Findings</a></li>',
    ...study.sections.map((s) => `<li><a href="#${s.id}">${escapeHtml(s.title)}</a>${s.missing === undefined ? '' : ' (not shown)'}</li>`),
    '</ol></nav>',
    '<section id="findings">',
    '<h2>Findings</h2>',
    study.findings.length === 0 ? '<p class="missing">No finding yet: they need runs along the study’s axes.</p>' : `<ul>\n${study.findings.map((f) => `<li>${escapeHtml(f)}</li>`).join('\n')}\n</ul>`,
    '</section>',
  ];
  for (const s of study.sections) out.push(sectionHtml(s, svgs));
  out.push('</main>', '</body>', '</html>', '');
  return out.join('\n');
}

function sectionHtml(s: Section, svgs: Map<string, string>): string {
  const out = [`<section id="${s.id}">`, `<h2>${escapeHtml(s.title)}</h2>`];
  if (s.missing !== undefined) {
    out.push(`<p class="missing">Not shown: ${escapeHtml(s.missing)}</p>`, '</section>');
    return out.join('\n');
  }
  out.push(`<p class="read">${escapeHtml(s.read)}</p>`);
  for (const p of s.plots) {
    out.push(
      `<figure id="fig-${p.id}">`,
      `<div class="plot" role="img" aria-label="${escapeHtml(p.caption)}">${svgs.get(p.id) ?? ''}</div>`,
      `<figcaption>${escapeHtml(p.caption)}</figcaption>`,
      '</figure>',
    );
  }
  for (const t of s.tables) {
    const table = `<div class="table-wrap">${tableToHtml(t.table)}</div>`;
    if (t.folded) out.push(`<details><summary class="caption">${escapeHtml(t.caption)} (${t.table.rows.length} rows)</summary>`, table, '</details>');
    else out.push(`<p class="caption">${escapeHtml(t.caption)}</p>`, table);
  }
  for (const n of s.notes) out.push(`<p class="note">${escapeHtml(n)}</p>`);
  out.push('</section>');
  return out.join('\n');
}

function pageMarkdown(study: Study, params: ReportParams, data: ReportData): string {
  const out: string[] = [`# ${params.title}`, '', `${inputsLine(data)} The plots are in index.html.`, '', '## Findings', ''];
  out.push(...(study.findings.length === 0 ? ['No finding yet: they need runs along the study’s axes.'] : study.findings.map((f) => `- ${f}`)), '');
  for (const s of study.sections) {
    out.push(`## ${s.title}`, '');
    if (s.missing !== undefined) {
      out.push(`Not shown: ${s.missing}`, '');
      continue;
    }
    out.push(s.read, '');
    if (s.plots.length > 0) out.push(`Plots: ${s.plots.map((p) => p.caption).join(' ')} (index.html#${s.id})`, '');
    for (const t of s.tables) out.push(`${t.caption}`, '', tableToMarkdown(t.table), '');
    for (const n of s.notes) out.push(n, '');
  }
  return out.join('\n');
}
