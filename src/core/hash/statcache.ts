/**
 * Stat cache: (device, inode, size, mtime) → content hash, so that unchanged large inputs are
 * not re-read on every `status`. Kept in one JSON file under cache/; losing it only costs time.
 *
 * A file modified within the same mtime tick as it was hashed would look unchanged ("racy"
 * entries, as git calls them), so entries whose mtime is within RACY_MS of the moment they were
 * hashed are used for this process only and never saved.
 */
import { readFileSync, statSync, type BigIntStats } from 'node:fs';
import path from 'node:path';
import { hashFile } from './xxhash.js';
import { flushPendingSyncs, isWriteProblem, writeFileAtomic } from '../util/fsx.js';

const RACY_MS = 2000n;
/** 2: one row per file, `[path, dev, ino, size, mtimeNs, hash]` (rows parse faster than keyed objects). */
const FORMAT = 2;

type Row = [path: string, dev: string, ino: string, size: number, mtimeNs: string, hash: string];

function isRow(r: unknown): r is Row {
  return Array.isArray(r) && r.length === 6 && typeof r[0] === 'string' && typeof r[1] === 'string' && typeof r[2] === 'string' && typeof r[3] === 'number' && typeof r[4] === 'string' && typeof r[5] === 'string';
}

export interface StatHash {
  hash: string;
  size: number;
}

export class StatCache {
  /** The rows as saved, by path (kept as rows: a no-op `status` reads thousands and changes none). */
  private entries = new Map<string, Row>();
  private racy = new Set<string>();
  private dirty = false;
  hits = 0;
  misses = 0;

  private constructor(
    private readonly file: string | undefined,
    private readonly transient: string[],
  ) {}

  /**
   * A cache stored in `file`, or a memory-only one when `file` is undefined. Files under the
   * `transient` folders (scratch areas) are hashed through it but never saved.
   */
  static async open(file: string | undefined, transient: string[] = []): Promise<StatCache> {
    const cache = new StatCache(file, transient.map((t) => path.resolve(t) + path.sep));
    if (!file) return cache;
    try {
      // Synchronous: read once, first thing (no idle round trip through the thread pool).
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as { format?: number; entries?: unknown };
      if (parsed.format === FORMAT && Array.isArray(parsed.entries)) {
        for (const r of parsed.entries as unknown[]) {
          if (isRow(r)) cache.entries.set(r[0], r);
        }
      }
    } catch {
      // Missing or unreadable: start empty.
    }
    return cache;
  }

  /**
   * The hash remembered for an absolute, normalised path whose stat is `st`, when the stat is
   * the one it was hashed at (no promise: a no-op `status` asks this for thousands of files).
   */
  known(abs: string, st: BigIntStats): StatHash | undefined {
    const known = this.entries.get(abs);
    if (known && known[4] === String(st.mtimeNs) && known[3] === Number(st.size) && known[2] === String(st.ino) && known[1] === String(st.dev)) {
      this.hits++;
      return { hash: known[5], size: known[3] };
    }
    return undefined;
  }

  /** Content hash of a regular file, read only when its stat changed. */
  async hashFile(file: string, st?: BigIntStats): Promise<StatHash> {
    const abs = path.resolve(file);
    // Synchronous stat: a status over thousands of files is bound by round trips through the
    // thread pool otherwise, and a stat takes microseconds.
    st ??= statSync(abs, { bigint: true });
    const known = this.known(abs, st);
    if (known) return known;
    this.misses++;
    const { hash, size } = await hashFile(abs);
    const after = statSync(abs, { bigint: true });
    // Only remember the hash if the file did not change while it was read.
    if (after.mtimeNs === st.mtimeNs && after.size === st.size) {
      this.entries.set(abs, [abs, String(st.dev), String(st.ino), Number(st.size), String(st.mtimeNs), hash]);
      const nowNs = BigInt(Date.now()) * 1_000_000n;
      if (nowNs - st.mtimeNs < RACY_MS * 1_000_000n) this.racy.add(abs);
      else this.racy.delete(abs);
      this.dirty = true;
    }
    return { hash, size };
  }

  forget(file: string): void {
    const abs = path.resolve(file);
    if (this.entries.delete(abs)) this.dirty = true;
  }

  async save(): Promise<void> {
    if (!this.file || !this.dirty) return;
    const out: Row[] = [];
    for (const [k, row] of this.entries) if (!this.racy.has(k) && !this.transient.some((t) => k.startsWith(t))) out.push(row);
    try {
      // The cache objects it vouches for are durable before it is (fsx.ts, fsyncLater).
      await flushPendingSyncs();
      await writeFileAtomic(this.file, JSON.stringify({ format: FORMAT, entries: out }));
    } catch (err) {
      // A cache that cannot be kept (a full disk, a read-only cache) only makes the next run slower.
      if (!isWriteProblem(err)) throw err;
      return;
    }
    this.dirty = false;
  }
}
