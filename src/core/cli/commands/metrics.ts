import path from 'node:path';
import { existsSync } from 'node:fs';
import { LOCK_FILE, Project } from '../../engine/project.js';
import type { CommandContext } from '../context.js';
import { flag, stringValue } from '../options.js';
import { UsageError } from '../../util/errors.js';
import { formatRows } from '../../util/format.js';

/** The output format a command was asked for (one of --md, --csv, --json; text by default). */
export function outputFormat(ctx: CommandContext, allowed: readonly ('md' | 'csv' | 'json')[]): 'text' | 'md' | 'csv' | 'json' {
  const given = allowed.filter((f) => flag(ctx, f));
  if (given.length > 1) throw new UsageError(`${ctx.command}: choose one of ${given.map((f) => `--${f}`).join(', ')}`);
  return given[0] ?? 'text';
}

export async function metrics(ctx: CommandContext): Promise<number> {
  const { root } = Project.locate({ dir: ctx.dir });
  const file = path.join(root, LOCK_FILE);
  if (!existsSync(file)) throw new UsageError(`metrics: no ${LOCK_FILE} in ${root} (\`conno repro\` writes it)`);
  const { readLock } = await import('../../store/lockfile.js');
  const M = await import('../../engine/metrics.js');
  const as = outputFormat(ctx, ['md', 'csv', 'json']);
  const lock = await readLock(file);
  let rows = M.metricRows(lock, ctx.positionals);
  if (flag(ctx, 'resources')) {
    const { RunCache } = await import('../../store/runcache.js');
    const got = await M.resourceRows(lock, new RunCache(Project.locate({ dir: ctx.dir }).cacheDir), ctx.positionals);
    rows = got.rows;
    if (got.without.length && as !== 'json') {
      ctx.io.err(`${got.without.length} instance${got.without.length === 1 ? ' has' : 's have'} no record of what ${got.without.length === 1 ? 'its run' : 'their runs'} used in this cache (restored from a remote without it, or run before conno recorded it): ${got.without.slice(0, 5).join(', ')}${got.without.length > 5 ? ', …' : ''}`);
    }
  }
  const key = stringValue(ctx, 'aggregate');
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r.item)))];

  if (key !== undefined) {
    const groups = M.aggregate(rows, key);
    if (as === 'json') {
      ctx.io.out(JSON.stringify({ aggregate: key, groups: groups.map((g) => ({ stage: g.stage, item: g.item, instances: g.ids, metrics: g.metrics })) }, null, 2));
      return 0;
    }
    const shared = keys.filter((k) => k !== key);
    const names = [...new Set(groups.flatMap((g) => Object.keys(g.metrics)))].sort();
    const table = groups.map((g) => [g.stage, ...shared.map((k) => M.cellText(g.item[k])), String(g.ids.length), ...names.map((m) => (g.metrics[m] ? M.meanPm(g.metrics[m]!) : ''))]);
    if (as === 'text') ctx.io.out(`Mean ± half-width of the 95% CI (t distribution) over '${key}'; n instances per group.\n`);
    ctx.io.out(formatRows(['stage', ...shared, 'n', ...names], table, as));
    return 0;
  }
  if (as === 'json') {
    ctx.io.out(JSON.stringify({ instances: rows.map((r) => ({ id: r.id, stage: r.stage, item: r.item, metrics: r.metrics })) }, null, 2));
    return 0;
  }
  const names = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))].sort();
  const table = rows.map((r) => [r.id, ...keys.map((k) => M.cellText(r.item[k])), ...names.map((m) => M.cellText(r.metrics[m]))]);
  ctx.io.out(formatRows(['instance', ...keys, ...names], table, as));
  return 0;
}
