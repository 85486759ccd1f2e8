/**
 * Test helpers: every test gets a fresh temp project; the CLI is run as users run it, through
 * bin/conno.js in a child process.
 */
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, readFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execa, type Result } from 'execa';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = path.join(REPO, 'bin', 'conno.js');

/** Absolute import specifiers for project stage modules written by tests (they live outside the repo). */
export const ZOD_MODULE = JSON.stringify(path.join(REPO, 'node_modules', 'zod', 'index.js'));
export const distModule = (rel: string): string => JSON.stringify(path.join(REPO, 'dist', rel));

export interface TempProject {
  dir: string;
  write(rel: string, content: string): void;
  read(rel: string): string;
  exists(rel: string): boolean;
  conno(args: string[], opts?: { env?: Record<string, string>; timeout?: number }): Promise<Result>;
  remove(): void;
}

export function tempProject(files: Record<string, string> = {}): TempProject {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'conno-test-'));
  const p: TempProject = {
    dir,
    write(rel, content) {
      const abs = path.join(dir, rel);
      mkdirSync(path.dirname(abs), { recursive: true });
      writeFileSync(abs, content);
    },
    read: (rel) => readFileSync(path.join(dir, rel), 'utf8'),
    exists: (rel) => existsSync(path.join(dir, rel)),
    conno: (args, opts = {}) =>
      execa(process.execPath, [BIN, ...args], {
        cwd: dir,
        reject: false,
        env: { CI: '1', CONNO_GPUS: '', ...opts.env },
        timeout: opts.timeout ?? 60_000,
        all: true,
      }) as unknown as Promise<Result>,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
  for (const [rel, content] of Object.entries(files)) p.write(rel, content);
  return p;
}

/** A stage command that counts its runs in `runs/<name>` (outside every output). */
export function countingCmd(name: string, body: string): string {
  return `mkdir -p runs && echo x >> runs/${name} && ${body}`;
}

export function runCount(p: TempProject, name: string): number {
  return p.exists(`runs/${name}`) ? p.read(`runs/${name}`).trim().split('\n').length : 0;
}

/** The manifest of the CLI's bundle (dist/cli-bundle/, scripts/bundle-cli.mjs). */
export interface BundleManifest {
  format: number;
  /** Each dist/ file it was made from (relative to dist/), with its size. */
  inputs: [rel: string, size: number][];
  /** The dist/ files each file of the bundle holds. */
  chunks: Record<string, string[]>;
}

export function bundleManifest(): BundleManifest {
  return JSON.parse(readFileSync(path.join(REPO, 'dist', 'cli-bundle', 'manifest.json'), 'utf8')) as BundleManifest;
}

/** Modules loaded under `node --import` of this hook are appended, one URL a line, to the file named by CONNO_TRACE_IMPORTS. */
export const TRACE_IMPORTS = path.join(REPO, 'test', 'fixtures', 'hooks', 'trace-imports.mjs');

/**
 * Loaded module URLs with each file of the CLI's bundle replaced by the URLs of the dist/ modules
 * it holds, as its manifest lists them.
 */
export function unbundledUrls(urls: string[]): string[] {
  const dist = path.join(REPO, 'dist');
  const { chunks } = bundleManifest();
  const prefix = pathToFileURL(path.join(dist, 'cli-bundle')).href + '/';
  return urls.flatMap((u) => (u.startsWith(prefix) ? (chunks[u.slice(prefix.length)] ?? []).map((m) => pathToFileURL(path.join(dist, m)).href) : [u]));
}

/**
 * Runs `f` with environment variables set in this process (conno's switches, e.g.
 * CONNO_WASM_FMA), then puts back what was there before, even when `f` throws.
 */
export async function withEnv<T>(env: Record<string, string>, f: () => T | Promise<T>): Promise<T> {
  const before = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return await f();
  } finally {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
