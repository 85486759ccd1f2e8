/**
 * inject-noise's parameters: one zod schema, the single place their defaults live.
 */
import { z } from 'zod';
import { matrixProblem } from '../../src/lab/noise/label.js';

const rate = z.number().min(0).max(1);
const splits = z.array(z.string().min(1)).min(1).default(['train']);
/** A class by name or index. */
const classRef = z.union([z.string().min(1), z.number().int().nonnegative()]);
const perClass = z.union([z.array(rate).min(1), z.record(z.string(), rate)]);

const matrix = z.array(z.array(z.number())).min(1).superRefine((m, ctx) => {
  const p = matrixProblem(m);
  if (p) ctx.addIssue({ code: 'custom', message: p.message, path: p.path });
});

export const LabelNoiseSchema = z.discriminatedUnion('model', [
  /** To another class, uniformly: T = (1−η)I + η/(K−1)(11ᵀ−I). */
  z.strictObject({ model: z.literal('symmetric'), rate, splits }),
  /** Uniform over all classes, the true one included: T = (1−η)I + (η/K)11ᵀ (flips ≈ η(K−1)/K). */
  z.strictObject({ model: z.literal('symmetric_incl'), rate, splits }),
  /** Pair flip: to the next class (K−1 → 0), or to `mapping[from]` ({from: to}, names or indexes; other classes kept). */
  z.strictObject({ model: z.literal('pair'), rate, mapping: z.record(z.string(), classRef).nullable().default(null), splits }),
  /** Any row-stochastic T (K×K, T[i][j] = P(noisy = j | true = i)). */
  z.strictObject({ model: z.literal('matrix'), matrix, splits }),
  /** Per-class rates η_i (a list by class index, or {class: rate}; missing classes 0), symmetric within a row. */
  z.strictObject({ model: z.literal('per_class'), rates: perClass, splits }),
  /** Instance-dependent (Xia et al. 2020): q_n ~ TruncNormal(rate, sd²) on [0,1]; a seeded projection of the clip's coarse log spectrum (`bands` bands) picks the class. */
  z.strictObject({ model: z.literal('instance'), rate, sd: z.number().nonnegative().default(0.1), bands: z.number().int().min(2).max(128).default(16), splits }),
]);

export const SmoothingSchema = z
  .strictObject({
    /** Label smoothing: target = (1−ε)·onehot(label) + ε/K. */
    eps: rate.optional(),
    /** Noise-dependent smoothing (waspaa19): ε per class of the given label (list by index, or {class: ε}; missing classes 0). */
    per_class_eps: perClass.optional(),
    splits,
  })
  .refine((s) => (s.eps === undefined) !== (s.per_class_eps === undefined), { message: 'give exactly one of eps and per_class_eps', path: ['eps'] });

const NOISE_KINDS = ['white', 'pink', 'brown', 'babble', 'recorded'] as const;

/**
 * `condition` is a shorthand for one point of a data-noise axis, for matrix sweeps
 * (`matrix: { data: [clean, 10dB, 0dB, pure] }`, `data: { condition: "${item.data}" }`):
 * `clean` (no noise on the clips; test_copies still made), `<n>dB` (snr_db n), `pure` (the
 * clips replaced by `kind` noise). `kind` defaults to white here. It sets fraction, snr_db and
 * source, so it excludes them.
 */
function expandCondition(input: unknown, ctx: z.RefinementCtx): unknown {
  if (input === null || typeof input !== 'object' || !('condition' in input)) return input;
  const { condition, ...rest } = input as Record<string, unknown>;
  const clash = ['snr_db', 'fraction', 'source'].filter((k) => k in rest);
  if (clash.length) {
    ctx.addIssue({ code: 'custom', message: `condition sets ${clash.join(' and ')}: give one or the other`, path: ['condition'] });
    return z.NEVER;
  }
  const text = String(condition).trim();
  rest['kind'] ??= 'white';
  const db = /^(-?\d+(?:\.\d+)?)\s*dB$/i.exec(text);
  if (text === 'clean') return { ...rest, fraction: 0 };
  if (db) return { ...rest, snr_db: Number(db[1]) };
  if (text === 'pure') return { ...rest, kind: 'pure', source: rest['kind'] ?? 'white' };
  ctx.addIssue({ code: 'custom', message: `unknown condition '${text}': expected clean, <number>dB (e.g. 10dB) or pure`, path: ['condition'] });
  return z.NEVER;
}

const DataNoiseObject = z
  .strictObject({
    /** white | pink (−3 dB/oct) | brown (−6 dB/oct) | babble (N other clips) | recorded (`noise_from`'s clips) | pure (signal replaced by `source` noise, at one level for all: `pure_level`). */
    kind: z.enum([...NOISE_KINDS, 'pure']),
    /** Target SNR in dB: fixed, or drawn uniformly per clip from {min, max}. */
    snr_db: z
      .union([z.number(), z.strictObject({ min: z.number(), max: z.number() }).refine((r) => r.min <= r.max, { message: 'min must not exceed max', path: ['min'] })])
      .default(10),
    /** Fraction of the clips of `splits` that get noise (exactly round(fraction·n), chosen by seed). */
    fraction: rate.default(1),
    splits,
    /** babble: how many other clips (of the same split) are summed, each at unit power. */
    babble_n: z.number().int().min(1).max(64).default(4),
    /** pure: the noise that replaces the signal. */
    source: z.enum(NOISE_KINDS).default('white'),
    /**
     * pure: the noise's power. split: one level for every clip, the mean power of the clips it
     * replaces (nothing of a clip is left); clip: each clip's own power, which leaks its loudness —
     * a class cue wherever classes differ in level.
     */
    pure_level: z.enum(['split', 'clip']).default('split'),
    /** recorded: the upstream stage (in `needs`) whose clip table holds the noise recordings. */
    noise_from: z.string().min(1).nullable().default(null),
    /** Extra noisy copies of a split for robustness curves: rows with split `test@snr=10`, clip ids `<id>@snr=10`. */
    test_copies: z.strictObject({ snrs: z.array(z.number()).min(1), split: z.string().min(1).default('test') }).nullable().default(null),
  })
  .refine((d) => !((d.kind === 'recorded' || (d.kind === 'pure' && d.source === 'recorded')) && d.noise_from === null), {
    message: "recorded noise needs noise_from: the upstream stage with the noise clip table (also listed in needs)",
    path: ['noise_from'],
  });

export const DataNoiseSchema = z.preprocess(expandCondition, DataNoiseObject);

export const InjectNoiseParamsSchema = z.strictObject({
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
  label: LabelNoiseSchema.nullable().default(null),
  smoothing: SmoothingSchema.nullable().default(null),
  data: DataNoiseSchema.nullable().default(null),
});

export type InjectNoiseParams = z.infer<typeof InjectNoiseParamsSchema>;
export type LabelNoiseParams = z.infer<typeof LabelNoiseSchema>;
export type DataNoiseParams = z.infer<typeof DataNoiseObject>;
export type NoiseKind = (typeof NOISE_KINDS)[number];
