/** Where models look and what they learn: saliency maps, probes and CKA. */
import { distinct, labelNoiseOf } from '../axes.js';
import { shortId, type Evaluation } from '../data.js';
import { rasterSpec, type RasterTile } from '../plots.js';
import { heatmapDataUrl } from '../png.js';
import type { Cell } from '../table.js';
import type { SectionSpec } from '../section.js';
import { RASTER_SCHEME } from '../context.js';

/** `count` of the evaluations, spread from the lowest to the highest label noise. */
function pickSpread<T>(sorted: readonly T[], count: number): T[] {
  if (count >= sorted.length) return [...sorted];
  if (count === 1) return [sorted[0]!];
  return distinct(Array.from({ length: count }, (_, i) => sorted[Math.round((i * (sorted.length - 1)) / (count - 1))]!));
}

export const saliency: SectionSpec = {
  id: 'saliency',
  title: 'Saliency maps',
  read: 'For a few fixed test clips: the log-mel spectrogram (top) and the saliency map (bottom: which time–frequency regions the prediction depends on), each min–max normalised. Runs with the lowest and the highest label noise are shown, to see whether noise moves the model’s attention.',
  build(ctx, s) {
    const withMaps = ctx.data.evaluations.filter((e) => e.saliency !== undefined && e.saliency.clips.length > 0);
    if (withMaps.length === 0) {
      return ctx.data.evaluations.some((e) => e.saliency !== undefined)
        ? 'the evaluate-ood stages made no maps (saliency: null; a run known by its predictions alone has no model to explain).'
        : 'needs an evaluate-ood stage (its saliency output) in `needs`.';
    }
    if (ctx.params.saliency.runs === 0) return 'params.saliency.runs is 0.';
    const noise = (e: Evaluation): number => labelNoiseOf(e.item, ctx.axes) ?? Infinity;
    const sorted = [...withMaps].sort((a, b) => noise(a) - noise(b)); // stable: input order among equals
    for (const [i, e] of pickSpread(sorted, ctx.params.saliency.runs).entries()) {
      const sal = e.saliency!;
      const [mels, frames] = sal.shape;
      const tiles: RasterTile[] = [];
      const clips: string[] = [];
      for (const c of sal.clips.slice(0, ctx.params.saliency.clips)) {
        const clip = `${c.clip_id}: ${c.label} → ${c.predicted}`;
        clips.push(clip);
        tiles.push({ clip, kind: 'log-mel', url: heatmapDataUrl(c.spectrogram, mels, frames, ctx.lut), frames, mels });
        tiles.push({ clip, kind: 'saliency', url: heatmapDataUrl(c.map, mels, frames, ctx.lut), frames, mels });
      }
      s.plots.push({ id: `saliency-${i}`, spec: rasterSpec(tiles, clips, RASTER_SCHEME), caption: `${e.id}: clip: true label → predicted.` });
    }
    return undefined;

  },
};

// ---------------------------------------------------------------------------------------------
export const representation: SectionSpec = {
  id: 'representation',
  title: 'Learned representations',
  read: 'Linear probe: accuracy of a linear classifier on the frozen embeddings for another dataset or task (how well the features transfer). CKA: similarity of two runs’ representations of the same clips (1 = the same up to rotation and scale).',
  build(ctx, s) {
    const rows = ctx.data.evaluations.flatMap((e) => (e.representation ?? []).map((r): Cell[] => [shortId(e.id), r.kind, r.other, r.value]));
    if (rows.length === 0) return 'needs an evaluate-ood stage with a probe or cka (its representation output) of a run with a model.';
    s.tables.push({ caption: 'Probe accuracy and CKA per evaluation.', table: { columns: ['evaluation', 'kind', 'other', 'value'], rows } });
    return undefined;

  },
};
