/**
 * Vega-Lite → Vega → SVG, in Node, with no canvas and no browser.
 *
 * The SVG must be a pure function of the spec: vega-scenegraph numbers gradients and clip paths
 * from counters that live as long as the process, so the same plot rendered second would get
 * other ids, and two plots inlined in one page could share an id (and so draw each other's
 * legend gradient). Every id is therefore renamed `<plot>-<n>` in order of first appearance.
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';

/** Settings every plot shares: white background, no per-mark aria labels (they would repeat every datum). */
export const PLOT_CONFIG = {
  aria: false,
  background: 'white',
  font: 'sans-serif',
  view: { stroke: '#ddd' },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#eee' },
  legend: { labelFontSize: 11, titleFontSize: 12 },
  header: { labelFontSize: 12, titleFontSize: 12 },
} as const;

export interface RenderedPlot {
  svg: string;
  /** Vega-Lite and Vega warnings (a dropped encoding, an unknown field): a spec bug, shown in the log. */
  warnings: string[];
}

export async function renderSvg(spec: TopLevelSpec, idPrefix: string): Promise<RenderedPlot> {
  if (!/^[a-z][a-z0-9-]*$/.test(idPrefix)) throw new Error(`plot id prefix '${idPrefix}' must be lowercase letters, digits and '-'`);
  const warnings: string[] = [];
  const logger = collectingLogger(warnings);
  const compiled = vl.compile({ config: PLOT_CONFIG, ...spec } as TopLevelSpec, { logger }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logger, logLevel: vega.Warn });
  try {
    const svg = await view.toSVG();
    return { svg: renameIds(svg, idPrefix), warnings };
  } finally {
    view.finalize();
  }
}

/** Renames every `id="…"` and its references (`url(#…)`, `href="#…"`) to `<prefix>-<n>`. */
export function renameIds(svg: string, prefix: string): string {
  const ids = new Map<string, string>();
  for (const m of svg.matchAll(/\sid="([^"]+)"/g)) if (!ids.has(m[1]!)) ids.set(m[1]!, `${prefix}-${ids.size}`);
  if (ids.size === 0) return svg;
  return svg
    .replace(/(\sid=")([^"]+)(")/g, (all, a: string, id: string, b: string) => (ids.has(id) ? `${a}${ids.get(id)}${b}` : all))
    .replace(/url\(#([^)]+)\)/g, (all, id: string) => (ids.has(id) ? `url(#${ids.get(id)})` : all))
    .replace(/(href=")#([^"]+)(")/g, (all, a: string, id: string, b: string) => (ids.has(id) ? `${a}#${ids.get(id)}${b}` : all));
}

/** A vega logger that keeps errors and warnings (a plot that warns is a plot to fix). */
class CollectingLogger implements vega.LoggerInterface {
  private current = vega.Warn;
  constructor(private readonly into: string[]) {
    // vega calls these detached from the logger (`const error = logger.error; error(…)`).
    this.error = this.error.bind(this);
    this.warn = this.warn.bind(this);
  }
  level(): number;
  level(level: number): this;
  level(level?: number): number | this {
    if (level === undefined) return this.current;
    this.current = level;
    return this;
  }
  error(...args: readonly unknown[]): this {
    this.into.push(args.map(String).join(' '));
    return this;
  }
  warn(...args: readonly unknown[]): this {
    this.into.push(args.map(String).join(' '));
    return this;
  }
  info(): this {
    return this;
  }
  debug(): this {
    return this;
  }
}

function collectingLogger(into: string[]): vega.LoggerInterface {
  return new CollectingLogger(into);
}

/** A continuous Vega colour scheme as an RGB lookup table of `steps` entries (for rasters). */
export function schemeTable(name: string, steps = 256): Uint8Array {
  const interpolate = vega.scheme(name) as ((t: number) => string) | undefined;
  if (typeof interpolate !== 'function') throw new Error(`unknown continuous colour scheme '${name}'`);
  const lut = new Uint8Array(steps * 3); // [steps, rgb]
  for (let i = 0; i < steps; i++) {
    lut.set(parseColor(interpolate(i / (steps - 1))), i * 3);
  }
  return lut;
}

/** `rgb(r, g, b)` or `#rrggbb`, the two forms Vega's interpolators return. */
function parseColor(text: string): [number, number, number] {
  const rgb = /^rgb\((\d+(?:\.\d+)?),\s*(\d+(?:\.\d+)?),\s*(\d+(?:\.\d+)?)\)$/.exec(text);
  if (rgb) return [Math.round(Number(rgb[1])), Math.round(Number(rgb[2])), Math.round(Number(rgb[3]))];
  const hex = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(text);
  if (hex) return [parseInt(hex[1]!, 16), parseInt(hex[2]!, 16), parseInt(hex[3]!, 16)];
  throw new Error(`cannot read colour '${text}'`);
}
