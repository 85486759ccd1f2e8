/**
 * sbatch settings (`slurm:` in pipeline.yaml) as sbatch options, validated: the analyzer checks
 * every instance's settings before anything runs, and the Slurm executor builds its job scripts
 * from the same function, so a value that passes here is one sbatch accepts as one option.
 */
import { InputError } from '../util/errors.js';

/** sbatch settings of one instance, after interpolation (see SlurmSchema). */
export type SlurmSpec = Record<string, string | string[]>;

const TIME_RE = /^(\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d+|\d+-\d+:\d{1,2}|\d+-\d+:\d{1,2}:\d{1,2}|UNLIMITED|INFINITE)$/i;
const MEM_RE = /^\d+(\.\d+)?[KMGT]?B?$/i;
const NAME_RE = /^[A-Za-z0-9_.:+@-]+$/;

/** A `slurm:` value sbatch would not take: the pipeline's mistake, naming the field and value. */
export class SlurmSpecError extends InputError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The sbatch options for an instance. `gpus` defaults to the stage's resources.gpu; a count
 * becomes `--gres=gpu:N`, `TYPE:N` becomes `--gres=gpu:TYPE:N`.
 */
export function sbatchOptions(spec: SlurmSpec, resourceGpus: number): string[] {
  // A job script holds one option per `#SBATCH` line: a line break would start a command.
  for (const [k, v] of Object.entries(spec)) {
    for (const x of Array.isArray(v) ? v : [v]) if (/[\r\n\0]/.test(x)) throw new SlurmSpecError(k, `slurm.${k}: ${JSON.stringify(x)} holds a line break or NUL, which no sbatch option can`);
  }
  const one = (k: string): string | undefined => {
    const v = spec[k];
    if (v === undefined) return undefined;
    if (Array.isArray(v)) throw new SlurmSpecError(k, `slurm.${k} takes one value, not a list`);
    const t = v.trim();
    if (t === '') throw new SlurmSpecError(k, `slurm.${k} is empty`);
    return t;
  };
  const out: string[] = [];
  const partition = one('partition');
  if (partition !== undefined) {
    if (!/^[A-Za-z0-9_.,-]+$/.test(partition)) throw new SlurmSpecError('partition', `slurm.partition: '${partition}' is not a partition name`);
    out.push(`--partition=${partition}`);
  }
  const time = one('time');
  if (time !== undefined) {
    if (!TIME_RE.test(time)) throw new SlurmSpecError('time', `slurm.time: '${time}' is not a Slurm time limit (minutes, MM:SS, HH:MM:SS, D-HH or D-HH:MM:SS)`);
    out.push(`--time=${time}`);
  }
  const mem = one('mem');
  if (mem !== undefined) {
    if (!MEM_RE.test(mem)) throw new SlurmSpecError('mem', `slurm.mem: '${mem}' is not a Slurm memory size (e.g. 4G, 16000M; a bare number is megabytes)`);
    out.push(`--mem=${mem.replace(/B$/i, '')}`);
  }
  const cpus = one('cpus');
  if (cpus !== undefined) {
    if (!/^[1-9]\d*$/.test(cpus)) throw new SlurmSpecError('cpus', `slurm.cpus: '${cpus}' is not a positive whole number`);
    out.push(`--cpus-per-task=${cpus}`);
  }
  const gpus = one('gpus') ?? (resourceGpus > 0 ? String(resourceGpus) : undefined);
  if (gpus !== undefined && gpus !== '0') {
    if (/^[1-9]\d*$/.test(gpus)) out.push(`--gres=gpu:${gpus}`);
    else if (/^[A-Za-z0-9_.-]+:[1-9]\d*$/.test(gpus)) out.push(`--gres=gpu:${gpus}`);
    else throw new SlurmSpecError('gpus', `slurm.gpus: '${gpus}' is not a GPU count or TYPE:COUNT (e.g. 1 or a100:2)`);
  }
  for (const k of ['account', 'qos'] as const) {
    const v = one(k);
    if (v === undefined) continue;
    if (!NAME_RE.test(v)) throw new SlurmSpecError(k, `slurm.${k}: '${v}' is not a Slurm ${k} name`);
    out.push(`--${k}=${v}`);
  }
  const extra = spec['extra'];
  // A string is split at whitespace; options whose values contain spaces go in the list form.
  const extras = extra === undefined ? [] : Array.isArray(extra) ? extra : extra.split(/\s+/).filter(Boolean);
  for (const e of extras) {
    if (!e.startsWith('-')) throw new SlurmSpecError('extra', `slurm.extra: '${e}' is not an sbatch option (options start with -)`);
    if (/^--?(J|job-name|o|output|e|error|D|chdir|parsable|wrap)(=|$)/.test(e)) throw new SlurmSpecError('extra', `slurm.extra: conno sets '${e.split('=')[0]}' itself`);
    out.push(e);
  }
  for (const k of Object.keys(spec)) {
    if (!['partition', 'time', 'mem', 'cpus', 'gpus', 'account', 'qos', 'extra'].includes(k)) throw new SlurmSpecError(k, `slurm.${k}: unknown setting`);
  }
  return out;
}

