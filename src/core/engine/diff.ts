/**
 * What changed between two conno.lock files (two git revisions, or one and the working tree): per
 * stage instance the params, code, metrics and outputs that changed, instances added or removed,
 * and where instances form groups over a key (the seeds), each metric's mean and 95% CI before
 * and after. From the locks alone: no cache, no run.
 */
import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { LockEntry, LockFile } from '../store/lockfile.js';
import { emptyLock, parseLockText } from '../store/lockfile.js';
import { diffValues } from './state.js';
import { diffCode } from '../stage/code.js';
import { aggregate, flatMetrics, metricRows, stageOf } from './metrics.js';
import type { Summary } from '../util/stats.js';
import { UsageError } from '../util/errors.js';

export interface MetricChange {
  name: string;
  old: unknown;
  new: unknown;
  /** new − old, for numbers. */
  delta: number | null;
  /** delta / |old|, for numbers with old ≠ 0. */
  rel: number | null;
}

export interface InstanceDiff {
  id: string;
  change: 'added' | 'removed' | 'changed';
  /** `key old → new` of params and `with` values. */
  params: string[];
  /** Files (packages, stage version) whose code changed, or ['code changed'] without details. */
  code: string[];
  metrics: MetricChange[];
  /** Outputs whose hash changed (or that appeared or went). */
  outputs: string[];
}

export interface GroupMetricChange {
  name: string;
  before: Summary | null;
  after: Summary | null;
}

export interface GroupDiff {
  stage: string;
  item: Record<string, string | number | boolean>;
  metrics: GroupMetricChange[];
}

export interface LockDiff {
  instances: InstanceDiff[];
  /** The key aggregated over (seed), when instances have it; null otherwise. */
  aggregate: string | null;
  groups: GroupDiff[];
}

const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function metricChanges(a: Record<string, unknown> = {}, b: Record<string, unknown> = {}): MetricChange[] {
  const out: MetricChange[] = [];
  for (const name of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    const [x, y] = [a[name], b[name]];
    if (JSON.stringify(x) === JSON.stringify(y)) continue;
    const delta = num(x) && num(y) ? y - x : null;
    out.push({ name, old: x ?? null, new: y ?? null, delta, rel: delta !== null && x !== 0 ? delta / Math.abs(x as number) : null });
  }
  return out;
}

function instanceDiff(id: string, a: LockEntry | undefined, b: LockEntry | undefined, la: LockFile, lb: LockFile): InstanceDiff | null {
  const change = a === undefined ? 'added' : b === undefined ? 'removed' : 'changed';
  const paramChanges = a && b ? diffValues(a.params, b.params) : [];
  // A `with` value that changed only because the param it interpolates did is said once (as status does).
  const transitions = new Set(paramChanges.map((d) => d.slice(d.indexOf(' ') + 1)));
  const withChanges = a && b ? diffValues(a.with ?? {}, b.with ?? {}).filter((d) => !transitions.has(d.slice(d.indexOf(' ') + 1))) : [];
  const params = [...paramChanges, ...withChanges.map((d) => `with ${d}`)];
  let code: string[] = [];
  if (a && b && a.code !== b.code) {
    const [da, db] = [a.code ? la.code?.[a.code] : undefined, b.code ? lb.code?.[b.code] : undefined];
    code = da && db ? diffCode(da, db) : [];
    if (code.length === 0) code = ['code changed'];
  }
  const metrics = metricChanges(flatMetrics(a?.metrics, a?.kind), flatMetrics(b?.metrics, b?.kind));
  const outs = [...new Set([...Object.keys(a?.outs ?? {}), ...Object.keys(b?.outs ?? {})])].sort();
  const outputs = a && b ? outs.filter((o) => a.outs[o]?.hash !== b.outs[o]?.hash) : [];
  if (change === 'changed' && params.length === 0 && code.length === 0 && metrics.length === 0 && outputs.length === 0 && a!.fingerprint === b!.fingerprint) return null;
  return { id, change, params, code, metrics, outputs };
}

/** The size of an instance's change, for ordering: its largest relative metric change, then how much changed. */
export function changeSize(d: InstanceDiff): number {
  const rel = Math.max(0, ...d.metrics.map((m) => Math.abs(m.rel ?? (m.delta !== null ? m.delta : 1))));
  return rel * 1000 + d.metrics.length + d.outputs.length + d.params.length + d.code.length;
}

export function diffLocks(a: LockFile, b: LockFile, opts: { aggregate?: string | null } = {}): LockDiff {
  const ids = [...new Set([...Object.keys(a.stages), ...Object.keys(b.stages)])];
  const instances = ids.map((id) => instanceDiff(id, a.stages[id], b.stages[id], a, b)).filter((d): d is InstanceDiff => d !== null);
  const [ra, rb] = [metricRows(a), metricRows(b)];
  const key = opts.aggregate === undefined ? ([...ra, ...rb].some((r) => 'seed' in r.item) ? 'seed' : null) : opts.aggregate;
  const groups: GroupDiff[] = [];
  if (key !== null && [...ra, ...rb].some((r) => key in r.item)) {
    const grouped = (rows: typeof ra) => (rows.some((r) => key in r.item) ? aggregate(rows.filter((r) => key in r.item), key) : []);
    const [ga, gb] = [grouped(ra), grouped(rb)];
    const gkey = (g: { stage: string; item: object }) => `${g.stage}\u0000${JSON.stringify(Object.entries(g.item).sort(([x], [y]) => (x < y ? -1 : 1)))}`;
    const before = new Map(ga.map((g) => [gkey(g), g]));
    const after = new Map(gb.map((g) => [gkey(g), g]));
    for (const k of [...new Set([...before.keys(), ...after.keys()])]) {
      const [x, y] = [before.get(k), after.get(k)];
      const names = [...new Set([...Object.keys(x?.metrics ?? {}), ...Object.keys(y?.metrics ?? {})])].sort();
      const metrics = names
        .map((name) => ({ name, before: x?.metrics[name] ?? null, after: y?.metrics[name] ?? null }))
        .filter((m) => JSON.stringify(m.before) !== JSON.stringify(m.after));
      if (metrics.length) groups.push({ stage: (x ?? y)!.stage, item: (x ?? y)!.item, metrics });
    }
  }
  return { instances, aggregate: key, groups };
}

/** The lock of a revision (`git show REV:./conno.lock`), or of the working tree when `rev` is null. */
export async function lockAt(root: string, rev: string | null): Promise<{ lock: LockFile; name: string; missing: boolean }> {
  const file = path.join(root, 'conno.lock');
  if (rev === null) {
    const text = await readFile(file, 'utf8').catch(() => undefined);
    return { lock: await parseLockText(file, text ?? ''), name: 'the working tree', missing: text === undefined };
  }
  const inRepo = await execa('git', ['rev-parse', '--is-inside-work-tree'], { cwd: root, reject: false });
  if (inRepo.exitCode !== 0) throw new UsageError(`diff reads conno.lock from git revisions, and ${root} is not in a git repository`, { hint: inRepo.stderr.trim().split('\n')[0] });
  const known = await execa('git', ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`], { cwd: root, reject: false });
  if (known.exitCode !== 0) throw new UsageError(`diff: unknown revision '${rev}'`);
  const shown = await execa('git', ['show', `${rev}:./conno.lock`], { cwd: root, reject: false, stripFinalNewline: false });
  if (shown.exitCode !== 0) return { lock: emptyLock(), name: rev, missing: true };
  return { lock: await parseLockText(`${rev}:conno.lock`, shown.stdout), name: rev, missing: false };
}

export { stageOf };
