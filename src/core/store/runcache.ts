/**
 * The run-cache: fingerprint → what that computation produced. Going back to parameters that
 * were run before restores their outputs from the store instead of recomputing them.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Fingerprint } from '../hash/types.js';
import { withResults, type LockEntry } from './lockfile.js';
import { writeFileAtomic, writeProblem } from '../util/fsx.js';
import { canonicalJson } from '../util/canonical.js';
import { SYNC_BYTES, readTextSync, writeFileAtomicLaterSync } from '../util/fsx-sync.js';

/**
 * What a run used: wall time, CPU time and peak RSS of its process, and how they were measured
 * (exec/resources.ts): `process` (getrusage), `sampled` (/proc) or `slurm` (accounting).
 */
export interface Resources {
  wall_s: number;
  cpu_s?: number;
  max_rss_mb?: number;
  from: 'process' | 'sampled' | 'slurm';
}

/** A run-cache entry is the lock entry a run produced, under its instance id. */
export interface RunRecord {
  id: string;
  entry: LockEntry;
  /** What the run cost (wall, CPU, peak RSS): kept here, never in conno.lock, as it varies. */
  resources?: Resources;
}

export class RunCache {
  readonly dir: string;
  constructor(cacheDir: string) {
    this.dir = path.join(cacheDir, 'runs');
  }

  file(fp: Fingerprint): string {
    return path.join(this.dir, fp.slice(0, 2), `${fp.slice(2)}.json`);
  }

  async get(fp: Fingerprint): Promise<RunRecord | undefined> {
    try {
      // Synchronous (fsx-sync.ts): a record is a few hundred bytes, and a build asks once per stage.
      const text = readTextSync(this.file(fp));
      if (text === undefined) return undefined;
      const rec = JSON.parse(text) as RunRecord;
      return rec.entry?.fingerprint === fp ? rec : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Records a run: the entry it was started with (its fingerprint record and inputs), completed
   * with what it produced. The one way a run enters the run-cache, here or in a cluster job.
   */
  async record(id: string, started: LockEntry, outs: LockEntry['outs'], metrics: Record<string, unknown> | undefined, resources?: Resources): Promise<LockEntry> {
    const entry = withResults(started, outs, metrics);
    await this.put({ id, entry, ...(resources ? { resources } : {}) });
    return entry;
  }

  async put(rec: RunRecord): Promise<void> {
    try {
      // A record the cache can lose: torn or missing after a power cut, `get` reads it as absent
      // (and the stage runs again), so it is not fsynced on its own (fsx.ts, durable: 'later').
      // Written synchronously (fsx-sync.ts) when small: one per stage, between its end and the next start.
      const text = canonicalJson(rec);
      if (text.length <= SYNC_BYTES) writeFileAtomicLaterSync(this.file(rec.entry.fingerprint), text);
      else await writeFileAtomic(this.file(rec.entry.fingerprint), text, { durable: 'later' });
    } catch (err) {
      throw writeProblem(err, 'the run-cache', this.dir);
    }
  }

  async remove(fp: Fingerprint): Promise<void> {
    await fsp.rm(this.file(fp), { force: true });
  }

  async list(): Promise<RunRecord[]> {
    const out: RunRecord[] = [];
    for (const shard of await fsp.readdir(this.dir).catch(() => [] as string[])) {
      for (const f of await fsp.readdir(path.join(this.dir, shard)).catch(() => [] as string[])) {
        if (!f.endsWith('.json')) continue;
        try {
          out.push(JSON.parse(await fsp.readFile(path.join(this.dir, shard, f), 'utf8')) as RunRecord);
        } catch {
          // A torn entry cannot exist (atomic writes); an unreadable one is skipped.
        }
      }
    }
    return out;
  }
}
