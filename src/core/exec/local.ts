/**
 * The local executor: a command stage runs as `sh -c` (job.ts), a built-in or module stage in a
 * child process of its own through the entry point (entry.ts), the same one a cluster job runs.
 */
import { promises as fsp, closeSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { runCommand, stageEnv, type JobResult, type StageJob } from './job.js';
import type { Executor, Submission } from './executor.js';
import { Spawner } from './spawner.js';
import { removePath, tmpName, writeFileAtomic } from '../util/fsx.js';
import { CORE_DIR } from '../location.js';

/** The stage entry point (compiled): `node entry.js JOB.json`. */
export const ENTRY = path.join(CORE_DIR, 'exec', 'entry.js');

export class LocalExecutor implements Executor {
  readonly kind = 'local' as const;
  readonly runsHere = true;
  private readonly useSpawner: boolean;
  private spawner: Spawner | undefined;

  /**
   * `spawner`: start command stages through a helper process (spawner.ts), started when the
   * first command runs; worth its start-up (a Node process, ~60 ms on another core) when a run
   * has many commands.
   */
  constructor(opts: { spawner?: boolean } = {}) {
    this.useSpawner = opts.spawner ?? false;
  }

  async run(s: Submission): Promise<JobResult> {
    s.onStart({ gpus: s.gpus });
    if (s.job.kind !== 'cmd') return runInChildProcess(s.job, s.signal);
    if (this.useSpawner) this.spawner ??= new Spawner();
    return runCommand(s.job, s.signal, this.spawner);
  }

  close(): void {
    // Local jobs end with the run: the signal has stopped any that were still going.
    this.spawner?.close();
  }
}

/** Run a built-in stage through the entry point in a child process of its own. */
async function runInChildProcess(job: StageJob, signal?: AbortSignal): Promise<JobResult> {
  const tmpDir = path.join(job.cacheDir, 'tmp');
  await fsp.mkdir(tmpDir, { recursive: true });
  await fsp.mkdir(path.dirname(job.logFile), { recursive: true });
  const jobFile = `${tmpName(tmpDir, 'job')}.json`;
  await writeFileAtomic(jobFile, JSON.stringify(job));
  const fd = openSync(job.logFile, 'w');
  try {
    const code = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      const child = spawn(process.execPath, [ENTRY, jobFile], {
        cwd: job.workRoot,
        env: { ...process.env, ...stageEnv(job) },
        stdio: ['ignore', fd, fd],
        signal,
        killSignal: 'SIGTERM',
      });
      child.on('error', (err) => (err.name === 'AbortError' ? resolve({ code: null, signal: 'SIGTERM' }) : reject(err)));
      child.on('exit', (c, s) => resolve({ code: c, signal: s }));
    });
    try {
      return JSON.parse(readFileSync(`${jobFile}.result`, 'utf8')) as JobResult;
    } catch {
      return { ok: false, error: code.signal ? `stage process killed by ${code.signal}` : `stage process exited with code ${code.code} without a result` };
    }
  } finally {
    closeSync(fd);
    await removePath(jobFile);
    await removePath(`${jobFile}.result`);
  }
}
