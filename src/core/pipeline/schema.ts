/**
 * The pipeline.yaml schema: the single source of the config types and their defaults.
 * Extend it, don't break it: tests and users rely on every field below.
 */
import { z } from 'zod';

export const STAGE_NAME_RE = /^[A-Za-z_][A-Za-z0-9_-]*$/;
/** Dotted params keys, e.g. `audio.rate`, `features.n_mels`, `grid.0`. */
export const PARAM_KEY_RE = /^[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_][A-Za-z0-9_-]*)*$/;

const pathList = z.array(z.string().min(1, 'a path cannot be empty'));

/** The name a command output is known by downstream (`as: predictions`): a kind of table conno knows. */
export const OUTPUT_NAME_RE = /^[a-z][a-z0-9_]*$/;

/**
 * A command stage's output: a path, or `{ path, as }` to give it a name downstream stages read it
 * by, like a built-in stage's output (`as: dynamics`). A named output must be a table of that
 * kind: it is checked when the command finishes, before it is cached.
 */
export const OutSchema = z.union([
  z.string().min(1, 'a path cannot be empty'),
  z.strictObject({
    path: z.string().min(1, 'a path cannot be empty'),
    as: z.string().regex(OUTPUT_NAME_RE, 'an output name is lowercase letters, digits and _ (e.g. predictions)'),
  }),
]);

export const MatrixValue = z.union([z.string(), z.number(), z.boolean()]);

export const NeedSchema = z.union([
  z.string().regex(STAGE_NAME_RE, 'not a stage name'),
  z.strictObject({
    stage: z.string().regex(STAGE_NAME_RE, 'not a stage name'),
    /** Matrix keys to pair instances on; `[]` fans in every instance. Default: the shared keys. */
    on: z.array(z.string()).optional(),
    /** Only the upstream instances with these matrix values (`{ noise: 0, loss: ce }`). */
    where: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  }),
]);

export const ResourcesSchema = z.strictObject({
  /** GPUs the stage holds while it runs; it gets CUDA_VISIBLE_DEVICES set to them. */
  gpu: z.number().int().min(0).default(0),
});

const slurmValue = z.union([z.string().min(1), z.number()]);

/**
 * How a stage instance's Slurm job is requested (each value may use `${params.…}` and
 * `${item.…}`). None of it is part of the fingerprint: where a stage runs does not change what
 * it computes.
 */
export const SlurmSchema = z.strictObject({
  partition: slurmValue.optional(),
  /** Time limit as sbatch takes it: minutes, `HH:MM:SS`, `D-HH:MM:SS`. */
  time: slurmValue.optional(),
  /** Memory per node as sbatch takes it: `4G`, `16000M` (a bare number is megabytes). */
  mem: slurmValue.optional(),
  cpus: z.union([z.number().int().min(1), z.string().min(1)]).optional(),
  /** GPUs: a count, or `TYPE:COUNT` (`a100:1`). Default: the stage's `resources.gpu`. */
  gpus: z.union([z.number().int().min(0), z.string().min(1)]).optional(),
  account: slurmValue.optional(),
  qos: slurmValue.optional(),
  /** Further sbatch options, e.g. `--constraint=avx2` or a list of them. */
  extra: z.union([z.string(), z.array(z.string())]).optional(),
});

export const EXECUTORS = ['local', 'slurm'] as const;

export const StageSchema = z
  .strictObject({
    /** A command stage: any program, run with `sh -c` in the project folder. */
    cmd: z.string().min(1).optional(),
    /** A built-in stage (`stages/<name>/`) or a project stage module (`./path/to/stage.mjs`). */
    uses: z.string().min(1).optional(),
    desc: z.string().optional(),
    /** Files or folders the stage reads. */
    deps: pathList.default([]),
    /** Files or folders a command stage writes; they are cached and restored. `{ path, as }` names a table output. */
    outs: z.array(OutSchema).default([]),
    /** Outputs (JSON or YAML files, also listed in outs or not) whose content is recorded in conno.lock. */
    metrics: pathList.default([]),
    /** Dotted params keys the stage depends on (keys used in `${…}` are added automatically). */
    params: z.array(z.string().regex(PARAM_KEY_RE, 'not a dotted params key')).default([]),
    /** Upstream stages whose outputs it consumes. */
    needs: z.array(NeedSchema).default([]),
    /** Parameters of a built-in stage (validated by that stage's own schema). */
    with: z.record(z.string(), z.unknown()).default({}),
    /** One instance per combination of values. A value may be `${params.key}` naming a list. */
    matrix: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'matrix keys are identifiers'), z.union([z.array(MatrixValue).min(1, 'a matrix axis needs at least one value'), z.string()])).optional(),
    resources: ResourcesSchema.default({ gpu: 0 }),
    /** Extra environment variables for the stage's process (interpolated). */
    env: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
    /**
     * Where its instances run: `local`, or `slurm` (one sbatch job each). Unset: the run's
     * executor (`conno repro --executor`, default local). `local` pins a stage to the submitting
     * machine even under `--executor slurm` (e.g. a download on a login node with internet).
     */
    executor: z.enum(EXECUTORS, { error: (iss) => `executor is local or slurm, not ${JSON.stringify(iss.input)}` }).optional(),
    /** sbatch settings for this stage, over the pipeline's top-level `slurm:` defaults. */
    slurm: SlurmSchema.optional(),
  })
  .superRefine((s, ctx) => {
    if ((s.cmd === undefined) === (s.uses === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'a stage needs exactly one of `cmd` (a command) or `uses` (a built-in stage)' });
    }
    if (s.uses !== undefined && s.outs.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['outs'], message: 'built-in stages declare their own outputs; `outs` is for `cmd` stages' });
    }
  });

/**
 * A remote cache: a folder (absolute, or relative to the project; e.g. on a shared filesystem),
 * or `s3://bucket/prefix` with an optional endpoint (S3-compatible stores) and region.
 * Credentials come from the usual AWS environment and files, never from here.
 */
export const RemoteSchema = z.union([
  z.string().min(1, 'a remote needs a folder or an s3:// URL'),
  z.strictObject({
    url: z.string().min(1),
    endpoint: z.string().url('endpoint must be a URL such as https://s3.example.org').optional(),
    region: z.string().min(1).optional(),
  }),
]);

export const PipelineSchema = z.strictObject({
  /** Params files (YAML) whose keys stages may reference, relative to pipeline.yaml. */
  params: pathList.default([]),
  /** sbatch settings every Slurm job gets unless its stage says otherwise. */
  slurm: SlurmSchema.optional(),
  /** Remote caches by name, for `conno push`, `conno pull` and `conno repro --pull`. */
  remotes: z.record(z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'remote names are letters, digits, _ . -'), RemoteSchema).default({}),
  /** The remote used when no --remote is given (CONNO_REMOTE overrides it). */
  default_remote: z.string().min(1).optional(),
  stages: z.record(z.string().regex(STAGE_NAME_RE, 'stage names are letters, digits, _ and -, not starting with a digit'), StageSchema),
});

export type StageConfig = z.infer<typeof StageSchema>;
export type PipelineConfig = z.infer<typeof PipelineSchema>;
export type NeedConfig = z.infer<typeof NeedSchema>;
export type OutConfig = z.infer<typeof OutSchema>;
export type RemoteConfig = z.infer<typeof RemoteSchema>;
export type SlurmConfig = z.infer<typeof SlurmSchema>;
export type Executor = (typeof EXECUTORS)[number];
export type MatrixScalar = z.infer<typeof MatrixValue>;
