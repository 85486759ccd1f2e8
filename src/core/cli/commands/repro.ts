import { Project } from '../../engine/project.js';
import { UsageError } from '../../util/errors.js';
import type { CommandContext } from '../context.js';
import { executorOption, flag, intOption, jobsOption, stringValue } from '../options.js';
import { withProjectLock } from '../lock.js';

export async function repro(ctx: CommandContext): Promise<number> {
  const { io } = ctx;
  const jobs = jobsOption(ctx);
  const executor = executorOption(ctx);
  const slurmJobs = ctx.values['slurm-jobs'] === undefined ? undefined : intOption(ctx, 'slurm-jobs', 1);
  const { detectGpus } = await import('../../exec/gpus.js');
  const gpus = detectGpus(stringValue(ctx, 'gpus'));
  if (flag(ctx, 'dry-run')) return dryRun(ctx, executor);
  // Validate first (a bad pipeline leaves nothing behind, not even cache/), then take the lock
  // and read conno.lock again: a run that waited must see the previous run's results.
  const project = await Project.open({ dir: ctx.dir });
  if (ctx.values['remote'] !== undefined && !flag(ctx, 'pull')) throw new UsageError('repro: --remote goes with --pull');
  const { resolveRemote } = await import('../../store/remote.js');
  const remote = flag(ctx, 'pull') ? resolveRemote(stringValue(ctx, 'remote'), project.pipeline.remotes, project.pipeline.defaultRemote, project.root) : undefined;
  return withProjectLock(ctx, { wait: !flag(ctx, 'no-wait'), cacheDir: project.cacheDir }, async () => {
    const abort = new AbortController();
    // The first signal stops the run in order (running stages stopped, Slurm jobs cancelled, the
    // lock written); a signal while that goes on is said and waited out, never a death by signal.
    const onSignal = () => {
      if (abort.signal.aborted) return io.err('interrupted again: still stopping (cancelling jobs, writing conno.lock)…');
      io.err('interrupted: stopping running stages…');
      abort.abort();
    };
    // A closed SSH session (SIGHUP) too: stop (and scancel) rather than leave orphaned jobs.
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
    for (const s of signals) process.on(s, onSignal);
    try {
      await project.reloadLock();
      const { makeReporter } = await import('../../exec/progress.js');
      const reporter = await makeReporter(io, project.withUpstream(project.selectTargets(ctx.positionals)), flag(ctx, 'verbose'));
      if (gpus.ids.length) reporter.info(`GPU slots: ${gpus.ids.join(', ')} (from ${gpus.from})`);
      const { reproduce } = await import('../../engine/repro.js');
      const summary = await reproduce(project, {
        targets: ctx.positionals,
        jobs,
        force: flag(ctx, 'force'),
        downstream: flag(ctx, 'downstream'),
        keepGoing: flag(ctx, 'keep-going'),
        gpus: gpus.ids,
        reporter,
        executor,
        slurmJobs,
        remote,
        signal: abort.signal,
      });
      await reporter.close();
      const counts = { ran: 0, restored: 0, fresh: 0, failed: 0, skipped: 0, cancelled: 0 };
      for (const r of summary.results.values()) counts[r.kind]++;
      const parts = [`${counts.ran} ran`, `${counts.restored} restored`, `${counts.fresh} up to date`];
      if (counts.failed) parts.push(`${counts.failed} failed`);
      if (counts.skipped) parts.push(`${counts.skipped} skipped`);
      if (counts.cancelled) parts.push(`${counts.cancelled} not started`);
      io.out(`${summary.ok ? 'Done' : 'Failed'}: ${parts.join(', ')}.`);
      if (abort.signal.aborted) return 130;
      return summary.ok ? 0 : 1;
    } finally {
      for (const s of signals) process.off(s, onSignal);
    }
  });
}

/** `repro --dry-run`: what would run, where and why. */
async function dryRun(ctx: CommandContext, executor: 'local' | 'slurm' | undefined): Promise<number> {
  const project = await Project.open({ dir: ctx.dir });
  let ids = project.selectTargets(ctx.positionals);
  if (flag(ctx, 'downstream')) ids = project.withDownstream(ids);
  const { computeStatus } = await import('../../engine/status.js');
  const st = await computeStatus(project, project.withUpstream(ids));
  const run = st.filter((s) => s.stale || flag(ctx, 'force'));
  const { executorFor } = await import('../../engine/repro.js');
  for (const s of run) {
    const where = executorFor(project.pipeline.instances.get(s.id)!, executor) === 'slurm' ? ' (as a Slurm job)' : '';
    ctx.io.out(`would run ${s.id}${where}: ${s.stale ? s.reasons.join('; ') : 'forced'}`);
  }
  ctx.io.out(run.length ? `${run.length} stage instance${run.length === 1 ? '' : 's'} would run.` : 'Nothing to do: everything is up to date.');
  return 0;
}
