import { Project } from '../../engine/project.js';
import type { CommandContext } from '../context.js';
import { executorOption, flag, jobsOption, stringValue } from '../options.js';
import { withProjectLock } from '../lock.js';

export async function verify(ctx: CommandContext): Promise<number> {
  const { io } = ctx;
  const jobs = jobsOption(ctx);
  const executor = executorOption(ctx);
  const { detectGpus } = await import('../../exec/gpus.js');
  const gpus = detectGpus(stringValue(ctx, 'gpus'));
  return withProjectLock(ctx, { wait: true }, async () => {
    const project = await Project.open({ dir: ctx.dir });
    const { plainReporter } = await import('../../exec/reporter.js');
    const { verify: run } = await import('../../engine/verify.js');
    const res = await run(project, { targets: ctx.positionals, jobs, gpus: gpus.ids, reporter: plainReporter(io.err), keepScratch: flag(ctx, 'keep-scratch'), executor });
    for (const m of res.mismatches) io.out(`MISMATCH ${m.id} ${m.output}: expected ${m.expected}, got ${m.got}`);
    // Failed instances were reported as they failed (with their log); the summary names them once.
    const bad = res.mismatches.length + res.failed.length;
    const failedIds = res.failed.length ? ` (${res.failed.map((f) => f.id).join(', ')})` : '';
    io.out(
      bad === 0
        ? `Verified: all ${res.checked.length} stage instances reproduce conno.lock bit for bit.`
        : `Verify failed: ${res.mismatches.length} mismatch${res.mismatches.length === 1 ? '' : 'es'}, ${res.failed.length} failed stage instance${res.failed.length === 1 ? '' : 's'}${failedIds}.`,
    );
    return bad === 0 ? 0 : 1;
  });
}
