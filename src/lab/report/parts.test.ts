/** The report's parts: PNG rasters, SVG id renaming, histograms, correlation matrices, tables, axes. */
import { describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import { encodePngRgb, heatmapDataUrl } from './png.js';
import { renameIds, renderSvg, schemeTable } from './render.js';
import { histogramBins, meanScoreCorrelations, flattenParams } from './sections.js';
import { tableToHtml, tableToMarkdown } from './table.js';
import { labelNoiseOf, noiseLevelOf, methodOf } from './axes.js';
import { ReportParamsSchema } from './params.js';
import { correlationSpec } from './plots.js';
import { Rng } from '../../core/util/random.js';

describe('PNG writer', () => {
  it('writes RGB images that pngjs decodes to the same pixels, over several stored deflate blocks', () => {
    const rng = new Rng(5);
    for (const [w, h] of [
      [1, 1],
      [3, 2],
      [200, 120], // 72,120 bytes of rows: two stored blocks
    ] as const) {
      const rgb = Uint8Array.from({ length: w * h * 3 }, () => rng.int(256));
      const png = PNG.sync.read(Buffer.from(encodePngRgb(w, h, rgb)));
      expect([png.width, png.height]).toEqual([w, h]);
      for (let i = 0; i < w * h; i++) expect([...png.data.subarray(i * 4, i * 4 + 3)]).toEqual([...rgb.subarray(i * 3, i * 3 + 3)]);
    }
    expect(() => encodePngRgb(2, 2, new Uint8Array(5))).toThrow('PNG of 2×2 needs 12 bytes, got 5');
  });

  it('draws mel band 0 at the bottom, min–max normalised through the colour table', () => {
    const lut = schemeTable('viridis', 256);
    // [rows=2 mel bands, cols=3 frames]: band 0 = 0,1,2; band 1 = 3,4,5
    const url = heatmapDataUrl(Float32Array.of(0, 1, 2, 3, 4, 5), 2, 3, lut);
    const png = PNG.sync.read(Buffer.from(url.replace('data:image/png;base64,', ''), 'base64'));
    const pixel = (x: number, y: number) => [...png.data.subarray((y * 3 + x) * 4, (y * 3 + x) * 4 + 3)];
    expect(pixel(0, 1)).toEqual([...lut.subarray(0, 3)]); // bottom-left: the minimum
    expect(pixel(2, 0)).toEqual([...lut.subarray(255 * 3, 256 * 3)]); // top-right: the maximum
    expect(pixel(0, 1)).toEqual([68, 1, 84]); // viridis starts dark purple
  });
});

describe('SVG rendering', () => {
  it('renames ids and their references in order of appearance', () => {
    const svg = '<svg><defs><linearGradient id="gradient_7"/><clipPath id="clip3"/></defs><rect fill="url(#gradient_7)" clip-path="url(#clip3)"/><use href="#clip3"/></svg>';
    expect(renameIds(svg, 'p')).toBe('<svg><defs><linearGradient id="p-0"/><clipPath id="p-1"/></defs><rect fill="url(#p-0)" clip-path="url(#p-1)"/><use href="#p-1"/></svg>');
  });

  it('renders the same spec to the same bytes twice in one process (Vega’s id counters do not leak)', async () => {
    const spec = correlationSpec(
      [
        { a: 'x', b: 'x', value: 1 },
        { a: 'x', b: 'y', value: -0.5 },
        { a: 'y', b: 'x', value: -0.5 },
        { a: 'y', b: 'y', value: 1 },
      ],
      ['x', 'y'],
      'Spearman',
    );
    const a = await renderSvg(spec, 'corr');
    const b = await renderSvg(spec, 'corr');
    expect(a.warnings).toEqual([]);
    expect(a.svg).toContain('id="corr-0"'); // the legend gradient
    expect(b.svg).toBe(a.svg);
  });

  it('reports Vega-Lite warnings instead of printing them', async () => {
    const r = await renderSvg({ data: { values: [{ a: 1 }] }, mark: 'point', encoding: { x: { field: 'a', type: 'quantitative' }, shape: { field: 'a', type: 'quantitative' } } }, 'w');
    expect(r.warnings.join('\n')).toMatch(/shape/i);
  });
});

describe('sections', () => {
  it('bins clean and flipped scores over one range; each group sums to 1', () => {
    const bins = histogramBins('loss', [0, 0.1, 0.2, 1], [0.9, 1, 1], 4);
    const share = (g: string) => bins.filter((b) => b.group === g);
    expect(share('clean').map((b) => b.fraction)).toEqual([0.75, 0, 0, 0.25]);
    expect(share('flipped').map((b) => b.fraction)).toEqual([0, 0, 0, 1]);
    expect(share('clean')[0]).toMatchObject({ x0: 0, x1: 0.25 });
    // One value only: a range of width 1 around it, the value in the middle bin.
    expect(histogramBins('c', [2, 2], [], 3).map((b) => [b.x0, b.fraction])).toEqual([
      [1.5, 0],
      [1.5 + 1 / 3, 1],
      [1.5 + 2 / 3, 0],
    ]);
  });

  it('averages within-run correlations over runs into a symmetric matrix with a unit diagonal', () => {
    const row = (score_a: string, score_b: string, run: string, spearman: number) => ({ from: 's', score_a, run_a: run, score_b, run_b: run, spearman });
    const { order, cells } = meanScoreCorrelations([
      row('loss', 'aum', 'r1', 0.8),
      row('loss', 'aum', 'r2', 0.6),
      row('aum', 'forget', 'r1', 0.2),
      { from: 's', score_a: 'loss', run_a: 'r1', score_b: 'loss', run_b: 'r2', spearman: 0.1 }, // across runs: not here
      row('loss', 'aum', 'ensemble@noise=0.4', -1), // an ensemble: not a run
    ]);
    expect(order).toEqual(['loss', 'aum', 'forget']);
    const at = (a: string, b: string) => cells.find((c) => c.a === a && c.b === b)?.value;
    expect(at('loss', 'aum')).toBeCloseTo(0.7, 12);
    expect(at('aum', 'loss')).toBeCloseTo(0.7, 12);
    expect(at('forget', 'aum')).toBe(0.2);
    expect(at('loss', 'loss')).toBe(1);
    expect(at('loss', 'forget')).toBeUndefined();
  });

  it('flattens params into dotted keys', () => {
    expect([...flattenParams({ loss: { name: 'gce', q: 0.7 }, epochs: 3, aug: null, filters: [8, 16] })]).toEqual([
      ['aug', 'null'],
      ['epochs', '3'],
      ['filters', '[8,16]'],
      ['loss.name', 'gce'],
      ['loss.q', '0.7'],
    ]);
  });
});

describe('tables', () => {
  const t = { columns: ['run', 'acc'], rows: [['a|b', 0.91234], ['<c>', null]] };
  it('writes markdown with numbers right-aligned and pipes escaped', () => {
    expect(tableToMarkdown(t)).toBe('| run | acc |\n| --- | ---: |\n| a\\|b | 0.912 |\n| <c> | – |');
  });
  it('writes HTML with text escaped', () => {
    expect(tableToHtml(t)).toContain('<td>&lt;c&gt;</td><td class="num">–</td>');
  });
});

describe('axes', () => {
  const axes = ReportParamsSchema.parse({}).axes;
  it('reads the label-noise rate, the data-noise condition (pure noise first, clean last) and the method', () => {
    expect(labelNoiseOf({ noise: 0.2 }, axes)).toBe(0.2);
    expect(labelNoiseOf({ noise: '0.4' }, axes)).toBe(0.4);
    expect(labelNoiseOf({ seed: 1 }, axes)).toBeUndefined();
    expect(noiseLevelOf({ data: 'pure' }, axes)).toEqual({ label: 'pure noise', order: -Infinity, pure: true });
    expect(noiseLevelOf({ data: '-5dB' }, axes)).toEqual({ label: '-5 dB', order: -5, pure: false });
    expect(noiseLevelOf({ data: '2.5 dB' }, axes)).toEqual({ label: '2.5 dB', order: 2.5, pure: false });
    expect(noiseLevelOf({ data: 10 }, axes)).toEqual({ label: '10 dB', order: 10, pure: false });
    expect(noiseLevelOf({ data: 'clean' }, axes)).toEqual({ label: 'clean', order: Infinity, pure: false });
    expect(noiseLevelOf({ snr: 10 }, axes)).toBeUndefined();
    expect(methodOf({ loss: 'gce' }, axes)).toBe('gce');
    expect(methodOf({}, axes)).toBe('all');
  });
  it('rejects unknown params with their path', () => {
    const r = ReportParamsSchema.safeParse({ axes: { noise: 'x' } });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('noise');
  });
});
