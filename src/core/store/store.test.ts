/**
 * Contract suite for the object store. Everything backend-specific (how an object is damaged,
 * where temp files live, what "a new process" means) goes through a StoreFixture, so that a
 * future remote store can run the same suite by adding a fixture to FIXTURES.
 *
 * Expected hashes were computed independently with the reference C xxHash (python `xxhash`).
 */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
  closeSync,
  readSync,
  symlinkSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CorruptObjectError, ObjectStore } from './store.js';
import { hashPath } from '../hash/tree.js';
import { StatCache } from '../hash/statcache.js';
import { hashBytes } from '../hash/xxhash.js';
import { asObjectHash, type ObjectHash } from '../hash/types.js';
import { SYNC_BYTES } from '../util/fsx-sync.js';

/** The operations a store must offer (what the engine uses). */
type Store = Pick<ObjectStore, 'putFile' | 'putBytes' | 'putTree' | 'putPath' | 'has' | 'verify' | 'checkout' | 'list' | 'objectPath' | 'remove' | 'readManifest'>;

interface StoreFixture {
  name: string;
  /** A store whose backing storage lives under `root` (a fresh temp dir). */
  open(root: string): Store;
  /** Flip one byte of a stored object in place, keeping its size. */
  flip(store: Store, hash: ObjectHash): void;
  /** Cut a stored object short. */
  truncate(store: Store, hash: ObjectHash): void;
  /** Temp files the store left behind. */
  leftovers(store: Store): string[];
  /** Whether objects are stored read-only (mode 0444). */
  readOnlyObjects: boolean;
}

const localFixture: StoreFixture = {
  name: 'local ObjectStore',
  open: (root) => new ObjectStore(path.join(root, 'cache')),
  flip(store, hash) {
    const file = store.objectPath(hash);
    chmodSync(file, 0o644);
    const size = statSync(file).size;
    const at = Math.floor(size / 2);
    const fd = openSync(file, 'r+');
    try {
      const b = Buffer.alloc(1);
      readSync(fd, b, 0, 1, at);
      b[0] = b[0]! ^ 0x01;
      writeSync(fd, b, 0, 1, at);
    } finally {
      closeSync(fd);
    }
    chmodSync(file, 0o444);
    expect(statSync(file).size).toBe(size);
  },
  truncate(store, hash) {
    const file = store.objectPath(hash);
    chmodSync(file, 0o644);
    truncateSync(file, Math.floor(statSync(file).size / 2));
    chmodSync(file, 0o444);
  },
  leftovers(store) {
    const tmp = (store as ObjectStore).tmpDir;
    return existsSync(tmp) ? readdirSync(tmp) : [];
  },
  readOnlyObjects: true,
};

const FIXTURES: StoreFixture[] = [localFixture];

// Independently computed XXH64 values.
const HELLO = 'hello conno\n';
const H_HELLO = asObjectHash('473f8267deaf502e');
const OTHER = 'other bytes';
const H_OTHER = asObjectHash('b8dac98ae434126b');
const SCRIPT = '#!/bin/sh\necho hi\n';
const H_SCRIPT = asObjectHash('4a894812acfb51f0');
/** xxh64 of {"format":1,"files":[a.txt, bin/run.sh (exec), sub/b.txt]} + `.dir`. */
const H_TREE = asObjectHash('10d9ac0e539d3290.dir');
const H_EMPTY_TREE = asObjectHash('01c8b15b88169fdd.dir');

const modeOf = (p: string) => statSync(p).mode & 0o777;

/** Every file under `dir` with its content and mode, for "left untouched" checks. */
function snapshot(dir: string): Record<string, { content: string; mode: number }> {
  const out: Record<string, { content: string; mode: number }> = {};
  const walk = (rel: string) => {
    for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else out[r] = { content: readFileSync(path.join(dir, r), 'utf8'), mode: modeOf(path.join(dir, r)) };
    }
  };
  walk('');
  return out;
}

describe.each(FIXTURES)('object store contract: $name', (fx) => {
  let root: string;
  let store: Store;
  /** A second store over the same storage: what the next conno process sees. */
  let reopen: () => Store;
  let stats: StatCache;

  const ws = (rel = '') => path.join(root, 'ws', ...rel.split('/').filter(Boolean));
  const write = (rel: string, content: string | Uint8Array, mode = 0o644) => {
    const p = ws(rel);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, content);
    chmodSync(p, mode);
    return p;
  };
  /** ws/tree: a.txt, bin/run.sh (executable), sub/b.txt. */
  const makeTree = () => {
    write('tree/a.txt', HELLO);
    write('tree/bin/run.sh', SCRIPT, 0o755);
    write('tree/sub/b.txt', OTHER, 0o600);
    return ws('tree');
  };

  beforeEach(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'conno-store-'));
    store = fx.open(root);
    reopen = () => fx.open(root);
    stats = await StatCache.open(undefined);
  });
  afterEach(() => {
    // Objects and their shard folders may be read-only: make everything removable first.
    const walk = (p: string) => {
      const st = statSync(p, { throwIfNoEntry: false });
      if (!st) return;
      if (st.isDirectory()) {
        chmodSync(p, 0o755);
        for (const e of readdirSync(p)) walk(path.join(p, e));
      } else chmodSync(p, 0o644);
    };
    walk(root);
    rmSync(root, { recursive: true, force: true });
  });

  describe('put / has / naming', () => {
    it('names an object by the xxh64 of its bytes, sharded by the first two hex digits', async () => {
      const put = await store.putBytes(HELLO);
      expect(put).toEqual({ hash: H_HELLO, size: 12 });
      expect(put.hash).toMatch(/^[0-9a-f]{16}$/);
      expect(put.hash).toBe(await hashBytes(Buffer.from(HELLO)));
      const p = store.objectPath(put.hash);
      expect(path.basename(path.dirname(p))).toBe('47');
      expect(path.basename(p)).toBe('3f8267deaf502e');
      expect(readFileSync(p, 'utf8')).toBe(HELLO);
      expect(await store.has(H_HELLO)).toBe(true);
      expect(await store.has(H_OTHER)).toBe(false);
    });

    it('putFile stores a copy under the same name as putBytes of its bytes', async () => {
      const src = write('f.txt', OTHER);
      expect(await store.putFile(src)).toEqual({ hash: H_OTHER, size: 11 });
      expect(readFileSync(store.objectPath(H_OTHER), 'utf8')).toBe(OTHER);
      // A copy, not a link: changing the source does not change the object.
      writeFileSync(src, 'changed');
      expect(readFileSync(store.objectPath(H_OTHER), 'utf8')).toBe(OTHER);
      expect(await reopen().verify(H_OTHER)).toBe(true);
    });

    it('putFile of a multi-chunk file hashes the whole of it', async () => {
      const big = Buffer.alloc(2.5 * (1 << 20));
      for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 11)) & 0xff;
      const src = write('big.bin', big);
      const put = await store.putFile(src);
      expect(put).toEqual({ hash: await hashBytes(big), size: big.length });
      expect(readFileSync(store.objectPath(put.hash)).equals(big)).toBe(true);
    });

    it('putFile stores small files from memory and large ones streamed, the same bytes either way, with or without a known size', async () => {
      // Up to SYNC_BYTES without the thread pool (fsx-sync.ts), up to 1 MiB from memory, past it streamed.
      for (const size of [1, SYNC_BYTES, SYNC_BYTES + 1, (1 << 20) - 1, 1 << 20, (1 << 20) + 1]) {
        const bytes = Buffer.alloc(size);
        for (let i = 0; i < size; i++) bytes[i] = (i * 13 + size) & 0xff;
        const src = write(`f${size}.bin`, bytes);
        const want = { hash: await hashBytes(bytes), size };
        expect(await store.putFile(src)).toEqual(want);
        expect(await store.putPath(src, statSync(src))).toEqual(want);
        expect(readFileSync(store.objectPath(want.hash)).equals(bytes)).toBe(true);
      }
    });

    it('the empty file is an object too', async () => {
      expect(await store.putFile(write('empty', ''))).toEqual({ hash: 'ef46db3751d8e999', size: 0 });
      expect(await store.has(asObjectHash('ef46db3751d8e999'))).toBe(true);
    });

    it.runIf(fx.readOnlyObjects)('objects are read-only (0444)', async () => {
      await store.putBytes(HELLO);
      await store.putTree(makeTree());
      for (const h of await store.list()) expect(modeOf(store.objectPath(h)), h).toBe(0o444);
    });

    it('putting the same bytes twice is idempotent (the first object is kept)', async () => {
      await store.putBytes(HELLO);
      const p = store.objectPath(H_HELLO);
      const before = statSync(p, { bigint: true });
      expect(await store.putBytes(HELLO)).toEqual({ hash: H_HELLO, size: 12 });
      expect(await store.putFile(write('same.txt', HELLO))).toEqual({ hash: H_HELLO, size: 12 });
      expect(await reopen().putBytes(new Uint8Array(Buffer.from(HELLO)))).toEqual({ hash: H_HELLO, size: 12 });
      const after = statSync(p, { bigint: true });
      expect([after.ino, after.mtimeNs]).toEqual([before.ino, before.mtimeNs]);
      expect(await store.list()).toEqual([H_HELLO]);
    });

    it('concurrent puts of the same bytes leave one intact object', async () => {
      const res = await Promise.all(Array.from({ length: 8 }, () => store.putBytes(HELLO)));
      expect(new Set(res.map((r) => r.hash))).toEqual(new Set([H_HELLO]));
      expect(await store.list()).toEqual([H_HELLO]);
      expect(await reopen().verify(H_HELLO)).toBe(true);
      expect(fx.leftovers(store)).toEqual([]);
    });

    it('no temp files remain after puts, nor after a failed put', async () => {
      await store.putBytes(HELLO);
      await store.putFile(write('x', OTHER));
      await store.putTree(makeTree());
      await store.putPath(ws('tree'));
      expect(fx.leftovers(store)).toEqual([]);
      await expect(store.putFile(ws('does-not-exist'))).rejects.toMatchObject({ code: 'ENOENT' });
      expect(fx.leftovers(store)).toEqual([]);
    });

    it('list() returns every object, sorted', async () => {
      expect(await store.list()).toEqual([]);
      await store.putBytes(HELLO);
      await store.putTree(makeTree());
      await store.putBytes('#!/bin/sh\necho hi\n');
      expect(await store.list()).toEqual([H_TREE, H_SCRIPT, H_HELLO, H_OTHER].sort());
      expect(await reopen().list()).toEqual([H_TREE, H_SCRIPT, H_HELLO, H_OTHER].sort());
    });

    it('remove() deletes an object', async () => {
      await store.putBytes(HELLO);
      await store.remove(H_HELLO);
      expect(await store.has(H_HELLO)).toBe(false);
      expect(await store.verify(H_HELLO)).toBe(false);
      expect(await store.list()).toEqual([]);
    });
  });

  describe('folders', () => {
    it('putTree gives the same .dir hash as hashPath() of the workspace folder', async () => {
      const dir = makeTree();
      const put = await store.putTree(dir);
      const h = await hashPath(dir, stats);
      expect(put.hash).toBe(H_TREE);
      expect(h?.hash).toBe(H_TREE);
      expect(put.size).toBe(12 + 18 + 11);
      expect(put.nfiles).toBe(3);
      expect(h?.nfiles).toBe(3);
      expect(put.manifest).toEqual([
        { path: 'a.txt', hash: H_HELLO, size: 12 },
        { path: 'bin/run.sh', hash: H_SCRIPT, size: 18, exec: true },
        { path: 'sub/b.txt', hash: H_OTHER, size: 11 },
      ]);
      expect(await store.readManifest(H_TREE)).toEqual({ format: 1, files: put.manifest });
      for (const f of [H_TREE, H_HELLO, H_SCRIPT, H_OTHER]) expect(await store.has(f), f).toBe(true);
      expect(await store.putPath(dir)).toEqual({ hash: H_TREE, size: 41, nfiles: 3 });
    });

    it('a symlinked file is stored as its target bytes, as hashPath sees it', async () => {
      const dir = makeTree();
      symlinkSync(path.join(dir, 'a.txt'), path.join(dir, 'link.txt'));
      const put = await store.putTree(dir);
      expect(put.nfiles).toBe(4);
      expect(put.manifest.find((f) => f.path === 'link.txt')).toEqual({ path: 'link.txt', hash: H_HELLO, size: 12 });
      expect((await hashPath(dir, stats))?.hash).toBe(put.hash);
    });

    it('the executable bit is part of the hash and survives checkout', async () => {
      const dir = makeTree();
      const withExec = await store.putTree(dir);
      chmodSync(path.join(dir, 'bin/run.sh'), 0o644);
      const without = await store.putTree(dir);
      expect(without.hash).not.toBe(withExec.hash);
      expect((await hashPath(dir, await StatCache.open(undefined)))?.hash).toBe(without.hash);

      const dest = ws('restored');
      await store.checkout(withExec.hash, dest);
      expect(modeOf(path.join(dest, 'bin/run.sh'))).toBe(0o755);
      expect(modeOf(path.join(dest, 'a.txt'))).toBe(0o644);
      expect(modeOf(path.join(dest, 'sub/b.txt'))).toBe(0o644);
      const back = await hashPath(dest, await StatCache.open(undefined));
      expect(back).toMatchObject({ hash: H_TREE, size: 41, nfiles: 3 });
    });

    it('an empty folder round-trips', async () => {
      mkdirSync(ws('empty'), { recursive: true });
      const put = await store.putTree(ws('empty'));
      expect(put).toMatchObject({ hash: H_EMPTY_TREE, size: 0, nfiles: 0 });
      expect((await hashPath(ws('empty'), stats))?.hash).toBe(H_EMPTY_TREE);
      await store.checkout(put.hash, ws('out/empty'));
      expect(readdirSync(ws('out/empty'))).toEqual([]);
    });
  });

  describe('checkout', () => {
    it('a file: replaces an existing file (even a read-only one) with a writable copy', async () => {
      await store.putBytes(HELLO);
      const dest = write('out/x.txt', 'old content', 0o444);
      await store.checkout(H_HELLO, dest);
      expect(readFileSync(dest, 'utf8')).toBe(HELLO);
      expect(modeOf(dest)).toBe(0o644);
      // A copy: editing the checkout leaves the object intact.
      writeFileSync(dest, 'edited');
      expect(await reopen().verify(H_HELLO)).toBe(true);
      expect(readdirSync(ws('out'))).toEqual(['x.txt']);
    });

    it('a file: replaces an existing folder, and creates missing parents', async () => {
      await store.putBytes(HELLO);
      write('out/x/inner.txt', 'was a folder');
      await store.checkout(H_HELLO, ws('out/x'));
      expect(readFileSync(ws('out/x'), 'utf8')).toBe(HELLO);
      await store.checkout(H_HELLO, ws('new/deep/y.txt'));
      expect(readFileSync(ws('new/deep/y.txt'), 'utf8')).toBe(HELLO);
    });

    it('a folder: replaces an existing folder completely (stale files go) and an existing file', async () => {
      const { hash } = await store.putTree(makeTree());
      write('out/d/stale.txt', 'stale');
      write('out/d/a.txt', 'old a');
      await store.checkout(hash, ws('out/d'));
      expect(snapshot(ws('out/d'))).toEqual({
        'a.txt': { content: HELLO, mode: 0o644 },
        'bin/run.sh': { content: SCRIPT, mode: 0o755 },
        'sub/b.txt': { content: OTHER, mode: 0o644 },
      });
      write('out/f', 'a file');
      await store.checkout(hash, ws('out/f'));
      expect(Object.keys(snapshot(ws('out/f'))).sort()).toEqual(['a.txt', 'bin/run.sh', 'sub/b.txt']);
      expect(readdirSync(ws('out')).sort()).toEqual(['d', 'f']);
    });

    it('a missing object is refused and the destination is left untouched', async () => {
      const dest = write('out/x.txt', 'keep me');
      await expect(store.checkout(H_HELLO, dest)).rejects.toThrow();
      await expect(store.checkout(H_TREE, ws('out'))).rejects.toThrow(CorruptObjectError);
      expect(snapshot(ws('out'))).toEqual({ 'x.txt': { content: 'keep me', mode: 0o644 } });
    });
  });

  describe('corruption', () => {
    const damage = (how: 'flip' | 'truncate', hash: ObjectHash) => (how === 'flip' ? fx.flip(store, hash) : fx.truncate(store, hash));

    describe.each(['flip', 'truncate'] as const)('%s', (how) => {
      it('verify() detects a damaged file object and removes it', async () => {
        await store.putBytes(HELLO);
        await store.putBytes(OTHER);
        damage(how, H_HELLO);
        const next = reopen();
        expect(await next.verify(H_OTHER)).toBe(true);
        expect(await next.verify(H_HELLO)).toBe(false);
        expect(await next.has(H_HELLO)).toBe(false);
        expect(await next.list()).toEqual([H_OTHER]);
        // Putting the bytes again repairs it.
        await next.putBytes(HELLO);
        expect(await reopen().verify(H_HELLO)).toBe(true);
      });

      it('verify() through a stat cache detects it too', async () => {
        await store.putBytes(HELLO);
        const s = await StatCache.open(undefined);
        expect(await reopen().verify(H_HELLO, s)).toBe(true);
        damage(how, H_HELLO);
        expect(await reopen().verify(H_HELLO, s)).toBe(false);
        expect(await store.has(H_HELLO)).toBe(false);
      });

      it('checkout() of a damaged file object throws CorruptObjectError, removes it, leaves dest untouched', async () => {
        await store.putBytes(HELLO);
        damage(how, H_HELLO);
        const dest = write('out/x.txt', 'keep me');
        // The same store instance that wrote the object: checkout re-hashes what it copies.
        const err = await store.checkout(H_HELLO, dest).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(CorruptObjectError);
        expect((err as CorruptObjectError).hash).toBe(H_HELLO);
        expect((err as Error).message).toContain(H_HELLO);
        expect(await store.has(H_HELLO)).toBe(false);
        expect(snapshot(ws('out'))).toEqual({ 'x.txt': { content: 'keep me', mode: 0o644 } });
      });

      it('a damaged file inside a folder: verify() is false, checkout() throws and leaves dest untouched', async () => {
        const { hash } = await store.putTree(makeTree());
        damage(how, H_OTHER);
        expect(await reopen().verify(hash)).toBe(false);
        expect(await store.has(H_OTHER)).toBe(false);
        expect(await store.has(hash)).toBe(true); // The manifest itself is fine.

        // Put the damaged member back, damage it again, and check out through a fresh store.
        await reopen().putFile(ws('tree/sub/b.txt'));
        damage(how, H_OTHER);
        write('out/d/old.txt', 'keep me');
        await expect(reopen().checkout(hash, ws('out/d'))).rejects.toThrow(CorruptObjectError);
        expect(snapshot(ws('out'))).toEqual({ 'd/old.txt': { content: 'keep me', mode: 0o644 } });
        expect(readdirSync(ws('out'))).toEqual(['d']); // No staging folder left behind.
        expect(await store.has(H_OTHER)).toBe(false);
      });

      it('a damaged manifest: verify() is false, checkout() throws CorruptObjectError, dest untouched', async () => {
        const { hash } = await store.putTree(makeTree());
        damage(how, hash);
        write('out/d/old.txt', 'keep me');
        expect(await reopen().verify(hash)).toBe(false);
        expect(await store.has(hash)).toBe(false);
        await expect(reopen().checkout(hash, ws('out/d'))).rejects.toThrow(CorruptObjectError);
        expect(snapshot(ws('out'))).toEqual({ 'd/old.txt': { content: 'keep me', mode: 0o644 } });
      });
    });

    it('after a checkout found a folder member corrupt, the same store no longer vouches for the folder', async () => {
      const { hash } = await store.putTree(makeTree());
      fx.flip(store, H_OTHER);
      await expect(store.checkout(hash, ws('out/d'))).rejects.toThrow(CorruptObjectError);
      expect(await store.has(H_OTHER)).toBe(false);
      // The member is gone, so the folder cannot be complete.
      expect(await store.verify(hash)).toBe(false);
    });
  });
});
