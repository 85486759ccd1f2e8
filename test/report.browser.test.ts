/**
 * The report in a real browser: headless Chromium (Debian's `chromium`; .ci/run installs it)
 * opens a report of a constructed full study over file:// with no console error, page error or
 * failed request; every plot is there, every raster decodes, and the screenshot shows plots.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import { writeStudy } from './support/report-study.js';
import { readReportData } from '../src/lab/report/read.js';
import { buildReport } from '../src/lab/report/page.js';
import { ReportParamsSchema } from '../src/lab/report/params.js';
// @ts-expect-error: a plain .mjs script (the one that makes the README picture)
import { screenshotReport } from '../scripts/report-screenshot.mjs';

const dir = mkdtempSync(path.join(os.tmpdir(), 'conno-report-browser-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('opens in headless Chromium without errors, and the screenshot shows the plots', async () => {
  const study = writeStudy({ dir: path.join(dir, 'study'), scores: true, evaluations: true, fingerprints: true });
  const report = await buildReport(readReportData(study.inputs), ReportParamsSchema.parse({}));
  const html = path.join(dir, 'index.html');
  writeFileSync(html, report.html);
  const shot = path.join(dir, 'report.png');

  const page = (await screenshotReport(html, shot)) as { problems: string[]; svgs: number; rasters: number; brokenRasters: number; sections: string[]; title: string };
  expect(page.problems).toEqual([]);
  expect(page.title).toBe('Consequences of training with noise');
  expect(page.svgs).toBe(report.plots);
  expect(page.rasters).toBe(2 * 4 * 2); // 2 runs × 4 clips × (spectrogram, saliency)
  expect(page.brokenRasters).toBe(0);
  expect(page.sections).toEqual(['findings', ...report.shown]);

  // Not blank: plenty of non-white pixels, and coloured ones (lines, bars, heatmaps), not only text.
  const png = PNG.sync.read(readFileSync(shot));
  expect(png.width).toBe(1280);
  let ink = 0;
  let colour = 0;
  for (let i = 0; i < png.width * png.height; i++) {
    const [r, g, b] = [png.data[i * 4]!, png.data[i * 4 + 1]!, png.data[i * 4 + 2]!];
    if (r < 235 || g < 235 || b < 235) ink++;
    if (Math.max(r, g, b) - Math.min(r, g, b) > 60) colour++;
  }
  const pixels = png.width * png.height;
  expect(ink / pixels).toBeGreaterThan(0.05);
  expect(colour).toBeGreaterThan(200_000); // the saliency rasters alone are 16 × 200 × 120 px
}, 60_000);
