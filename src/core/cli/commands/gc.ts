import { Project } from '../../engine/project.js';
import { formatBytes } from '../../util/format.js';
import type { CommandContext } from '../context.js';
import { choiceOption, flag, noTargets } from '../options.js';
import { withProjectLock } from '../lock.js';

export async function gc(ctx: CommandContext): Promise<number> {
  noTargets(ctx);
  const keepRuns = choiceOption(ctx, 'keep-runs', ['all', 'lock'] as const, 'all');
  const dryRun = flag(ctx, 'dry-run');
  return withProjectLock(ctx, { wait: true }, async () => {
    const project = await Project.open({ dir: ctx.dir, skipStageModules: true });
    const { collectGarbage } = await import('../../engine/gc.js');
    const r = await collectGarbage(project, { dryRun, keepRuns });
    const verb = dryRun ? 'would remove' : 'removed';
    ctx.io.out(`${verb} ${r.objects} object${r.objects === 1 ? '' : 's'} (${formatBytes(r.bytes)}) and ${r.runs} run-cache entr${r.runs === 1 ? 'y' : 'ies'}; kept ${r.kept} objects.`);
    return 0;
  });
}
