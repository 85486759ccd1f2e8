/**
 * Archive extraction (.zip with yauzl, .tar / .tar.gz with tar), in process, no shelling out.
 *
 * Only regular files and folders are written. An entry whose path is absolute or climbs out of
 * the destination (`..`), and any link, refuses the whole archive: a dataset has no business
 * writing outside its folder. A truncated or corrupt archive is an error naming it, and the
 * destination is removed so that no half-extracted tree is ever read.
 */
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { removePath } from '../../core/util/fsx.js';
import { InputError } from '../../core/util/errors.js';

export type ArchiveKind = 'zip' | 'tar.gz' | 'tar';

export class ArchiveError extends InputError {
  constructor(
    readonly archive: string,
    reason: string,
  ) {
    super(`${archive}: ${reason}`);
  }
}

/** The archive's kind, from its first bytes (names lie; GitHub's archives are named by tag). */
export async function archiveKind(file: string): Promise<ArchiveKind> {
  const fh = await fsp.open(file, 'r');
  try {
    const head = Buffer.alloc(262);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    if (bytesRead >= 4 && head.readUInt32LE(0) === 0x04034b50) return 'zip';
    if (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
    if (bytesRead >= 262 && head.toString('latin1', 257, 262) === 'ustar') return 'tar';
    throw new ArchiveError(file, 'not a zip, tar or tar.gz archive');
  } finally {
    await fh.close();
  }
}

/**
 * The path an entry would be written to, or an error when it would land outside `dest`.
 * Archive paths use '/', whatever the platform.
 */
export function safeEntryPath(dest: string, entryName: string, archive: string): string {
  const name = entryName.replace(/\\/g, '/');
  if (name.startsWith('/') || /^[a-zA-Z]:/.test(name)) throw new ArchiveError(archive, `refusing absolute entry path '${entryName}'`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new ArchiveError(archive, `refusing entry path '${entryName}' that leaves the destination`);
  const abs = path.join(dest, ...parts);
  const rel = path.relative(dest, abs);
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new ArchiveError(archive, `refusing entry path '${entryName}' that leaves the destination`);
  return abs;
}

/** Extract `file` into `dest` (created; removed again on failure). */
export async function extractArchive(file: string, dest: string): Promise<void> {
  await fsp.mkdir(dest, { recursive: true });
  try {
    const kind = await archiveKind(file);
    if (kind === 'zip') await extractZip(file, dest);
    else await extractTar(file, dest, kind === 'tar.gz');
  } catch (err) {
    await removePath(dest);
    if (err instanceof ArchiveError) throw err;
    throw new ArchiveError(file, `cannot extract (truncated or corrupt?): ${(err as Error).message}`);
  }
}

async function extractTar(file: string, dest: string, gzip: boolean): Promise<void> {
  const tar = await import('tar');
  let refused: Error | undefined;
  // Unpack by hand rather than tar.x: on a corrupt archive tar.x rejects while file writes are
  // still pending, so the destination could not be removed cleanly. Gunzip separately so that a
  // truncated stream ends the Unpack, which then reports it and closes.
  const unpack = new tar.Unpack({
    cwd: dest,
    strict: true,
    preserveOwner: false,
    filter: (p, entry) => {
      if (refused) return false;
      const type = 'type' in entry ? entry.type : undefined;
      try {
        safeEntryPath(dest, p, file);
        if (type !== undefined && type !== 'File' && type !== 'OldFile' && type !== 'ContiguousFile' && type !== 'Directory') {
          // Pax/global headers are metadata, not entries; links could point anywhere.
          if (type === 'SymbolicLink' || type === 'Link') throw new ArchiveError(file, `refusing link entry '${p}'`);
          return false;
        }
      } catch (err) {
        refused = err as Error;
        return false;
      }
      return true;
    },
  });
  await new Promise<void>((resolve, reject) => {
    let failure: Error | undefined;
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      if (failure) reject(failure);
      else resolve();
    };
    const fail = (err: Error) => {
      failure ??= err;
      // Unpack emits 'close' once its pending writes are done, but not after every kind of
      // error: never wait forever for it.
      setTimeout(finish, 2000).unref();
    };
    unpack.on('error', fail);
    unpack.on('close', finish);
    const input = createReadStream(file);
    const source = gzip ? input.pipe(createGunzip()) : input;
    const endInput = (err: Error) => {
      fail(err);
      unpack.end();
    };
    input.on('error', endInput);
    if (source !== input) source.on('error', endInput);
    source.pipe(unpack);
  });
  if (refused) throw refused;
}

async function extractZip(file: string, dest: string): Promise<void> {
  const yauzl = (await import('yauzl')).default;
  const zip = await new Promise<import('yauzl').ZipFile>((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true, autoClose: false }, (err, z) => (err ? reject(err) : resolve(z))),
  );
  // yauzl checks member names itself; its refusals are the same refusal as ours, said the same way.
  const named = (err: Error): Error => {
    const m = /^(?:invalid relative path|absolute path): (.*)$/.exec(err.message);
    return m ? new ArchiveError(file, `refusing entry path '${m[1]}' that leaves the destination`) : err;
  };
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('error', (err: Error) => reject(named(err)));
      zip.on('end', () => resolve());
      zip.on('entry', (entry: import('yauzl').Entry) => {
        void (async () => {
          const target = safeEntryPath(dest, entry.fileName, file);
          // Unix mode in the high bits of the external attributes: refuse symlinks.
          const mode = (entry.externalFileAttributes >>> 16) & 0o170000;
          if (mode === 0o120000) throw new ArchiveError(file, `refusing link entry '${entry.fileName}'`);
          if (entry.fileName.endsWith('/')) {
            await fsp.mkdir(target, { recursive: true });
          } else {
            await fsp.mkdir(path.dirname(target), { recursive: true });
            const stream = await new Promise<Readable>((res, rej) => zip.openReadStream(entry, (err, s) => (err ? rej(err) : res(s))));
            await pipeline(stream, createWriteStream(target));
          }
          zip.readEntry();
        })().catch(reject);
      });
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
}
