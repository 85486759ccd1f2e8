import { Project } from '../../engine/project.js';
import { UsageError } from '../../util/errors.js';
import type { CommandContext } from '../context.js';
import { flag, intOption } from '../options.js';

export async function show(ctx: CommandContext): Promise<number> {
  if (ctx.positionals.length !== 1) throw new UsageError('show takes one STAGE[:OUTPUT]');
  const head = intOption(ctx, 'head', 20);
  const project = await Project.open({ dir: ctx.dir });
  const { show: render } = await import('../../engine/show.js');
  ctx.io.out(await render(project, ctx.positionals[0]!, { head, json: flag(ctx, 'json'), pathOnly: flag(ctx, 'path') }));
  return 0;
}
