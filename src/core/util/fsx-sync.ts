/**
 * Synchronous forms of fsx.ts's helpers, for the small files of a build's bookkeeping: a run
 * record, a command's small output into the cache, the folders around a command's outputs.
 *
 * Each promise-based file-system call is a round trip through libuv's thread pool (40–70 µs
 * here), while the same call made synchronously takes a few microseconds for a small file. A
 * short command stage made ~15 such calls one after another between its command's exit and the
 * next stage's start: most of conno's own time per stage in a chain of a thousand. Files past a
 * few tens of KiB, and folder trees, keep the promise-based calls (fsx.ts), so that a large copy
 * never holds up the event loop.
 *
 * The guarantees are fsx.ts's: temp file + rename (a reader sees old or new bytes), durability
 * deferred to fsyncDirLater / fsyncLater where the caller says so.
 */
import { closeSync, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fsyncDirLater, removePath, tmpName } from './fsx.js';

/** Files up to this size are read and written with synchronous calls. */
export const SYNC_BYTES = 64 << 10;

const code = (err: unknown) => (err as NodeJS.ErrnoException).code;

/** A folder made if missing (fsx.ensureDir, synchronously). */
export function ensureDirSync(dir: string): void {
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) mkdirSync(dir, { recursive: true });
}

/**
 * Remove a path if present (fsx.removePath): nothing to do, or one file, synchronously; a folder,
 * or a file this process may not remove as is (a read-only cache copy), through removePath.
 */
export async function removePathQuick(p: string): Promise<void> {
  const st = lstatSync(p, { throwIfNoEntry: false });
  if (st === undefined) return;
  if (!st.isDirectory()) {
    try {
      unlinkSync(p);
      return;
    } catch (err) {
      if (code(err) === 'ENOENT') return;
      if (code(err) !== 'EACCES' && code(err) !== 'EPERM') throw err;
    }
  }
  await removePath(p);
}

/**
 * A file's bytes if it holds at most `max` bytes when opened, else undefined. Throws what
 * opening or reading throws (ENOENT for a missing file).
 */
export function readSmallSync(file: string, max = SYNC_BYTES): Buffer | undefined {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size > max) return undefined;
    const buf = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, got);
      if (n === 0) break; // it shrank meanwhile
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** A file's text, or undefined when it cannot be read (missing, a folder). */
export function readTextSync(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Write bytes to a new file that no one else names (`tmp`, created read-only with `mode`),
 * making its folder if missing; the file is removed again if the write fails.
 */
export function writeNewFileSync(tmp: string, data: string | Uint8Array, mode = 0o666): void {
  let fd: number;
  try {
    fd = openSync(tmp, 'wx', mode);
  } catch (err) {
    if (code(err) !== 'ENOENT') throw err;
    mkdirSync(path.dirname(tmp), { recursive: true });
    fd = openSync(tmp, 'wx', mode);
  }
  try {
    try {
      const bytes = typeof data === 'string' ? Buffer.from(data) : data;
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Move a written temp file to `dest`, making dest's folder if missing; the temp file is removed if that fails. */
export function renameIntoSync(tmp: string, dest: string): void {
  try {
    try {
      renameSync(tmp, dest);
    } catch (err) {
      if (code(err) !== 'ENOENT') throw err;
      mkdirSync(path.dirname(dest), { recursive: true });
      renameSync(tmp, dest);
    }
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * fsx.writeFileAtomic with `durable: 'later'`, synchronously, for a small record the cache can
 * lose (a run record): temp file in the same folder, rename, the folder's fsync deferred.
 */
export function writeFileAtomicLaterSync(file: string, data: string | Uint8Array): void {
  const tmp = tmpName(path.dirname(file), path.basename(file));
  writeNewFileSync(tmp, data);
  renameIntoSync(tmp, file);
  fsyncDirLater(path.dirname(file));
}
