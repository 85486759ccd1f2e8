/**
 * Getting a dataset ready to decode: fetch and verify its archives, extract them into a scratch
 * folder, and index the clips. Also the `folder` dataset (the user's own files, read in place).
 */
import path from 'node:path';
import { ArchiveError, extractArchive } from './extract.js';
import { DATASETS, type ArchiveSpec, type ClipIndex, type IndexOptions, type RegisteredDataset } from './datasets.js';
import { fetchArchive, type Checksum } from './fetch.js';
import { indexFolder } from './folder.js';
import { removePath, tmpName } from '../../core/util/fsx.js';
import { promises as fsp } from 'node:fs';

export interface PrepareRequest {
  dataset: RegisteredDataset | 'folder';
  projectRoot: string;
  cacheDir: string;
  /** The stage's declared deps (absolute): a `folder` dataset must be among them. */
  deps: readonly string[];
  url?: string;
  sha256?: string;
  mirror?: string;
  folder?: { path: string; csv?: string; pattern?: string };
  indexOptions: IndexOptions;
  log(message: string): void;
  /** Download tuning (tests). */
  attempts?: number;
  backoffMs?: number;
}

export interface UsedArchive {
  file: string;
  sha256: string;
  /** Whether it matched a published checksum (or a pinned `sha256:`). */
  verified: boolean;
  origin: 'cache' | 'mirror' | 'download';
}

export interface PreparedDataset {
  index: ClipIndex;
  /** Clip-table schema metadata. */
  metadata: Record<string, string>;
  archives: UsedArchive[];
  /** Removes the scratch extraction folders. */
  cleanup(): Promise<void>;
}

/** The environment variable that overrides a dataset's URL, e.g. CONNO_DATASET_URL_fsdd. */
export const urlEnvVar = (dataset: string): string => `CONNO_DATASET_URL_${dataset}`;

/** Mirror folders: the stage's `mirror:` first, then CONNO_DATA_MIRROR (a path list). */
export function mirrorFolders(projectRoot: string, option: string | undefined, env = process.env): string[] {
  const out: string[] = [];
  if (option) out.push(path.resolve(projectRoot, option));
  for (const d of (env.CONNO_DATA_MIRROR ?? '').split(path.delimiter)) if (d) out.push(path.resolve(projectRoot, d));
  return out;
}

/**
 * The archives to fetch, after the URL override: with one archive, the URL is the archive's; with
 * several, it is a folder URL to which each file name is appended. An overriding URL whose file
 * name is a known mirror copy's (e.g. fsdd-1.0.10.tar.gz) is checked against that copy's checksum.
 */
export function resolveArchives(dataset: RegisteredDataset, urlOverride: string | undefined, sha256: string | undefined): ArchiveSpec[] {
  const specs = DATASETS[dataset].archives as readonly ArchiveSpec[];
  return specs.map((a) => {
    let url = a.url;
    let checksum: Checksum | null = a.checksum;
    let fileName = a.fileName;
    if (urlOverride) {
      url = specs.length === 1 ? urlOverride : `${urlOverride.replace(/\/+$/, '')}/${a.fileName}`;
      const base = decodeURIComponent(new URL(url, 'file:///').pathname.split('/').pop() ?? '');
      const copy = a.mirrorCopies?.find((c) => c.fileName === base);
      if (copy) ({ fileName, checksum } = copy);
    }
    if (sha256) checksum = { algorithm: 'sha256', value: sha256 };
    return { ...a, url, fileName, checksum };
  });
}

export async function prepareDataset(req: PrepareRequest): Promise<PreparedDataset> {
  if (req.dataset === 'folder') return prepareFolder(req);
  const spec = DATASETS[req.dataset];
  const archives = resolveArchives(req.dataset, req.url ?? process.env[urlEnvVar(req.dataset)], req.sha256);
  const mirrors = mirrorFolders(req.projectRoot, req.mirror);
  const scratch: string[] = [];
  const cleanup = async () => {
    for (const d of scratch) await removePath(d);
  };
  const used: UsedArchive[] = [];
  try {
    for (const a of archives) {
      const got = await fetchArchive({
        url: a.url,
        fileName: a.fileName,
        checksum: a.checksum,
        mirrorCopies: a.mirrorCopies,
        manual: a.url === '' ? a.manual : undefined,
        mirrors,
        cacheDir: req.cacheDir,
        log: req.log,
        attempts: req.attempts,
        backoffMs: req.backoffMs,
      });
      if (!got.verified) req.log(`warning: ${a.url} has no published checksum; using sha256 ${got.sha256} (pin it with \`sha256:\`)`);
      used.push({ file: path.basename(got.path), sha256: got.sha256, verified: got.verified, origin: got.origin });
      const dest = tmpName(path.join(req.cacheDir, 'tmp'), `extract-${req.dataset}`);
      scratch.push(dest);
      const t0 = performance.now();
      try {
        await extractArchive(got.path, dest);
      } catch (err) {
        // An archive that cannot be read must not stay in the download cache to fail again.
        if (got.origin !== 'mirror') await fsp.rm(got.path, { force: true });
        const from = got.origin === 'mirror' ? got.path : a.url;
        throw new Error(`cannot extract ${from}: ${err instanceof ArchiveError ? err.message.replace(`${got.path}: `, '') : (err as Error).message}`);
      }
      req.log(`extracted ${path.basename(got.path)} in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    }
    const index = await spec.index(scratch, req.indexOptions);
    const metadata: Record<string, string> = {
      'conno.dataset': req.dataset,
      'conno.license': spec.license,
      'conno.archive_sha256': used.map((u) => u.sha256).join(','),
    };
    return { index, metadata, archives: used, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

async function prepareFolder(req: PrepareRequest): Promise<PreparedDataset> {
  const f = req.folder!;
  const root = path.resolve(req.projectRoot, f.path);
  const covered = req.deps.some((d) => root === d || root.startsWith(d + path.sep));
  if (!covered) {
    throw new Error(`dataset folder '${f.path}' is not among the stage's deps: add \`deps: [${f.path}]\` so that conno reruns the stage when its files change`);
  }
  const index = await indexFolder({ root, csv: f.csv, pattern: f.pattern });
  return { index, metadata: { 'conno.dataset': 'folder' }, archives: [], cleanup: async () => {} };
}
