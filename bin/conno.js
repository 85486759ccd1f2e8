#!/usr/bin/env node
// conno's command line: the compiled CLI lives in dist/ (built by `npm ci` / `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/src/core/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  process.stderr.write('conno: not built yet (dist/ is missing): run `npm ci` or `npm run build` in the conno folder\n');
  process.exit(2);
}
// `conno status | head` closes the pipe early: that is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}
const { main, exitsPromptly } = await import(cli.href);
const code = await main(process.argv.slice(2), {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  isTTY: Boolean(process.stdout.isTTY && process.stderr.isTTY),
});
process.exitCode = code;
// A read-only command (status) ends as soon as its output is flushed, not after V8's background work.
if (exitsPromptly()) process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
