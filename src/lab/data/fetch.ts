/**
 * Getting a dataset archive onto this machine, verified.
 *
 * Order of places looked at: the download cache (`<cacheDir>/downloads/`, keyed by URL and
 * expected checksum), then each mirror folder (by file name; compute nodes have no internet),
 * then the URL itself. An HTTP(S) download goes to a `.part` file in `<cacheDir>/tmp/downloads/`,
 * resumes with a Range request after a dropped connection, retries with exponential backoff,
 * hashes the bytes as they arrive and is renamed into the cache only once the checksum matches.
 * A mismatch is an error naming the URL and both checksums, and leaves no file behind.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { fsyncDir } from '../../core/util/fsx.js';
import { InputError } from '../../core/util/errors.js';
import { formatBytes } from '../../core/util/format.js';

export type ChecksumAlgorithm = 'sha256' | 'md5';

export interface Checksum {
  algorithm: ChecksumAlgorithm;
  /** Lower-case hex. */
  value: string;
}

export interface FetchRequest {
  url: string;
  /** The archive's file name, as looked up in mirror folders. */
  fileName: string;
  /** The published checksum; null when none is published (the sha256 is then only recorded). */
  checksum: Checksum | null;
  /** Other copies accepted from a mirror folder under their own name and checksum. */
  mirrorCopies?: readonly { fileName: string; checksum: Checksum }[];
  /** No file to download (`url` empty): how to make the archive for a mirror folder. */
  manual?: string;
  /** Folders to look in before downloading. */
  mirrors: readonly string[];
  cacheDir: string;
  log(message: string): void;
  /** Attempts per download (default 5). */
  attempts?: number;
  /** First retry delay in ms, doubled each retry (default 1000). */
  backoffMs?: number;
  /** Abort an attempt that receives nothing for this long (default 60 s). */
  stallMs?: number;
}

export interface FetchedArchive {
  /** Absolute path of the verified archive (in the cache or a mirror folder). */
  path: string;
  /** sha256 of its bytes, always computed (the record of what was used). */
  sha256: string;
  /** Where it came from: 'cache', 'mirror', or the URL. */
  origin: 'cache' | 'mirror' | 'download';
  /** True when the bytes matched a published checksum or a known mirror copy's. */
  verified: boolean;
}

export class ChecksumMismatchError extends InputError {
  constructor(
    readonly where: string,
    readonly expected: Checksum,
    readonly actual: string,
  ) {
    super(`checksum mismatch for ${where}: expected ${expected.algorithm} ${expected.value}, got ${expected.algorithm} ${actual}`);
    this.name = 'ChecksumMismatchError';
  }
}

/** Hashes bytes with the algorithms asked for, all in one pass. */
class MultiHash {
  private readonly hashes = new Map<ChecksumAlgorithm, Hash>();
  constructor(algorithms: Iterable<ChecksumAlgorithm>) {
    for (const a of new Set(['sha256', ...algorithms] as ChecksumAlgorithm[])) this.hashes.set(a, createHash(a));
  }
  update(chunk: Uint8Array): void {
    for (const h of this.hashes.values()) h.update(chunk);
  }
  digest(): Record<ChecksumAlgorithm, string> {
    const out = {} as Record<ChecksumAlgorithm, string>;
    for (const [a, h] of this.hashes) out[a] = h.digest('hex');
    return out;
  }
}

async function hashFile(file: string, algorithms: Iterable<ChecksumAlgorithm>): Promise<Record<ChecksumAlgorithm, string>> {
  const h = new MultiHash(algorithms);
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest();
}

/** Where a download of `url` with `checksum` is kept. */
export function downloadCachePath(cacheDir: string, url: string, checksum: Checksum | null, fileName: string): string {
  const key = createHash('sha256')
    .update(`${url}\n${checksum ? `${checksum.algorithm}:${checksum.value}` : 'unverified'}`)
    .digest('hex')
    .slice(0, 24);
  return path.join(cacheDir, 'downloads', key, fileName);
}

export async function fetchArchive(req: FetchRequest): Promise<FetchedArchive> {
  const algorithms = req.checksum ? [req.checksum.algorithm] : [];
  const cached = downloadCachePath(req.cacheDir, req.url, req.checksum, req.fileName);

  if (await isFile(cached)) {
    const sums = await hashFile(cached, algorithms);
    if (!req.checksum || sums[req.checksum.algorithm] === req.checksum.value) {
      req.log(`using cached download ${cached}`);
      return { path: cached, sha256: sums.sha256, origin: 'cache', verified: req.checksum !== null };
    }
    // A cache file that no longer matches was damaged after it was stored: drop it, fetch again.
    req.log(`cached download ${cached} is damaged (checksum mismatch); fetching again`);
    await fsp.rm(cached, { force: true });
  }

  const fromMirror = await lookInMirrors(req);
  if (fromMirror) return fromMirror;

  if (!/^https?:\/\//.test(req.url)) {
    const looked = req.mirrors.length ? ` (looked for ${req.fileName} in ${req.mirrors.join(', ')})` : '';
    if (req.url === '' && req.manual) throw new Error(`${req.fileName} is not in a mirror folder${looked}, and conno cannot download it: ${req.manual}`);
    throw new Error(`cannot download ${req.url}: only http(s) URLs are supported${looked}`);
  }
  const sums = await download(req, cached);
  return { path: cached, sha256: sums.sha256, origin: 'download', verified: req.checksum !== null };
}

/** A mirror copy is used in place (never copied): it is checked against the checksum it must have. */
async function lookInMirrors(req: FetchRequest): Promise<FetchedArchive | undefined> {
  const candidates: { fileName: string; checksum: Checksum | null }[] = [
    { fileName: req.fileName, checksum: req.checksum },
    ...(req.mirrorCopies ?? []),
  ];
  for (const dir of req.mirrors) {
    for (const c of candidates) {
      const file = path.resolve(dir, c.fileName);
      if (!(await isFile(file))) continue;
      const sums = await hashFile(file, c.checksum ? [c.checksum.algorithm] : []);
      if (c.checksum && sums[c.checksum.algorithm] !== c.checksum.value) {
        throw new ChecksumMismatchError(`${file} (mirror copy of ${req.url})`, c.checksum, sums[c.checksum.algorithm]);
      }
      req.log(`using mirror copy ${file} (sha256 ${sums.sha256}${c.checksum ? ', verified' : ', no published checksum'})`);
      return { path: file, sha256: sums.sha256, origin: 'mirror', verified: c.checksum !== null };
    }
  }
  return undefined;
}

/** How to go on without this download: the files a mirror folder may hold, and where they were looked for. */
function offlineHint(req: FetchRequest): string {
  const names = [req.fileName, ...(req.mirrorCopies ?? []).map((c) => c.fileName)];
  const looked = req.mirrors.length ? `; looked in ${req.mirrors.join(', ')}` : '';
  return `. Without internet (a compute node, a verify run offline), put ${names.join(' or ')} in a folder and set CONNO_DATA_MIRROR=<folder>, or the stage's \`mirror:\`${looked}`;
}

async function isFile(p: string): Promise<boolean> {
  return (await fsp.stat(p).catch(() => undefined))?.isFile() ?? false;
}

/** Download `req.url` to `dest` (resuming, retrying, verifying); returns the checksums. */
async function download(req: FetchRequest, dest: string): Promise<Record<ChecksumAlgorithm, string>> {
  const attempts = req.attempts ?? 5;
  const backoffMs = req.backoffMs ?? 1000;
  const partDir = path.join(req.cacheDir, 'tmp', 'downloads');
  await fsp.mkdir(partDir, { recursive: true });
  const part = path.join(partDir, `${path.basename(path.dirname(dest))}-${req.fileName}.part`);
  let lastError: Error | undefined;
  let sums: Record<ChecksumAlgorithm, string> | undefined;
  let tried = 0;
  try {
    for (let attempt = 1; attempt <= attempts; attempt++) {
      tried = attempt;
      if (attempt > 1) {
        const wait = backoffMs * 2 ** (attempt - 2);
        req.log(`retrying ${req.url} in ${wait} ms (attempt ${attempt} of ${attempts}): ${lastError?.message}`);
        await new Promise((r) => setTimeout(r, wait));
      }
      try {
        sums = await downloadOnce(req, part);
        lastError = undefined;
        break;
      } catch (err) {
        lastError = err as Error;
        if (err instanceof HttpStatusError && !err.retryable) break;
      }
    }
    if (lastError || !sums) throw new Error(`download of ${req.url} failed after ${tried} attempt${tried === 1 ? '' : 's'}: ${lastError?.message}${offlineHint(req)}`);
    if (req.checksum && sums[req.checksum.algorithm] !== req.checksum.value) {
      throw new ChecksumMismatchError(req.url, req.checksum, sums[req.checksum.algorithm]);
    }
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    const fh = await fsp.open(part, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(part, dest);
    await fsyncDir(path.dirname(dest));
    req.log(`downloaded ${req.url} (sha256 ${sums.sha256})`);
    return sums;
  } catch (err) {
    // A failed or unverified download leaves nothing behind, not even the partial file.
    await fsp.rm(part, { force: true });
    throw err;
  }
}

class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    url: string,
  ) {
    super(`HTTP ${status} from ${url}`);
  }
  /** Server errors and rate limits may pass; a 404 will not. */
  get retryable(): boolean {
    return this.status >= 500 || this.status === 408 || this.status === 429;
  }
}

/**
 * One attempt: continue `part` from its current size when the server honours Range. The bytes
 * are hashed as they arrive (after the part file's existing bytes, when resuming).
 */
async function downloadOnce(req: FetchRequest, part: string): Promise<Record<ChecksumAlgorithm, string>> {
  const have = (await fsp.stat(part).catch(() => undefined))?.size ?? 0;
  const controller = new AbortController();
  const stallMs = req.stallMs ?? 60_000;
  let stall = setTimeout(() => controller.abort(new Error(`no data for ${stallMs} ms`)), stallMs);
  const touch = () => {
    clearTimeout(stall);
    stall = setTimeout(() => controller.abort(new Error(`no data for ${stallMs} ms`)), stallMs);
  };
  try {
    const headers: Record<string, string> = { 'user-agent': 'conno' };
    if (have > 0) headers.range = `bytes=${have}-`;
    const res = await fetch(req.url, { headers, signal: controller.signal, redirect: 'follow' });
    if (res.status === 416 && have > 0) {
      // The part file is already whole (or longer than the file): start again from zero.
      await fsp.rm(part, { force: true });
      throw new Error('range not satisfiable; restarting from the beginning');
    }
    if (res.status !== 200 && res.status !== 206) throw new HttpStatusError(res.status, req.url);
    const resumed = res.status === 206 && have > 0;
    const offset = resumed ? have : 0;
    const length = Number(res.headers.get('content-length') ?? NaN);
    const total = Number.isFinite(length) ? offset + length : undefined;
    const hash = new MultiHash(req.checksum ? [req.checksum.algorithm] : []);
    if (resumed) {
      req.log(`resuming ${req.url} at ${formatBytes(have)}`);
      for await (const chunk of createReadStream(part, { end: have - 1, highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
    }
    const fh = await fsp.open(part, resumed ? 'a' : 'w');
    let got = offset;
    let nextReport = 0;
    try {
      if (!res.body) throw new Error('empty response body');
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        touch();
        await fh.write(chunk);
        hash.update(chunk);
        got += chunk.byteLength;
        const now = Date.now();
        if (now >= nextReport) {
          nextReport = now + 2000;
          req.log(progressLine(req.url, got, total));
        }
      }
    } finally {
      await fh.close();
    }
    if (total !== undefined && got !== total) throw new Error(`connection closed after ${got} of ${total} bytes`);
    req.log(progressLine(req.url, got, total));
    return hash.digest();
  } finally {
    clearTimeout(stall);
  }
}

function progressLine(url: string, got: number, total: number | undefined): string {
  if (total === undefined) return `download ${url}: ${formatBytes(got)}`;
  return `download ${url}: ${formatBytes(got)} / ${formatBytes(total)} (${Math.floor((100 * got) / Math.max(1, total))}%)`;
}

