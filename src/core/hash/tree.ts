/**
 * Content hashes of workspace paths. A file's hash is xxh64 of its bytes; a folder's hash is
 * xxh64 of its manifest (sorted relative paths with each file's hash, size and executable bit),
 * suffixed `.dir`. The store names folder objects the same way, so a workspace folder and its
 * cached copy compare by hash alone.
 */
import { promises as fsp, statSync, type BigIntStats } from 'node:fs';
import path from 'node:path';
import { hashString } from './xxhash.js';
import { asObjectHash, type ObjectHash } from './types.js';
import type { StatCache } from './statcache.js';
import { toPosix } from '../util/fsx.js';

export interface ManifestEntry {
  path: string;
  hash: ObjectHash;
  size: number;
  /** Present (true) only for executable files, so that scripts restored from the cache still run. */
  exec?: true;
}

export interface Manifest {
  format: 1;
  files: ManifestEntry[];
}

export interface PathHash {
  hash: ObjectHash;
  size: number;
  /** Number of files, for folders. */
  nfiles?: number;
}

export function manifestText(files: ManifestEntry[]): string {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const canonical = sorted.map((f) => (f.exec ? { path: f.path, hash: f.hash, size: f.size, exec: true } : { path: f.path, hash: f.hash, size: f.size }));
  return JSON.stringify({ format: 1, files: canonical });
}

export async function manifestHash(text: string): Promise<ObjectHash> {
  return asObjectHash(`${await hashString(text)}.dir`);
}

/** Every regular file under `dir`, as posix paths relative to it, sorted. Symlinks are followed
 * for files and refused for folders (a loop would never end). */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string): Promise<void> {
    const entries = await fsp.readdir(path.join(dir, rel), { withFileTypes: true });
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(r);
      else if (e.isFile()) out.push(r);
      else if (e.isSymbolicLink()) {
        const st = await fsp.stat(path.join(dir, r)).catch(() => undefined);
        if (st?.isFile()) out.push(r);
      }
    }
  }
  await walk('');
  return out.sort();
}

export type HashedPath = (PathHash & { manifest?: ManifestEntry[] }) | undefined;

/** Paths already looked at in one read-only pass: each answer, or the promise of it. */
export type PathMemo = Map<string, HashedPath | Promise<HashedPath>>;

/**
 * hashPath through `memo`, so that a path is looked at once per command (for read-only passes
 * such as `status`, where one file is often both an output and several stages' input). A file
 * whose stat the stat cache knows is answered at once, without a promise: a no-op `status`
 * asks for thousands.
 */
export function hashPathMemo(abs: string, stats: StatCache, memo: PathMemo): HashedPath | Promise<HashedPath> {
  if (memo.has(abs)) return memo.get(abs);
  const answer = hashStatted(abs, statOf(abs), stats);
  memo.set(abs, answer);
  return answer;
}

/** Hash a workspace file or folder; undefined when it does not exist. */
export async function hashPath(abs: string, stats: StatCache): Promise<HashedPath> {
  return hashStatted(abs, statOf(abs), stats);
}

function statOf(abs: string): BigIntStats | undefined {
  try {
    return statSync(abs, { bigint: true });
  } catch {
    return undefined;
  }
}

/** `//`, or a `.` or `..` segment, or a trailing `/`: what path.resolve changes in an absolute posix path. */
const NOT_NORMAL = /\/\.{0,2}(?:\/|$)/;

/**
 * path.resolve(p), without its work for a path that is already absolute and normalised (posix):
 * that is every path a pipeline names, and a no-op `status` resolves thousands.
 */
export function resolvedPath(p: string): string {
  return path.sep === '/' && p.charCodeAt(0) === 47 /* '/' */ && !NOT_NORMAL.test(p) ? p : path.resolve(p);
}

/** A path's hash from its stat: at once when the stat cache knows the file, else a promise of it. */
function hashStatted(abs: string, st: BigIntStats | undefined, stats: StatCache): HashedPath | Promise<HashedPath> {
  if (st?.isFile()) {
    const known = stats.known(resolvedPath(abs), st); // the stat cache's key, as hashFile makes it
    if (known) return { hash: asObjectHash(known.hash), size: known.size };
    return stats.hashFile(abs, st).then(({ hash, size }) => ({ hash: asObjectHash(hash), size }));
  }
  if (st?.isDirectory()) return hashFolder(abs, stats);
  return undefined;
}

async function hashFolder(abs: string, stats: StatCache): Promise<HashedPath> {
  const files: ManifestEntry[] = [];
  let size = 0;
  for (const rel of await listFiles(abs)) {
    const full = path.join(abs, rel);
    const fst = statSync(full, { bigint: true });
    const h = await stats.hashFile(full, fst);
    const entry: ManifestEntry = { path: toPosix(rel), hash: asObjectHash(h.hash), size: h.size };
    if (Number(fst.mode) & 0o100) entry.exec = true;
    files.push(entry);
    size += h.size;
  }
  return { hash: await manifestHash(manifestText(files)), size, nfiles: files.length, manifest: files };
}
