/**
 * Remote caches: where `conno push` sends cache objects and run records and `conno pull` (and
 * `conno repro --pull`) fetches them. A remote mirrors the local cache's layout
 * (`objects/<2 hex>/<rest>`, `runs/<2 hex>/<rest>.json`), so a folder remote on a shared
 * filesystem is just another cache folder. What lands on either side is checked: an object
 * becomes visible under its name only after its bytes were hashed and found to match it.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { hashFile } from '../hash/xxhash.js';
import { manifestHash } from '../hash/tree.js';
import { isTreeHash, type ObjectHash } from '../hash/types.js';
import type { RemoteConfig } from '../pipeline/schema.js';
import { ConnoError, UsageError } from '../util/errors.js';
import { pool } from '../util/promise.js';
import { fsyncDir } from '../util/fsx.js';
import { Readable } from 'node:stream';
import type { RunRecord } from './runcache.js';

export interface Remote {
  /** For messages: the remote's name and where it is. */
  readonly label: string;
  /** Which of these keys the remote has. */
  has(keys: string[]): Promise<Set<string>>;
  /** A key's bytes, or undefined when the remote does not have it. */
  read(key: string): Promise<AsyncIterable<Uint8Array> | undefined>;
  /**
   * Store a local file under a key. For objects (`hash` given) the remote's copy is checked
   * against the hash before it becomes visible; a run record is checked as JSON naming its key.
   */
  write(key: string, file: string, hash?: ObjectHash): Promise<void>;
}

export const objectKey = (h: string): string => `objects/${h.slice(0, 2)}/${h.slice(2)}`;
export const runKey = (fp: string): string => `runs/${fp.slice(0, 2)}/${fp.slice(2)}.json`;

/** Thrown when what arrived (on either side) is not what was sent. */
export class TransferError extends ConnoError {}

/** Hash a file the way the store names it: xxh64 of its bytes, or of a manifest's text. */
async function objectHashOf(file: string, treeHash: boolean): Promise<string> {
  if (treeHash) return manifestHash(await fsp.readFile(file, 'utf8'));
  return (await hashFile(file)).hash;
}

/** A folder remote: another cache folder, written with temp file + fsync + rename. */
export class DirRemote implements Remote {
  constructor(
    readonly root: string,
    readonly label: string,
  ) {}

  async has(keys: string[]): Promise<Set<string>> {
    const out = new Set<string>();
    await pool(keys, 16, async (k) => {
      if (
        await fsp.access(path.join(this.root, k)).then(
          () => true,
          () => false,
        )
      )
        out.add(k);
    });
    return out;
  }

  async read(key: string): Promise<AsyncIterable<Uint8Array> | undefined> {
    const file = path.join(this.root, key);
    try {
      await fsp.access(file);
    } catch {
      return undefined;
    }
    return createReadStream(file, { highWaterMark: 1 << 20 });
  }

  async write(key: string, file: string, hash?: ObjectHash): Promise<void> {
    const dest = path.join(this.root, key);
    const tmpDir = path.join(this.root, 'tmp');
    await fsp.mkdir(tmpDir, { recursive: true });
    // Unique per writer: pushes from several machines at once never share a temp file.
    const tmp = path.join(tmpDir, `${path.basename(key)}.${process.pid}.${randomBytes(4).toString('hex')}`);
    try {
      await fsp.copyFile(file, tmp);
      const fh = await fsp.open(tmp, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      // What arrived, read back from the remote's disk.
      if (hash) {
        const actual = await objectHashOf(tmp, isTreeHash(hash));
        if (actual !== hash) throw new TransferError(`object ${hash} arrived at ${this.label} as bytes hashing to ${actual}; it was not stored there`);
      } else checkRunRecord(key, await fsp.readFile(tmp, 'utf8'), this.label);
      await fsp.chmod(tmp, 0o444);
      await fsp.mkdir(path.dirname(dest), { recursive: true });
      await fsp.rename(tmp, dest);
      await fsyncDir(path.dirname(dest));
    } finally {
      await fsp.rm(tmp, { force: true });
    }
  }
}

/** A run record must be JSON whose entry has the fingerprint its key names. */
export function checkRunRecord(key: string, text: string, from: string): RunRecord {
  const fp = key.replace(/^runs\/(..)\/(.*)\.json$/, '$1$2');
  let rec: { id?: unknown; entry?: { fingerprint?: unknown } };
  try {
    rec = JSON.parse(text) as typeof rec;
  } catch {
    throw new TransferError(`run record ${fp} from ${from} is not valid JSON; it was not stored`);
  }
  if (typeof rec.id !== 'string' || rec.entry?.fingerprint !== fp) throw new TransferError(`run record ${fp} from ${from} does not describe run ${fp}; it was not stored`);
  // Its fingerprint and id checked; its other fields are read as any run record's (checked again where used).
  return rec as RunRecord;
}

type S3Module = typeof import('@aws-sdk/client-s3');

/**
 * An S3 or S3-compatible bucket. Uploads carry Content-MD5 (the server refuses a body that does
 * not match it) and the returned ETag is compared with the MD5 as well; downloads are hashed on
 * arrival by the local store.
 */
export class S3Remote implements Remote {
  private listing: Promise<Set<string>> | undefined;
  private s3: Promise<{ mod: S3Module; client: InstanceType<S3Module['S3Client']> }> | undefined;

  constructor(
    readonly bucket: string,
    readonly prefix: string,
    readonly opts: { endpoint?: string; region?: string },
    readonly label: string,
  ) {}

  private client() {
    this.s3 ??= (async () => {
      // The pinned SDK supports Node 20; its notice is about later releases.
      process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
      const mod = await import('@aws-sdk/client-s3');
      const client = new mod.S3Client({
        region: this.opts.region ?? process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'] ?? 'us-east-1',
        ...(this.opts.endpoint ? { endpoint: this.opts.endpoint, forcePathStyle: true } : {}),
        // Content-MD5 is what every S3-compatible server checks; the SDK's default CRC32
        // trailers (aws-chunked uploads) are not understood by all of them.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
      return { mod, client };
    })();
    return this.s3;
  }

  private full(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  /** One listing of the remote's objects and runs per command, not one request per key. */
  async has(keys: string[]): Promise<Set<string>> {
    this.listing ??= (async () => {
      const { mod, client } = await this.client();
      const found = new Set<string>();
      for (const sub of ['objects/', 'runs/']) {
        let token: string | undefined;
        do {
          const r = await this.call(() => client.send(new mod.ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.full(sub), ContinuationToken: token })));
          for (const o of r.Contents ?? []) if (o.Key) found.add(this.prefix ? o.Key.slice(this.prefix.length + 1) : o.Key);
          token = r.IsTruncated ? r.NextContinuationToken : undefined;
        } while (token);
      }
      return found;
    })();
    const all = await this.listing;
    return new Set(keys.filter((k) => all.has(k)));
  }

  async read(key: string): Promise<AsyncIterable<Uint8Array> | undefined> {
    const { mod, client } = await this.client();
    try {
      const r = await client.send(new mod.GetObjectCommand({ Bucket: this.bucket, Key: this.full(key) }));
      // In Node the SDK's body is a Readable stream of Buffers.
      if (!(r.Body instanceof Readable)) throw new TransferError(`${this.label}: ${key} came back without a readable body`);
      return r.Body;
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return undefined;
      throw this.explain(err);
    }
  }

  async write(key: string, file: string, hash?: ObjectHash): Promise<void> {
    const { mod, client } = await this.client();
    const bytes = await fsp.readFile(file);
    if (hash) {
      const actual = isTreeHash(hash) ? await manifestHash(bytes.toString('utf8')) : (await hashFile(file)).hash;
      if (actual !== hash) throw new TransferError(`local object ${hash} is corrupt (hashes to ${actual}); not pushed`);
    } else checkRunRecord(key, bytes.toString('utf8'), 'the local run-cache');
    const md5 = createHash('md5').update(bytes);
    const r = await this.call(() =>
      client.send(new mod.PutObjectCommand({ Bucket: this.bucket, Key: this.full(key), Body: bytes, ContentLength: bytes.length, ContentMD5: md5.copy().digest('base64') })),
    );
    const etag = r.ETag?.replace(/"/g, '');
    // A single-part upload's ETag is the MD5 of what the server stored.
    if (etag && /^[0-9a-f]{32}$/.test(etag) && etag !== md5.digest('hex')) {
      throw new TransferError(`${key} arrived at ${this.label} with MD5 ${etag}, not the ${md5.copy().digest('hex')} that was sent`);
    }
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.explain(err);
    }
  }

  private explain(err: unknown): Error {
    const e = err as { name?: string; message?: string; code?: string };
    const what = e.name === 'NoSuchBucket' ? `bucket '${this.bucket}' does not exist` : e.name === 'CredentialsProviderError' ? 'no AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)' : `${e.name ?? 'error'}: ${e.message ?? String(err)}`;
    return new TransferError(`${this.label}: ${what}`);
  }
}

/**
 * The remote to use: `--remote NAME|URL`, else CONNO_REMOTE, else pipeline.yaml's
 * default_remote. A name must be one of pipeline.yaml's `remotes:`; a URL (`s3://…`, a path
 * with a slash) is used as given.
 */
export function resolveRemote(choice: string | undefined, remotes: Record<string, RemoteConfig>, defaultRemote: string | undefined, projectRoot: string): Remote {
  const names = Object.keys(remotes);
  const pick = choice ?? process.env['CONNO_REMOTE'] ?? defaultRemote;
  if (pick === undefined || pick === '') {
    throw new UsageError(names.length ? `which remote? pass --remote NAME (remotes: ${names.join(', ')}) or set default_remote in pipeline.yaml` : 'no remote: add `remotes:` to pipeline.yaml (a folder or an s3:// URL) or pass --remote with a folder or s3:// URL');
  }
  const cfg = remotes[pick];
  if (cfg !== undefined) return fromConfig(pick, cfg, projectRoot);
  if (/^s3:\/\//.test(pick) || pick.includes('/') || pick.startsWith('.')) return fromConfig(pick, pick, projectRoot);
  throw new UsageError(`unknown remote '${pick}' (${names.length ? `remotes in pipeline.yaml: ${names.join(', ')}` : 'pipeline.yaml has no `remotes:`'}; a folder path or an s3:// URL also works)`);
}

function fromConfig(name: string, cfg: RemoteConfig, root: string): Remote {
  const c = typeof cfg === 'string' ? { url: cfg } : cfg;
  const url = c.url;
  if (url.startsWith('s3://')) {
    const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
    if (!m) throw new UsageError(`remote '${name}': '${url}' is not an s3://BUCKET/PREFIX URL (bucket names are 3-63 lowercase letters, digits, . and -)`);
    const prefix = (m[2] ?? '').replace(/\/+$/, '');
    return new S3Remote(m[1]!, prefix, { endpoint: c.endpoint, region: c.region }, name === url ? url : `remote '${name}' (${url})`);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !url.startsWith('file://')) throw new UsageError(`remote '${name}': '${url}' is neither a folder nor an s3:// URL`);
  const dir = path.resolve(root, url.replace(/^file:\/\//, ''));
  return new DirRemote(dir, name === url ? dir : `remote '${name}' (${dir})`);
}
