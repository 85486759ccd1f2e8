import { Project } from '../../engine/project.js';
import type { CommandContext } from '../context.js';
import { stringValue } from '../options.js';
import { UsageError } from '../../util/errors.js';
import { formatRows } from '../../util/format.js';
import { outputFormat } from './metrics.js';
import type { GroupDiff, InstanceDiff, LockDiff, MetricChange } from '../../engine/diff.js';
import type { Summary } from '../../util/stats.js';

const fmt = (v: unknown): string => (v === null || v === undefined ? '–' : typeof v === 'number' ? String(+v.toPrecision(6)) : typeof v === 'string' ? v : JSON.stringify(v));
const signed = (x: number): string => (x > 0 ? `+${+x.toPrecision(4)}` : String(+x.toPrecision(4)));
const pct = (x: number | null): string => (x === null ? '' : `${x > 0 ? '+' : ''}${(100 * x).toFixed(1)}%`);
const ci = (s: Summary | null): string => (s === null || s.n === 0 ? '–' : s.ci95 === null ? `${s.mean.toFixed(4)} (n = ${s.n})` : `${s.mean.toFixed(4)} ± ${((s.ci95[1] - s.ci95[0]) / 2).toFixed(4)} (n = ${s.n})`);

function metricCells(m: MetricChange): [string, string, string, string, string] {
  return [m.name, fmt(m.old), fmt(m.new), m.delta === null ? '' : signed(m.delta), pct(m.rel)];
}

/** `conno diff [REV_A [REV_B]]`: HEAD against the working tree by default. */
export async function diff(ctx: CommandContext): Promise<number> {
  if (ctx.positionals.length > 2) throw new UsageError('diff takes at most two revisions: conno diff [REV_A [REV_B]]');
  const as = outputFormat(ctx, ['md', 'json']);
  const { root } = Project.locate({ dir: ctx.dir });
  const { lockAt, diffLocks, changeSize } = await import('../../engine/diff.js');
  const [revA, revB] = [ctx.positionals[0] ?? 'HEAD', ctx.positionals[1] ?? null];
  const a = await lockAt(root, revA);
  const b = await lockAt(root, revB);
  for (const side of [a, b]) if (side.missing) ctx.io.err(`note: no conno.lock in ${side.name}; every instance counts as ${side === a ? 'added' : 'removed'}`);
  const d = diffLocks(a.lock, b.lock, { aggregate: stringValue(ctx, 'aggregate') ?? undefined });
  d.instances.sort((x, y) => changeSize(y) - changeSize(x) || (x.id < y.id ? -1 : 1));
  if (as === 'json') {
    ctx.io.out(JSON.stringify({ from: a.name, to: b.name, ...d }, null, 2));
    return 0;
  }
  ctx.io.out(as === 'md' ? render(d, a.name, b.name, 'md') : render(d, a.name, b.name, 'text'));
  return 0;
}

function render(d: LockDiff, from: string, to: string, as: 'text' | 'md'): string {
  const out: string[] = [];
  const h = (text: string) => out.push(as === 'md' ? `### ${text}\n` : `${text}\n${'='.repeat(text.length)}`);
  const title = `conno.lock: ${from} → ${to}`;
  out.push(as === 'md' ? `## ${title}\n` : title);
  if (d.instances.length === 0) {
    out.push('No stage instance changed.');
    return out.join('\n');
  }
  const counts = (kind: InstanceDiff['change']) => d.instances.filter((i) => i.change === kind).length;
  out.push(`${d.instances.length} instance${d.instances.length === 1 ? '' : 's'} differ: ${counts('changed')} changed, ${counts('added')} added, ${counts('removed')} removed.\n`);

  const added = d.instances.filter((i) => i.change !== 'changed');
  if (added.length) {
    h('Added and removed');
    out.push(formatRows(['instance', 'change'], added.map((i) => [i.id, i.change]), as), '');
  }
  const withMetrics = d.instances.filter((i) => i.metrics.length > 0);
  if (withMetrics.length) {
    h('Metrics (most changed first)');
    out.push(formatRows(['instance', 'metric', 'old', 'new', 'Δ', 'relative'], withMetrics.flatMap((i) => i.metrics.map((m) => [i.id, ...metricCells(m)])), as), '');
  }
  if (d.groups.length) out.push(...groupTable(d.groups, d.aggregate!, as, h));
  const why = d.instances.filter((i) => i.params.length || i.code.length);
  if (why.length) {
    h('Params and code');
    out.push(formatRows(['instance', 'what changed'], why.flatMap((i) => [...i.params.map((p) => [i.id, `param ${p}`]), ...i.code.map((c) => [i.id, `code ${c}`])]), as), '');
  }
  const outputs = d.instances.filter((i) => i.outputs.length);
  if (outputs.length) {
    h('Outputs with new bytes');
    out.push(formatRows(['instance', 'outputs'], outputs.map((i) => [i.id, i.outputs.join(', ')]), as), '');
  }
  return out.join('\n').trimEnd();
}

function groupTable(groups: GroupDiff[], key: string, as: 'text' | 'md', h: (t: string) => void): string[] {
  h(`Means over '${key}' (95% CI, t distribution)`);
  const label = (g: GroupDiff) => `${g.stage}@${Object.entries(g.item).map(([k, v]) => `${k}=${String(v)}`).join(',')}`.replace(/@$/, '');
  const rows = groups.flatMap((g) =>
    g.metrics.map((m) => {
      const delta = m.before && m.after && m.before.n > 0 && m.after.n > 0 ? signed(m.after.mean - m.before.mean) : '';
      return [label(g), m.name, ci(m.before), ci(m.after), delta];
    }),
  );
  return [formatRows(['group', 'metric', 'before', 'after', 'Δ mean'], rows, as), ''];
}
