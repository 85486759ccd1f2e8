#!/usr/bin/env node
// Opens a conno report in headless Chromium (Debian's `chromium`, driven by playwright-core),
// collects every console error, page error and failed request, and saves a full-page
// screenshot. The README's picture is made with it; test/report.browser.test.ts checks pages
// with the same function.
//
//   node scripts/report-screenshot.mjs report/index.html report.png [--width 1280]
//   node scripts/report-screenshot.mjs report/index.html docs/report.jpg   (JPEG, quality 45: the README's)
//
// Exit 1 when the page logged an error or a request failed (they are printed).
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** Chromium without a network: these flags stop its background connections (and the log flood they cause). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const CHROMIUM = process.env.CONNO_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Loads `htmlPath` over file://, waits for it to settle, screenshots the full page to `pngPath`.
 * Returns the problems seen and what the page holds.
 * @param {string} htmlPath
 * @param {string} pngPath
 * @param {{ width?: number, quality?: number }} [options]
 * @returns {Promise<{ problems: string[], svgs: number, rasters: number, brokenRasters: number, sections: string[], title: string }>}
 */
export async function screenshotReport(htmlPath, pngPath, options = {}) {
  // Chromium takes a file's type from its extension: a cache object (`conno show report:html
  // --path`) has none, so it is opened through a copy named index.html.
  if (!/\.html?$/i.test(htmlPath)) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'conno-report-'));
    try {
      copyFileSync(htmlPath, path.join(dir, 'index.html'));
      return await screenshotReport(path.join(dir, 'index.html'), pngPath, options);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const problems = [];
  try {
    const page = await browser.newPage({ viewport: { width: options.width ?? 1280, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url().slice(0, 120)} (${r.failure()?.errorText ?? '?'})`));
    await page.goto(pathToFileURL(path.resolve(htmlPath)).href, { waitUntil: 'load' });
    const facts = await page.evaluate(async () => {
      // Every raster (an image mark's data: URL) must decode in the browser.
      const hrefs = [...document.querySelectorAll('svg image')].map((i) => i.getAttribute('href') ?? i.getAttribute('xlink:href') ?? '');
      const decoded = await Promise.all(
        hrefs.map(async (src) => {
          const img = new Image();
          img.src = src;
          try {
            await img.decode();
            return img.naturalWidth > 0;
          } catch {
            return false;
          }
        }),
      );
      return {
        svgs: document.querySelectorAll('figure svg').length,
        rasters: decoded.length,
        brokenRasters: decoded.filter((ok) => !ok).length,
        sections: [...document.querySelectorAll('section[id]')].filter((s) => !s.querySelector('.missing')).map((s) => s.id),
        title: document.title,
      };
    });
    if (facts.brokenRasters > 0) problems.push(`${facts.brokenRasters} of ${facts.rasters} raster images do not decode`);
    // A .jpg/.jpeg name gives a JPEG (a full report as PNG is several MB).
    const jpeg = /\.jpe?g$/i.test(pngPath);
    await page.screenshot({ path: pngPath, fullPage: true, ...(jpeg ? { type: 'jpeg', quality: options.quality ?? 45 } : {}) });
    return { problems, ...facts };
  } finally {
    await browser.close();
  }
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const args = process.argv.slice(2);
  const widthAt = args.indexOf('--width');
  const width = widthAt >= 0 ? Number(args.splice(widthAt, 2)[1]) : undefined;
  if (args.length !== 2 || (width !== undefined && !(width > 0))) {
    console.error('usage: node scripts/report-screenshot.mjs REPORT.html OUT.png [--width PX]');
    process.exit(2);
  }
  const r = await screenshotReport(args[0], args[1], { width });
  console.log(`${args[1]}: ${r.svgs} plots; sections shown: ${r.sections.join(', ')}`);
  for (const p of r.problems) console.error(p);
  process.exit(r.problems.length === 0 ? 0 : 1);
}
