/**
 * Every command of the CLI, declared once: its name, arguments, options and help, and the
 * handler, imported only when the command runs (so `conno status` never loads what `repro`
 * needs). Parsing (main.ts) and `--help` (help.ts) are generated from this table.
 */
import type { Handler, OptionSpec } from './context.js';

export type { CommandContext, Handler, OptionSpec } from './context.js';

export interface CommandSpec {
  name: string;
  /** Its positional arguments, as help shows them. */
  args: string;
  summary: string;
  options: readonly OptionSpec[];
  run: () => Promise<Handler>;
}

const jobs: OptionSpec = { name: 'jobs', short: 'j', type: 'string', arg: 'N', help: 'parallel stage instances (default: CPU count)' };
const gpus: OptionSpec = { name: 'gpus', type: 'string', arg: 'LIST', help: 'GPU slots, e.g. 0,1 or none (default: CONNO_GPUS, else nvidia-smi)' };
const executor: OptionSpec = { name: 'executor', type: 'string', arg: 'E', help: "local or slurm: where stale stages run (default: each stage's `executor:`, else local)" };
const remote: OptionSpec = { name: 'remote', type: 'string', arg: 'R', help: 'the remote cache: a name from pipeline.yaml, a folder or s3://… (default: CONNO_REMOTE, else default_remote)' };

/** One command of the table. */
const command = (name: string, args: string, summary: string, options: readonly OptionSpec[], run: () => Promise<Handler>): CommandSpec => ({ name, args, summary, options, run });

export const COMMANDS: readonly CommandSpec[] = [
  command('repro', '[TARGET…]', 'rebuild what is stale, in dependency order, independent stages in parallel', [
    jobs,
    gpus,
    executor,
    { name: 'slurm-jobs', type: 'string', arg: 'N', help: 'at most N Slurm jobs queued or running at once (default: no limit)' },
    { name: 'force', short: 'f', type: 'boolean', help: 'rerun the targets even if up to date (what they need is only brought up to date)' },
    { name: 'dry-run', short: 'n', type: 'boolean', help: 'say what would run and why; run nothing' },
    { name: 'downstream', type: 'boolean', help: 'also rebuild what depends on the targets' },
    { name: 'keep-going', short: 'k', type: 'boolean', help: 'keep running independent stages after a failure' },
    { name: 'pull', type: 'boolean', help: 'fetch results the remote has before building anything' },
    { ...remote, help: 'the remote for --pull (a name from pipeline.yaml, a folder or s3://…)' },
    { name: 'no-wait', type: 'boolean', help: 'fail instead of waiting for another conno on this project' },
    { name: 'verbose', short: 'v', type: 'boolean', help: 'also list up-to-date stages' },
  ], async () => (await import('./commands/repro.js')).repro),
  command('status', '[TARGET…]', 'what is stale and exactly why', [{ name: 'json', type: 'boolean', help: 'print {"stages":[{"id","stale","reasons"}]} for every instance' }], async () => (await import('./commands/status.js')).status),
  command('verify', '[TARGET…]', 'rerun without the run-cache and compare every output with conno.lock bit for bit (exit 1 on any mismatch); with targets, only they run, from the inputs conno.lock records', [
    jobs,
    gpus,
    executor,
    { name: 'upstream', type: 'boolean', help: "also rebuild everything the targets need, from scratch (without targets, verify always does)" },
    { name: 'sample', type: 'string', arg: 'N', help: 'verify N stage instances drawn at random (seeded) from the targets, or from all' },
    { name: 'seed', type: 'string', arg: 'S', help: 'the seed of --sample (default 0): the same seed draws the same instances' },
    { name: 'pull', type: 'boolean', help: 'fetch inputs the cache lacks from the remote' },
    { ...remote, help: 'the remote for --pull (a name from pipeline.yaml, a folder or s3://…)' },
    { name: 'json', type: 'boolean', help: 'print {"ok","instances":[{"id","status","ms","mismatches","error"}]}' },
    { name: 'keep-scratch', type: 'boolean', help: 'keep the scratch copy the rerun used (cache/tmp/verify-…), to look at' },
  ], async () => (await import('./commands/verify.js')).verify),
  command('push', '[TARGET…]', "send the targets' outputs and run records to a remote cache", [remote, { name: 'all-runs', type: 'boolean', help: 'also every run in the local run-cache (results of earlier params)' }], async () => (await import('./commands/remote.js')).push),
  command('pull', '[TARGET…]', 'fetch them from a remote cache and restore outputs into the project', [remote], async () => (await import('./commands/remote.js')).pull),
  command('metrics', '[TARGET…]', 'every metric in conno.lock as a table, matrix keys as columns; --aggregate KEY: mean, std, n and 95% CI over KEY', [
    { name: 'aggregate', type: 'string', arg: 'KEY', help: 'group instances equal in every matrix key but KEY (e.g. seed): mean ± 95% CI, n' },
    { name: 'resources', type: 'boolean', help: "what each run used instead of its metrics: wall_s, cpu_s, max_rss_mb, and how they were measured (from the run-cache)" },
    { name: 'md', type: 'boolean', help: 'a Markdown table' },
    { name: 'csv', type: 'boolean', help: 'CSV' },
    { name: 'json', type: 'boolean', help: 'JSON (aggregates: mean, std, n, ci95)' },
  ], async () => (await import('./commands/metrics.js')).metrics),
  command('diff', '[REV_A [REV_B]]', "what changed between two revisions' conno.lock (default: HEAD against the working tree): params, code, metrics, outputs", [
    { name: 'aggregate', type: 'string', arg: 'KEY', help: 'group instances over KEY for means with 95% CIs (default: seed, where instances have it)' },
    { name: 'md', type: 'boolean', help: 'Markdown, for a pull-request comment' },
    { name: 'json', type: 'boolean', help: 'JSON' },
  ], async () => (await import('./commands/diff.js')).diff),
  command('dag', '', 'the stage graph', [
    { name: 'format', type: 'string', arg: 'F', help: 'text, mermaid or dot (default: text)' },
    { name: 'instances', type: 'boolean', help: 'one node per stage instance, not per stage' },
  ], async () => (await import('./commands/dag.js')).dag),
  command('show', 'STAGE[:OUTPUT]', 'print an output: Arrow tables as a table, folders as their files, text as text', [
    { name: 'head', type: 'string', arg: 'N', help: 'rows of a table to print (default: 20)' },
    { name: 'json', type: 'boolean', help: 'rows as JSON' },
    { name: 'path', type: 'boolean', help: 'print the cache file to open (e.g. from Python)' },
  ], async () => (await import('./commands/show.js')).show),
  command('gc', '', 'delete cache objects that conno.lock and the kept run-cache entries do not reference', [
    { name: 'dry-run', short: 'n', type: 'boolean', help: 'say what would be removed; remove nothing' },
    { name: 'keep-runs', type: 'string', arg: 'all|lock', help: 'keep every run-cache entry (all, the default) or only what conno.lock uses (lock)' },
  ], async () => (await import('./commands/gc.js')).gc),
  command('run-stage', 'JOB.json', 'run one prepared stage instance (what cluster jobs call)', [], async () => (await import('./commands/run-stage.js')).runStage),
];
