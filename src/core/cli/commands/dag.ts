import { Project } from '../../engine/project.js';
import type { CommandContext } from '../context.js';
import { choiceOption, flag, noTargets } from '../options.js';

export async function dag(ctx: CommandContext): Promise<number> {
  const format = choiceOption(ctx, 'format', ['text', 'mermaid', 'dot'] as const, 'text');
  noTargets(ctx);
  const project = await Project.open({ dir: ctx.dir, skipStageModules: true });
  const { renderDag } = await import('../../engine/dag.js');
  ctx.io.out(renderDag(project.pipeline, format, flag(ctx, 'instances')));
  return 0;
}
