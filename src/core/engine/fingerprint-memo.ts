/**
 * The fingerprints a `status` computed for command stages, kept for the next one (cache/
 * fingerprints.json): most of a no-op status over thousands of command stages went into writing
 * each record as canonical JSON and hashing it, to find the same fingerprints as last time.
 *
 * A command stage's record is made of its instance (as the analysed pipeline gives it) and the
 * hashes of its inputs, and of nothing else (computeInstance in state.ts). So a remembered
 * fingerprint is used only where
 * - the memo was made from the same saved analysis: the hash of analysis.json's bytes, as parsed;
 * - by the same code: the hash of every file that turns an instance into a record and a record
 *   into a fingerprint (RECORD_CODE below, checked against state.ts's imports by a test), and the
 *   same RECORD_FORMAT;
 * - for the same input hashes: the same keys, each with the same hash, as the record now has.
 * Anything else (a pipeline analysed anew, a module stage, another conno) computes the
 * fingerprint, as it always did. Only `status` reads it: `repro` and `verify` compute every
 * fingerprint they record.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { RECORD_FORMAT } from '../hash/fingerprint.js';
import type { StatCache } from '../hash/statcache.js';
import { hashString } from '../hash/xxhash.js';
import { coreModule } from '../location.js';
import type { Fingerprint, ObjectHash } from '../hash/types.js';
import { writeFileAtomic } from '../util/fsx.js';

const FORMAT = 1;

/**
 * The modules (relative to this one) whose code decides a command stage's record and its
 * fingerprint: state.ts's import closure, the saved analysis's reader and this module.
 * fingerprint-memo.test.ts fails when state.ts imports a module missing here.
 */
export const RECORD_CODE = [
  './fingerprint-memo',
  './state',
  './project',
  '../pipeline/analysis-cache',
  '../hash/fingerprint',
  '../hash/tree',
  '../hash/types',
  '../hash/xxhash',
  '../hash/statcache',
  '../store/lockfile',
  '../util/canonical',
  '../util/dict',
  '../location',
  '../util/fsx',
  '../util/errors',
  '../util/promise',
];

/** One instance: [id, fingerprint, then each input's key and hash]. */
type Row = string[];

export class FingerprintMemo {
  private rows = new Map<string, Row>();
  private dirty = false;

  private constructor(
    private readonly file: string,
    private readonly key: string,
  ) {}

  /**
   * The memo in `file` for the analysis whose bytes are `analysisText`; empty when the file is
   * missing, unreadable, or was made from another analysis or by other code.
   */
  static async open(file: string, analysisText: string, stats: StatCache): Promise<FingerprintMemo> {
    const key = await memoKey(analysisText, stats);
    const memo = new FingerprintMemo(file, key);
    try {
      const saved = JSON.parse(readFileSync(file, 'utf8')) as { format?: unknown; key?: unknown; rows?: unknown };
      if (saved.format === FORMAT && saved.key === key && Array.isArray(saved.rows)) {
        for (const r of saved.rows as unknown[]) {
          if (Array.isArray(r) && r.length >= 2 && r.length % 2 === 0 && r.every((x) => typeof x === 'string')) memo.rows.set(r[0] as string, r as Row);
        }
      }
    } catch {
      // Missing or unreadable: every fingerprint is computed.
    }
    return memo;
  }

  /** The fingerprint remembered for `id` when its record had exactly these input hashes. */
  lookup(id: string, deps: Record<string, ObjectHash>): Fingerprint | undefined {
    const row = this.rows.get(id);
    if (!row) return undefined;
    // The same keys in the same order, each with the same hash, and no more (a different order
    // only costs the computation).
    let i = 2;
    for (const k in deps) {
      if (i >= row.length || row[i] !== k || row[i + 1] !== deps[k]) return undefined;
      i += 2;
    }
    return i === row.length ? (row[1] as Fingerprint) : undefined;
  }

  remember(id: string, deps: Record<string, ObjectHash>, fingerprint: Fingerprint): void {
    const row: Row = [id, fingerprint];
    for (const k in deps) row.push(k, deps[k]!);
    this.rows.set(id, row);
    this.dirty = true;
  }

  /** Writes the memo when something was added, keeping only the rows of `ids` (the pipeline's instances). Best effort. */
  async save(ids: Iterable<string>): Promise<void> {
    if (!this.dirty) return;
    const rows: Row[] = [];
    for (const id of ids) {
      const r = this.rows.get(id);
      if (r) rows.push(r);
    }
    await writeFileAtomic(this.file, JSON.stringify({ format: FORMAT, key: this.key, rows })).catch(() => undefined);
    this.dirty = false;
  }
}

/** The memo's key: its format, the record format, the saved analysis's bytes and the code of RECORD_CODE. */
async function memoKey(analysisText: string, stats: StatCache): Promise<string> {
  const code: string[] = [];
  for (const rel of RECORD_CODE) {
    const file = coreModule(path.posix.join('engine', rel));
    code.push(`${rel}=${(await stats.hashFile(file)).hash}`);
  }
  return `${FORMAT}:${RECORD_FORMAT}:${await hashString(analysisText)}:${await hashString(code.join('\n'))}`;
}
