/**
 * xxhash64 (xxhash-wasm), the one hash function of conno: object names, folder manifests and
 * fingerprints. Files are streamed in 1 MiB chunks: xxhash-wasm's one-shot `h64Raw` copies the
 * whole input into wasm memory, which never shrinks.
 */
import { open } from 'node:fs/promises';
import { readFileSync, statSync } from 'node:fs';
import xxhash from 'xxhash-wasm';

type Api = Awaited<ReturnType<typeof xxhash>>;
let api: Api | undefined;
let loading: Promise<Api> | undefined;

export async function hasher(): Promise<Api> {
  if (api) return api;
  loading ??= xxhash().then((a) => (api = a));
  return loading;
}

const CHUNK = 1 << 20;

export function hex64(value: bigint): string {
  return value.toString(16).padStart(16, '0');
}

/** Hash of a string's UTF-8 bytes. */
export async function hashString(text: string): Promise<string> {
  const h = await hasher();
  // One call into wasm: thousands of small fingerprint records are hashed per `status`.
  return h.h64ToString(text);
}

/** hashString without a promise once the hasher is loaded; undefined before that. */
export function hashStringNow(text: string): string | undefined {
  return api?.h64ToString(text);
}

export async function hashBytes(bytes: Uint8Array): Promise<string> {
  const h = await hasher();
  const state = h.create64();
  for (let off = 0; off < bytes.length; off += CHUNK) state.update(bytes.subarray(off, off + CHUNK));
  return hex64(state.digest());
}

/** Streamed hash of a file's bytes, and its size. */
export async function hashFile(file: string): Promise<{ hash: string; size: number }> {
  const h = await hasher();
  const small = statSync(file);
  if (small.isFile() && small.size <= CHUNK) {
    // Small files in one read: most inputs of a pipeline are small, and a read is cheaper than
    // a stream's round trips.
    const bytes = readFileSync(file);
    return { hash: hex64(h.create64().update(bytes).digest()), size: bytes.length };
  }
  const state = h.create64();
  const fh = await open(file, 'r');
  const buf = Buffer.allocUnsafe(CHUNK);
  let size = 0;
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
      if (bytesRead === 0) break;
      state.update(buf.subarray(0, bytesRead));
      size += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return { hash: hex64(state.digest()), size };
}

/** Incremental hasher for data that is being copied at the same time. */
export async function streamHasher(): Promise<{ update(b: Uint8Array): void; digest(): string }> {
  const h = await hasher();
  const state = h.create64();
  return {
    update: (b) => void state.update(b),
    digest: () => hex64(state.digest()),
  };
}
