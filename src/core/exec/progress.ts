/**
 * Chooses the progress display: a listr2 task list on a terminal, plain lines otherwise (and for
 * very large runs, where one line per instance helps nobody).
 */
import type { Io } from '../util/io.js';
import { plainReporter, formatMs, type Event, type Reporter } from './reporter.js';

const MAX_LISTR_TASKS = 200;

export async function makeReporter(io: Io, ids: string[], verbose: boolean): Promise<Reporter> {
  if (!io.isTTY || process.env.CI || ids.length > MAX_LISTR_TASKS) return plainReporter(io.err, verbose);
  return listrReporter(io, ids);
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * One listr2 task per selected instance, declared up front (listr2 renders only tasks it knows
 * when it starts). A task stays hidden until the engine decides: up-to-date instances never
 * show, the others show their progress and outcome.
 */
async function listrReporter(io: Io, ids: string[]): Promise<Reporter> {
  const { Listr } = await import('listr2');
  const shown = new Map(ids.map((id) => [id, deferred<boolean>()]));
  const outcome = new Map(ids.map((id) => [id, deferred<Event>()]));
  const submitted = new Map(ids.map((id) => [id, deferred<string>()]));
  const failures: Extract<Event, { type: 'failed' }>[] = [];
  const list = new Listr(
    ids.map((id) => ({
      title: id,
      enabled: () => shown.get(id)!.promise,
      task: async (_ctx: unknown, task: { title: string; skip(msg: string): void }) => {
        void submitted.get(id)!.promise.then((job) => (task.title = `${id} (Slurm job ${job})`));
        const e = await outcome.get(id)!.promise;
        switch (e.type) {
          case 'restored':
            task.title = `${id} (restored from the ${e.from === 'remote' ? 'remote' : 'run-cache'})`;
            return;
          case 'done':
            task.title = `${id} (${formatMs(e.ms)})`;
            return;
          case 'failed':
            throw new Error(`${e.error}${e.logFile ? ` (log: ${e.logFile})` : ''}`);
          case 'skipped':
            task.skip(`${id}: ${e.because}`);
            return;
          default:
            return;
        }
      },
    })),
    { concurrent: true, exitOnError: false, rendererOptions: { collapseErrors: false } },
  );
  const running = list.run().catch(() => undefined);
  return {
    event(e) {
      if (!shown.has(e.id)) return;
      switch (e.type) {
        case 'fresh':
          shown.get(e.id)!.resolve(false);
          return;
        case 'start':
          shown.get(e.id)!.resolve(true);
          if (e.slurmJob) submitted.get(e.id)!.resolve(e.slurmJob);
          return;
        case 'failed':
          failures.push(e);
          break;
        default:
          break;
      }
      shown.get(e.id)!.resolve(true);
      outcome.get(e.id)!.resolve(e);
    },
    info: (m) => io.err(m),
    async close() {
      // Instances never reached (cancelled) disappear from the list.
      for (const d of shown.values()) d.resolve(false);
      await running;
      for (const f of failures) if (f.logTail) io.err(`\n${f.id} failed; last lines of ${f.logFile ?? 'its log'}:\n${f.logTail}`);
    },
  };
}
