/**
 * Runs a DAG of tasks: each starts once everything it needs has succeeded, at most `jobs` at a
 * time, and a task that asks for GPUs waits for that many free GPU slots and is handed their ids.
 * A failure stops what depends on it; without keepGoing nothing new starts after a failure.
 */
import { ConnoError } from '../util/errors.js';

export interface Task {
  id: string;
  needs: string[];
  gpus: number;
  /**
   * Runs elsewhere (a cluster job): takes no local job slot and no local GPU slot; at most
   * `remoteJobs` of them are out at once.
   */
  remote?: boolean;
}

export type Outcome = 'ok' | 'failed' | 'skipped' | 'cancelled';

export interface ScheduleOptions {
  jobs: number;
  /** GPU slot ids; empty: GPU requests are ignored (the stage runs on the CPU). */
  gpuIds: string[];
  keepGoing: boolean;
  /** Tasks marked remote that may be submitted at once (default: no limit). */
  remoteJobs?: number;
  /** When aborted, nothing new starts and waiting tasks are cancelled. */
  signal?: AbortSignal;
}

export type RunTask = (task: Task, gpus: string[]) => Promise<boolean>;

export async function schedule(tasks: Task[], opts: ScheduleOptions, run: RunTask): Promise<Map<string, Outcome>> {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const outcome = new Map<string, Outcome>();
  const waitingOn = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const t of tasks) {
    dependents.set(t.id, []);
    if (!t.remote && opts.gpuIds.length > 0 && t.gpus > opts.gpuIds.length) {
      throw new ConnoError(`${t.id} asks for ${t.gpus} GPUs but only ${opts.gpuIds.length} are available (${opts.gpuIds.join(',')})`, { hint: 'lower resources.gpu, or give more with --gpus / CONNO_GPUS' });
    }
  }
  for (const t of tasks) {
    const inSet = t.needs.filter((n) => byId.has(n));
    waitingOn.set(t.id, inSet.length);
    for (const n of inSet) dependents.get(n)!.push(t.id);
  }
  const priority = new Map(tasks.map((t, i) => [t.id, i]));
  const ready: string[] = tasks.filter((t) => waitingOn.get(t.id) === 0).map((t) => t.id);
  const freeGpus = [...opts.gpuIds];
  let running = 0;
  let runningRemote = 0;
  const remoteJobs = opts.remoteJobs ?? Infinity;
  let stopped = false;

  return new Promise((resolve) => {
    const finishIfDone = () => {
      if (running > 0 || runningRemote > 0) return;
      if (ready.length > 0 && !stopped) return;
      for (const t of tasks) if (!outcome.has(t.id)) outcome.set(t.id, 'cancelled');
      resolve(outcome);
    };
    const skipDownstream = (id: string) => {
      for (const d of dependents.get(id)!) {
        if (outcome.has(d)) continue;
        outcome.set(d, 'skipped');
        skipDownstream(d);
      }
    };
    const pump = () => {
      if (opts.signal?.aborted) stopped = true;
      ready.sort((a, b) => priority.get(a)! - priority.get(b)!);
      let i = 0;
      while (!stopped && i < ready.length) {
        const id = ready[i]!;
        const task = byId.get(id)!;
        if (task.remote ? runningRemote >= remoteJobs : running >= opts.jobs) {
          i++; // Its pool is full; a task of the other pool may still start.
          continue;
        }
        const want = opts.gpuIds.length > 0 && !task.remote ? task.gpus : 0;
        if (want > freeGpus.length) {
          i++; // Let a later CPU task start rather than idle a core while GPUs are busy.
          continue;
        }
        ready.splice(i, 1);
        freeGpus.sort((a, b) => opts.gpuIds.indexOf(a) - opts.gpuIds.indexOf(b));
        const held = freeGpus.splice(0, want);
        if (task.remote) runningRemote++;
        else running++;
        run(task, held)
          .catch(() => false)
          .then((ok) => {
            if (task.remote) runningRemote--;
            else running--;
            freeGpus.push(...held);
            outcome.set(id, ok ? 'ok' : 'failed');
            if (ok) {
              for (const d of dependents.get(id)!) {
                const n = waitingOn.get(d)! - 1;
                waitingOn.set(d, n);
                if (n === 0 && !outcome.has(d)) ready.push(d);
              }
            } else {
              skipDownstream(id);
              if (!opts.keepGoing) stopped = true;
            }
            pump();
          });
      }
      finishIfDone();
    };
    opts.signal?.addEventListener('abort', () => {
      stopped = true;
      finishIfDone();
    });
    pump();
  });
}
