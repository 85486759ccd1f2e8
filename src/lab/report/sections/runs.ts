/** The runs table: every trained run, its matrix values, varying params and what identifies it. */
import { canonicalJson } from '../../../core/util/canonical.js';
import { distinct } from '../axes.js';
import { type Run } from '../data.js';
import type { Cell, Table } from '../table.js';
import type { SectionSpec } from '../section.js';
import { needsTrain } from '../context.js';

export const runs: SectionSpec = {
  id: 'runs',
  title: 'Runs',
  read: 'Every trained run: its matrix values, the params that differ between runs, its test accuracy and what identifies it (the fingerprint, or the hash of its model output when the engine gives no fingerprint).',
  build(ctx, s) {
    const runs = ctx.data.runs;
    if (runs.length === 0) return needsTrain;
    const keys = distinct(runs.flatMap((r) => Object.keys(r.item)));
    const flat = runs.map((r) => (r.params === undefined ? undefined : flattenParams(r.params)));
    const paramKeys = distinct(flat.flatMap((f) => (f === undefined ? [] : [...f.keys()]))).sort();
    // A param that only mirrors a matrix key (seed: ${item.seed}, curriculum.order: ${item.order})
    // is that key's column already.
    const mirrors = (k: string) => keys.some((key) => runs.every((r, i) => flat[i]?.get(k) === undefined || flat[i]!.get(k) === String(r.item[key])));
    const differs = (k: string) => new Set(flat.map((f) => f?.get(k) ?? '–')).size > 1;
    const varying = paramKeys.filter((k) => differs(k) && !mirrors(k));
    const shared = paramKeys.filter((k) => !differs(k) && flat.every((f) => f?.has(k)));
    const allFingerprints = runs.every((r) => r.fingerprint !== undefined);
    const table: Table = {
      columns: ['run', ...keys, ...varying.map((k) => (keys.includes(k) ? `param ${k}` : k)), 'test acc', 'weights of epoch', 'epochs', allFingerprints ? 'fingerprint' : 'fingerprint (or model output hash)'],
      rows: runs.map((r, i): Cell[] => [
        r.id,
        ...keys.map((k) => (r.item[k] === undefined ? null : String(r.item[k]))),
        ...varying.map((k) => flat[i]?.get(k) ?? null),
        ctx.testAccuracy(r) ?? null,
        weightsEpoch(r),
        r.curves?.length ?? null,
        r.fingerprint ?? (r.modelHash === undefined ? null : `model ${r.modelHash}`),
      ]),
      numeric: [false, ...keys.map(() => false), ...varying.map(() => false), true, true, true, false],
      plain: ['weights of epoch', 'epochs'],
    };
    s.tables.push({ caption: `Runs (${runs.length}); test accuracy on split '${ctx.params.in_domain_set}'.`, table });
    if (shared.length > 0) s.notes.push(`Params shared by every run: ${shared.map((k) => `${k}=${flat[0]!.get(k)}`).join(', ')}.`);
    if (flat.every((f) => f === undefined)) s.notes.push('No params: this engine does not pass the upstream params to the report yet.');
    else if (flat.some((f) => f === undefined)) s.notes.push('Params are listed for the runs whose engine passed them.');
    return undefined;

  },
};

/**
 * The epoch whose weights the run's model holds: with early stopping the best by its monitor
 * (train restores them), else the last. Without the run's params, just the number.
 */
function weightsEpoch(r: Run): string | null {
  if (r.bestEpoch === undefined) return null;
  if (r.params === undefined) return String(r.bestEpoch);
  const early = r.params['early_stopping'] as { monitor?: string } | null | undefined;
  return early ? `${r.bestEpoch} (best ${early.monitor ?? 'dev_loss'})` : `${r.bestEpoch} (last)`;
}

/** Nested params as dotted keys with JSON-ish values (`loss.name` → `ce`). */
export function flattenParams(params: Record<string, unknown>): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (v: unknown, key: string): void => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0) {
      for (const k of Object.keys(v).sort()) walk((v as Record<string, unknown>)[k], key === '' ? k : `${key}.${k}`);
    } else out.set(key, typeof v === 'string' ? v : canonicalJson(v));
  };
  walk(params, '');
  return out;
}
