#!/usr/bin/env node
// After `tsc`: records the hash of every TypeScript source that dist/ was compiled from
// (dist/build-manifest.json). conno hashes a built-in stage by its sources and refuses to run
// when a source no longer matches its build, so a stale dist/ can never pass for the code.
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { hashFile } = await import(new URL('../dist/src/core/hash/xxhash.js', import.meta.url).href);
const { BUILD_MANIFEST } = await import(new URL('../dist/src/core/stage/code.js', import.meta.url).href);

const files = {};
for (const top of ['src', 'stages']) {
  for (const e of readdirSync(path.join(root, top), { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || !e.name.endsWith('.ts') || e.name.endsWith('.test.ts') || e.name.endsWith('.d.ts')) continue;
    const abs = path.join(e.parentPath, e.name);
    files[path.relative(root, abs).split(path.sep).join('/')] = (await hashFile(abs)).hash;
  }
}
const sorted = Object.fromEntries(Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1)));
writeFileSync(path.join(root, 'dist', BUILD_MANIFEST), `${JSON.stringify({ files: sorted }, null, 1)}\n`);

// Package scope markers: Node resolves every ES module's package scope by looking for a
// package.json in each folder above it, one URL and path conversion per folder; a marker at the
// top of each compiled tree ends that walk two folders up instead of five (~2 ms of a no-op
// `status`, which loads ~25 modules). The same "type" as conno's package.json; no name, so
// nothing takes them for the package root.
for (const top of ['dist/src/core', 'dist/src/lab', 'dist/stages']) {
  writeFileSync(path.join(root, top, 'package.json'), `${JSON.stringify({ type: 'module' })}\n`);
}
