/**
 * The conno command line. Handlers are thin and import their heavy work lazily, so that
 * `conno status` never loads TensorFlow.js, Arrow or listr2.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { DiagnosticsError, formatUserError, UsageError, UserError } from '../util/errors.js';
import { writeProblem } from '../util/fsx.js';
import { formatBytes } from '../util/format.js';
import type { Io } from '../util/io.js';

export type { Io } from '../util/io.js';

const HELP = `conno: reproducible, content-addressed pipelines for audio ML research

usage: conno [-C DIR] COMMAND [options] [TARGET…]

commands:
  repro [TARGET…]     rebuild what is stale, in parallel
      --jobs N          parallel stage instances (default: CPU count)
      --gpus LIST       GPU slots, e.g. 0,1 or none (default: CONNO_GPUS, else nvidia-smi)
      --executor E      local or slurm: where stale stages run (default: each stage's
                        \`executor:\`, else local; slurm submits one sbatch job per instance)
      --slurm-jobs N    at most N Slurm jobs queued or running at once (default: no limit)
      --force           rerun even if up to date
      --dry-run         say what would run and why, run nothing
      --downstream      also rebuild what depends on the targets
      --keep-going      keep running independent stages after a failure
      --pull            fetch results the remote has before building anything
      --remote R        the remote for --pull (a name from pipeline.yaml, a folder or s3://…)
      --no-wait         fail instead of waiting for another conno on this project
      -v, --verbose     also list up-to-date stages
  status [TARGET…]    what is stale and exactly why  (--json for machines)
  verify [TARGET…]    rerun from scratch without the run-cache and compare every
                      output with conno.lock (exit 1 on any mismatch)  (--executor as repro)
  push [TARGET…]      send the targets' outputs and run records to the remote cache
                      (--remote R, default: CONNO_REMOTE or default_remote; --all-runs)
  pull [TARGET…]      fetch them from the remote and restore outputs into the project
  dag                 the stage graph  (--format text|mermaid|dot, --instances)
  show STAGE[:OUTPUT] print an output (Arrow tables as a table)  (--head N, --json, --path)
  gc                  delete cache objects nothing references  (--dry-run, --keep-runs all|lock)
  run-stage JOB.json  run one prepared stage instance (used by cluster jobs)

TARGET: a stage name (all its instances), an instance id such as
'train@noise=0.2,seed=1', or part of one such as 'train@seed=1'.

Exit codes: 0 success, 1 a stage failed or verify found a mismatch, 2 usage or pipeline error.
`;

function version(): string {
  const pkg = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'package.json');
  return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
}

type Options = NonNullable<ParseArgsConfig['options']>;

function parse<O extends Options>(args: string[], options: O, command: string) {
  try {
    return parseArgs({ args, options, allowPositionals: true as const, strict: true as const });
  } catch (err) {
    const msg = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new UsageError(`${command}: ${msg}`);
  }
}

function parseExecutor(v: string | undefined, command: string): 'local' | 'slurm' | undefined {
  if (v === undefined || v === 'local' || v === 'slurm') return v;
  throw new UsageError(`${command}: --executor is local or slurm, not '${v}'`);
}

function intOption(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (!/^[1-9][0-9]*$/.test(v)) throw new UsageError(`${name} takes a positive whole number, not '${v}'`);
  return Number(v);
}

export async function main(argv: string[], io: Io): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (err) {
    if (err instanceof DiagnosticsError) {
      const { formatDiagnostics } = await import('../util/diagnostics.js');
      io.err(formatDiagnostics(err.diagnostics));
      return 2;
    }
    // A write that failed for space or permission anywhere (the cache, a log, the project): the
    // user's to fix, said without a stack.
    const e = writeProblem(err, 'a file', '');
    if (e instanceof UserError) {
      io.err(`conno: ${formatUserError(e)}`);
      return e.exitCode;
    }
    throw err;
  }
}

async function dispatch(argv: string[], io: Io): Promise<number> {
  // Global options come before the command.
  let dir: string | undefined;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-C') {
      dir = argv[++i];
      if (dir === undefined) throw new UsageError('-C needs a folder');
    } else if (a.startsWith('-C') && a.length > 2) dir = a.slice(2);
    else if (a === '--help' || a === '-h') {
      io.out(HELP);
      return 0;
    } else if (a === '--version' || a === '-V') {
      io.out(version());
      return 0;
    } else break;
  }
  const command = argv[i];
  const rest = argv.slice(i + 1);
  if (command === undefined) {
    io.err(HELP);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(HELP);
    return 0;
  }
  const { Project } = await import('../engine/project.js');
  switch (command) {
    case 'status': {
      const { values, positionals } = parse(rest, { json: { type: 'boolean' } }, 'status');
      const project = await Project.open({ dir });
      const ids = project.selectTargets(positionals);
      const { computeStatus } = await import('../engine/status.js');
      const st = await computeStatus(project, ids);
      if (values.json) {
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
    case 'repro': {
      const { values, positionals } = parse(
        rest,
        {
          jobs: { type: 'string', short: 'j' },
          gpus: { type: 'string' },
          executor: { type: 'string' },
          'slurm-jobs': { type: 'string' },
          pull: { type: 'boolean' },
          remote: { type: 'string' },
          force: { type: 'boolean', short: 'f' },
          'dry-run': { type: 'boolean', short: 'n' },
          downstream: { type: 'boolean' },
          'keep-going': { type: 'boolean', short: 'k' },
          'no-wait': { type: 'boolean' },
          verbose: { type: 'boolean', short: 'v' },
        },
        'repro',
      );
      const jobs = intOption(values.jobs, '--jobs', os.availableParallelism());
      const executor = parseExecutor(values.executor, 'repro');
      const slurmJobs = values['slurm-jobs'] === undefined ? undefined : intOption(values['slurm-jobs'], '--slurm-jobs', 1);
      const { detectGpus } = await import('../exec/gpus.js');
      const gpus = detectGpus(values.gpus);
      if (values['dry-run']) {
        const project = await Project.open({ dir });
        let ids = project.selectTargets(positionals);
        if (values.downstream) ids = project.withDownstream(ids);
        const { computeStatus } = await import('../engine/status.js');
        const st = await computeStatus(project, project.withUpstream(ids));
        const run = st.filter((s) => s.stale || values.force);
        const { executorFor } = await import('../engine/repro.js');
        for (const s of run) {
          const where = executorFor(project.pipeline.instances.get(s.id)!, executor) === 'slurm' ? ' (as a Slurm job)' : '';
          io.out(`would run ${s.id}${where}: ${s.stale ? s.reasons.join('; ') : 'forced'}`);
        }
        io.out(run.length ? `${run.length} stage instance${run.length === 1 ? '' : 's'} would run.` : 'Nothing to do: everything is up to date.');
        return 0;
      }
      // Validate first (a bad pipeline leaves nothing behind, not even cache/), then take the lock
      // and read conno.lock again: a run that waited must see the previous run's results.
      const project = await Project.open({ dir });
      if (values.remote !== undefined && !values.pull) throw new UsageError('repro: --remote goes with --pull');
      const { resolveRemote } = await import('../store/remote.js');
      const remote = values.pull ? resolveRemote(values.remote, project.pipeline.remotes, project.pipeline.defaultRemote, project.root) : undefined;
      const { acquireProjectLock } = await import('../exec/projectlock.js');
      const release = await acquireProjectLock(project.cacheDir, {
        wait: !values['no-wait'],
        command: ['conno', ...argv].join(' '),
        onWait: (h) => io.err(`waiting for another conno on this project to finish${h ? ` (pid ${h.pid}, \`${h.command}\`)` : ''}…`),
      });
      const abort = new AbortController();
      const onSignal = () => {
        io.err('interrupted: stopping running stages…');
        abort.abort();
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      // A closed SSH session: stop (and scancel) rather than leave orphaned jobs behind.
      process.once('SIGHUP', onSignal);
      try {
        await project.reloadLock();
        const { makeReporter } = await import('../exec/progress.js');
        const reporter = await makeReporter(io, project.withUpstream(project.selectTargets(positionals)), values.verbose === true);
        if (gpus.ids.length) reporter.info(`GPU slots: ${gpus.ids.join(', ')} (from ${gpus.from})`);
        const { reproduce } = await import('../engine/repro.js');
        const summary = await reproduce(project, {
          targets: positionals,
          jobs,
          force: values.force === true,
          downstream: values.downstream === true,
          keepGoing: values['keep-going'] === true,
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
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        process.off('SIGHUP', onSignal);
        await release();
      }
    }
    case 'verify': {
      const { values, positionals } = parse(rest, { jobs: { type: 'string', short: 'j' }, gpus: { type: 'string' }, executor: { type: 'string' }, 'keep-scratch': { type: 'boolean' } }, 'verify');
      const jobs = intOption(values.jobs, '--jobs', os.availableParallelism());
      const executor = parseExecutor(values.executor, 'verify');
      const { detectGpus } = await import('../exec/gpus.js');
      const gpus = detectGpus(values.gpus);
      const { acquireProjectLock } = await import('../exec/projectlock.js');
      const release = await acquireProjectLock(Project.locate({ dir }).cacheDir, { wait: true, command: ['conno', ...argv].join(' '), onWait: () => io.err('waiting for another conno on this project to finish…') });
      try {
        const project = await Project.open({ dir });
        const { plainReporter } = await import('../exec/reporter.js');
        const { verify } = await import('../engine/verify.js');
        const res = await verify(project, { targets: positionals, jobs, gpus: gpus.ids, reporter: plainReporter(io.err), keepScratch: values['keep-scratch'] === true, executor });
        for (const m of res.mismatches) io.out(`MISMATCH ${m.id} ${m.output}: expected ${m.expected}, got ${m.got}`);
        // Failed instances were reported as they failed (with their log); the summary names them once.
        const bad = res.mismatches.length + res.failed.length;
        const failedIds = res.failed.length ? ` (${res.failed.map((f) => f.id).join(', ')})` : '';
        io.out(bad === 0 ? `Verified: all ${res.checked.length} stage instances reproduce conno.lock bit for bit.` : `Verify failed: ${res.mismatches.length} mismatch${res.mismatches.length === 1 ? '' : 'es'}, ${res.failed.length} failed stage instance${res.failed.length === 1 ? '' : 's'}${failedIds}.`);
        return bad === 0 ? 0 : 1;
      } finally {
        await release();
      }
    }
    case 'push':
    case 'pull': {
      const { values, positionals } = parse(rest, { remote: { type: 'string' }, ...(command === 'push' ? { 'all-runs': { type: 'boolean' } } : {}) }, command);
      const { acquireProjectLock } = await import('../exec/projectlock.js');
      const release = await acquireProjectLock(Project.locate({ dir }).cacheDir, { wait: true, command: ['conno', ...argv].join(' '), onWait: () => io.err('waiting for another conno on this project to finish…') });
      try {
        const project = await Project.open({ dir });
        const { resolveRemote } = await import('../store/remote.js');
        const remote = resolveRemote(values.remote, project.pipeline.remotes, project.pipeline.defaultRemote, project.root);
        const ids = project.withUpstream(project.selectTargets(positionals));
        const sync = await import('../engine/remote-sync.js');
        const noun = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
        if (command === 'push') {
          const s = await sync.push(project, remote, ids, { allRuns: (values as { 'all-runs'?: boolean })['all-runs'] === true });
          for (const f of s.failed) io.err(`conno: ${f}`);
          if (s.missing.length) io.err(`conno: ${noun(s.missing.length, 'object')} to push ${s.missing.length === 1 ? 'is' : 'are'} not in the local cache (e.g. ${s.missing.slice(0, 3).join(', ')}): run \`conno repro\` or \`conno pull\` first`);
          io.out(`pushed ${noun(s.objects, 'object')} (${formatBytes(s.bytes)}) and ${noun(s.runs, 'run record')} to ${remote.label}; ${s.present} already there.`);
          return s.failed.length || s.missing.length ? 1 : 0;
        }
        const s = await sync.pull(project, remote, ids);
        for (const f of s.failed) io.err(`conno: ${f}`);
        // Put the outputs back into the project where they belong, as repro would.
        const { ensureOutputs } = await import('../engine/repro.js');
        let restored = 0;
        for (const id of ids) {
          const entry = project.lock.stages[id];
          if (!entry || s.incomplete.includes(id)) continue;
          if ((await ensureOutputs(project, project.pipeline.instances.get(id)!, entry, project.root)) === 'restored') restored++;
        }
        await project.stats.save();
        io.out(`pulled ${noun(s.objects, 'object')} (${formatBytes(s.bytes)}) and ${noun(s.runs, 'run record')} from ${remote.label}; ${s.present} already here; ${noun(restored, 'output')} restored into the project.`);
        if (s.incomplete.length) {
          io.err(`conno: ${remote.label} lacks results of ${noun(s.incomplete.length, 'stage instance')}: ${s.incomplete.slice(0, 5).join(', ')}${s.incomplete.length > 5 ? ', …' : ''} (\`conno repro\` builds them)`);
          return 1;
        }
        return 0;
      } finally {
        await release();
      }
    }
    case 'dag': {
      const { values, positionals } = parse(rest, { format: { type: 'string' }, instances: { type: 'boolean' } }, 'dag');
      const format = values.format ?? 'text';
      if (!['text', 'mermaid', 'dot'].includes(format)) throw new UsageError(`dag: --format is text, mermaid or dot, not '${format}'`);
      if (positionals.length) throw new UsageError('dag takes no targets');
      const project = await Project.open({ dir, skipStageModules: true });
      const { renderDag } = await import('../engine/dag.js');
      io.out(renderDag(project.pipeline, format as 'text' | 'mermaid' | 'dot', values.instances === true));
      return 0;
    }
    case 'show': {
      const { values, positionals } = parse(rest, { head: { type: 'string' }, json: { type: 'boolean' }, path: { type: 'boolean' } }, 'show');
      if (positionals.length !== 1) throw new UsageError('show takes one STAGE[:OUTPUT]');
      const head = intOption(values.head, '--head', 20);
      const project = await Project.open({ dir });
      const { show } = await import('../engine/show.js');
      io.out(await show(project, positionals[0]!, { head, json: values.json === true, pathOnly: values.path === true }));
      return 0;
    }
    case 'gc': {
      const { values, positionals } = parse(rest, { 'dry-run': { type: 'boolean', short: 'n' }, 'keep-runs': { type: 'string' } }, 'gc');
      if (positionals.length) throw new UsageError('gc takes no targets');
      const keep = values['keep-runs'] ?? 'all';
      if (keep !== 'all' && keep !== 'lock') throw new UsageError(`gc: --keep-runs is all or lock, not '${keep}'`);
      const { acquireProjectLock } = await import('../exec/projectlock.js');
      const release = await acquireProjectLock(Project.locate({ dir }).cacheDir, { wait: true, command: ['conno', ...argv].join(' ') });
      try {
        const project = await Project.open({ dir, skipStageModules: true });
        const { collectGarbage } = await import('../engine/gc.js');
        const r = await collectGarbage(project, { dryRun: values['dry-run'] === true, keepRuns: keep });
        const verb = values['dry-run'] ? 'would remove' : 'removed';
        io.out(`${verb} ${r.objects} object${r.objects === 1 ? '' : 's'} (${formatBytes(r.bytes)}) and ${r.runs} run-cache entr${r.runs === 1 ? 'y' : 'ies'}; kept ${r.kept} objects.`);
        return 0;
      } finally {
        await release();
      }
    }
    case 'run-stage': {
      const { positionals } = parse(rest, {}, 'run-stage');
      if (positionals.length !== 1) throw new UsageError('run-stage takes one JOB.json');
      const { runJobFile } = await import('../exec/entry.js');
      const r = await runJobFile(positionals[0]!);
      if (!r.ok) io.err(`conno: ${r.error}`);
      return r.ok ? 0 : 1;
    }
    default:
      throw new UsageError(`unknown command '${command}' (commands: repro, status, verify, push, pull, dag, show, gc; see conno --help)`);
  }
}

