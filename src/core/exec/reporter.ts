/**
 * Progress of a run. Plain lines when output is not a terminal (CI, logs, tests); a listr2
 * task list on a terminal.
 */
export type Event =
  | { type: 'start'; id: string; gpus: string[]; slurmJob?: string }
  | { type: 'fresh'; id: string }
  | { type: 'restored'; id: string; from?: 'remote' }
  | { type: 'done'; id: string; ms: number }
  | { type: 'failed'; id: string; error: string; logFile?: string; logTail?: string }
  | { type: 'skipped'; id: string; because: string }
  | { type: 'would-run'; id: string; reasons: string[] };

export interface Reporter {
  event(e: Event): void;
  info(message: string): void;
  close(): Promise<void>;
}

export function plainReporter(write: (line: string) => void, verbose = false): Reporter {
  return {
    event(e) {
      switch (e.type) {
        case 'start':
          write(e.slurmJob ? `submitted ${e.id} as Slurm job ${e.slurmJob}` : `running ${e.id}${e.gpus.length ? ` [GPU ${e.gpus.join(',')}]` : ''}`);
          break;
        case 'fresh':
          if (verbose) write(`up to date ${e.id}`);
          break;
        case 'restored':
          write(`restored ${e.id} (${e.from === 'remote' ? 'from the remote' : 'from the run-cache'})`);
          break;
        case 'done':
          write(`done ${e.id} (${formatMs(e.ms)})`);
          break;
        case 'failed':
          write(`FAILED ${e.id}: ${e.error}${e.logFile ? `\n  log: ${e.logFile}` : ''}${e.logTail ? `\n${indent(e.logTail)}` : ''}`);
          break;
        case 'skipped':
          write(`skipped ${e.id}: ${e.because}`);
          break;
        case 'would-run':
          write(`would run ${e.id}: ${e.reasons.join('; ')}`);
          break;
      }
    },
    info: write,
    async close() {},
  };
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  | ${l}`)
    .join('\n');
}
