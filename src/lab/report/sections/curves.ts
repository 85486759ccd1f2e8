/** Memorisation: accuracy curves over epochs. */
import { distinct, methodOf } from '../axes.js';
import { shortId } from '../data.js';
import { curvesSpec, type CurveRow } from '../plots.js';
import type { SectionSpec } from '../section.js';

const CURVE_MEASURES = [
  ['flipped_acc_noisy', 'flipped samples: accuracy on their noisy label'],
  ['train_acc_orig', 'train: accuracy on the true label'],
  ['dev_acc', 'dev accuracy'],
] as const;

export const memorisation: SectionSpec = {
  id: 'memorisation',
  title: 'Memorisation',
  read: 'Accuracy over epochs, one line per run. Left: how often flipped training samples are predicted as their wrong (noisy) label: it stays low while the model learns the patterns and rises when it starts memorising the noise. Middle: accuracy of the training samples against their true labels (it falls when memorisation begins). Right: dev accuracy.',
  build(ctx, s) {
    const runs = ctx.data.runs.filter((r) => r.curves !== undefined && r.curves.length > 0);
    if (runs.length === 0) return 'needs the curves output of train stages.';
    const rows: CurveRow[] = [];
    for (const r of runs) {
      for (const c of r.curves!) {
        for (const [field, measure] of CURVE_MEASURES) {
          const value = c[field];
          if (Number.isFinite(value)) rows.push({ run: shortId(r.id), epoch: c.epoch, measure, value, noise: ctx.noiseLabel(r.item), method: methodOf(r.item, ctx.axes) });
        }
      }
    }
    if (rows.length === 0) return `needs curves with at least one of ${CURVE_MEASURES.map(([f]) => f).join(', ')}.`;
    const measures = CURVE_MEASURES.map(([, m]) => m).filter((m) => rows.some((r) => r.measure === m));
    if (!measures.includes(CURVE_MEASURES[0][1])) s.notes.push('No run has flipped labels, so there is no memorisation curve (inject-noise label noise upstream of train gives one).');
    const noiseOrder = distinct(rows.map((r) => r.noise)).sort((a, b) => Number(a) - Number(b));
    s.plots.push({ id: 'memorisation', spec: curvesSpec(rows, measures, noiseOrder, ctx.noiseTitle, ctx.methodTitle), caption: 'Accuracy curves per run.' });
    return undefined;
  },
};
