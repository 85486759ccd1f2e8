/**
 * `conno push` / `conno pull`: move the cache objects and run records of stage instances between
 * the local cache and a remote, only what the other side lacks, each checked on arrival.
 */
import { promises as fsp } from 'node:fs';
import type { Project } from './project.js';
import type { LockEntry } from '../store/lockfile.js';
import { isTreeHash, isObjectHash, type Fingerprint, type ObjectHash } from '../hash/types.js';
import { checkRunRecord, objectKey, runKey, TransferError, type Remote } from '../store/remote.js';
import { pool } from '../util/promise.js';
import { ObjectMismatchError } from '../store/store.js';

export interface TransferSummary {
  objects: number;
  bytes: number;
  runs: number;
  /** Already on the receiving side. */
  present: number;
  /** Wanted but on neither side (pull: not on the remote; push: not in the local cache). */
  missing: string[];
  failed: string[];
}

const PARALLEL = 8;

/** Every object a lock entry's outputs need: each output, and for folders their files. */
async function objectsOfEntry(entry: LockEntry, manifest: (h: ObjectHash) => Promise<{ files: { hash: string }[] } | undefined>): Promise<{ all: ObjectHash[]; unreadable: ObjectHash[] }> {
  const all: ObjectHash[] = [];
  const unreadable: ObjectHash[] = [];
  for (const info of Object.values(entry.outs ?? {})) {
    const h = info.hash as ObjectHash;
    all.push(h);
    if (!isTreeHash(h)) continue;
    const m = await manifest(h);
    if (!m) unreadable.push(h);
    else for (const f of m.files) all.push(f.hash as ObjectHash);
  }
  return { all, unreadable };
}

export function emptySummary(): TransferSummary {
  return { objects: 0, bytes: 0, runs: 0, present: 0, missing: [], failed: [] };
}

/** The lock entries of the instances, plus (allRuns) every run in the local run-cache. */
async function entriesFor(project: Project, ids: string[], allRuns: boolean): Promise<LockEntry[]> {
  const out = new Map<string, LockEntry>();
  for (const id of ids) {
    const e = project.lock.stages[id];
    if (e) out.set(e.fingerprint, e);
  }
  if (allRuns) for (const rec of await project.runs.list()) out.set(rec.entry.fingerprint, rec.entry);
  return [...out.values()];
}

export async function push(project: Project, remote: Remote, ids: string[], opts: { allRuns?: boolean; onProgress?: (s: TransferSummary) => void } = {}): Promise<TransferSummary> {
  const s = emptySummary();
  const entries = await entriesFor(project, ids, opts.allRuns === true);
  const objects = new Set<ObjectHash>();
  const runs = new Set<string>();
  for (const e of entries) {
    const { all, unreadable } = await objectsOfEntry(e, async (h) => ((await project.store.has(h)) ? project.store.readManifest(h) : undefined));
    for (const h of all) objects.add(h);
    s.missing.push(...unreadable);
    if (await project.runs.get(e.fingerprint)) runs.add(e.fingerprint);
  }
  const local: ObjectHash[] = [];
  for (const h of objects) {
    if (await project.store.has(h)) local.push(h);
    else if (!s.missing.includes(h)) s.missing.push(h);
  }
  // Objects first, run records after: a remote never has a run whose outputs it lacks.
  const haveObjects = await remote.has(local.map(objectKey));
  const sendObjects = local.filter((h) => !haveObjects.has(objectKey(h)));
  s.present += local.length - sendObjects.length;
  await pool(sendObjects, PARALLEL, async (h) => {
    try {
      await remote.write(objectKey(h), project.store.objectPath(h), h);
      s.objects++;
      s.bytes += (await fsp.stat(project.store.objectPath(h))).size;
    } catch (err) {
      if (!(err instanceof TransferError)) throw err;
      s.failed.push(err.message);
    }
    opts.onProgress?.(s);
  });
  if (s.failed.length > 0) return s;
  const runList = [...runs];
  const haveRuns = await remote.has(runList.map(runKey));
  const sendRuns = runList.filter((fp) => !haveRuns.has(runKey(fp)));
  s.present += runList.length - sendRuns.length;
  await pool(sendRuns, PARALLEL, async (fp) => {
    try {
      await remote.write(runKey(fp), project.runs.file(fp as Fingerprint));
      s.runs++;
    } catch (err) {
      if (!(err instanceof TransferError)) throw err;
      s.failed.push(err.message);
    }
  });
  return s;
}

/** Fetch one object into the local store unless it is there (and intact) already. */
async function fetchObject(project: Project, remote: Remote, h: ObjectHash, s: TransferSummary): Promise<boolean> {
  if (await project.store.verify(h, project.stats)) {
    s.present++;
    return true;
  }
  const body = await remote.read(objectKey(h));
  if (!body) {
    s.missing.push(h);
    return false;
  }
  try {
    s.bytes += await project.store.importObject(h, body, remote.label);
    s.objects++;
    return true;
  } catch (err) {
    if (!(err instanceof ObjectMismatchError)) throw err;
    s.failed.push(err.message);
    return false;
  }
}

/** Fetch everything an entry's outputs need; true when all of it is now in the local store. */
export async function fetchEntry(project: Project, remote: Remote, entry: LockEntry, s: TransferSummary = emptySummary()): Promise<boolean> {
  const trees: ObjectHash[] = [];
  const flat: ObjectHash[] = [];
  for (const info of Object.values(entry.outs ?? {})) {
    const h = info.hash as ObjectHash;
    if (!isObjectHash(h)) continue;
    (isTreeHash(h) ? trees : flat).push(h);
  }
  let ok = true;
  for (const t of trees) {
    if (!(await fetchObject(project, remote, t, s))) {
      ok = false;
      continue;
    }
    for (const f of (await project.store.readManifest(t)).files) flat.push(f.hash as ObjectHash);
  }
  const results: boolean[] = [];
  await pool(flat, PARALLEL, async (h) => void results.push(await fetchObject(project, remote, h, s)));
  return ok && results.every(Boolean);
}

/** A run record from the remote (checked against its fingerprint), stored in the run-cache. */
export async function fetchRun(project: Project, remote: Remote, fingerprint: string): Promise<LockEntry | undefined> {
  const local = await project.runs.get(fingerprint as Fingerprint);
  if (local) return local.entry;
  const key = runKey(fingerprint);
  const body = await remote.read(key);
  if (!body) return undefined;
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(Buffer.from(c));
  const rec = checkRunRecord(key, Buffer.concat(chunks).toString('utf8'), remote.label);
  await project.runs.put(rec);
  return rec.entry;
}

export async function pull(project: Project, remote: Remote, ids: string[], opts: { onProgress?: (s: TransferSummary) => void } = {}): Promise<TransferSummary & { incomplete: string[] }> {
  const s = emptySummary();
  const incomplete: string[] = [];
  for (const id of ids) {
    const entry = project.lock.stages[id];
    if (!entry) continue;
    const before = s.missing.length + s.failed.length;
    const ok = await fetchEntry(project, remote, entry, s);
    try {
      if (!(await project.runs.get(entry.fingerprint)) && (await fetchRun(project, remote, entry.fingerprint))) s.runs++;
    } catch (err) {
      if (!(err instanceof TransferError)) throw err;
      s.failed.push(err.message);
    }
    if (!ok || s.missing.length + s.failed.length > before) incomplete.push(id);
    opts.onProgress?.(s);
  }
  return { ...s, incomplete };
}
