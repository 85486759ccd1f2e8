#!/usr/bin/env node
// Targeted verify benchmark: what does `conno verify TARGET` cost against TARGET's own run?
//
// In a copy of a project whose study is built (default: this repository, after `npx conno repro`),
// for each round it times, one after the other:
//
//   conno repro --force TARGET   (the instance's own run: its upstream is up to date)
//   conno verify TARGET          (the same instance rerun in a scratch copy from the inputs
//                                 conno.lock records, its upstream checked, then compared)
//
// and prints both and their ratio (the target: verify at most 1.5× the run). The copy shares the
// cache's objects through hard links, so nothing in the project itself is touched.
//
// Usage: npm run bench:verify -- [--dir PROJECT] [--target ID] [--rounds K] [--json]
// Default target: the first train instance of the project.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CONNO = path.join(REPO, 'bin', 'conno.js');

function usage(msg) {
  if (msg) process.stderr.write(`bench/verify.mjs: ${msg}\n`);
  process.stderr.write('usage: node bench/verify.mjs [--dir PROJECT] [--target ID] [--rounds K] [--json]\n');
  process.exit(msg ? 2 : 0);
}

const opts = { dir: REPO, target: undefined, rounds: 3, json: false };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const next = () => (i + 1 < argv.length ? argv[++i] : usage(`${a} needs a value`));
  if (a === '--dir') opts.dir = path.resolve(next());
  else if (a === '--target') opts.target = next();
  else if (a === '--rounds') {
    opts.rounds = Number(next());
    if (!Number.isInteger(opts.rounds) || opts.rounds < 1) usage('--rounds takes a positive whole number');
  } else if (a === '--json') opts.json = true;
  else if (a === '--help' || a === '-h') usage();
  else usage(`unknown argument ${a}`);
}

const log = (m) => process.stderr.write(`${m}\n`);

function conno(cwd, args) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CONNO, ...args], { cwd, encoding: 'utf8', env: { ...process.env, CI: '1' } });
  const s = (performance.now() - t0) / 1000;
  if (r.status !== 0) {
    log(r.stdout + r.stderr);
    throw new Error(`conno ${args.join(' ')} exited with ${r.status}`);
  }
  return { s, out: r.stdout, err: r.stderr };
}

const lockFile = path.join(opts.dir, 'conno.lock');
if (!fs.existsSync(lockFile)) usage(`${opts.dir} has no conno.lock: run npx conno repro there first`);
const st = conno(opts.dir, ['status']);
if (!/Everything is up to date/.test(st.out)) usage(`${opts.dir} is not up to date: run npx conno repro there first`);
const lock = parse(fs.readFileSync(lockFile, 'utf8'));
const target = opts.target ?? Object.keys(lock.stages).find((id) => id.startsWith('train'));
if (!target || !lock.stages[target]) usage(`no stage instance ${target ?? '(train…)'} in conno.lock`);

// The copy: the project's own files (not its outputs), the cache's objects and run records linked.
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'conno-bench-verify-'));
try {
  const files = spawnSync('git', ['ls-files', '-z'], { cwd: opts.dir, encoding: 'utf8' });
  const list = files.status === 0 ? files.stdout.split('\0').filter(Boolean) : ['pipeline.yaml', 'conno.lock', 'params'];
  for (const rel of list) {
    const src = path.join(opts.dir, rel);
    if (!fs.existsSync(src)) continue;
    fs.mkdirSync(path.dirname(path.join(work, rel)), { recursive: true });
    fs.cpSync(src, path.join(work, rel), { recursive: true });
  }
  fs.cpSync(lockFile, path.join(work, 'conno.lock'));
  fs.mkdirSync(path.join(work, 'cache'), { recursive: true });
  for (const sub of ['objects', 'runs']) {
    const from = path.join(opts.dir, 'cache', sub);
    const to = path.join(work, 'cache', sub);
    if (fs.existsSync(from) && !fs.existsSync(to)) spawnSync('cp', ['-al', from, to], { stdio: 'inherit' });
  }
  // Stage modules of the project resolve their packages from the project's node_modules.
  if (fs.existsSync(path.join(opts.dir, 'node_modules'))) fs.symlinkSync(path.join(opts.dir, 'node_modules'), path.join(work, 'node_modules'));
  conno(work, ['status']);
  const rounds = [];
  for (let k = 0; k < opts.rounds; k++) {
    const run = conno(work, ['repro', '--force', target]);
    const ver = conno(work, ['verify', target]);
    if (!/Verified/.test(ver.out)) throw new Error(`verify ${target} did not pass:\n${ver.out}`);
    rounds.push({ run_s: run.s, verify_s: ver.s, ratio: ver.s / run.s });
    log(`round ${k + 1}: repro --force ${run.s.toFixed(2)} s, verify ${ver.s.toFixed(2)} s, ratio ${(ver.s / run.s).toFixed(2)}`);
  }
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const result = { target, rounds, median: { run_s: med(rounds.map((r) => r.run_s)), verify_s: med(rounds.map((r) => r.verify_s)), ratio: med(rounds.map((r) => r.ratio)) }, limit: 1.5 };
  if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    process.stdout.write(`verify ${target}: ${result.median.verify_s.toFixed(2)} s; its own run (repro --force): ${result.median.run_s.toFixed(2)} s; ratio ${result.median.ratio.toFixed(2)} (median of ${rounds.length}; target ≤ ${result.limit})\n`);
  }
  process.exitCode = result.median.ratio <= result.limit ? 0 : 1;
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
