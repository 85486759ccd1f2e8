/**
 * Whether two feature tables can feed one model: made by `uses: features` with the same
 * parameters (all but which split the normalisation statistics come from) from audio at the same
 * sample rate. Read from the pipeline before anything runs, for the stages that evaluate a model
 * on a table it was not trained on.
 */
import type { UpstreamInfo } from '../../src/core/stage/api.js';
import { DATASETS } from '../../src/lab/data/datasets.js';

type Lookup = (id: string) => UpstreamInfo | undefined;

/** Parameters that may differ between the training table and an evaluation table. */
const FREE = new Set(['stats_split']);

/** The sample rate of the audio an instance's features were computed from, where the pipeline says it. */
export function sampleRateOf(info: UpstreamInfo, lookup: Lookup, seen = new Set<string>()): number | undefined {
  if (seen.has(info.id)) return undefined;
  seen.add(info.id);
  const w = info.with ?? {};
  if (info.uses === 'resample' && typeof w['rate'] === 'number') return w['rate'];
  if (info.uses === 'download') {
    const dataset = w['dataset'];
    if (dataset === 'synth') {
      const synth = (w['synth'] ?? {}) as { sample_rate?: unknown };
      return typeof synth.sample_rate === 'number' ? synth.sample_rate : 16000;
    }
    const native = typeof dataset === 'string' && dataset in DATASETS ? /^(\d+(?:\.\d+)?) kHz$/.exec(DATASETS[dataset as keyof typeof DATASETS].sampleRate) : null;
    return native ? Math.round(Number(native[1]) * 1000) : undefined;
  }
  if (info.kind === 'cmd') return undefined;
  for (const up of info.upstream) {
    const u = lookup(up);
    const r = u ? sampleRateOf(u, lookup, seen) : undefined;
    if (r !== undefined) return r;
  }
  return undefined;
}

/** Stages whose output is a features table, and what may differ between two of them. */
const FEATURE_STAGES: Record<string, Set<string>> = { features: FREE, embed: new Set(['batch_size']), waveform: new Set() };

/**
 * How `other`'s features differ from `reference`'s (`b.n_mels 40 ≠ a.n_mels 32`, or a log-mel
 * table against an embedding); empty when they fit, or when either is not made by a built-in
 * features or embed stage.
 */
export function featureDifferences(other: UpstreamInfo, reference: UpstreamInfo, lookup: Lookup): string[] {
  const free = FEATURE_STAGES[other.uses ?? ''];
  if (!free || !FEATURE_STAGES[reference.uses ?? '']) return [];
  if (other.uses !== reference.uses) return [`${other.id} is made by ${other.uses}, ${reference.id} by ${reference.uses}`];
  const a = other.with ?? {};
  const b = reference.with ?? {};
  const out: string[] = [];
  for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    if (free.has(k) || JSON.stringify(a[k]) === JSON.stringify(b[k])) continue;
    out.push(`${other.id}.${k} ${JSON.stringify(a[k])} ≠ ${reference.id}.${k} ${JSON.stringify(b[k])}`);
  }
  const ra = sampleRateOf(other, lookup);
  const rb = sampleRateOf(reference, lookup);
  if (ra !== undefined && rb !== undefined && ra !== rb) out.push(`sample rate of ${other.id} ${ra} Hz ≠ of ${reference.id} ${rb} Hz`);
  return out;
}
