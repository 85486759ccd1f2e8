/** Node's stream modules, loaded when a file is copied (a no-op `status` never needs them). */
async function streams(): Promise<{ Transform: typeof import('node:stream').Transform; pipeline: typeof import('node:stream/promises').pipeline }> {
  const [{ Transform }, { pipeline }] = await Promise.all([import('node:stream'), import('node:stream/promises')]);
  return { Transform, pipeline };
}

/**
 * The content-addressed object store under cache/objects/.
 *
 * Every object is named by the xxh64 of its bytes (folders: of their manifest, plus `.dir`),
 * written once through a temp file + rename, read-only, and fsynced (bytes and name) before
 * conno.lock or the stat cache names it (util/fsx.ts, fsyncLater). A reader that
 * finds an object whose bytes no longer match its name (a truncated copy, a bit flip, a
 * tampered file) deletes it and treats it as missing: a corrupt object is rebuilt, never used.
 */
import { createReadStream, createWriteStream, existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { streamHasher, hashFile } from '../hash/xxhash.js';
import { asObjectHash, isTreeHash, type ObjectHash } from '../hash/types.js';
import { listFiles, manifestHash, manifestText, type Manifest, type ManifestEntry, type PathHash } from '../hash/tree.js';
import type { StatCache } from '../hash/statcache.js';
import { fsyncDirLater, fsyncLater, removePath, tmpName, toPosix, writeProblem } from '../util/fsx.js';
import { SYNC_BYTES, readSmallSync, renameIntoSync, writeNewFileSync } from '../util/fsx-sync.js';

export class CorruptObjectError extends Error {
  constructor(readonly hash: ObjectHash, readonly actual: string) {
    super(`cache object ${hash} is corrupt (its bytes hash to ${actual}); it was removed and will be rebuilt`);
  }
}

/** An object whose bytes, on arrival, do not hash to its name. */
export class ObjectMismatchError extends Error {
  constructor(readonly hash: ObjectHash, readonly actual: string, readonly from: string) {
    super(`object ${hash} from ${from} is corrupt: its bytes hash to ${actual}; it was not stored`);
  }
}

/** Files up to this size are stored from memory (putFile). */
const WHOLE_FILE = 1 << 20;

/**
 * A file's bytes if it holds at most WHOLE_FILE (`size`: what a stat just said, if known), in as
 * few round trips as can be: open, read, close. The bytes are those the file had when it was
 * read, as a streamed copy's are; undefined for a larger file (the caller streams it).
 */
async function readSmall(file: string, size?: number): Promise<Buffer | undefined> {
  if (size !== undefined && size > WHOLE_FILE) return undefined;
  const fh = await fsp.open(file, 'r');
  try {
    const want = size ?? (await fh.stat()).size;
    if (want > WHOLE_FILE) return undefined;
    const buf = Buffer.allocUnsafe(want);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await fh.read(buf, got, want - got, got);
      if (bytesRead === 0) break; // it shrank meanwhile
      got += bytesRead;
    }
    return buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}

export class ObjectStore {
  readonly objectsDir: string;
  readonly tmpDir: string;
  /** Objects already checked against their name in this process. */
  private verified = new Set<string>();

  constructor(readonly cacheDir: string) {
    this.objectsDir = path.join(cacheDir, 'objects');
    this.tmpDir = path.join(cacheDir, 'tmp');
  }

  /** Runs a write; one that fails for space or permission becomes the user's problem, named. */
  private async writing<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw writeProblem(err, what, this.cacheDir);
    }
  }

  objectPath(hash: ObjectHash): string {
    return path.join(this.objectsDir, hash.slice(0, 2), hash.slice(2));
  }

  async has(hash: ObjectHash): Promise<boolean> {
    return fsp.access(this.objectPath(hash)).then(
      () => true,
      () => false,
    );
  }

  /**
   * Store a copy of a file, hashing it while copying. A small file (most command outputs) is
   * read whole, hashed, and written only if the store lacks it: a third of the file-system round
   * trips of a streamed copy.
   */
  async putFile(src: string, knownSize?: number): Promise<PathHash> {
    return this.writing('the cache', async () => {
      // A few KiB (most command outputs): read, hashed and written without a round trip.
      const bytes = knownSize !== undefined && knownSize <= SYNC_BYTES ? (readSmallSync(src) ?? (await readSmall(src))) : await readSmall(src, knownSize);
      if (bytes) return this.storeBytes(bytes);
      await fsp.mkdir(this.tmpDir, { recursive: true });
      const tmp = tmpName(this.tmpDir, 'put');
      const h = await streamHasher();
      const { Transform, pipeline } = await streams();
      let size = 0;
      const tap = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          h.update(chunk);
          size += chunk.length;
          cb(null, chunk);
        },
      });
      try {
        const out = createWriteStream(tmp, { flags: 'wx', mode: 0o444 });
        await pipeline(createReadStream(src, { highWaterMark: 1 << 20 }), tap, out);
        const hash = asObjectHash(h.digest());
        await this.adopt(tmp, hash);
        return { hash, size };
      } finally {
        await fsp.rm(tmp, { force: true });
      }
    });
  }

  async putBytes(bytes: string | Uint8Array): Promise<PathHash> {
    return this.writing('the cache', () => this.storeBytes(typeof bytes === 'string' ? Buffer.from(bytes) : bytes));
  }

  /**
   * Bytes in memory into the store under `hash` (by default the hash of the bytes), written
   * (temp file, rename; fsync deferred) only if new.
   */
  private async storeBytes(data: Uint8Array, known?: ObjectHash): Promise<PathHash> {
    let hash = known;
    if (hash === undefined) {
      const h = await streamHasher();
      h.update(data);
      hash = asObjectHash(h.digest());
    }
    if (data.length <= SYNC_BYTES) {
      // Without round trips through the thread pool (fsx-sync.ts): a short stage's output.
      if (existsSync(this.objectPath(hash))) return { hash, size: data.length }; // Immutable: it has these bytes.
      const tmp = tmpName(this.tmpDir, 'put');
      writeNewFileSync(tmp, data, 0o444); // created read-only: objects are never modified in place
      renameIntoSync(tmp, this.objectPath(hash));
      this.named(hash);
      return { hash, size: data.length };
    }
    if (await this.has(hash)) return { hash, size: data.length }; // Immutable: it has these bytes.
    const tmp = tmpName(this.tmpDir, 'put');
    // Created read-only (the descriptor still writes): objects are never modified in place.
    const fh = await fsp.open(tmp, 'wx', 0o444).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
      await fsp.mkdir(this.tmpDir, { recursive: true });
      return fsp.open(tmp, 'wx', 0o444);
    });
    try {
      try {
        await fh.writeFile(data);
      } finally {
        await fh.close();
      }
      await this.rename(tmp, hash);
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
    return { hash, size: data.length };
  }

  /** Store every file of a folder and its manifest; the folder's hash is the manifest's. */
  async putTree(dir: string): Promise<PathHash & { manifest: ManifestEntry[] }> {
    const files: ManifestEntry[] = [];
    let size = 0;
    for (const rel of await listFiles(dir)) {
      const full = path.join(dir, rel);
      const st = await fsp.stat(full);
      const put = await this.putFile(full);
      const entry: ManifestEntry = { path: toPosix(rel), hash: put.hash, size: put.size };
      if (st.mode & 0o100) entry.exec = true;
      files.push(entry);
      size += put.size;
    }
    const hash = await this.putManifest(files);
    return { hash, size, nfiles: files.length, manifest: files };
  }

  /**
   * Take in an object that arrives from elsewhere (a remote cache) under the name it claims,
   * hashing its bytes on the way: it becomes an object only if they match the name. A mismatch
   * leaves nothing behind and throws ObjectMismatchError.
   */
  async importObject(hash: ObjectHash, source: AsyncIterable<Uint8Array>, from: string): Promise<number> {
    return this.writing('the cache', async () => {
      await fsp.mkdir(this.tmpDir, { recursive: true });
      const tmp = tmpName(this.tmpDir, 'import');
      const h = await streamHasher();
      const tree = isTreeHash(hash);
      const chunks: Buffer[] = [];
      let size = 0;
      try {
        const out = await fsp.open(tmp, 'wx', 0o444);
        try {
          for await (const chunk of source) {
            const b = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
            if (tree) chunks.push(Buffer.from(b));
            else h.update(b);
            size += b.length;
            await out.write(b);
          }
        } finally {
          await out.close();
        }
        const actual = tree ? await manifestHash(Buffer.concat(chunks).toString('utf8')) : asObjectHash(h.digest());
        if (actual !== hash) throw new ObjectMismatchError(hash, actual, from);
        await this.adopt(tmp, hash);
        return size;
      } finally {
        await fsp.rm(tmp, { force: true });
      }
    });
  }

  /** Store a folder's manifest alone (for inputs: lets `status` say which file in it changed). */
  async putManifest(files: ManifestEntry[]): Promise<ObjectHash> {
    return this.writing('the cache', async () => {
      const text = manifestText(files);
      return (await this.storeBytes(Buffer.from(text), await manifestHash(text))).hash;
    });
  }

  /** Store a file or a folder. */
  async putPath(p: string, stat?: { isDirectory(): boolean; size: number }): Promise<PathHash> {
    const st = stat ?? (await fsp.stat(p));
    if (st.isDirectory()) {
      const { manifest: _m, ...rest } = await this.putTree(p);
      return rest;
    }
    return this.putFile(p, st.size);
  }

  /** Move a fully written temp file (created read-only) into place under its hash. */
  private async adopt(tmp: string, hash: ObjectHash): Promise<void> {
    if (await this.has(hash)) return; // Immutable: an existing object already has these bytes.
    await this.rename(tmp, hash);
  }

  /**
   * A fully written temp file takes its object name. Its bytes and its name are made durable
   * before anything vouches for the object (util/fsx.ts, fsyncLater: the next conno.lock or
   * stat-cache write); until then a power cut can only leave it missing or mismatched, which the
   * cache detects.
   */
  private async rename(tmp: string, hash: ObjectHash): Promise<void> {
    const dest = this.objectPath(hash);
    await fsp.rename(tmp, dest).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
      await fsp.mkdir(path.dirname(dest), { recursive: true }); // the shard's first object
      await fsp.rename(tmp, dest);
    });
    this.named(hash);
  }

  /** An object just renamed into place: durable before anything vouches for it, and known good. */
  private named(hash: ObjectHash): void {
    const dest = this.objectPath(hash);
    fsyncLater(dest);
    fsyncDirLater(path.dirname(dest));
    this.verified.add(hash);
  }

  /**
   * Check that an object (and, for a folder, every file it lists) exists and matches its name.
   * A corrupt object is removed. Returns false when anything is missing or corrupt.
   */
  async verify(hash: ObjectHash, stats?: StatCache): Promise<boolean> {
    if (this.verified.has(hash)) return true;
    const file = this.objectPath(hash);
    let actual: string;
    try {
      if (isTreeHash(hash)) {
        actual = await manifestHash(await fsp.readFile(file, 'utf8'));
      } else {
        // Through the stat cache: an object rewritten in place (truncated, flipped) gets a new
        // mtime and is read again; an untouched one is not re-read on every run.
        actual = stats ? (await stats.hashFile(file)).hash : (await hashFile(file)).hash;
      }
    } catch {
      return false;
    }
    if (actual !== hash) {
      await removePath(file);
      stats?.forget(file);
      return false;
    }
    if (isTreeHash(hash)) {
      for (const f of (await this.readManifest(hash)).files) {
        if (!(await this.verify(f.hash, stats))) return false;
      }
    }
    this.verified.add(hash);
    return true;
  }

  /** Existence only (no re-hash): cheap enough for `status` on thousands of stages. */
  async present(hash: ObjectHash): Promise<boolean> {
    return this.has(hash);
  }

  async readManifest(hash: ObjectHash): Promise<Manifest> {
    return JSON.parse(await fsp.readFile(this.objectPath(hash), 'utf8')) as Manifest;
  }

  /**
   * Materialise an object at `dest` (a file, or a folder for `.dir` objects), replacing what is
   * there. Bytes are hashed while copied; a mismatch removes the object and throws
   * CorruptObjectError, leaving `dest` untouched.
   */
  async checkout(hash: ObjectHash, dest: string): Promise<void> {
    return this.writing(`an output (${dest})`, async () => {
      if (isTreeHash(hash)) {
        if (!(await this.verify(hash))) throw new CorruptObjectError(hash, 'missing or corrupt');
        const manifest = await this.readManifest(hash);
        const parent = path.dirname(dest);
        await fsp.mkdir(parent, { recursive: true });
        const staging = tmpName(parent, `${path.basename(dest)}.restore`);
        try {
          for (const f of manifest.files) {
            const target = path.join(staging, ...f.path.split('/'));
            await fsp.mkdir(path.dirname(target), { recursive: true });
            await this.copyOut(f.hash, target, f.exec === true);
          }
          await fsp.mkdir(staging, { recursive: true });
          await removePath(dest);
          await fsp.rename(staging, dest);
        } finally {
          await removePath(staging);
        }
        return;
      }
      await fsp.mkdir(path.dirname(dest), { recursive: true });
      const tmp = tmpName(path.dirname(dest), `${path.basename(dest)}.restore`);
      try {
        await this.copyOut(hash, tmp, false);
        await removePath(dest);
        await fsp.rename(tmp, dest);
      } finally {
        await fsp.rm(tmp, { force: true });
      }
    });
  }

  private async copyOut(hash: ObjectHash, target: string, exec: boolean): Promise<void> {
    const h = await streamHasher();
    const { Transform, pipeline } = await streams();
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        h.update(chunk);
        cb(null, chunk);
      },
    });
    await pipeline(createReadStream(this.objectPath(hash), { highWaterMark: 1 << 20 }), tap, createWriteStream(target));
    const actual = h.digest();
    if (actual !== hash) {
      await removePath(this.objectPath(hash));
      this.verified.clear(); // Folders verified earlier may list this object: check them again.
      throw new CorruptObjectError(hash, actual);
    }
    this.verified.add(hash);
    await fsp.chmod(target, exec ? 0o755 : 0o644);
  }

  async remove(hash: ObjectHash): Promise<void> {
    await removePath(this.objectPath(hash));
    this.verified.delete(hash);
  }

  /** Every object name in the store. */
  async list(): Promise<ObjectHash[]> {
    const out: ObjectHash[] = [];
    const shards = await fsp.readdir(this.objectsDir).catch(() => [] as string[]);
    for (const shard of shards) {
      for (const rest of await fsp.readdir(path.join(this.objectsDir, shard)).catch(() => [] as string[])) {
        out.push(asObjectHash(shard + rest));
      }
    }
    return out.sort();
  }
}
