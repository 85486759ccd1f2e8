/**
 * GPU slots: from `--gpus 0,1`, else CONNO_GPUS, else an inherited CUDA_VISIBLE_DEVICES (what
 * Slurm or a shared machine's admin handed this process: never use GPUs outside it), else the
 * devices nvidia-smi lists, else none.
 * With no GPUs, stages that ask for one run on the CPU (a laptop can still run the study).
 */
import { execFileSync } from 'node:child_process';
import { UsageError } from '../util/errors.js';

export interface GpuSource {
  ids: string[];
  from: '--gpus' | 'CONNO_GPUS' | 'CUDA_VISIBLE_DEVICES' | 'nvidia-smi' | 'none';
}

export function parseGpuList(text: string, from: string): string[] {
  const t = text.trim();
  if (t === '' || t === 'none') return [];
  const ids = t.split(',').map((s) => s.trim());
  for (const id of ids) {
    if (!/^[0-9]+$|^(GPU|MIG)-[0-9A-Za-z-/]+$/.test(id)) throw new UsageError(`${from}: '${id}' is not a GPU index or UUID (expected e.g. 0,1)`);
  }
  if (new Set(ids).size !== ids.length) throw new UsageError(`${from}: a GPU is listed twice in '${text}'`);
  return ids;
}

export function detectGpus(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): GpuSource {
  if (flag !== undefined) return { ids: parseGpuList(flag, '--gpus'), from: '--gpus' };
  if (env.CONNO_GPUS !== undefined) return { ids: parseGpuList(env.CONNO_GPUS, 'CONNO_GPUS'), from: 'CONNO_GPUS' };
  if (env.CUDA_VISIBLE_DEVICES !== undefined) {
    // "-1" and "" both mean "no GPU" to CUDA.
    const v = env.CUDA_VISIBLE_DEVICES.trim();
    return { ids: v === '-1' ? [] : parseGpuList(v, 'CUDA_VISIBLE_DEVICES'), from: 'CUDA_VISIBLE_DEVICES' };
  }
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=index', '--format=csv,noheader'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
    const ids = out
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean);
    return { ids, from: ids.length ? 'nvidia-smi' : 'none' };
  } catch {
    return { ids: [], from: 'none' };
  }
}
