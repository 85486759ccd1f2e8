/**
 * The study's axes as the report sees them: an instance's matrix values (item) named by
 * params.axes give its label-noise rate, its training data-noise level and its method.
 */
import type { Axes } from './params.js';
import type { Item } from './data.js';

/**
 * A training data-noise level, as inject-noise's `data.condition` names them: `clean`, `<n>dB` (a
 * number alone is dB too) or `pure`; any other word is kept as a named condition.
 */
export interface NoiseLevel {
  label: string;
  /** Sort key: pure noise first (−∞), then SNRs ascending, then named conditions (+∞). */
  order: number;
  pure: boolean;
}

export function labelNoiseOf(item: Item, axes: Axes): number | undefined {
  if (axes.label_noise === null) return undefined;
  const v = item[axes.label_noise];
  if (v === undefined || typeof v === 'boolean') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

export function noiseLevelOf(item: Item, axes: Axes): NoiseLevel | undefined {
  if (axes.data_noise === null) return undefined;
  const v = item[axes.data_noise];
  if (v === undefined) return undefined;
  const text = String(v).trim().toLowerCase();
  if (text === 'pure') return { label: 'pure noise', order: -Infinity, pure: true };
  const db = /^(-?\d+(?:\.\d+)?)\s*(?:db)?$/.exec(text);
  if (db) return { label: `${Number(db[1])} dB`, order: Number(db[1]), pure: false };
  // clean (no noise) and other named conditions sort after every SNR.
  return { label: String(v), order: Infinity, pure: false };
}

/** The method's name, or 'all' when the study has no method axis. */
export function methodOf(item: Item, axes: Axes): string {
  if (axes.method === null) return 'all';
  const v = item[axes.method];
  return v === undefined ? 'all' : String(v);
}

/** Distinct labels in sort order. */
export function orderedLabels<T>(things: readonly T[], label: (t: T) => string, order: (t: T) => number): string[] {
  const seen = new Map<string, number>();
  for (const t of things) if (!seen.has(label(t))) seen.set(label(t), order(t));
  return [...seen].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([l]) => l);
}

/** Distinct values in first-seen order. */
export function distinct<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}
