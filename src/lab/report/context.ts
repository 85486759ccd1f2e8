/** The report's view of the study: its data and params, the axes of each run, the chance level. */
import { splitAccuracy, type ReportData, type Run } from './data.js';
import { labelNoiseOf } from './axes.js';
import type { ReportParams } from './params.js';

/** What every section asks of the data: the axes of each run and the chance level. */
/** The colour scheme of raster plots (saliency maps). */
export const RASTER_SCHEME = 'viridis';

export class Context {
  readonly chance: number | undefined;
  readonly methodTitle: string;
  readonly noiseTitle: string;

  constructor(
    readonly data: ReportData,
    readonly params: ReportParams,
    /** The colour scale of raster plots (saliency maps), 256 RGBA entries. */
    readonly lut: Uint8Array,
  ) {
    const k = data.runs.find((r) => r.classes !== undefined)?.classes?.length;
    this.chance = k === undefined || k === 0 ? undefined : 1 / k;
    this.methodTitle = params.axes.method ?? 'method';
    this.noiseTitle = params.axes.label_noise === null ? 'label noise' : `label noise (${params.axes.label_noise})`;
  }

  get axes(): ReportParams['axes'] {
    return this.params.axes;
  }

  testAccuracy(run: Run): number | undefined {
    return splitAccuracy(run, this.params.in_domain_set);
  }

  noiseLabel(item: Run['item']): string {
    const v = labelNoiseOf(item, this.axes);
    return v === undefined ? 'n/a' : String(v);
  }

  /** The run an instance id names (score tables name runs by their train instance id). */
  runById(id: string): Run | undefined {
    return this.data.runs.find((r) => r.id === id);
  }
}

export const needsTrain = 'needs train stages in `needs` (their outputs curves, predictions, model).';
