import { Project } from '../../engine/project.js';
import { UsageError } from '../../util/errors.js';
import type { CommandContext } from '../context.js';
import { executorOption, flag, intOption, jobsOption, stringValue } from '../options.js';
import { withProjectLock } from '../lock.js';

export async function verify(ctx: CommandContext): Promise<number> {
  const { io } = ctx;
  const jobs = jobsOption(ctx);
  const executor = executorOption(ctx);
  const sample = ctx.values['sample'] === undefined ? undefined : { n: intOption(ctx, 'sample', 1), seed: seedOption(ctx) };
  if (!sample && ctx.values['seed'] !== undefined) throw new UsageError('verify: --seed goes with --sample');
  if (ctx.values['remote'] !== undefined && !flag(ctx, 'pull')) throw new UsageError('verify: --remote goes with --pull');
  if (flag(ctx, 'upstream') && flag(ctx, 'pull')) throw new UsageError('verify: --pull fetches the inputs a targeted verify takes from conno.lock; --upstream rebuilds them instead: use one of them');
  const { detectGpus } = await import('../../exec/gpus.js');
  const gpus = detectGpus(stringValue(ctx, 'gpus'));
  const json = flag(ctx, 'json');
  return withProjectLock(ctx, { wait: true }, async () => {
    const project = await Project.open({ dir: ctx.dir });
    const { resolveRemote } = await import('../../store/remote.js');
    const remote = flag(ctx, 'pull') ? resolveRemote(stringValue(ctx, 'remote'), project.pipeline.remotes, project.pipeline.defaultRemote, project.root) : undefined;
    const { plainReporter, formatMs } = await import('../../exec/reporter.js');
    const { verify: run } = await import('../../engine/verify.js');
    const res = await run(project, {
      targets: ctx.positionals,
      jobs,
      gpus: gpus.ids,
      reporter: plainReporter(io.err),
      keepScratch: flag(ctx, 'keep-scratch'),
      executor,
      upstream: flag(ctx, 'upstream'),
      sample,
      remote,
    });
    const bad = res.mismatches.length + res.failed.length;
    if (json) {
      io.out(JSON.stringify({ ok: bad === 0, ...(res.sample ? { sample: res.sample } : {}), instances: res.instances }, null, 2));
      return bad === 0 ? 0 : 1;
    }
    if (res.sample) io.out(`Sample of ${res.checked.length} of ${res.sample.from} stage instances (seed ${res.sample.seed}): ${res.checked.join(', ')}`);
    for (const c of res.instances) {
      const time = c.ms !== undefined ? ` (${formatMs(c.ms)})` : '';
      if (c.status === 'ok') io.out(`ok ${c.id}${time}`);
      else if (c.status === 'input') io.out(`input ${c.id} (as conno.lock records it)`);
      else if (c.status === 'mismatch') for (const m of c.mismatches ?? []) io.out(`MISMATCH ${c.id} ${m.output}: expected ${m.expected}, got ${m.got}${time}`);
      // Failed and skipped instances were reported as they failed (with their log, on stderr);
      // the summary names them once.
    }
    const n = res.checked.length;
    const failedIds = res.failed.length ? ` (${res.failed.map((f) => f.id).join(', ')})` : '';
    io.out(
      bad === 0
        ? `Verified: ${n === 1 ? 'the stage instance reproduces' : `all ${n} stage instances reproduce`} conno.lock bit for bit.`
        : `Verify failed: ${res.mismatches.length} mismatch${res.mismatches.length === 1 ? '' : 'es'}, ${res.failed.length} failed stage instance${res.failed.length === 1 ? '' : 's'}${failedIds}.`,
    );
    return bad === 0 ? 0 : 1;
  });
}

function seedOption(ctx: CommandContext): number {
  const v = ctx.values['seed'];
  if (v === undefined) return 0;
  if (typeof v !== 'string' || !/^(0|[1-9][0-9]{0,8})$/.test(v)) throw new UsageError(`verify: --seed takes a whole number from 0, not '${String(v)}'`);
  return Number(v);
}
