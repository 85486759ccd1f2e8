/**
 * `conno gc`: delete objects that neither conno.lock nor a kept run-cache entry references.
 * By default every run-cache entry is kept (returning to old parameters stays free); with
 * `--keep-runs lock` only the runs recorded in conno.lock survive.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Project } from './project.js';
import type { LockEntry } from '../store/lockfile.js';
import { isTreeHash, type ObjectHash } from '../hash/types.js';
import { removePath } from '../util/fsx.js';

export interface GcResult {
  objects: number;
  bytes: number;
  runs: number;
  kept: number;
}

export async function collectGarbage(project: Project, opts: { dryRun: boolean; keepRuns: 'all' | 'lock' }): Promise<GcResult> {
  const live = new Set<string>();
  const lockFps = new Set<string>();
  const addEntry = async (e: LockEntry) => {
    for (const info of [...Object.values(e.outs ?? {}), ...Object.values(e.deps ?? {})]) {
      live.add(info.hash);
      if (isTreeHash(info.hash as ObjectHash)) {
        try {
          for (const f of (await project.store.readManifest(info.hash as ObjectHash)).files) live.add(f.hash);
        } catch {
          // Manifest not in this cache: nothing below it to keep.
        }
      }
    }
  };
  for (const e of Object.values(project.lock.stages)) {
    lockFps.add(e.fingerprint);
    await addEntry(e);
  }
  let runs = 0;
  for (const rec of await project.runs.list()) {
    if (opts.keepRuns === 'all' || lockFps.has(rec.entry.fingerprint)) await addEntry(rec.entry);
    else {
      runs++;
      if (!opts.dryRun) await project.runs.remove(rec.entry.fingerprint);
    }
  }
  let objects = 0;
  let bytes = 0;
  let kept = 0;
  for (const h of await project.store.list()) {
    if (live.has(h)) {
      kept++;
      continue;
    }
    objects++;
    bytes += (await fsp.stat(project.store.objectPath(h)).catch(() => ({ size: 0 }))).size;
    if (!opts.dryRun) await project.store.remove(h);
  }
  // Leftovers of killed runs (temp files never become objects).
  if (!opts.dryRun) {
    for (const f of await fsp.readdir(project.store.tmpDir).catch(() => [] as string[])) await removePath(path.join(project.store.tmpDir, f));
  }
  return { objects, bytes, runs, kept };
}
