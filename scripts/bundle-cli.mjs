#!/usr/bin/env node
// After `tsc` and build-manifest.mjs: bundles the engine's modules of conno's command line into
// a few files (dist/cli-bundle/), which bin/conno.js runs while they match the dist/ files they
// were made from (manifest.json, below; otherwise it runs dist/src/core/cli/main.js, the same
// code unbundled). Node's ES module loader pays ~0.5 ms per
// module it loads (resolving, reading through the thread pool one import level at a time,
// linking); a no-op `status` loaded ~25 of them, ~10 ms of ~130.
//
// What stays a file of its own, imported from the bundle by its path (so that one process never
// holds two copies of a module, whose classes `instanceof` and state would then be two):
// - every module the lab and the built-in stages import, and what those import (the stage API:
//   a stage module loaded at run time gets the same errors, arrow and hash modules as the engine);
// - every module that reads import.meta (its own location would become the bundle's), and what
//   it imports;
// - every package (node_modules) and Node's own modules.
// The set kept is closed under imports, so a kept module never imports a bundled one.
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { init, parse } from 'es-module-lexer';
import { build } from 'rolldown';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const core = path.join(dist, 'src', 'core') + path.sep;
const out = path.join(dist, 'cli-bundle');
const MANIFEST_FORMAT = 2;

await init;
const importsOf = (file) => parse(readFileSync(file, 'utf8'))[0];
const jsUnder = (dir) => readdirSync(dir, { recursive: true }).filter((f) => f.endsWith('.js')).map((f) => path.join(dir, f));

const kept = new Set();
function keep(file) {
  if (kept.has(file)) return;
  kept.add(file);
  for (const imp of importsOf(file)) {
    if (imp.n !== undefined && imp.d !== -2 && imp.n.startsWith('.')) keep(path.resolve(path.dirname(file), imp.n));
  }
}
for (const top of ['src/lab', 'stages']) jsUnder(path.join(dist, top)).forEach(keep);
for (const file of jsUnder(core)) if (importsOf(file).some((imp) => imp.d === -2)) keep(file);

// The modules a no-op `status` runs go into one file: the static imports of the command table and
// of the status command, and of the two modules that status always imports dynamically (its
// engine, while the project opens; the reader of the saved analysis).
const statusPath = new Set();
function onStatusPath(file) {
  if (statusPath.has(file) || kept.has(file)) return;
  statusPath.add(file);
  for (const imp of importsOf(file)) {
    if (imp.n !== undefined && imp.d === -1 && imp.n.startsWith('.')) onStatusPath(path.resolve(path.dirname(file), imp.n));
  }
}
for (const m of ['cli/table.js', 'cli/commands/status.js', 'engine/status.js', 'pipeline/analysis-cache.js']) onStatusPath(path.join(core, ...m.split('/')));

rmSync(out, { recursive: true, force: true });
const result = await build({
  input: { main: path.join(core, 'cli', 'main.js') },
  platform: 'node',
  onLog(level, log, handler) {
    // analysis-cache.js: imported dynamically where the project opens, statically by status.
    if (log.code !== 'INEFFECTIVE_DYNAMIC_IMPORT') handler(level, log);
  },
  plugins: [
    {
      name: 'conno-kept-modules',
      // A kept module is imported by its path (written relative to the bundle's folder: output.paths).
      resolveId(source, importer) {
        if (importer === undefined) return null; // the entry
        if (!source.startsWith('.') && !path.isAbsolute(source)) return { id: source, external: true }; // node:… or a package
        const file = path.resolve(path.dirname(importer), source);
        if (!file.startsWith(core) || kept.has(file)) return { id: file, external: 'absolute' };
        return null;
      },
    },
  ],
  output: {
    dir: out,
    format: 'esm',
    entryFileNames: '[name].js',
    chunkFileNames: '[name]-[hash].js',
    minify: false,
    // Every file of the bundle is in `out`: a kept module's path from there.
    paths: (id) => (path.isAbsolute(id) ? path.relative(out, id).split(path.sep).join('/') : id),
    codeSplitting: { groups: [{ name: 'status', test: (id) => statusPath.has(id) }] },
  },
});

// What each file of the bundle holds, and the dist/ files it was made from with their sizes. The
// manifest is written last: bin/conno.js runs the bundle while none of those files is newer than
// the manifest or of another size (a package npm installed has one mtime for every file).
const chunks = {};
const inputs = new Set();
for (const chunk of result.output) {
  if (chunk.type !== 'chunk') continue;
  const mods = chunk.moduleIds.filter((m) => m.startsWith(core)).map((m) => path.relative(dist, m).split(path.sep).join('/'));
  chunks[chunk.fileName] = mods.sort();
  mods.forEach((m) => inputs.add(m));
}
const sized = [...inputs].sort().map((rel) => [rel, statSync(path.join(dist, ...rel.split('/'))).size]);
writeFileSync(path.join(out, 'package.json'), `${JSON.stringify({ type: 'module' })}\n`);
writeFileSync(path.join(out, 'manifest.json'), `${JSON.stringify({ format: MANIFEST_FORMAT, inputs: sized, chunks }, null, 1)}\n`);
