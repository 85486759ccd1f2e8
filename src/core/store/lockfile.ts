/**
 * conno.lock: the committed record of what each stage instance was built from and what it
 * produced. YAML with sorted keys at every level, so its bytes depend only on its content and a
 * diff in a pull request shows exactly which results changed.
 */
import { promises as fsp, readFileSync } from 'node:fs';
import { sortDeep } from '../util/canonical.js';
import { flushPendingSyncs, writeFileAtomic, writeProblem } from '../util/fsx.js';
import type { Fingerprint, ObjectHash } from '../hash/types.js';
import type { FingerprintRecord } from '../hash/fingerprint.js';
import type { CodeDetail } from '../stage/code.js';
import { ConnoError } from '../util/errors.js';
import { hashBytes } from '../hash/xxhash.js';
import { toDict, dict } from '../util/dict.js';

export const LOCK_VERSION = 1;

export interface HashInfo {
  hash: ObjectHash;
  size: number;
  nfiles?: number;
}

/**
 * What conno.lock records for one stage instance: every part of its fingerprint record (so that
 * `status` can say which part changed), with each input's and output's hash and size.
 */
export type LockEntry = Pick<FingerprintRecord, 'kind' | 'cmd' | 'uses' | 'code' | 'params' | 'with' | 'as' | 'env' | 'item' | 'upstream'> & {
  fingerprint: Fingerprint;
  deps: Record<string, HashInfo>;
  outs: Record<string, HashInfo>;
  metrics?: Record<string, unknown>;
};

/** An entry with a run's results: its outputs, and its metrics when it recorded any. */
export function withResults(entry: LockEntry, outs: LockEntry['outs'], metrics: Record<string, unknown> | undefined): LockEntry {
  const { metrics: _old, ...rest } = entry;
  return metrics && Object.keys(metrics).length ? { ...rest, outs, metrics } : { ...rest, outs };
}

export interface LockFile {
  version: number;
  stages: Record<string, LockEntry>;
  /**
   * What each code hash of the entries covers (files, packages, stage version), once per hash:
   * `status` names the files that changed. Written for the hashes the entries use, no others.
   */
  code?: Record<string, CodeDetail>;
}

/** A lock with no entries (its stages keyed without a prototype, as every lock's). */
export function emptyLock(): LockFile {
  return { version: LOCK_VERSION, stages: dict<LockEntry>() };
}

/**
 * Read conno.lock. Parsing YAML is the slowest part of a no-op `status` on a large pipeline, so
 * a JSON copy is kept in `parsedCacheFile`, used only when the lock's bytes hash the same.
 */
export async function readLock(file: string, parsedCacheFile?: string): Promise<LockFile> {
  return (await readLockHashed(file, parsedCacheFile)).lock;
}

/** readLock, with the hash of the bytes it read (undefined for a missing file). */
export async function readLockHashed(file: string, parsedCacheFile?: string): Promise<{ lock: LockFile; hash: string | undefined }> {
  let bytes: Buffer;
  try {
    // Synchronous reads: these files are read once, first thing, and a round trip through the
    // thread pool is idle time a no-op `status` pays in full.
    bytes = readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { lock: emptyLock(), hash: undefined };
    throw err;
  }
  const textHash = await hashBytes(bytes);
  let lock: LockFile | undefined;
  if (parsedCacheFile) {
    try {
      const cached = JSON.parse(readFileSync(parsedCacheFile, 'utf8')) as { hash: string; lock: LockFile };
      if (cached.hash === textHash && cached.lock?.version === LOCK_VERSION) lock = { ...cached.lock, stages: toDict(cached.lock.stages) };
    } catch {
      // No usable copy: parse the YAML.
    }
  }
  if (!lock) {
    lock = await parseLockText(file, bytes.toString('utf8'));
    if (parsedCacheFile) await writeFileAtomic(parsedCacheFile, JSON.stringify({ hash: textHash, lock })).catch(() => undefined);
  }
  return { lock, hash: textHash };
}

/**
 * What a no-op `status` reads of an entry: its fingerprint and its outputs. Every other part of
 * the entry (what it was built from) is read only to explain a change.
 */
export interface LockSummary {
  fingerprint: Fingerprint;
  /** Each output's name and hash, in the entry's order. */
  outs: Array<[string, HashInfo]>;
}

export type LockSummaries = Map<string, LockSummary>;

const SUMMARY_FORMAT = 1;

/** Each entry's summary, from a lock read in full. */
export function summarize(lock: LockFile): LockSummaries {
  const out: LockSummaries = new Map();
  for (const id in lock.stages) {
    const e = lock.stages[id]!;
    out.set(id, { fingerprint: e.fingerprint, outs: Object.entries(e.outs ?? {}) });
  }
  return out;
}

/**
 * Saves the summaries of the lock whose bytes hash to `hash`, for readLockSummaries: rows of plain
 * values, [id, fingerprint, then name, hash, size, nfiles (−1: none) for each output]. Best effort,
 * as the JSON copy: a cache that cannot be written is read from the lock next time.
 */
export async function saveLockSummaries(summaryFile: string, hash: string, summaries: LockSummaries): Promise<void> {
  const rows: Array<Array<string | number>> = [];
  for (const [id, s] of summaries) {
    const row: Array<string | number> = [id, s.fingerprint];
    for (const [name, info] of s.outs) row.push(name, info.hash, info.size, info.nfiles ?? -1);
    rows.push(row);
  }
  await writeFileAtomic(summaryFile, JSON.stringify({ format: SUMMARY_FORMAT, version: LOCK_VERSION, hash, rows })).catch(() => undefined);
}

/**
 * The entries' summaries from `summaryFile`, when it was written from conno.lock's current bytes
 * (their hash is its key, as for the JSON copy); undefined when it is missing, unreadable or
 * stale (then the lock is read, and saveLockSummaries writes them). The full lock's JSON
 * copy keys its objects by paths, so each gets a shape of its own: it took ~7 ms to parse for
 * 1,000 command stages, these rows of plain values ~0.4 ms. An empty map when there is no
 * conno.lock.
 */
export async function readLockSummaries(file: string, summaryFile: string): Promise<{ summaries: LockSummaries; hash: string | undefined } | undefined> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { summaries: new Map(), hash: undefined };
    throw err;
  }
  let saved: { format?: unknown; version?: unknown; hash?: unknown; rows?: unknown };
  try {
    saved = JSON.parse(readFileSync(summaryFile, 'utf8')) as typeof saved;
  } catch {
    return undefined;
  }
  const textHash = await hashBytes(bytes);
  if (saved.format !== SUMMARY_FORMAT || saved.version !== LOCK_VERSION || saved.hash !== textHash || !Array.isArray(saved.rows)) return undefined;
  const summaries: LockSummaries = new Map();
  for (const row of saved.rows as Array<Array<string | number>>) {
    const outs: Array<[string, HashInfo]> = [];
    for (let i = 2; i + 3 < row.length; i += 4) {
      const nfiles = row[i + 3] as number;
      const hash = row[i + 1] as ObjectHash;
      const size = row[i + 2] as number;
      outs.push([row[i] as string, nfiles >= 0 ? { hash, size, nfiles } : { hash, size }]);
    }
    summaries.set(row[0] as string, { fingerprint: row[1] as Fingerprint, outs });
  }
  return { summaries, hash: textHash };
}

/** A lock from its text; `file` names it in errors (a path, or `REV:conno.lock`). */
export async function parseLockText(file: string, text: string): Promise<LockFile> {
  // yaml is loaded only when the lock changed since its JSON copy was made.
  const { parse } = await import('yaml');
  let data: unknown;
  try {
    data = parse(text);
  } catch (err) {
    throw new ConnoError(`${file} is not valid YAML (${(err as Error).message.split('\n')[0]}); restore it from git (git checkout -- conno.lock)`);
  }
  if (data === null || data === undefined) return emptyLock();
  const lock = data as Partial<LockFile>;
  if (typeof lock !== 'object' || typeof lock.stages !== 'object' || lock.stages === null) {
    throw new ConnoError(`${file} does not look like a conno lock file (no 'stages' mapping)`);
  }
  if (lock.version !== LOCK_VERSION) throw new ConnoError(`${file} has lock format ${JSON.stringify(lock.version)}; this conno reads format ${LOCK_VERSION}`);
  const code = lock.code !== null && typeof lock.code === 'object' ? lock.code : undefined;
  // Stage ids are names users choose: looked up without Object.prototype in the way (util/dict.ts).
  const stages = toDict(lock.stages);
  return code ? { version: LOCK_VERSION, stages, code } : { version: LOCK_VERSION, stages };
}

export async function lockText(lock: LockFile): Promise<string> {
  const { stringify } = await import('yaml');
  const header = '# conno.lock: written by conno, commit it. What each stage instance was built from and produced.\n';
  // Only the code details the entries refer to: an old hash's files would be noise in a diff.
  const used = new Set(Object.values(lock.stages).map((e) => e.code));
  const code = Object.fromEntries(Object.entries(lock.code ?? {}).filter(([h]) => used.has(h)));
  const next = new Map<string, string>();
  const render = (v: unknown) => stringify(v, YAML_OPTIONS);
  const text = header + (Object.keys(code).length ? section('code', code, render, next) : '') + section('stages', lock.stages, render, next) + render({ version: lock.version });
  rendered = next;
  return text;
}

const YAML_OPTIONS = { lineWidth: 0, aliasDuplicateObjects: false } as const;

/**
 * Each entry's YAML, by its JSON, from the last lock written: the lock is rewritten many times
 * during a run, and YAML rendering is slow (55–85 ms for 1,000 entries here), so only changed
 * entries are rendered again. The text is what one stringify of the whole sorted lock gives
 * (lockfile.test.ts compares the two).
 */
let rendered = new Map<string, string>();

/** JSON as sortDeep sees values: NaN and ±Infinity stay apart from null. */
const asSorted = (_k: string, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? `__number:${String(v)}` : v);

function section(key: string, map: Record<string, unknown>, render: (v: unknown) => string, next: Map<string, string>): string {
  // The order sortDeep leaves the keys in (integer-like keys first, as for any JS object).
  const order = Object.create(null) as Record<string, true>;
  for (const k of Object.keys(map).sort()) if (map[k] !== undefined) order[k] = true;
  const ids = Object.keys(order);
  if (ids.length === 0) return render({ [key]: {} });
  let out = `${key}:\n`;
  for (const id of ids) {
    const cacheKey = `${key}\0${id}\0${JSON.stringify(map[id], asSorted)}`;
    let text = next.get(cacheKey) ?? rendered.get(cacheKey);
    if (text === undefined) {
      const one = Object.create(null) as Record<string, unknown>;
      one[id] = sortDeep(map[id]);
      text = render({ [key]: one }).slice(key.length + 2); // without its "key:\n" line
    }
    next.set(cacheKey, text);
    out += text;
  }
  return out;
}

/** Write the lock only if its bytes change, atomically. Returns whether it was written. */
export async function writeLock(file: string, lock: LockFile): Promise<boolean> {
  const text = await lockText(lock);
  const old = await fsp.readFile(file, 'utf8').catch(() => undefined);
  if (old === text) return false;
  try {
    // What the lock names is durable before the lock is (fsx.ts, fsyncLater).
    await flushPendingSyncs();
    await writeFileAtomic(file, text);
  } catch (err) {
    throw writeProblem(err, 'conno.lock', file);
  }
  return true;
}
