/**
 * The metrics of conno.lock as tables: every instance with its matrix values and metrics, and
 * groups of instances equal in every matrix key but one (`--aggregate seed`) with each metric's
 * mean, standard deviation, n and 95% confidence interval (t distribution). From the lock alone:
 * no pipeline, no cache.
 */
import type { RunCache } from '../store/runcache.js';
import type { LockFile } from '../store/lockfile.js';
import { summarize, type Summary } from '../util/stats.js';
import { UsageError } from '../util/errors.js';
import { dict } from '../util/dict.js';

type Item = Record<string, string | number | boolean>;

export interface MetricRow {
  id: string;
  stage: string;
  item: Item;
  metrics: Record<string, unknown>;
}

export interface MetricGroup {
  /** The stage and the matrix values the group shares (the aggregated key left out). */
  stage: string;
  item: Item;
  /** The instances of the group, in lock order. */
  ids: string[];
  metrics: Record<string, Summary & { ci95: [number, number] | null }>;
}

export const stageOf = (id: string): string => id.split('@', 1)[0]!;

/**
 * The entries a target names, as `conno repro` reads targets: a stage name, an instance id, or
 * part of one (`train@seed=1`); from the lock's ids and items alone.
 */
export function lockTargets(ids: readonly string[], items: (id: string) => Item, targets: readonly string[]): string[] {
  if (targets.length === 0) return [...ids];
  const chosen = new Set<string>();
  for (const t of targets) {
    const [stage, sel] = t.split('@', 2) as [string, string | undefined];
    const mine = ids.filter((id) => stageOf(id) === stage);
    if (mine.length === 0) throw new UsageError(`no instance of '${stage}' in conno.lock (stages: ${[...new Set(ids.map(stageOf))].join(', ') || 'none'})`);
    const want = sel === undefined ? [] : sel.split(',').map((kv) => kv.split('=', 2) as [string, string | undefined]);
    const matches = mine.filter((id) => want.every(([k, v]) => v !== undefined && k in items(id) && String(items(id)[k]) === v));
    if (matches.length === 0) throw new UsageError(`no instance of '${stage}' matches '${t}' (instances: ${mine.join(', ')})`);
    matches.forEach((id) => chosen.add(id));
  }
  return ids.filter((id) => chosen.has(id));
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Metrics as flat names. A built-in stage records names already; a command stage records each
 * metrics file's content under the file's path: with one file its keys are the names (so that
 * `out/m-0-1.json` and `out/m-0-2.json` of two seeds give the same `acc`), with several
 * `file:key`. Nested objects give dotted names.
 */
export function flatMetrics(metrics: Record<string, unknown> | undefined, kind: string | undefined): Record<string, unknown> {
  const out = dict<unknown>();
  const put = (prefix: string, v: unknown) => {
    if (isObject(v)) for (const [k, x] of Object.entries(v)) put(prefix ? `${prefix}.${k}` : k, x);
    else out[prefix] = v;
  };
  const m = metrics ?? {};
  const files = Object.keys(m);
  if (kind === 'cmd' && files.every((f) => isObject(m[f]))) {
    for (const f of files) for (const [k, v] of Object.entries(m[f] as Record<string, unknown>)) put(files.length === 1 ? k : `${f}:${k}`, v);
  } else {
    for (const [k, v] of Object.entries(m)) put(k, v);
  }
  return out;
}

export function metricRows(lock: LockFile, targets: readonly string[] = []): MetricRow[] {
  const ids = Object.keys(lock.stages);
  const item = (id: string): Item => (lock.stages[id]!.item ?? {}) as Item;
  return lockTargets(ids, item, targets)
    .filter((id) => Object.keys(lock.stages[id]!.metrics ?? {}).length > 0)
    .map((id) => ({ id, stage: stageOf(id), item: item(id), metrics: flatMetrics(lock.stages[id]!.metrics, lock.stages[id]!.kind) }));
}

/**
 * What each run cost (`conno metrics --resources`): wall time, CPU time and peak RSS from the
 * run-cache record of the instance's fingerprint, as metrics rows (so they aggregate over seeds
 * like any metric). Instances without a record (restored from a remote that lacked it, or run
 * before conno recorded resources) are left out and counted.
 */
export async function resourceRows(lock: LockFile, runs: RunCache, targets: readonly string[] = []): Promise<{ rows: MetricRow[]; without: string[] }> {
  const ids = Object.keys(lock.stages);
  const item = (id: string): Item => (lock.stages[id]!.item ?? {}) as Item;
  const rows: MetricRow[] = [];
  const without: string[] = [];
  for (const id of lockTargets(ids, item, targets)) {
    const r = (await runs.get(lock.stages[id]!.fingerprint))?.resources;
    if (!r) {
      without.push(id);
      continue;
    }
    const metrics: Record<string, unknown> = { wall_s: r.wall_s };
    if (r.cpu_s !== undefined) metrics['cpu_s'] = r.cpu_s;
    if (r.max_rss_mb !== undefined) metrics['max_rss_mb'] = r.max_rss_mb;
    metrics['measured'] = r.from;
    rows.push({ id, stage: stageOf(id), item: item(id), metrics });
  }
  return { rows, without };
}

/** Finite numbers only: a metric that is text (or null) has no mean. */
const numeric = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Rows grouped by stage and every matrix value but `key`; each numeric metric summarised. */
export function aggregate(rows: readonly MetricRow[], key: string): MetricGroup[] {
  if (!rows.some((r) => key in r.item)) {
    const keys = [...new Set(rows.flatMap((r) => Object.keys(r.item)))];
    throw new UsageError(`--aggregate ${key}: no instance has the matrix key '${key}' (keys: ${keys.join(', ') || 'none'})`);
  }
  const groups = new Map<string, { stage: string; item: Item; rows: MetricRow[] }>();
  for (const r of rows) {
    const item = Object.fromEntries(Object.entries(r.item).filter(([k]) => k !== key));
    const k = `${r.stage}\u0000${JSON.stringify(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : 1)))}`;
    const g = groups.get(k) ?? { stage: r.stage, item, rows: [] };
    g.rows.push(r);
    groups.set(k, g);
  }
  return [...groups.values()].map((g) => {
    const names = [...new Set(g.rows.flatMap((r) => Object.keys(r.metrics).filter((m) => numeric(r.metrics[m]))))].sort();
    const metrics = Object.fromEntries(names.map((m) => [m, summarize(g.rows.map((r) => r.metrics[m]).filter(numeric))]));
    return { stage: g.stage, item: g.item, ids: g.rows.map((r) => r.id), metrics };
  });
}

/** A metric's value as a table shows it: numbers as they are, lists and objects as JSON. */
export function cellText(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** `0.687 ± 0.031`: a mean and its CI's half-width, to `digits` decimals (the mean alone with n < 2). */
export function meanPm(s: Summary, digits = 4): string {
  if (s.n === 0) return '';
  if (s.ci95 === null) return s.mean.toFixed(digits);
  return `${s.mean.toFixed(digits)} ± ${((s.ci95[1] - s.ci95[0]) / 2).toFixed(digits)}`;
}
