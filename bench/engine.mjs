#!/usr/bin/env node
// Engine benchmark: how long does a no-op take?
//
// For each size N it builds the same DAG of N trivial command stages three ways
// (conno pipeline.yaml, a Makefile, a Snakefile), runs each tool once for real
// so that everything is up to date, and then times the no-op:
//
//   make -n            (dry run of an up-to-date tree)
//   snakemake -n       (dry run of an up-to-date tree)
//   conno status       (nothing changed)
//   conno repro        (nothing to do)
//   node -e 0          (the floor any Node CLI pays)
//
// snakemake -n and conno status are timed in turns (A B, then B A, ...), so that a machine
// whose speed drifts during the bench weighs on both alike; the ratio of each pair is printed
// too (median and range).
//
// DAG shape, "chain plus skip edges": stage i depends on the output of stage i-1
// and, when i >= 10, also on the output of stage i-10. Stage i writes out/s<i>.txt.
//
// Usage: npm run bench:engine -- [--sizes 10,100,1000,10000] [--tools make,snakemake,conno] [--json] [--keep]
//        [--runs K] [--build-runs K] [--build-timeout SECONDS] [--smk-style wildcard|rules]
//
// --build-runs K: the full builds of snakemake and conno are timed K times, each in a fresh
// folder, taking turns at going first (the file system remembers recent deletions for a
// minute; whoever builds right after the other pays for them); medians are reported.
//
// --json prints exactly one JSON object on stdout and nothing else there;
// progress and notes always go to stderr. Everything is generated in a temp
// dir under os.tmpdir(), removed at the end unless --keep.
//
// Node built-ins only.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CONNO = path.join(REPO, 'bin', 'conno.js');

// ---------------------------------------------------------------- arguments

function usage(msg) {
  if (msg) process.stderr.write(`bench/engine.mjs: ${msg}\n`);
  process.stderr.write(
    'usage: node bench/engine.mjs [--sizes 10,100,1000,10000] [--tools make,snakemake,conno] [--json] [--keep]\n' +
      '                             [--runs K] [--build-runs K] [--build-timeout SECONDS] [--smk-style wildcard|rules]\n',
  );
  process.exit(msg ? 2 : 0);
}

function parseArgs(argv) {
  const opts = { sizes: [10, 100, 1000, 10000], tools: ['make', 'snakemake', 'conno'], json: false, keep: false, runs: null, buildRuns: 1, buildTimeoutS: 600, smkStyle: 'wildcard' };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let val = null;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      val = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const next = () => {
      if (val !== null) return val;
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--sizes': {
        const s = next()
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean)
          .map(Number);
        if (!s.length || s.some((n) => !Number.isInteger(n) || n < 1)) usage('--sizes takes positive integers, e.g. --sizes 10,100');
        opts.sizes = s;
        break;
      }
      case '--tools': {
        const t = next()
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean);
        if (!t.length || t.some((x) => !['make', 'snakemake', 'conno'].includes(x))) usage('--tools is a list of make, snakemake, conno');
        opts.tools = t;
        break;
      }
      case '--json':
        opts.json = true;
        break;
      case '--keep':
        opts.keep = true;
        break;
      case '--runs': {
        const k = Number(next());
        if (!Number.isInteger(k) || k < 1) usage('--runs takes a positive integer');
        opts.runs = k;
        break;
      }
      case '--build-runs': {
        const k = Number(next());
        if (!Number.isInteger(k) || k < 1) usage('--build-runs takes a positive integer');
        opts.buildRuns = k;
        break;
      }
      case '--build-timeout': {
        const t = Number(next());
        if (!(t > 0)) usage('--build-timeout takes seconds');
        opts.buildTimeoutS = t;
        break;
      }
      case '--smk-style': {
        const s = next();
        if (s !== 'wildcard' && s !== 'rules') usage('--smk-style is wildcard or rules');
        opts.smkStyle = s;
        break;
      }
      case '-h':
      case '--help':
        usage();
        break;
      default:
        usage(`unknown argument ${argv[i]}`);
    }
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);
const runsFor = (n) => opts.runs ?? (n >= 10000 ? 3 : 5);

// ---------------------------------------------------------------- processes

const MAX_BUFFER = 512 * 1024 * 1024;

/** Run a command; never throws. Returns {ok, ms, status, signal, timedOut, error, stdout, stderr}. */
function run(cmd, args, { cwd, timeoutMs = 0, logFile = null, env } = {}) {
  let fd = null;
  if (logFile) fd = fs.openSync(logFile, 'a');
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, {
    cwd,
    env: env ?? process.env,
    timeout: timeoutMs || undefined,
    killSignal: 'SIGKILL',
    maxBuffer: MAX_BUFFER,
    stdio: fd !== null ? ['ignore', fd, fd] : ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (fd !== null) fs.closeSync(fd);
  const timedOut = r.error?.code === 'ETIMEDOUT' || (timeoutMs > 0 && r.signal === 'SIGKILL' && ms >= timeoutMs);
  return {
    ok: !r.error && r.status === 0,
    ms,
    status: r.status,
    signal: r.signal,
    timedOut,
    error: r.error ? `${r.error.code ?? ''} ${r.error.message}`.trim() : null,
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? '',
  };
}

function tail(s, n = 1500) {
  s = (s ?? '').trim();
  return s.length > n ? '…' + s.slice(-n) : s;
}

function readTail(file, n = 1500) {
  try {
    return tail(fs.readFileSync(file, 'utf8'), n);
  } catch {
    return '';
  }
}

function describeFailure(what, r, logFile) {
  if (r.timedOut) return `${what} timed out after ${(r.ms / 1000).toFixed(0)} s`;
  const out = logFile ? readTail(logFile) : tail(r.stderr + '\n' + r.stdout);
  const code = r.error ? r.error : r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
  return `${what} failed (${code})${out ? ': ' + out : ''}`;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x, d = 2) => (x == null ? null : Math.round(x * 10 ** d) / 10 ** d);

/**
 * Time a no-op command: one untimed warm-up, then `runs` timed runs; median ms.
 * `check(result)` may return an error string when the "no-op" wasn't one.
 */
function timeNoop(label, cmd, args, { cwd, runs, timeoutMs = 300_000, check } = {}) {
  const samples = [];
  const warm = run(cmd, args, { cwd, timeoutMs });
  if (!warm.ok) return { ms: null, samples, error: describeFailure(label, warm) };
  const bad = check?.(warm);
  if (bad) return { ms: null, samples, error: `${label}: ${bad}` };
  for (let k = 0; k < runs; k++) {
    const r = run(cmd, args, { cwd, timeoutMs });
    if (!r.ok) return { ms: null, samples, error: describeFailure(label, r) };
    samples.push(r.ms);
  }
  return { ms: median(samples), samples: samples.map((x) => round(x, 3)), error: null, output: tail(warm.stdout + warm.stderr, 400) };
}

/**
 * Time several no-op commands in alternation (A B, then B A, ...): each gets one untimed warm-up,
 * then `runs` timed runs, so that a machine that slows down or speeds up during the bench weighs
 * on all of them alike. Returns one timeNoop-shaped result per spec, in order.
 */
function timeNoops(specs, runs) {
  const out = specs.map(() => ({ ms: null, samples: [], error: null, output: '' }));
  const live = specs.map((sp, i) => {
    const warm = run(sp.cmd, sp.args, { cwd: sp.cwd, timeoutMs: sp.timeoutMs ?? 300_000 });
    if (!warm.ok) out[i].error = describeFailure(sp.label, warm);
    else {
      const bad = sp.check?.(warm);
      if (bad) out[i].error = `${sp.label}: ${bad}`;
      out[i].output = tail(warm.stdout + warm.stderr, 400);
    }
    return out[i].error === null;
  });
  const raw = specs.map(() => []);
  for (let k = 0; k < runs; k++) {
    const order = specs.map((_, i) => i);
    if (k % 2) order.reverse();
    for (const i of order) {
      if (!live[i]) continue;
      const sp = specs[i];
      const r = run(sp.cmd, sp.args, { cwd: sp.cwd, timeoutMs: sp.timeoutMs ?? 300_000 });
      if (!r.ok) {
        out[i].error = describeFailure(sp.label, r);
        live[i] = false;
        continue;
      }
      raw[i].push(r.ms);
    }
  }
  specs.forEach((_, i) => {
    if (out[i].error === null && raw[i].length) {
      out[i].ms = median(raw[i]);
      out[i].samples = raw[i].map((x) => round(x, 3));
    }
  });
  return out;
}

// ---------------------------------------------------------------- DAG generators

/** deps of stage i, as stage indices: chain plus skip edges. */
function depsOf(i) {
  const d = [];
  if (i >= 1) d.push(i - 1);
  if (i >= 10) d.push(i - 10);
  return d;
}
const outOf = (i) => `out/s${i}.txt`;
const cmdOf = (i) => (i === 0 ? `mkdir -p out && echo 0 > ${outOf(0)}` : `echo ${i} > ${outOf(i)}`);

function genConno(dir, n) {
  // Plain string building: fast for 10000 stages and fully under our control.
  // Paths and commands contain no YAML-special characters, so plain scalars are safe.
  const lines = ['# generated by bench/engine.mjs: chain plus skip edges', 'stages:'];
  for (let i = 0; i < n; i++) {
    lines.push(`  s${i}:`);
    lines.push(`    cmd: ${cmdOf(i)}`);
    const d = depsOf(i);
    if (d.length) lines.push(`    deps: [${d.map(outOf).join(', ')}]`);
    lines.push(`    outs: [${outOf(i)}]`);
  }
  fs.writeFileSync(path.join(dir, 'pipeline.yaml'), lines.join('\n') + '\n');
}

function genMake(dir, n) {
  const lines = ['# generated by bench/engine.mjs: chain plus skip edges', '.PHONY: all', '.DEFAULT_GOAL := all', ''];
  // `all` lists every target, like snakemake's `rule all`.
  const all = [];
  for (let i = 0; i < n; i++) all.push(outOf(i));
  lines.push(`all: ${all.join(' ')}`, '');
  for (let i = 0; i < n; i++) {
    lines.push(`${outOf(i)}:${depsOf(i).map((d) => ' ' + outOf(d)).join('')}`);
    lines.push(`\t${cmdOf(i)}`);
  }
  fs.writeFileSync(path.join(dir, 'Makefile'), lines.join('\n') + '\n');
}

function genSnake(dir, n, style) {
  let s = `# generated by bench/engine.mjs: chain plus skip edges (${style} style)\nN = ${n}\n\n`;
  s += 'rule all:\n    input: expand("out/s{i}.txt", i=range(N))\n\n';
  if (style === 'wildcard') {
    // One concrete rule for the source, one generic rule for s1..s(N-1); the input
    // function gives each job exactly the two edges of the conno/make versions.
    s += 'rule s0:\n    output: "out/s0.txt"\n    shell: "mkdir -p out && echo 0 > {output}"\n\n';
    s += [
      'def stage_deps(wildcards):',
      '    i = int(wildcards.i)',
      '    d = ["out/s%d.txt" % (i - 1)]',
      '    if i >= 10:',
      '        d.append("out/s%d.txt" % (i - 10))',
      '    return d',
      '',
      'rule stage:',
      '    input: stage_deps',
      '    output: "out/s{i}.txt"',
      '    wildcard_constraints: i="[1-9][0-9]*"',
      '    shell: "echo {wildcards.i} > {output}"',
      '',
    ].join('\n');
  } else {
    const parts = [];
    for (let i = 0; i < n; i++) {
      const d = depsOf(i);
      let r = `rule s${i}:\n`;
      if (d.length) r += `    input: ${d.map((x) => JSON.stringify(outOf(x))).join(', ')}\n`;
      r += `    output: ${JSON.stringify(outOf(i))}\n`;
      r += `    shell: ${JSON.stringify(cmdOf(i))}\n`;
      parts.push(r);
    }
    s += parts.join('\n');
  }
  fs.writeFileSync(path.join(dir, 'Snakefile'), s);
}

/** Every out file exists; returns the mtimes (ms) so a no-op can be checked to be one. */
function outMtimes(dir, n) {
  const m = [];
  for (let i = 0; i < n; i++) {
    try {
      m.push(fs.statSync(path.join(dir, outOf(i))).mtimeMs);
    } catch {
      return null;
    }
  }
  return m;
}
function countOuts(dir) {
  try {
    return fs.readdirSync(path.join(dir, 'out')).length;
  } catch {
    return 0;
  }
}
function sameMtimes(a, b) {
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---------------------------------------------------------------- tool discovery

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function ensureSnakemake() {
  const info = { available: false, version: null, reason: null, installed_now: false, install_ms: null };
  if (!which('snakemake')) {
    const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    if (!isRoot) {
      info.reason = 'snakemake is not on PATH and we are not root, so it cannot be apt-get installed (apt-get install snakemake)';
      log(info.reason);
      return info;
    }
    log('snakemake is not on PATH: running `apt-get update && apt-get install -y snakemake` (Debian package; output follows on stderr)');
    const t0 = process.hrtime.bigint();
    const r = spawnSync('sh', ['-c', 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y snakemake'], {
      stdio: ['ignore', 2, 2], // keep our stdout clean for --json
      timeout: 30 * 60_000,
      killSignal: 'SIGKILL',
    });
    info.install_ms = round(Number(process.hrtime.bigint() - t0) / 1e6, 0);
    info.installed_now = true;
    if (r.error || r.status !== 0 || !which('snakemake')) {
      info.reason = `apt-get install snakemake failed (${r.error ? r.error.message : r.signal ? 'killed by ' + r.signal : 'exit ' + r.status})`;
      log(info.reason);
      return info;
    }
    log(`installed snakemake with apt-get in ${(info.install_ms / 1000).toFixed(1)} s`);
  }
  const v = run('snakemake', ['--version'], { timeoutMs: 120_000 });
  if (!v.ok) {
    info.reason = describeFailure('snakemake --version', v);
    log(info.reason);
    return info;
  }
  info.version = v.stdout.trim().split('\n').pop();
  info.available = true;
  // `--quiet` exists in every snakemake we care about, but in 7.x it takes optional
  // choices, so pass it as `--quiet` followed by another option.
  const h = run('snakemake', ['--help'], { timeoutMs: 120_000 });
  info.quiet = h.ok && /--quiet\b/.test(h.stdout);
  return info;
}

function checkConno() {
  const info = { available: false, version: null, reason: null };
  if (!fs.existsSync(CONNO)) {
    info.reason = `${path.relative(REPO, CONNO)} does not exist`;
    return info;
  }
  const v = run(process.execPath, [CONNO, '--version'], { timeoutMs: 60_000 });
  if (!v.ok) {
    info.reason = describeFailure('conno --version', v);
    return info;
  }
  info.version = v.stdout.trim();
  info.available = true;
  return info;
}

// ---------------------------------------------------------------- per size

function benchSize(root, n, tools) {
  const runs = runsFor(n);
  const buildTimeoutMs = opts.buildTimeoutS * 1000;
  const res = {
    n,
    edges: Array.from({ length: n }, (_, i) => depsOf(i).length).reduce((a, b) => a + b, 0),
    runs,
    make_n_ms: null,
    snakemake_n_ms: null,
    conno_status_ms: null,
    conno_repro_ms: null,
    node_floor_ms: null,
    speedup_vs_snakemake: null,
    speedup_vs_snakemake_pairs: null,
    conno_status_vs_make: null,
    build_ms: { make: null, snakemake: null, conno: null },
    samples: {},
    errors: {},
    notes: [],
  };
  const base = path.join(root, `n${n}`);
  const dirs = { conno: path.join(base, 'conno'), make: path.join(base, 'make'), snakemake: path.join(base, 'snakemake') };
  for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true });
  genConno(dirs.conno, n);
  genMake(dirs.make, n);
  genSnake(dirs.snakemake, n, opts.smkStyle);

  // floor
  {
    const t = timeNoop('node -e 0', process.execPath, ['-e', '0'], { runs });
    res.node_floor_ms = round(t.ms, 3);
    res.samples.node_floor = t.samples;
    if (t.error) res.errors.node_floor = t.error;
  }

  // make
  if (!opts.tools.includes('make')) {
    res.errors.make = 'skipped (--tools)';
  } else if (!tools.make) {
    res.errors.make = 'make is not on PATH';
  } else {
    log(`N=${n}: make -j2 (build)`);
    const logFile = path.join(dirs.make, 'build.log');
    const b = run('make', ['-j2'], { cwd: dirs.make, timeoutMs: buildTimeoutMs, logFile });
    if (!b.ok) {
      res.errors.make = describeFailure('make -j2', b, logFile);
    } else {
      res.build_ms.make = round(b.ms, 1);
      const before = outMtimes(dirs.make, n);
      log(`N=${n}: timing make -n (${runs} runs)`);
      const t = timeNoop('make -n', 'make', ['-n'], {
        cwd: dirs.make,
        runs,
        check: (r) => (/Nothing to be done/.test(r.stdout + r.stderr) ? null : `not a no-op, it printed: ${tail(r.stdout, 300)}`),
      });
      res.make_n_ms = round(t.ms, 3);
      res.samples.make_n = t.samples;
      if (t.error) res.errors.make = t.error;
      if (!before) res.notes.push('make: some outputs missing after build');
    }
  }

  // snakemake
  let smkDryRun = null;
  if (!opts.tools.includes('snakemake')) {
    res.errors.snakemake = 'skipped (--tools)';
  } else if (!tools.snakemake.available) {
    res.errors.snakemake = tools.snakemake.reason;
  } else {
    log(`N=${n}: snakemake --cores 2 (build)`);
    const logFile = path.join(dirs.snakemake, 'build.log');
    const b = run('snakemake', ['--cores', '2'], { cwd: dirs.snakemake, timeoutMs: buildTimeoutMs, logFile });
    if (!b.ok) {
      res.errors.snakemake = describeFailure('snakemake --cores 2', b, logFile);
      if (b.timedOut) res.notes.push(`snakemake build took more than ${opts.buildTimeoutS} s; snakemake -n skipped`);
    } else {
      res.build_ms.snakemake = round(b.ms, 1);
      const args = ['-n'];
      if (tools.snakemake.quiet) args.push('--quiet');
      const before = outMtimes(dirs.snakemake, n);
      smkDryRun = {
        label: `snakemake ${args.join(' ')}`,
        cmd: 'snakemake',
        args,
        cwd: dirs.snakemake,
        check: (r) => {
          const out = r.stdout + r.stderr;
          if (/Nothing to be done/i.test(out)) return null;
          // with --quiet, a no-op dry run may print nothing at all
          if (/\bJob stats\b|\brule \w+:/.test(out)) return `not a no-op, it printed: ${tail(out, 400)}`;
          return null;
        },
        before,
      };
    }
  }
  // snakemake -n is timed together with conno status (in alternation) once conno has built.
  const recordSmk = (t) => {
    res.snakemake_n_ms = round(t.ms, 3);
    res.samples.snakemake_n = t.samples;
    if (t.error) res.errors.snakemake = t.error;
    if (!sameMtimes(smkDryRun.before, outMtimes(dirs.snakemake, n))) res.notes.push('snakemake -n changed output mtimes');
  };

  // conno
  if (!opts.tools.includes('conno')) {
    res.errors.conno = 'skipped (--tools)';
  } else if (!tools.conno.available) {
    res.errors.conno = `conno CLI not usable: ${tools.conno.reason}`;
  } else {
    log(`N=${n}: conno repro --jobs 2 (build, timeout ${opts.buildTimeoutS} s)`);
    const logFile = path.join(dirs.conno, 'build.log');
    const b = run(process.execPath, [CONNO, '-C', dirs.conno, 'repro', '--jobs', '2'], { cwd: dirs.conno, timeoutMs: buildTimeoutMs, logFile });
    if (!b.ok) {
      res.errors.conno = describeFailure('conno repro --jobs 2', b, logFile);
      if (b.timedOut) {
        const made = (outMtimes(dirs.conno, n) ?? []).length || countOuts(dirs.conno);
        res.notes.push(`conno full repro took more than ${opts.buildTimeoutS} s (${made} of ${n} outputs written by then); conno timings skipped. Last log lines: ${readTail(logFile, 400)}`);
      }
    } else if (!fs.existsSync(path.join(dirs.conno, 'conno.lock'))) {
      res.errors.conno = 'conno repro exited 0 but wrote no conno.lock';
    } else {
      res.build_ms.conno = round(b.ms, 1);
      const before = outMtimes(dirs.conno, n);
      if (!before) res.notes.push('conno: some outputs missing after repro');
      const lockBefore = fs.readFileSync(path.join(dirs.conno, 'conno.lock'), 'utf8');

      const statusSpec = { label: 'conno status', cmd: process.execPath, args: [CONNO, '-C', dirs.conno, 'status'], cwd: dirs.conno };
      let st;
      if (smkDryRun) {
        log(`N=${n}: timing ${smkDryRun.label} and conno status, taking turns (${runs} runs each)`);
        const [smk, cs] = timeNoops([smkDryRun, statusSpec], runs);
        recordSmk(smk);
        smkDryRun = null;
        st = cs;
        if (smk.samples.length && smk.samples.length === cs.samples.length) {
          const pairs = smk.samples.map((x, k) => x / cs.samples[k]);
          res.samples.status_pairs = pairs.map((x) => round(x, 2));
          res.speedup_vs_snakemake_pairs = { median: round(median(pairs), 2), min: round(Math.min(...pairs), 2), max: round(Math.max(...pairs), 2) };
        }
      } else {
        log(`N=${n}: timing conno status (${runs} runs)`);
        st = timeNoop('conno status', process.execPath, [CONNO, '-C', dirs.conno, 'status'], { cwd: dirs.conno, runs });
      }
      res.conno_status_ms = round(st.ms, 3);
      res.samples.conno_status = st.samples;
      if (st.error) res.errors.conno_status = st.error;

      // status --json: just record whether it says anything is stale (format not pinned here)
      const sj = run(process.execPath, [CONNO, '-C', dirs.conno, 'status', '--json'], { cwd: dirs.conno, timeoutMs: 300_000 });
      if (sj.ok) {
        try {
          const j = JSON.parse(sj.stdout);
          const stages = Array.isArray(j?.stages) ? j.stages : null;
          if (stages) {
            const stale = stages.filter((s) => s?.stale);
            res.conno_status_stages = stages.length;
            if (stages.length !== n) res.notes.push(`conno status --json lists ${stages.length} stages, expected ${n}`);
            if (stale.length) res.notes.push(`conno status --json says ${stale.length} stage(s) are stale right after repro, e.g. ${JSON.stringify(stale[0]).slice(0, 300)}`);
          }
        } catch {
          res.notes.push('conno status --json did not print valid JSON');
        }
      } else {
        res.notes.push(describeFailure('conno status --json', sj));
      }

      log(`N=${n}: timing conno repro no-op (${runs} runs)`);
      const rp = timeNoop('conno repro (no-op)', process.execPath, [CONNO, '-C', dirs.conno, 'repro', '--jobs', '2'], { cwd: dirs.conno, runs });
      res.conno_repro_ms = round(rp.ms, 3);
      res.samples.conno_repro = rp.samples;
      if (rp.error) res.errors.conno_repro = rp.error;
      if (!sameMtimes(before, outMtimes(dirs.conno, n))) res.notes.push('conno: a no-op repro rewrote outputs (mtimes changed) — it was not a no-op');
      const lockAfter = fs.readFileSync(path.join(dirs.conno, 'conno.lock'), 'utf8');
      if (lockAfter !== lockBefore) res.notes.push('conno: conno.lock changed during the no-op runs');
    }
  }

  if (smkDryRun) {
    log(`N=${n}: timing ${smkDryRun.label} (${runs} runs)`);
    recordSmk(timeNoops([smkDryRun], runs)[0]);
  }

  // More full builds, in fresh folders, snakemake and conno taking turns at going first.
  if (opts.buildRuns > 1 && res.build_ms.snakemake != null && res.build_ms.conno != null) {
    const samples = { snakemake: [res.build_ms.snakemake], conno: [res.build_ms.conno] };
    for (let k = 1; k < opts.buildRuns; k++) {
      for (const tool of k % 2 ? ['conno', 'snakemake'] : ['snakemake', 'conno']) {
        const d = path.join(base, `${tool}-build${k}`);
        fs.mkdirSync(d, { recursive: true });
        if (tool === 'conno') genConno(d, n);
        else genSnake(d, n, opts.smkStyle);
        log(`N=${n}: ${tool} full build ${k + 1} of ${opts.buildRuns}`);
        const b = tool === 'conno' ? run(process.execPath, [CONNO, '-C', d, 'repro', '--jobs', '2'], { cwd: d, timeoutMs: buildTimeoutMs }) : run('snakemake', ['--cores', '2'], { cwd: d, timeoutMs: buildTimeoutMs });
        if (!b.ok) {
          res.notes.push(describeFailure(`${tool} full build ${k + 1}`, b));
          continue;
        }
        samples[tool].push(round(b.ms, 1));
      }
    }
    res.samples.build_snakemake = samples.snakemake;
    res.samples.build_conno = samples.conno;
    res.build_ms.snakemake = round(median(samples.snakemake), 1);
    res.build_ms.conno = round(median(samples.conno), 1);
  }
  if (res.build_ms.snakemake != null && res.build_ms.conno) res.build_vs_snakemake = round(res.build_ms.snakemake / res.build_ms.conno, 2);
  if (res.snakemake_n_ms != null && res.conno_status_ms) res.speedup_vs_snakemake = round(res.snakemake_n_ms / res.conno_status_ms, 2);
  if (res.conno_status_ms != null && res.make_n_ms) res.conno_status_vs_make = round(res.conno_status_ms / res.make_n_ms, 2);
  return res;
}

// ---------------------------------------------------------------- output

function table(rows) {
  const header = ['N', 'make -n', 'snakemake -n', 'conno status', 'conno repro', 'node -e 0', 'smk/status', 'status/make'];
  const f = (x) => (x == null ? '—' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
  const r = (x) => (x == null ? '—' : x.toFixed(1) + '×');
  const body = rows.map((s) => [String(s.n), f(s.make_n_ms), f(s.snakemake_n_ms), f(s.conno_status_ms), f(s.conno_repro_ms), f(s.node_floor_ms), r(s.speedup_vs_snakemake), r(s.conno_status_vs_make)]);
  const w = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? c.padStart(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(header), w.map((x) => '-'.repeat(x)).join('  '), ...body.map(line)].join('\n');
}

// ---------------------------------------------------------------- main

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'conno-bench-'));
let cleaned = false;
function cleanup() {
  if (cleaned) return;
  cleaned = true;
  if (opts.keep) {
    log(`kept ${root}`);
    return;
  }
  try {
    fs.rmSync(root, { recursive: true, force: true });
  } catch (e) {
    log(`could not remove ${root}: ${e.message}`);
  }
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}

let exitCode = 0;
try {
  log(`temp dir ${root}`);
  const tools = {
    make: which('make'),
    snakemake: opts.tools.includes('snakemake') ? ensureSnakemake() : { available: false, version: null, reason: 'skipped (--tools)' },
    conno: opts.tools.includes('conno') ? checkConno() : { available: false, version: null, reason: 'skipped (--tools)' },
  };
  if (opts.tools.includes('conno') && !tools.conno.available) log(`conno CLI not usable, its figures will be null: ${tools.conno.reason}`);
  const sizes = [];
  for (const n of opts.sizes) {
    const s = benchSize(root, n, tools);
    for (const [k, v] of Object.entries(s.errors)) log(`N=${n}: ${k}: ${v}`);
    for (const note of s.notes) log(`N=${n}: note: ${note}`);
    sizes.push(s);
  }
  const makeV = tools.make ? run('make', ['--version']).stdout.split('\n')[0] : null;
  const result = {
    sizes,
    node: process.version,
    snakemake: tools.snakemake.version,
    snakemake_reason: tools.snakemake.reason,
    snakemake_installed_now: tools.snakemake.installed_now,
    snakemake_install_ms: tools.snakemake.install_ms,
    snakemake_style: opts.smkStyle,
    make: makeV,
    conno: tools.conno.version,
    conno_reason: tools.conno.reason,
    platform: `${os.platform()} ${os.arch()} ${os.release()}`,
    cpus: os.cpus().length,
    cpu_model: os.cpus()[0]?.model ?? null,
    dag: 'chain plus skip edges: stage i needs stage i-1 and, for i >= 10, stage i-10',
    jobs: 2,
    timing: 'wall clock per process (process.hrtime.bigint around spawnSync), 1 untimed warm-up, median of runs; ms. snakemake -n and conno status run in turns (A B, B A, ...); speedup_vs_snakemake_pairs: the ratio per pair',
  };
  if (opts.json) {
    process.stdout.write(JSON.stringify(result) + '\n');
  } else {
    const out = [];
    out.push(`conno engine benchmark — no-op wall time, median ms (DAG: ${result.dag})`);
    out.push(`node ${result.node}, snakemake ${result.snakemake ?? 'n/a (' + result.snakemake_reason + ')'}, ${result.make ?? 'make n/a'}, conno ${result.conno ?? 'n/a'}`);
    out.push(`${result.cpus} × ${result.cpu_model}`);
    out.push('');
    out.push(table(sizes));
    out.push('');
    out.push('smk/status = snakemake -n ÷ conno status (higher: conno faster); status/make = conno status ÷ make -n');
    for (const s of sizes) {
      const p = s.speedup_vs_snakemake_pairs;
      if (p) out.push(`N=${s.n}: snakemake -n and conno status ran in turns; per pair, snakemake -n ÷ conno status: median ${p.median}×, from ${p.min}× to ${p.max}×`);
    }
    const builds = sizes.map((s) => {
      const runs = s.samples.build_conno ? ` (median of ${s.samples.build_conno.length}; conno ${s.samples.build_conno.join(', ')}; snakemake ${s.samples.build_snakemake.join(', ')})` : '';
      return `N=${s.n}: make ${s.build_ms.make ?? '—'}, snakemake ${s.build_ms.snakemake ?? '—'}, conno ${s.build_ms.conno ?? '—'}${s.build_vs_snakemake != null ? `, snakemake ÷ conno ${s.build_vs_snakemake}×` : ''}${runs}`;
    });
    out.push(`${opts.buildRuns > 1 ? '' : 'initial '}full builds (ms, 2 jobs): ` + builds.join('; '));
    const problems = sizes.flatMap((s) => [...Object.entries(s.errors).map(([k, v]) => `N=${s.n} ${k}: ${v}`), ...s.notes.map((x) => `N=${s.n} note: ${x}`)]);
    if (problems.length) {
      out.push('');
      out.push('problems:');
      for (const p of problems) out.push('  - ' + p.replace(/\n/g, '\n    '));
    }
    process.stdout.write(out.join('\n') + '\n');
  }
} catch (e) {
  log(`fatal: ${e.stack ?? e}`);
  exitCode = 1;
} finally {
  cleanup();
}
process.exitCode = exitCode;
