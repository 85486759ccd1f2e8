/**
 * The Slurm executor: each stage instance becomes one sbatch job that runs the same entry point
 * as a local run (`node entry.js JOB.json`), on a machine that shares the project folder and its
 * cache. conno submits an instance once its inputs are ready (the scheduler's job) and follows
 * every job of the run with one `sacct` query by the run's unique job name, backing off while
 * nothing changes; a cancelled run `scancel`s its jobs.
 */
import { promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import type { JobResult, StageJob } from './job.js';
import { removePath, writeFileAtomic } from '../util/fsx.js';
import { ConnoError, UsageError } from '../util/errors.js';
import type { Executor, Submission } from './executor.js';
import { ENTRY } from './local.js';
import { shellQuote } from '../util/shell.js';
import { parseSlurmDuration, parseSlurmMemory } from './resources.js';
import { sbatchOptions, SlurmSpecError, type SlurmSpec } from '../pipeline/sbatch.js';

/**
 * sacct back-off: the first look 5 s after a submission or a change, then ×1.5 while nothing
 * changes, up to 2 minutes (cluster admins object to frequent polling; one query covers every
 * job of the run).
 */
export const SLURM_POLL_DEFAULT = { pollMinMs: 5000, pollMaxMs: 120_000 };

export { sbatchOptions, SlurmSpecError, type SlurmSpec } from '../pipeline/sbatch.js';

/** Job states as sacct prints them ("CANCELLED by 1000" → CANCELLED). */
export type SlurmState = 'PENDING' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'TIMEOUT' | 'OUT_OF_MEMORY' | 'NODE_FAIL' | 'CANCELLED' | 'BOOT_FAIL' | 'DEADLINE' | 'PREEMPTED' | 'OTHER';

const ACTIVE = new Set(['PENDING', 'RUNNING', 'REQUEUED', 'CONFIGURING', 'COMPLETING', 'SUSPENDED', 'RESIZING', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESV_DEL_HOLD', 'SIGNALING', 'STAGE_OUT', 'STOPPED', 'SPECIAL_EXIT']);

export interface JobState {
  id: string;
  state: string;
  /** Whether the job is over (any final state). */
  done: boolean;
  exitCode?: string;
  /** What accounting says the job used (ElapsedRaw, TotalCPU, the largest MaxRSS of its steps). */
  wall_s?: number;
  cpu_s?: number;
  max_rss_mb?: number;
}

/**
 * Parse `sacct -n -P -o JobIDRaw,State,ExitCode[,ElapsedRaw,TotalCPU,MaxRSS]` output: a job's
 * own line gives its state, time and CPU; its steps' lines (`123.batch`, `123.extern`) their
 * peak memory.
 */
export function parseSacct(text: string): Map<string, JobState> {
  const out = new Map<string, JobState>();
  const rss = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [id, rawState, exitCode, elapsed, totalCpu, maxRss] = line.trim().split('|');
    if (!id || !rawState) continue;
    const step = /^(\d+)\.[\w-]+$/.exec(id);
    if (step) {
      const mb = maxRss ? parseSlurmMemory(maxRss) : undefined;
      if (mb !== undefined) rss.set(step[1]!, Math.max(rss.get(step[1]!) ?? 0, mb));
      continue;
    }
    if (!/^\d+$/.test(id)) continue;
    const state = rawState.split(/\s+/)[0]!.replace(/\+$/, '');
    const j: JobState = { id, state, done: !ACTIVE.has(state), exitCode };
    if (elapsed && /^\d+$/.test(elapsed)) j.wall_s = Number(elapsed);
    const cpu = totalCpu ? parseSlurmDuration(totalCpu) : undefined;
    if (cpu !== undefined) j.cpu_s = cpu;
    out.set(id, j);
  }
  for (const [id, mb] of rss) {
    const j = out.get(id);
    if (j && mb > 0) j.max_rss_mb = mb;
  }
  return out;
}

/** Parse `squeue -h -o %i|%T` (used only where accounting is off: a job not listed is over). */
export function parseSqueue(text: string): Map<string, JobState> {
  const out = new Map<string, JobState>();
  for (const line of text.split('\n')) {
    const [id, state] = line.trim().split('|');
    if (!id || !state || !/^\d+$/.test(id)) continue;
    out.set(id, { id, state, done: !ACTIVE.has(state) });
  }
  return out;
}

/** What a final state means for the user, beyond the stage's own error. */
export function describeState(s: JobState, spec: SlurmSpec): string {
  switch (s.state) {
    case 'FAILED':
      return `Slurm job ${s.id} FAILED (exit code ${s.exitCode?.split(':')[0] ?? '?'})`;
    case 'TIMEOUT':
      return `Slurm job ${s.id} TIMEOUT: it ran past its time limit${spec['time'] ? ` (slurm.time: ${String(spec['time'])})` : ''}`;
    case 'OUT_OF_MEMORY':
      return `Slurm job ${s.id} OUT_OF_MEMORY: it used more memory than it asked for${spec['mem'] ? ` (slurm.mem: ${String(spec['mem'])})` : ''}`;
    case 'NODE_FAIL':
      return `Slurm job ${s.id} NODE_FAIL: its node failed (run again)`;
    case 'CANCELLED':
      return `Slurm job ${s.id} CANCELLED (scancel, an admin or a limit)`;
    case 'BOOT_FAIL':
      return `Slurm job ${s.id} BOOT_FAIL: its node failed to boot`;
    case 'PREEMPTED':
      return `Slurm job ${s.id} PREEMPTED`;
    case 'DEADLINE':
      return `Slurm job ${s.id} DEADLINE: it could not finish before its deadline`;
    case 'GONE':
      return `Slurm job ${s.id} left the queue without a result (without accounting, squeue cannot say why; see its log)`;
    default:
      return `Slurm job ${s.id} ended ${s.state}`;
  }
}


export interface SlurmRunOptions {
  /** Where job files go: a folder every node can read (the project's cache/tmp). */
  jobDir: string;
  /** The stage entry point script and the node binary to run it with. */
  entry: string;
  node?: string;
  /** Poll back-off: first and largest interval between sacct queries. */
  pollMinMs?: number;
  pollMaxMs?: number;
  /** A line for the user (submissions, fallbacks). */
  info?: (message: string) => void;
}

interface Waiter {
  id: string;
  resultFile: string;
  resolve(state: JobState): void;
}

/**
 * One conno run's jobs on Slurm. All carry the run's unique job name, so one sacct query
 * (`--name`) reports every one of them.
 */
export class SlurmRun {
  readonly name = `conno-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  private readonly startedAt = new Date(Date.now() - 60_000);
  private waiters = new Map<string, Waiter>();
  private timer: NodeJS.Timeout | undefined;
  private interval: number;
  private polling = false;
  private useSqueue = false;
  private closed = false;
  private checked: Promise<void> | undefined;
  /** sacct queries so far (the tests check that jobs are not polled one by one). */
  queries = 0;

  constructor(private readonly opts: SlurmRunOptions) {
    this.interval = opts.pollMinMs ?? SLURM_POLL_DEFAULT.pollMinMs;
  }

  /** sbatch must be there before anything is submitted; its absence is one clear message. */
  private ensureSlurm(): Promise<void> {
    this.checked ??= execa('sbatch', ['--version'], { reject: false }).then((r) => {
      const code = (r as { code?: string }).code;
      if (r.exitCode !== 0) throw new ConnoError(`cannot submit to Slurm: \`sbatch --version\` failed (${code === 'ENOENT' ? 'sbatch is not on PATH' : r.stderr.trim() || code || `exit ${r.exitCode}`}); is this a Slurm login node? Run with --executor local to run here.`);
    });
    return this.checked;
  }

  /** Submit one instance and wait for its job to end; then read what the entry point wrote. */
  async run(job: StageJob, spec: SlurmSpec, gpus: number, signal?: AbortSignal, onSubmitted?: (jobId: string) => void): Promise<JobResult> {
    let options: string[];
    try {
      options = sbatchOptions(spec, gpus);
      await this.ensureSlurm();
    } catch (err) {
      if (err instanceof SlurmSpecError || err instanceof ConnoError) return { ok: false, error: err.message };
      throw err;
    }
    const safe = job.id.replace(/[^\w.=,@-]/g, '_');
    const dir = path.join(this.opts.jobDir, this.name);
    await fsp.mkdir(dir, { recursive: true });
    await fsp.mkdir(path.dirname(job.logFile), { recursive: true });
    const jobFile = path.join(dir, `${safe}.json`);
    const script = path.join(dir, `${safe}.sh`);
    // The job writes its log where a local run would; GPUs are the ones Slurm allocates.
    const remoteJob: StageJob = { ...job, gpus: [], gpusFromEnv: true, logToStdout: true };
    await writeFileAtomic(jobFile, JSON.stringify(remoteJob));
    await writeFileAtomic(
      script,
      [
        '#!/bin/sh',
        `# conno stage instance ${job.id.replace(/[\x00-\x1f\x7f]/g, ' ')} (run ${this.name})`, // a comment stays one line
        `cd ${shellQuote(job.workRoot)} || exit 1`,
        `exec ${shellQuote(this.opts.node ?? process.execPath)} ${shellQuote(this.opts.entry)} ${shellQuote(jobFile)}`,
        '',
      ].join('\n'),
    );
    try {
      await fsp.writeFile(job.logFile, '');
      const args = ['--parsable', `--job-name=${this.name}`, `--output=${job.logFile}`, '--open-mode=append', `--chdir=${job.workRoot}`, ...options, script];
      const sub = await execa('sbatch', args, { reject: false, cancelSignal: signal });
      if (sub.exitCode !== 0) {
        if (signal?.aborted) return { ok: false, error: 'cancelled before submission' };
        return { ok: false, error: `sbatch refused the job: ${sub.stderr.trim().replace(/^sbatch: error: /gm, '') || `exit code ${sub.exitCode}`} (options: ${options.join(' ') || 'none'})` };
      }
      const jobId = sub.stdout.trim().split(';')[0]!;
      onSubmitted?.(jobId);
      const final = await this.waitFor(jobId, `${jobFile}.result`, signal);
      const result = await readResult(`${jobFile}.result`, final.state === 'COMPLETED' ? 10_000 : 1000);
      if (final.state === 'COMPLETED') {
        if (!result) return { ok: false, error: `Slurm job ${jobId} COMPLETED but its entry point wrote no result (${jobFile}.result); is conno installed where the job ran?` };
        // What the cluster's accounting measured, where it did; else what the job's process saw.
        if (result.ok && final.wall_s !== undefined) {
          result.resources = { wall_s: final.wall_s, ...(final.cpu_s !== undefined ? { cpu_s: final.cpu_s } : {}), ...(final.max_rss_mb !== undefined ? { max_rss_mb: final.max_rss_mb } : {}), from: 'slurm' };
        }
        return result;
      }
      if (signal?.aborted) return { ok: false, error: `cancelled (Slurm job ${jobId} ${final.state})` };
      // Without cgroups, Slurm kills a job over its memory limit and calls it FAILED; its log
      // says why.
      const log = await fsp.readFile(job.logFile, 'utf8').catch(() => '');
      if (final.state !== 'OUT_OF_MEMORY' && /exceeded (job )?memory limit|oom[-_ ]kill/i.test(log.slice(-20_000))) final.state = 'OUT_OF_MEMORY';
      const why = describeState(final, spec);
      // The stage's own error says what went wrong; the job state says only where.
      if (result && !result.ok) return { ok: false, error: final.state === 'FAILED' ? `${result.error} (Slurm job ${jobId})` : `${result.error} (${why})`, ...(result.at ? { at: result.at } : {}) };
      return { ok: false, error: why };
    } finally {
      await removePath(jobFile);
      await removePath(`${jobFile}.result`);
      await removePath(script);
    }
  }

  private waitFor(id: string, resultFile: string, signal?: AbortSignal): Promise<JobState> {
    return new Promise((resolve) => {
      const w: Waiter = { id, resultFile, resolve };
      this.waiters.set(id, w);
      const onAbort = () => void this.cancel([id]);
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
      // A new job: look soon, not after the longest back-off.
      this.interval = this.opts.pollMinMs ?? SLURM_POLL_DEFAULT.pollMinMs;
      this.schedule(true);
    });
  }

  private schedule(soon = false): void {
    if (this.closed || this.waiters.size === 0) return;
    if (this.timer && !soon) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.poll();
    }, this.interval);
  }

  /** One query for all of the run's jobs. */
  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    let changed = false;
    try {
      const states = await this.query();
      for (const [id, w] of [...this.waiters]) {
        const s = states.get(id);
        if (s?.done) {
          this.waiters.delete(id);
          w.resolve(s);
          changed = true;
        } else if (!s && this.useSqueue) {
          // Not in the queue any more, and no accounting to ask: the result file decides.
          this.waiters.delete(id);
          w.resolve({ id, state: existsResult(w.resultFile) ? 'COMPLETED' : 'GONE', done: true });
          changed = true;
        }
      }
    } catch (err) {
      this.opts.info?.(`Slurm: ${(err as Error).message}; asking again`);
    } finally {
      this.polling = false;
    }
    const max = this.opts.pollMaxMs ?? SLURM_POLL_DEFAULT.pollMaxMs;
    this.interval = changed ? (this.opts.pollMinMs ?? SLURM_POLL_DEFAULT.pollMinMs) : Math.min(max, Math.round(this.interval * 1.5));
    this.schedule();
  }

  private async query(): Promise<Map<string, JobState>> {
    this.queries++;
    if (!this.useSqueue) {
      const start = this.startedAt.toISOString().slice(0, 19);
      // Without -X: the steps' lines carry the peak memory (the job's own line has none).
      const r = await execa('sacct', ['-n', '-P', `--name=${this.name}`, `--starttime=${start}`, '--format=JobIDRaw,State,ExitCode,ElapsedRaw,TotalCPU,MaxRSS'], { reject: false });
      if (r.exitCode === 0) return parseSacct(r.stdout);
      if (/accounting storage is disabled|slurm_persist_conn_open|Connection refused/i.test(r.stderr)) {
        this.useSqueue = true;
        this.opts.info?.(`Slurm: sacct is not available (${r.stderr.trim().split('\n')[0]}); following jobs with squeue instead`);
      } else throw new ConnoError(`sacct failed: ${r.stderr.trim() || `exit code ${r.exitCode}`}`);
    }
    const r = await execa('squeue', ['-h', `--name=${this.name}`, '-o', '%i|%T'], { reject: false });
    if (r.exitCode !== 0) throw new ConnoError(`squeue failed: ${r.stderr.trim() || `exit code ${r.exitCode}`}`);
    return parseSqueue(r.stdout);
  }

  private toCancel = new Set<string>();

  /**
   * scancel the given jobs (all of this run's jobs still waiting when none are given). Requests
   * made in the same tick (Ctrl-C aborts every instance at once) go out as one scancel.
   */
  cancel(ids?: string[]): Promise<void> {
    for (const id of ids ?? this.waiters.keys()) this.toCancel.add(id);
    return new Promise((resolve) =>
      setImmediate(() => {
        const which = [...this.toCancel];
        this.toCancel.clear();
        if (which.length === 0) return resolve();
        void execa('scancel', which, { reject: false }).then(() => {
          this.interval = this.opts.pollMinMs ?? SLURM_POLL_DEFAULT.pollMinMs;
          this.schedule(true);
          resolve();
        });
      }),
    );
  }

  /** Stop polling (at the end of the run). */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** With squeue only, a job that left the queue succeeded when its entry point wrote a result. */
function existsResult(file: string): boolean {
  try {
    readFileSync(file);
    return true;
  } catch {
    return false;
  }
}

/** The entry point's result, allowing a shared filesystem a moment to show it. */
async function readResult(file: string, patienceMs: number): Promise<JobResult | undefined> {
  const until = Date.now() + patienceMs;
  for (;;) {
    try {
      return JSON.parse(await fsp.readFile(file, 'utf8')) as JobResult;
    } catch {
      if (Date.now() >= until) return undefined;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** `CONNO_SLURM_POLL=MIN,MAX` (milliseconds): sacct back-off bounds; default 5 s to 2 min. */
export function slurmPollFromEnv(): { pollMinMs: number; pollMaxMs: number } {
  const v = process.env['CONNO_SLURM_POLL'];
  const m = v ? /^(\d+),(\d+)$/.exec(v.trim()) : null;
  if (v && !m) throw new UsageError(`CONNO_SLURM_POLL is MIN,MAX in milliseconds (e.g. 5000,120000), not '${v}'`);
  return m ? { pollMinMs: Number(m[1]), pollMaxMs: Math.max(Number(m[1]), Number(m[2])) } : SLURM_POLL_DEFAULT;
}

/**
 * The Slurm executor: each job an sbatch job of the run (SlurmRun), submitted when the scheduler
 * hands it over, followed by the run's one sacct query, cancelled with scancel on close.
 */
export class SlurmExecutor implements Executor {
  readonly kind = 'slurm' as const;
  readonly runsHere = false;
  private readonly slurm: SlurmRun;

  constructor(opts: { jobDir: string; info?: (message: string) => void }) {
    this.slurm = new SlurmRun({ ...opts, entry: ENTRY, ...slurmPollFromEnv() });
  }

  run(s: Submission): Promise<JobResult> {
    return this.slurm.run(s.job, s.slurm, s.gpuCount, s.signal, (jobId) => s.onStart({ gpus: [], jobId }));
  }

  close(): void {
    this.slurm.close();
  }
}
