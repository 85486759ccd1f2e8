import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { serveFolder, type TestServer } from '../../../test/support/http-server.js';
import { ChecksumMismatchError, downloadCachePath, fetchArchive, type FetchRequest } from './fetch.js';

const served = mkdtempSync(path.join(os.tmpdir(), 'conno-fetch-served-'));
// 1 MiB + a bit of pseudo-random bytes: several chunks, so a drop lands mid-file.
const payload = Buffer.alloc(1_100_000);
for (let i = 0; i < payload.length; i++) payload[i] = (i * 2654435761) >>> 24;
writeFileSync(path.join(served, 'data.bin'), payload);
const sha = createHash('sha256').update(payload).digest('hex');
const md5 = createHash('md5').update(payload).digest('hex');

let server: TestServer;
let cacheDir: string;
const logs: string[] = [];
beforeAll(async () => {
  server = await serveFolder(served);
});
afterAll(async () => {
  await server.close();
  rmSync(served, { recursive: true, force: true });
});
afterEach(() => {
  server.reset();
  server.requests.length = 0;
  logs.length = 0;
  if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
});

function request(over: Partial<FetchRequest> = {}): FetchRequest {
  cacheDir = mkdtempSync(path.join(os.tmpdir(), 'conno-fetch-cache-'));
  return {
    url: `${server.url}/data.bin`,
    fileName: 'data.bin',
    checksum: { algorithm: 'sha256', value: sha },
    mirrors: [],
    cacheDir,
    log: (m) => logs.push(m),
    backoffMs: 10,
    ...over,
  };
}

/** Every file under the cache (the tmp area included). */
function cacheFiles(dir: string): string[] {
  return existsSync(dir) ? (readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name) as string[]) : [];
}

describe('fetchArchive over HTTP', () => {
  it('downloads, verifies, caches by URL + checksum, and does not download again', async () => {
    const req = request();
    const got = await fetchArchive(req);
    expect(got.origin).toBe('download');
    expect(got.verified).toBe(true);
    expect(got.sha256).toBe(sha);
    expect(got.path).toBe(downloadCachePath(cacheDir, req.url, req.checksum, 'data.bin'));
    expect(readFileSync(got.path).equals(payload)).toBe(true);
    expect(logs.some((l) => /download http:\/\/127\.0\.0\.1:\d+\/data\.bin: 1\.0 MiB \/ 1\.0 MiB \(100%\)/.test(l))).toBe(true);
    const again = await fetchArchive(req);
    expect(again.origin).toBe('cache');
    expect(server.requests).toHaveLength(1);
  });

  it('resumes with a Range request after a dropped connection and ends with the right bytes', async () => {
    server.dropOnce(300_000);
    const got = await fetchArchive(request({ checksum: { algorithm: 'md5', value: md5 } }));
    expect(readFileSync(got.path).equals(payload)).toBe(true);
    expect(got.sha256).toBe(sha);
    expect(server.requests.map((r) => r.range)).toEqual([undefined, 'bytes=300000-']);
    expect(logs.some((l) => l.startsWith('resuming'))).toBe(true);
  });

  it('retries server errors with backoff, and gives up naming the URL', async () => {
    server.failWith(503, 2);
    const got = await fetchArchive(request());
    expect(got.sha256).toBe(sha);
    expect(server.requests).toHaveLength(3);

    server.failWith(503);
    await expect(fetchArchive(request({ attempts: 3 }))).rejects.toThrow(`download of ${server.url}/data.bin failed after 3 attempts: HTTP 503`);
    expect(cacheFiles(cacheDir)).toEqual([]);
  });

  it('does not retry a 404', async () => {
    await expect(fetchArchive(request({ url: `${server.url}/missing.bin` }))).rejects.toThrow(/HTTP 404/);
    expect(server.requests).toHaveLength(1);
  });

  it('a checksum mismatch names the URL and both checksums and leaves no file in the cache', async () => {
    server.corrupt(123_456);
    const bad = createHash('sha256').update(Buffer.from(payload.map((b, i) => (i === 123_456 ? b ^ 0xff : b)))).digest('hex');
    const req = request();
    const err = await fetchArchive(req).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    expect((err as Error).message).toBe(`checksum mismatch for ${req.url}: expected sha256 ${sha}, got sha256 ${bad}`);
    expect(cacheFiles(cacheDir)).toEqual([]);
  });

  it('a truncated response that never completes is an error, with nothing left behind', async () => {
    server.dropOnce(500_000, 10);
    await expect(fetchArchive(request({ attempts: 2 }))).rejects.toThrow(/failed after 2 attempt/);
    expect(cacheFiles(cacheDir)).toEqual([]);
  });
});

describe('fetchArchive from a mirror folder', () => {
  it('uses a mirror copy in place, by file name or as a known copy with its own checksum', async () => {
    const mirror = mkdtempSync(path.join(os.tmpdir(), 'conno-mirror-'));
    try {
      writeFileSync(path.join(mirror, 'repack.bin'), payload);
      const got = await fetchArchive(
        request({ url: 'https://example.invalid/data.bin', checksum: null, mirrors: [mirror], mirrorCopies: [{ fileName: 'repack.bin', checksum: { algorithm: 'sha256', value: sha } }] }),
      );
      expect(got).toEqual({ path: path.join(mirror, 'repack.bin'), sha256: sha, origin: 'mirror', verified: true });
      expect(server.requests).toHaveLength(0);

      writeFileSync(path.join(mirror, 'data.bin'), 'corrupted');
      const err = await fetchArchive(request({ mirrors: [mirror] })).catch((e: unknown) => e);
      expect((err as Error).message).toContain(`${path.join(mirror, 'data.bin')} (mirror copy of`);
      expect((err as Error).message).toContain(`expected sha256 ${sha}, got sha256 ${createHash('sha256').update('corrupted').digest('hex')}`);
      expect(cacheFiles(cacheDir)).toEqual([]);
    } finally {
      rmSync(mirror, { recursive: true, force: true });
    }
  });
});
