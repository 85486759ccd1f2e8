import { Project } from '../../engine/project.js';
import { settled } from '../../util/promise.js';
import type { CommandContext } from '../context.js';
import { flag } from '../options.js';

export async function status(ctx: CommandContext): Promise<number> {
  const { io } = ctx;
  const loading = settled(import('../../engine/status.js')); // loaded while the project opens
  const project = await Project.open({ dir: ctx.dir, summariesOnly: true });
  const { computeStatus } = await loading;
  const st = await computeStatus(project, project.selectTargets(ctx.positionals));
  if (flag(ctx, 'json')) {
    io.out(JSON.stringify({ stages: st.map((s) => ({ id: s.id, stale: s.stale, reasons: s.reasons })) }, null, 2));
    return 0;
  }
  const stale = st.filter((s) => s.stale);
  if (stale.length === 0) {
    io.out(`Everything is up to date (${st.length} stage instance${st.length === 1 ? '' : 's'}).`);
    return 0;
  }
  for (const s of stale) {
    io.out(`${s.id}:`);
    for (const r of s.reasons) io.out(`    ${r}`);
  }
  io.out(`\n${stale.length} of ${st.length} stage instances stale; \`conno repro\` rebuilds them.`);
  return 0;
}
