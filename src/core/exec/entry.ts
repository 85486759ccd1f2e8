/**
 * The stage entry point: `node dist/src/core/exec/entry.js JOB.json` runs one stage instance and
 * writes JOB.json.result. Local runs start it as a child process per built-in stage instance;
 * a cluster job runs the very same command.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CORE_DIR } from '../location.js';
import { flushPendingSyncs, writeFileAtomic } from '../util/fsx.js';
import { formatUserError, ParamError, UserError } from '../util/errors.js';
import { ownUsage } from './resources.js';
import { runBuiltin, runCommand, stageEnv, type JobResult, type StageJob } from './job.js';

/**
 * What the stage's log says about an exception. A UserError (bad data, a bad value, the machine),
 * or a plain Error a stage throws about its input or params, says it all in its message: no stack
 * trace. Anything else (a TypeError, a RangeError, … : a bug) keeps its stack, as does every
 * error with CONNO_DEBUG=1.
 */
export function describeFailure(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (process.env['CONNO_DEBUG'] === '1') return err.stack ?? err.message;
  if (err instanceof UserError) return `error: ${formatUserError(err)}`;
  if (err.constructor !== Error) return err.stack ?? err.message;
  return `error: ${err.message}`;
}

export async function runJobFile(jobFile: string): Promise<JobResult> {
  const job = JSON.parse(readFileSync(jobFile, 'utf8')) as StageJob;
  if (job.gpusFromEnv) {
    // A cluster job: the stage sees what a local run would, with the GPUs the cluster allocated.
    const visible = process.env['CUDA_VISIBLE_DEVICES']?.trim() ?? '';
    job.gpus = visible === '' || visible === '-1' || visible === 'NoDevFiles' ? [] : visible.split(',');
    Object.assign(process.env, stageEnv(job));
  }
  let result: JobResult;
  try {
    result = job.kind === 'cmd' ? await runCommand(job) : await runBuiltin(job);
    // A stage in this process: what this process used, start to end.
    if (result.ok && job.kind !== 'cmd') result.resources = { wall_s: Math.round(process.uptime() * 1000) / 1000, ...ownUsage(), from: 'process' };
  } catch (err) {
    console.error(describeFailure(err));
    result = { ok: false, error: err instanceof UserError ? formatUserError(err) : err instanceof Error ? err.message : String(err) };
    // A parameter that does not fit: where in `with:` it lies, for the position in pipeline.yaml.
    if (err instanceof ParamError) result.at = [...err.path];
  }
  if (result.ok && job.runRecord) {
    // As the submitting conno would record it (entryFromRun), so a later run restores it.
    const { RunCache } = await import('../store/runcache.js');
    await new RunCache(job.cacheDir).record(job.runRecord.id, job.runRecord.entry, result.outs, result.metrics, result.resources);
  }
  // The objects and the run record this process wrote are durable before conno reads the result.
  await flushPendingSyncs();
  await writeFileAtomic(`${jobFile}.result`, JSON.stringify(result));
  return result;
}

// Run as `node …/exec/entry.js` (location.ts says why not compared with import.meta.url).
const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === path.join(CORE_DIR, 'exec', 'entry.js');
if (isMain) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node entry.js JOB.json');
    process.exit(2);
  }
  runJobFile(file).then(
    (r) => process.exit(r.ok ? 0 : 1),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
