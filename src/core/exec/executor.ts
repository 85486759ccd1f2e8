/**
 * Where stage jobs run. The scheduler (engine/repro.ts) hands each ready instance's job to an
 * executor and awaits its result; how the job is submitted and followed, how it is cancelled (the
 * signal, or `close`) and where its log goes (`job.logFile`) is the executor's business:
 * LocalExecutor (exec/local.ts) runs it here, SlurmExecutor (exec/slurm.ts) as an sbatch job.
 */
import { readFileSync } from 'node:fs';
import type { JobResult, StageJob } from './job.js';

export interface Submission {
  job: StageJob;
  /** The GPUs the scheduler reserved for a local job (a cluster allocates its own). */
  gpus: string[];
  /** The instance's sbatch settings and GPU count, for a cluster executor. */
  slurm: Record<string, string | string[]>;
  gpuCount: number;
  signal?: AbortSignal;
  /** When the job starts (here) or is submitted (a cluster: with its job id). */
  onStart(info: { gpus: string[]; jobId?: string }): void;
}

export interface Executor {
  readonly kind: 'local' | 'slurm';
  /** Jobs that run here take a local job slot and local GPUs; the others only count as remote jobs. */
  readonly runsHere: boolean;
  /** Runs the job to its end and says what it produced (outputs in the store) or why it failed. */
  run(s: Submission): Promise<JobResult>;
  /** Stops following jobs and cancels those still out (after the run, or on an interrupt). */
  close(): void;
}

/** The last lines of a job's log, for a failure report. */
export function logTail(file: string, lines: number): string | undefined {
  try {
    const text = readFileSync(file, 'utf8').trimEnd();
    return text.split('\n').slice(-lines).join('\n') || undefined;
  } catch {
    return undefined;
  }
}
