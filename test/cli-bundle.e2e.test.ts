/**
 * The CLI's bundle (scripts/bundle-cli.mjs, dist/cli-bundle/): what it may hold, and that
 * bin/conno.js runs it only while it matches the dist/ files it was made from.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { init, parse } from 'es-module-lexer';
import { bundleManifest, REPO, tempProject, TRACE_IMPORTS, type TempProject } from './helpers.js';

const DIST = path.join(REPO, 'dist');
const BUNDLE = path.join(DIST, 'cli-bundle');

async function importsOf(file: string): Promise<ReturnType<typeof parse>[0]> {
  await init;
  return parse(readFileSync(file, 'utf8'))[0];
}
const jsUnder = (dir: string): string[] => readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js')).map((f) => path.join(dir, f));

let p: TempProject | undefined;
let pkg: string | undefined;
afterEach(() => {
  p?.remove();
  p = undefined;
  if (pkg) rmSync(pkg, { recursive: true, force: true });
  pkg = undefined;
});

/** A copy of the built package (bin, dist, its sources, package.json; node_modules linked), whose files a test may change. */
function packageCopy(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'conno-pkg-'));
  for (const part of ['bin', 'dist', 'src', 'stages', 'package.json']) cpSync(path.join(REPO, part), path.join(dir, part), { recursive: true, preserveTimestamps: true });
  symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

/** Runs the copy's bin/conno.js in `project`: its stdout, and the package files it loaded (relative to the copy). */
async function connoOf(copy: string, project: TempProject, args: string[]): Promise<{ out: string; loaded: string[] }> {
  const log = path.join(project.dir, 'resolved.log');
  rmSync(log, { force: true }); // the hook appends
  const { execa } = await import('execa');
  const r = await execa(process.execPath, ['--import', TRACE_IMPORTS, path.join(copy, 'bin/conno.js'), ...args], { cwd: project.dir, reject: false, all: true, env: { CI: '1', CONNO_GPUS: '', CONNO_TRACE_IMPORTS: log } });
  expect(r.exitCode, r.all).toBe(0);
  const prefix = `${pathToFileURL(copy).href}/`;
  return { out: r.stdout, loaded: readFileSync(log, 'utf8').split('\n').filter((u) => u.startsWith(prefix)).map((u) => u.slice(prefix.length)) };
}

const PIPELINE = 'stages:\n  b:\n    cmd: cat a.txt > b.txt\n    deps: [a.txt]\n    outs: [b.txt]\n';

describe('the CLI bundle', () => {
  it('holds engine modules only: none that the lab, the stages or a module imported by path would load a second copy of, none that reads import.meta', async () => {
    const m = bundleManifest();
    const bundled = new Set(m.inputs.map(([rel]) => path.join(DIST, ...rel.split('/'))));
    expect(bundled.has(path.join(DIST, 'src/core/engine/status.js'))).toBe(true);
    expect(bundled.has(path.join(DIST, 'src/core/cli/main.js'))).toBe(true);
    // Every module file a CLI process can load beside the bundle: the lab's, the built-in stages',
    // and those the bundle imports by path; with all they import.
    const files = new Set<string>();
    const walk = async (file: string): Promise<void> => {
      if (files.has(file)) return;
      files.add(file);
      for (const imp of await importsOf(file)) {
        if (imp.n !== undefined && imp.d !== -2 && imp.n.startsWith('.')) await walk(path.resolve(path.dirname(file), imp.n));
      }
    };
    for (const f of [...jsUnder(path.join(DIST, 'src/lab')), ...jsUnder(path.join(DIST, 'stages'))]) await walk(f);
    const chunks = readdirSync(BUNDLE).filter((f) => f.endsWith('.js'));
    expect(Object.keys(m.chunks).sort()).toEqual(chunks.sort());
    let byPath = 0;
    for (const chunk of chunks) {
      for (const imp of await importsOf(path.join(BUNDLE, chunk))) {
        if (imp.n === undefined || !imp.n.startsWith('.')) continue;
        const target = path.resolve(BUNDLE, imp.n);
        expect(statSync(target).isFile(), `${chunk} imports ${imp.n}`).toBe(true);
        if (path.dirname(target) !== BUNDLE) {
          byPath++;
          await walk(target);
        }
      }
    }
    expect(byPath).toBeGreaterThan(0); // util/errors.js at least: the stage API's errors are the engine's
    expect(files.has(path.join(DIST, 'src/core/util/errors.js'))).toBe(true);
    expect([...files].filter((f) => bundled.has(f)).map((f) => path.relative(DIST, f))).toEqual([]);
    for (const f of bundled) expect((await importsOf(f)).some((imp) => imp.d === -2), `${path.relative(DIST, f)} reads import.meta`).toBe(false);
  });

  it('runs only while every dist/ file it was made from is as it was, and the unbundled CLI otherwise', async () => {
    pkg = packageCopy();
    p = tempProject({ 'a.txt': 'a\n', 'pipeline.yaml': PIPELINE });
    const run = (args: string[]) => connoOf(pkg!, p!, args);
    const fromBundle = (loaded: string[]) => loaded.includes('dist/cli-bundle/main.js') && !loaded.includes('dist/src/core/cli/main.js');
    const unbundled = (loaded: string[]) => loaded.includes('dist/src/core/cli/main.js') && !loaded.some((u) => u.startsWith('dist/cli-bundle/'));

    const built = await run(['repro']);
    expect(fromBundle(built.loaded), built.loaded.join(' ')).toBe(true);
    const fresh = await run(['status']);
    expect(fromBundle(fresh.loaded)).toBe(true);
    expect(fresh.out).toMatch(/up to date/);

    // A module the bundle holds, written after the bundle was made (as `tsc` alone would): the
    // same code runs from its files.
    const state = path.join(pkg, 'dist/src/core/engine/state.js');
    const made = statSync(path.join(pkg, 'dist/cli-bundle/manifest.json')).mtime;
    const { atime, mtime } = statSync(state);
    utimesSync(state, atime, new Date(made.getTime() + 1000));
    const touched = await run(['status']);
    expect(unbundled(touched.loaded), touched.loaded.join(' ')).toBe(true);
    expect(touched.out).toBe(fresh.out);
    utimesSync(state, atime, mtime);
    expect(fromBundle((await run(['status'])).loaded)).toBe(true);
    // Of another size, at its old mtime: unbundled.
    const code = readFileSync(state, 'utf8');
    writeFileSync(state, `${code}\n`);
    utimesSync(state, atime, mtime);
    expect(unbundled((await run(['status'])).loaded)).toBe(true);
    writeFileSync(state, code);
    // One mtime for every file, as npm gives the files of a package it installs: the bundle.
    const npmTime = new Date('1985-10-26T08:15:00Z');
    for (const f of readdirSync(path.join(pkg, 'dist'), { recursive: true, encoding: 'utf8' })) utimesSync(path.join(pkg, 'dist', f), npmTime, npmTime);
    expect(fromBundle((await run(['status'])).loaded)).toBe(true);
    // No manifest (a build that stopped while bundling): unbundled.
    rmSync(path.join(pkg, 'dist/cli-bundle/manifest.json'));
    expect(unbundled((await run(['status'])).loaded)).toBe(true);
    expect(bundleManifest().format).toBe(2);
  });
});

describe('the fingerprint memo (fingerprint-memo.ts)', () => {
  it('is not used once a module of RECORD_CODE changed: its key holds their hashes', async () => {
    pkg = packageCopy();
    p = tempProject({ 'a.txt': 'a\n', 'pipeline.yaml': PIPELINE });
    const run = (args: string[]) => connoOf(pkg!, p!, args);
    await run(['repro']);
    await run(['status']); // analyses anew: no memo
    expect((await run(['status'])).out).toMatch(/up to date/);
    const memoFile = path.join(p.dir, 'cache', 'fingerprints.json');
    const memo = JSON.parse(readFileSync(memoFile, 'utf8')) as { key: string; rows: string[][] };
    // A row that is wrong on purpose: served from the memo, `b` looks built from other inputs.
    const poisoned = { ...memo, rows: memo.rows.map((r) => (r[0] === 'b' ? [r[0], '0123456789abcdef', ...r.slice(2)] : r)) };
    writeFileSync(memoFile, JSON.stringify(poisoned));
    expect((await run(['status'])).out).toMatch(/^b:/m); // the memo is read (the test can fail)
    // The same bytes of RECORD_CODE's modules but one: the key differs, the row is not used.
    const fingerprintJs = path.join(pkg, 'dist/src/core/hash/fingerprint.js');
    writeFileSync(fingerprintJs, `${readFileSync(fingerprintJs, 'utf8')}// changed\n`);
    writeFileSync(memoFile, JSON.stringify(poisoned));
    expect((await run(['status'])).out).toMatch(/up to date/);
    expect((JSON.parse(readFileSync(memoFile, 'utf8')) as { key: string }).key).not.toBe(memo.key);
  });
});
