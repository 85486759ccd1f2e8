/**
 * From a dataset's clip index to the clip table: select (holdout, quick-run caps), decode, sort.
 */
import { promises as fsp } from 'node:fs';
import type { Clip, ClipSet } from '../audio/clips.js';
import { decodeWav } from '../audio/wav.js';
import type { ClipEntry, ClipIndex } from './datasets.js';
import { hashText } from '../../core/util/random.js';

/** The split given to held-out speakers' and folds' clips (an out-of-distribution test set). */
export const HOLDOUT_SPLIT = 'holdout';

/** The split given to clips set aside from train for model selection (early stopping). */
export const DEV_SPLIT = 'dev';

/**
 * A dev split carved out of the train split: whole speakers (so that none is in both), or clips
 * drawn per class; `fraction` of them, chosen by a seeded hash of their names (the same choice on
 * every machine, independent of file order), or the speakers named.
 */
export interface DevOptions {
  by: 'clip' | 'speaker';
  fraction: number;
  seed: number;
  speakers?: readonly string[];
}

export interface SelectOptions {
  holdout?: { speakers?: readonly string[]; folds?: readonly number[] };
  dev?: DevOptions;
  /** At most this many clips of each class in each split (the first by clip id). */
  maxClipsPerClass?: number;
}

export interface BuildOptions extends SelectOptions {
  onBadFile: 'error' | 'skip';
  metadata: Record<string, string>;
  log(message: string): void;
  /** Files read at once. */
  concurrency?: number;
}

export interface BuildResult {
  set: ClipSet;
  /** Sources of the files skipped as unreadable (on_bad_file: skip), with why. */
  skipped: { source: string; reason: string }[];
}

/** Code-point order: the same on every machine and locale. */
export const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Apply the holdout and the per-class cap; the result is sorted by clip id. */
export function selectClips(index: ClipIndex, opts: SelectOptions): ClipEntry[] {
  const speakers = new Set(opts.holdout?.speakers ?? []);
  const folds = new Set(opts.holdout?.folds ?? []);
  const sorted = [...index.entries]
    .map((e) => ((e.speaker !== null && speakers.has(e.speaker)) || (e.fold !== null && folds.has(e.fold)) ? { ...e, split: HOLDOUT_SPLIT } : e))
    .sort((a, b) => byCodePoint(a.clipId, b.clipId));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.clipId === sorted[i - 1]!.clipId) throw new Error(`two clips have the id '${sorted[i]!.clipId}' (${sorted[i - 1]!.source}, ${sorted[i]!.source})`);
  }
  const unknownSpeakers = [...speakers].filter((s) => !index.entries.some((e) => e.speaker === s));
  if (unknownSpeakers.length) throw new Error(`holdout speaker(s) ${unknownSpeakers.join(', ')} not in the dataset`);
  const unknownFolds = [...folds].filter((f) => !index.entries.some((e) => e.fold === f));
  if (unknownFolds.length) throw new Error(`holdout fold(s) ${unknownFolds.join(', ')} not in the dataset`);
  if (opts.dev) assignDev(sorted, opts.dev);
  if (opts.maxClipsPerClass === undefined) return sorted;
  const counts = new Map<string, number>();
  return sorted.filter((e) => {
    const key = `${e.split}\u0000${e.className}`;
    const n = counts.get(key) ?? 0;
    counts.set(key, n + 1);
    return n < opts.maxClipsPerClass!;
  });
}

/** Moves the dev clips of `entries` (sorted by clip id) from train to dev, in place. */
function assignDev(entries: ClipEntry[], dev: DevOptions): void {
  const train = entries.map((e, i) => ({ e, i })).filter(({ e }) => e.split === 'train');
  if (entries.some((e) => e.split === DEV_SPLIT)) throw new Error("dev: the dataset has a 'dev' split of its own already");
  const key = (name: string) => hashText(`${dev.seed}\u0000${name}`);
  const chosen = new Set<number>();
  if (dev.by === 'speaker' || dev.speakers) {
    const speakers = [...new Set(train.map(({ e }) => e.speaker).filter((s): s is string => s !== null))].sort(byCodePoint);
    let pick: string[];
    if (dev.speakers) {
      const missing = dev.speakers.filter((s) => !speakers.includes(s));
      if (missing.length) throw new Error(`dev.speakers: ${missing.join(', ')} ${missing.length === 1 ? 'is not a speaker' : 'are not speakers'} of the train split (its speakers: ${speakers.join(', ') || 'none'})`);
      pick = [...dev.speakers];
    } else {
      if (speakers.length < 2) throw new Error(`dev: by speaker needs at least two speakers in the train split (it has ${speakers.length}); use by: clip`);
      const n = Math.min(speakers.length - 1, Math.max(1, Math.round(dev.fraction * speakers.length)));
      pick = [...speakers].sort((a, b) => key(a) - key(b) || byCodePoint(a, b)).slice(0, n);
    }
    const set = new Set(pick);
    for (const { e, i } of train) if (e.speaker !== null && set.has(e.speaker)) chosen.add(i);
  } else {
    const byClass = new Map<string, { e: ClipEntry; i: number }[]>();
    for (const t of train) byClass.set(t.e.className, [...(byClass.get(t.e.className) ?? []), t]);
    for (const members of byClass.values()) {
      const n = Math.round(dev.fraction * members.length);
      for (const { i } of [...members].sort((a, b) => key(a.e.clipId) - key(b.e.clipId) || byCodePoint(a.e.clipId, b.e.clipId)).slice(0, n)) chosen.add(i);
    }
  }
  for (const i of chosen) entries[i] = { ...entries[i]!, split: DEV_SPLIT };
}

/** Decode every selected clip into a clip set (sorted by clip id). */
export async function buildClipSet(index: ClipIndex, opts: BuildOptions): Promise<BuildResult> {
  const selected = selectClips(index, opts);
  const labelOf = new Map(index.classes.map((c, i) => [c, i]));
  const decoded: (Clip | undefined)[] = new Array(selected.length);
  const skipped: { source: string; reason: string }[] = [];
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < selected.length; i = next++) {
      const e = selected[i]!;
      const label = labelOf.get(e.className);
      if (label === undefined) throw new Error(`${e.source}: class '${e.className}' is not among the dataset's classes`);
      let wav;
      try {
        wav = decodeWav(await fsp.readFile(e.file), e.source);
      } catch (err) {
        if (opts.onBadFile === 'error') {
          const hint = ' (set `on_bad_file: skip` to skip unreadable files)';
          throw new Error(`${(err as Error).message}${(err as NodeJS.ErrnoException).code === 'ENOENT' ? '' : hint}`);
        }
        skipped.push({ source: e.source, reason: (err as Error).message });
        continue;
      }
      decoded[i] = { clipId: e.clipId, split: e.split, label, speaker: e.speaker, fold: e.fold, source: e.source, sampleRate: wav.sampleRate, audio: wav.samples };
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 16 }, worker));
  skipped.sort((a, b) => byCodePoint(a.source, b.source));
  for (const s of skipped) opts.log(`skipped ${s.reason}`);
  const clips = decoded.filter((c): c is Clip => c !== undefined);
  return { set: { clips, classes: index.classes, metadata: opts.metadata }, skipped };
}

/** Clip counts per split, for the stage's metrics. */
export function countBySplit(clips: readonly Clip[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of clips) out[c.split] = (out[c.split] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => byCodePoint(a, b)));
}
