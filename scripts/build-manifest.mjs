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
