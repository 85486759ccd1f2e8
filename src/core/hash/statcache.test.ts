import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

// Count real reads: StatCache must not call hashFile for a hit.
vi.mock('./xxhash.js', async (importOriginal) => {
  const orig = await importOriginal<typeof import('./xxhash.js')>();
  return { ...orig, hashFile: vi.fn(orig.hashFile) };
});

const { hashFile } = await import('./xxhash.js');
const { StatCache } = await import('./statcache.js');
const reads = vi.mocked(hashFile);

// Published XXH64 (seed 0) of these contents.
const H_ABC = '44bc2cf5ad770999'; // "abc"
const H_A = 'd24ec4f1a98c6e5b'; // "a"
const H_XYZ = 'feba48465b833ca1'; // "xyz" (reference C implementation)
const H_ZZZ = '6d85d478e2fa354b'; // "zzz" (reference C implementation)

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'conno-statcache-'));
  reads.mockClear();
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Seconds since the epoch, `ago` seconds in the past: well outside the 2 s racy window. */
const past = (ago = 3600) => Date.now() / 1000 - ago;

function writeOld(rel: string, content: string, ago = 3600): string {
  const file = path.join(dir, rel);
  writeFileSync(file, content);
  utimesSync(file, past(ago), past(ago));
  return file;
}

/** The saved rows (`[path, dev, ino, size, mtimeNs, hash]`) by path. */
const savedEntries = (cacheFile: string): Record<string, { hash: string; size: number }> => {
  const saved = JSON.parse(readFileSync(cacheFile, 'utf8')) as { format: number; entries: [string, string, string, number, string, string][] };
  expect(saved.format).toBe(2);
  return Object.fromEntries(saved.entries.map(([p, , , size, , hash]) => [p, { hash, size }]));
};

describe('StatCache', () => {
  it('a second hash of an unchanged file is a hit and does not read it', async () => {
    const file = writeOld('a.txt', 'abc');
    const cache = await StatCache.open(undefined);
    expect(await cache.hashFile(file)).toEqual({ hash: H_ABC, size: 3 });
    expect([cache.hits, cache.misses, reads.mock.calls.length]).toEqual([0, 1, 1]);
    expect(await cache.hashFile(file)).toEqual({ hash: H_ABC, size: 3 });
    expect([cache.hits, cache.misses, reads.mock.calls.length]).toEqual([1, 1, 1]);
    // A relative spelling of the same path is the same entry.
    const rel = path.relative(process.cwd(), file);
    expect(await cache.hashFile(rel)).toEqual({ hash: H_ABC, size: 3 });
    expect([cache.hits, cache.misses]).toEqual([2, 1]);
  });

  it('a file changed in place (same size, new mtime) is re-hashed', async () => {
    const file = writeOld('a.txt', 'abc', 7200);
    const cache = await StatCache.open(undefined);
    expect((await cache.hashFile(file)).hash).toBe(H_ABC);
    writeFileSync(file, 'xyz');
    utimesSync(file, past(3600), past(3600));
    const again = await cache.hashFile(file);
    expect(again).toEqual({ hash: H_XYZ, size: 3 });
    expect([cache.hits, cache.misses, reads.mock.calls.length]).toEqual([0, 2, 2]);
    // ...and the new hash is what is remembered.
    expect(await cache.hashFile(file)).toEqual(again);
    expect(cache.hits).toBe(1);
  });

  it('a file replaced by another with the same size and mtime (new inode) is re-hashed', async () => {
    // Whole seconds, so utimes sets exactly the same mtime on both files.
    const mtime = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000);
    const file = path.join(dir, 'a.txt');
    writeFileSync(file, 'abc');
    utimesSync(file, mtime, mtime);
    const cache = await StatCache.open(undefined);
    expect((await cache.hashFile(file)).hash).toBe(H_ABC);
    const other = path.join(dir, 'b.txt');
    writeFileSync(other, 'zzz');
    utimesSync(other, mtime, mtime);
    const before = statSync(file, { bigint: true });
    renameSync(other, file);
    const after = statSync(file, { bigint: true });
    expect(after.mtimeNs).toBe(before.mtimeNs);
    expect(after.size).toBe(before.size);
    expect(after.ino).not.toBe(before.ino);
    expect(await cache.hashFile(file)).toEqual({ hash: H_ZZZ, size: 3 });
    expect(cache.misses).toBe(2);
  });

  it('a size change is a miss even when the mtime is restored', async () => {
    const file = writeOld('a.txt', 'abc');
    const cache = await StatCache.open(undefined);
    await cache.hashFile(file);
    const { atime, mtime } = statSync(file);
    writeFileSync(file, 'a');
    utimesSync(file, atime, mtime);
    expect(await cache.hashFile(file)).toEqual({ hash: H_A, size: 1 });
    expect(cache.misses).toBe(2);
  });

  it('saves entries and a reopened cache hits without reading', async () => {
    const cacheFile = path.join(dir, 'cache', 'stat.json');
    const a = writeOld('a.txt', 'abc');
    const b = writeOld('b.txt', 'a');
    const first = await StatCache.open(cacheFile);
    await first.hashFile(a);
    await first.hashFile(b);
    await first.save();
    expect(Object.keys(savedEntries(cacheFile)).sort()).toEqual([a, b].sort());
    expect(savedEntries(cacheFile)[a]).toMatchObject({ hash: H_ABC, size: 3 });

    reads.mockClear();
    const second = await StatCache.open(cacheFile);
    expect(await second.hashFile(a)).toEqual({ hash: H_ABC, size: 3 });
    expect(await second.hashFile(b)).toEqual({ hash: H_A, size: 1 });
    expect([second.hits, second.misses, reads.mock.calls.length]).toEqual([2, 0, 0]);
  });

  it('entries of files modified within the racy window are used in-process but not saved; old ones are', async () => {
    const cacheFile = path.join(dir, 'stat.json');
    const old = writeOld('old.txt', 'abc');
    const fresh = path.join(dir, 'fresh.txt');
    writeFileSync(fresh, 'a'); // mtime: now
    const cache = await StatCache.open(cacheFile);
    await cache.hashFile(old);
    await cache.hashFile(fresh);
    // Within this process the racy entry is still a hit.
    await cache.hashFile(fresh);
    expect([cache.hits, cache.misses]).toEqual([1, 2]);
    await cache.save();
    expect(Object.keys(savedEntries(cacheFile))).toEqual([old]);

    const reopened = await StatCache.open(cacheFile);
    await reopened.hashFile(old);
    await reopened.hashFile(fresh);
    expect([reopened.hits, reopened.misses]).toEqual([1, 1]);
  });

  it('a racy file that becomes old is saved once it is hashed again after its mtime moved back', async () => {
    const cacheFile = path.join(dir, 'stat.json');
    const file = path.join(dir, 'f.txt');
    writeFileSync(file, 'abc');
    const cache = await StatCache.open(cacheFile);
    await cache.hashFile(file);
    utimesSync(file, past(), past());
    await cache.hashFile(file); // new mtime: a miss, no longer racy
    await cache.save();
    expect(Object.keys(savedEntries(cacheFile))).toEqual([file]);
  });

  it('files under a transient folder are hashed (and hit) in-process but never saved', async () => {
    const cacheFile = path.join(dir, 'stat.json');
    const kept = writeOld('kept.txt', 'abc');
    mkdirSync(path.join(dir, 'scratch', 'deep'), { recursive: true });
    const scratch = writeOld('scratch/deep/s.txt', 'a');
    // A sibling whose name only starts like the transient folder is not under it.
    const sibling = writeOld('scratch2.txt', 'abc');
    const cache = await StatCache.open(cacheFile, [path.join(dir, 'scratch')]);
    for (const f of [kept, scratch, sibling, scratch]) await cache.hashFile(f);
    expect([cache.hits, cache.misses]).toEqual([1, 3]);
    await cache.save();
    expect(Object.keys(savedEntries(cacheFile)).sort()).toEqual([kept, sibling].sort());
  });

  it('forget() drops an entry: the next hash reads the file', async () => {
    const cacheFile = path.join(dir, 'stat.json');
    const file = writeOld('a.txt', 'abc');
    const cache = await StatCache.open(cacheFile);
    await cache.hashFile(file);
    await cache.save();
    cache.forget(file);
    await cache.hashFile(file);
    expect([cache.hits, cache.misses]).toEqual([0, 2]);
    cache.forget(file);
    await cache.save();
    expect(savedEntries(cacheFile)).toEqual({});
  });

  it('save() writes nothing when nothing changed, and nothing for a memory-only cache', async () => {
    const cacheFile = path.join(dir, 'stat.json');
    const cache = await StatCache.open(cacheFile);
    await cache.save();
    expect(existsSync(cacheFile)).toBe(false);

    const mem = await StatCache.open(undefined);
    await mem.hashFile(writeOld('a.txt', 'abc'));
    await mem.save();
    expect(existsSync(cacheFile)).toBe(false);
  });

  it.each([
    ['unreadable JSON', (rows: unknown[]) => JSON.stringify({ format: 2, entries: rows }).slice(0, -1)],
    ['another format', (rows: unknown[]) => JSON.stringify({ format: 99, entries: rows })],
    ['no format', (rows: unknown[]) => JSON.stringify({ entries: rows })],
    ['format 1 (keyed objects)', (rows: unknown[]) => JSON.stringify({ format: 1, entries: Object.fromEntries(rows.map((r) => { const [p, dev, ino, size, mtimeNs, hash] = r as unknown[]; return [p, { dev, ino, size, mtimeNs, hash }]; })) })],
    ['a malformed row', (rows: unknown[]) => JSON.stringify({ format: 2, entries: rows.map((r) => [...(r as unknown[]).slice(0, 3), '3', ...(r as unknown[]).slice(4)]) })],
  ])('a cache file with %s starts empty', async (_what, text) => {
    const cacheFile = path.join(dir, 'stat.json');
    const file = writeOld('a.txt', 'abc');
    const st = statSync(file, { bigint: true });
    // An entry that would be a hit (with a wrong hash) if the file were accepted.
    const rows = [[file, String(st.dev), String(st.ino), 3, String(st.mtimeNs), H_A]];
    writeFileSync(cacheFile, text(rows));
    const cache = await StatCache.open(cacheFile);
    expect(await cache.hashFile(file)).toEqual({ hash: H_ABC, size: 3 });
    expect(cache.misses).toBe(1);
  });

  it('a stale saved entry (stat no longer matches) is not trusted', async () => {
    const cacheFile = path.join(dir, 'stat.json');
    const file = writeOld('a.txt', 'abc');
    const st = statSync(file, { bigint: true });
    writeFileSync(
      cacheFile,
      JSON.stringify({ format: 2, entries: [[file, String(st.dev), String(st.ino), 3, String(st.mtimeNs - 1n), H_A]] }),
    );
    const cache = await StatCache.open(cacheFile);
    expect((await cache.hashFile(file)).hash).toBe(H_ABC);
    expect(cache.misses).toBe(1);
  });

  it('a saved entry that matches the stat is trusted without reading', async () => {
    const cacheFile = path.join(dir, 'stat.json');
    const file = writeOld('a.txt', 'abc');
    const st = statSync(file, { bigint: true });
    // Deliberately wrong hash: proves the file was not read.
    writeFileSync(
      cacheFile,
      JSON.stringify({ format: 2, entries: [[file, String(st.dev), String(st.ino), 3, String(st.mtimeNs), H_A]] }),
    );
    const cache = await StatCache.open(cacheFile);
    expect(await cache.hashFile(file)).toEqual({ hash: H_A, size: 3 });
    expect(reads).not.toHaveBeenCalled();
  });
});
