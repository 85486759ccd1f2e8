#!/usr/bin/env node
// conno's command line: the compiled CLI lives in dist/ (built by `npm ci` / `npm run build`).
import { existsSync, readFileSync, statSync } from 'node:fs';

const dist = new URL('../dist/', import.meta.url);
const unbundled = new URL('src/core/cli/main.js', dist);
if (!existsSync(unbundled)) {
  process.stderr.write('conno: not built yet (dist/ is missing): run `npm ci` or `npm run build` in the conno folder\n');
  process.exit(2);
}

/**
 * The bundle of the CLI's engine modules (scripts/bundle-cli.mjs) while it matches the dist/ files
 * it was made from: none newer than its manifest, each of the size it had. Otherwise (a `tsc`
 * run since, no bundle) the same code unbundled.
 */
function cliModule() {
  try {
    const file = new URL('cli-bundle/manifest.json', dist);
    const made = statSync(file).mtimeMs;
    const manifest = JSON.parse(readFileSync(file, 'utf8'));
    if (manifest.format !== 2) return unbundled;
    for (const [rel, size] of manifest.inputs) {
      const st = statSync(new URL(rel, dist));
      if (st.size !== size || st.mtimeMs > made) return unbundled;
    }
    return new URL('cli-bundle/main.js', dist);
  } catch {
    return unbundled;
  }
}

// `conno status | head` closes the pipe early: that is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}
const { main, exitsPromptly } = await import(cliModule().href);
const code = await main(process.argv.slice(2), {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  isTTY: Boolean(process.stdout.isTTY && process.stderr.isTTY),
});
process.exitCode = code;
// A read-only command (status) ends as soon as its output is flushed, not after V8's background work.
if (exitsPromptly()) process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
