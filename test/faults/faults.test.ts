/**
 * The fault suite: conno under the faults a lab meets — processes killed at any moment (a
 * command pipeline, a built-in train stage, a push), commands run at once on one project, cache
 * objects corrupted here and on a remote, malformed input — with every random choice seeded.
 * A trial survives when, after the fault, the store holds only objects whose bytes match their
 * names, conno.lock reads, and the next run completes with the right results (verify passes).
 *
 * `npm test` runs it reduced; `npm run test:faults` runs it full (CONNO_FAULTS=full) and prints
 * the table README's "Reliability" section quotes.
 */
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import fc from 'fast-check';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, REPO, tempProject, type TempProject } from '../helpers.js';
import { loadPipeline } from '../../src/core/pipeline/load.js';
import { formatDiagnostics } from '../../src/core/util/diagnostics.js';
import { corruptObjects, FULL, rng, SEED, table, trial, trials } from './support.js';

const cleanup: (() => void)[] = [];
afterAll(() => {
  while (cleanup.length) cleanup.pop()!();
  console.log(table());
});

function project(files: Record<string, string>): TempProject {
  const p = tempProject(files);
  cleanup.push(() => p.remove());
  return p;
}
function tempDir(prefix: string): string {
  const d = mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanup.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const conno = (dir: string, args: string[], env: Record<string, string> = {}): ResultPromise =>
  execa(process.execPath, [BIN, ...args], { cwd: dir, reject: false, all: true, env: { CI: '1', CONNO_GPUS: '', ...env }, timeout: 300_000 }) as unknown as ResultPromise;
const STACK = /\n\s+at [^\n]+:\d+:\d+/;

/** Problems with a project after a fault: objects that do not match their names, a lock that does not read. */
async function damage(dir: string): Promise<string[]> {
  const out: string[] = [];
  const { bad } = await corruptObjects(path.join(dir, 'cache', 'objects'));
  if (bad.length) out.push(`objects not matching their names: ${bad.join(', ')}`);
  if (existsSync(path.join(dir, 'conno.lock'))) {
    try {
      parse(readFileSync(path.join(dir, 'conno.lock'), 'utf8'));
    } catch (err) {
      out.push(`conno.lock does not read: ${(err as Error).message}`);
    }
  }
  return out;
}

/** Eight command stages in a chain, and one that reads all their outputs. */
const COMMANDS = `params: [params.yaml]
stages:
${Array.from({ length: 8 }, (_, i) => `  s${i}:\n    cmd: sleep 0.08 && echo \${n}-${i} > o/s${i}.txt\n${i > 0 ? `    deps: [o/s${i - 1}.txt]\n` : ''}    outs: [o/s${i}.txt]\n`).join('')}  all:
    cmd: mkdir -p r && cat o/*.txt > r/all.txt
    deps: [o]
    outs: [r/all.txt]
`;
const expectedAll = (n: number) => Array.from({ length: 8 }, (_, i) => `${n}-${i}\n`).join('');

describe('processes killed at any moment', () => {
  it('SIGKILL during a repro of command stages', async () => {
    const lost: string[] = [];
    const p = project({ 'pipeline.yaml': COMMANDS, 'params.yaml': 'n: 0\n', 'o/.keep': '' });
    const r = rng(1);
    for (let t = 1; t <= trials(4, 25); t++) {
      lost.push(...(await trial('kill -9: command stages', async () => {
        p.write('params.yaml', `n: ${t}\n`);
        const run = conno(p.dir, ['repro']);
        await sleep(50 + Math.floor(r.next() * 1200));
        run.kill('SIGKILL');
        await run;
        await sleep(300); // its commands, orphaned, finish on their own
        const problems = await damage(p.dir);
        const again = await conno(p.dir, ['repro']);
        if (again.exitCode !== 0) problems.push(`repro after the kill failed: ${again.all}`);
        else if (p.read('r/all.txt') !== expectedAll(t)) problems.push(`wrong result after the kill: ${p.read('r/all.txt')}`);
        const v = await conno(p.dir, ['verify']);
        if (v.exitCode !== 0) problems.push(`verify after the kill failed: ${v.all}`);
        return problems;
      })));
    }
    expect(lost).toEqual([]);
  }, 600_000);

  it('SIGKILL during a built-in train stage', async () => {
    const lost: string[] = [];
    const p = project({
      'params.yaml': 'seed: 0\n',
      'pipeline.yaml': `params: [params.yaml]
stages:
  data:
    uses: download
    with: { dataset: synth, synth: { classes: 3, clips_per_class: 24, seconds: 0.25, sample_rate: 8000, dev_fraction: 0 } }
  features:
    uses: features
    needs: [data]
    with: { n_fft: 256, win_length: 256, hop_length: 128, n_mels: 16, f_max: 4000, frames: 12 }
  train:
    uses: train
    needs: [features]
    with: { model: { name: cnn4, filters: [4, 8], batchnorm: false }, epochs: 8, batch_size: 8, seed: "\${seed}" }
`,
    });
    expect((await conno(p.dir, ['repro'])).exitCode).toBe(0);
    const r = rng(2);
    for (let t = 1; t <= trials(1, 6); t++) {
      lost.push(...(await trial('kill -9: train stage', async () => {
        p.write('params.yaml', `seed: ${t}\n`);
        const run = conno(p.dir, ['repro']);
        await sleep(400 + Math.floor(r.next() * 2500));
        run.kill('SIGKILL');
        await run;
        await sleep(500);
        const problems = await damage(p.dir);
        const again = await conno(p.dir, ['repro']);
        if (again.exitCode !== 0) problems.push(`repro after the kill failed: ${again.all}`);
        const v = await conno(p.dir, ['verify', 'train']);
        if (v.exitCode !== 0) problems.push(`verify after the kill failed: ${v.all}`);
        return problems;
      })));
    }
    expect(lost).toEqual([]);
  }, 900_000);

  it('SIGKILL during a push to a folder remote', async () => {
    const lost: string[] = [];
    const p = project({
      'pipeline.yaml': `stages:\n  big:\n    cmd: mkdir -p o && head -c 24000000 /dev/zero | tr '\\\\000' 'z' > o/big.bin && echo small > o/small.txt\n    outs: [o]\n`,
    });
    expect((await conno(p.dir, ['repro'])).exitCode).toBe(0);
    const r = rng(3);
    for (let t = 1; t <= trials(2, 10); t++) {
      lost.push(...(await trial('kill -9: push', async () => {
        const remote = tempDir('conno-fault-remote-');
        const run = conno(p.dir, ['push', '--remote', remote]);
        await sleep(20 + Math.floor(r.next() * 400));
        run.kill('SIGKILL');
        await run;
        const problems: string[] = [];
        const { bad } = await corruptObjects(path.join(remote, 'objects'));
        if (bad.length) problems.push(`remote objects not matching their names after the kill: ${bad.join(', ')}`);
        const again = await conno(p.dir, ['push', '--remote', remote]);
        if (again.exitCode !== 0) problems.push(`push after the kill failed: ${again.all}`);
        const clone = project({});
        for (const f of ['pipeline.yaml', 'conno.lock']) cpSync(path.join(p.dir, f), path.join(clone.dir, f));
        const pulled = await conno(clone.dir, ['pull', '--remote', remote]);
        if (pulled.exitCode !== 0) problems.push(`pull after the kill failed: ${pulled.all}`);
        else if (clone.read('o/small.txt') !== 'small\n') problems.push('pull restored the wrong bytes');
        return problems;
      })));
    }
    expect(lost).toEqual([]);
  }, 600_000);
});

describe('one project, several commands at once', () => {
  it('repro, status, gc and push run together and leave everything consistent', async () => {
    const lost: string[] = [];
    const p = project({ 'pipeline.yaml': COMMANDS, 'params.yaml': 'n: 0\n', 'o/.keep': '' });
    const remote = tempDir('conno-fault-remote-');
    const r = rng(4);
    for (let t = 1; t <= trials(1, 5); t++) {
      lost.push(...(await trial('concurrent repro/status/gc/push', async () => {
        p.write('params.yaml', `n: ${t}\n`);
        const stagger = () => sleep(Math.floor(r.next() * 400));
        const runs = await Promise.all([
          conno(p.dir, ['repro']),
          stagger().then(() => conno(p.dir, ['status'])),
          stagger().then(() => conno(p.dir, ['gc'])),
          stagger().then(() => conno(p.dir, ['push', '--remote', remote])),
          stagger().then(() => conno(p.dir, ['repro'])),
        ]);
        const problems: string[] = [];
        runs.forEach((x, i) => {
          if (x.exitCode !== 0) problems.push(`command ${i} exited ${x.exitCode}: ${x.all}`);
          if (STACK.test(x.all ?? '')) problems.push(`command ${i} printed a stack trace`);
        });
        problems.push(...(await damage(p.dir)));
        if (p.read('r/all.txt') !== expectedAll(t)) problems.push('wrong result');
        const { bad } = await corruptObjects(path.join(remote, 'objects'));
        if (bad.length) problems.push(`remote objects not matching their names: ${bad.join(', ')}`);
        if ((await conno(p.dir, ['push', '--remote', remote])).exitCode !== 0) problems.push('a final push failed');
        const v = await conno(p.dir, ['verify']);
        if (v.exitCode !== 0) problems.push(`verify failed: ${v.all}`);
        return problems;
      })));
    }
    expect(lost).toEqual([]);
  }, 600_000);
});

describe('corrupted objects', () => {
  it('a damaged object in the local cache is found when needed and rebuilt', async () => {
    const lost: string[] = [];
    const p = project({ 'pipeline.yaml': COMMANDS, 'params.yaml': 'n: 7\n', 'o/.keep': '' });
    expect((await conno(p.dir, ['repro'])).exitCode).toBe(0);
    const r = rng(5);
    for (let t = 1; t <= trials(2, 10); t++) {
      lost.push(...(await trial('corrupt object: local', async () => {
        const lock = parse(p.read('conno.lock')) as { stages: Record<string, { outs: Record<string, { hash: string }> }> };
        const outs = Object.values(lock.stages).flatMap((e) => Object.entries(e.outs)).filter(([, i]) => !i.hash.endsWith('.dir'));
        const [file, info] = outs[Math.floor(r.next() * outs.length)]!;
        const object = path.join(p.dir, 'cache', 'objects', info.hash.slice(0, 2), info.hash.slice(2));
        const good = p.read(file);
        chmodSync(object, 0o644);
        const bytes = readFileSync(object);
        bytes[Math.floor(r.next() * bytes.length)] ^= 0x20;
        writeFileSync(object, bytes);
        rmSync(path.join(p.dir, file)); // the workspace copy is gone: the object is needed
        const again = await conno(p.dir, ['repro']);
        const problems: string[] = [];
        if (again.exitCode !== 0) problems.push(`repro failed: ${again.all}`);
        else if (p.read(file) !== good) problems.push(`${file} restored with the wrong bytes`);
        problems.push(...(await damage(p.dir)));
        return problems;
      })));
    }
    expect(lost).toEqual([]);
  }, 300_000);

  it('a corrupted or truncated object on a remote is refused on pull, by name', async () => {
    const lost: string[] = [];
    const p = project({ 'pipeline.yaml': COMMANDS, 'params.yaml': 'n: 3\n', 'o/.keep': '' });
    expect((await conno(p.dir, ['repro'])).exitCode).toBe(0);
    const r = rng(6);
    for (let t = 1; t <= trials(2, 10); t++) {
      lost.push(...(await trial('corrupt object: remote', async () => {
        const remote = tempDir('conno-fault-remote-');
        if ((await conno(p.dir, ['push', '--remote', remote])).exitCode !== 0) return ['push failed'];
        const shards = readdirSync(path.join(remote, 'objects'));
        const all = shards.flatMap((s) => readdirSync(path.join(remote, 'objects', s)).map((f) => s + f)).filter((h) => !h.endsWith('.dir'));
        const victim = all[Math.floor(r.next() * all.length)]!;
        const file = path.join(remote, 'objects', victim.slice(0, 2), victim.slice(2));
        chmodSync(file, 0o644);
        const size = readFileSync(file).length;
        if (t % 2 === 0) truncateSync(file, Math.floor(size / 2));
        else writeFileSync(file, Buffer.concat([readFileSync(file), Buffer.from('x')]));
        const clone = project({});
        for (const f of ['pipeline.yaml', 'params.yaml', 'conno.lock']) cpSync(path.join(p.dir, f), path.join(clone.dir, f));
        const pulled = await conno(clone.dir, ['pull', '--remote', remote]);
        const problems: string[] = [];
        if (pulled.exitCode !== 1 || !pulled.all.includes(`object ${victim} from `) || !pulled.all.includes('is corrupt')) problems.push(`the damaged object was not refused by name: ${pulled.all}`);
        if (existsSync(path.join(clone.dir, 'cache', 'objects', victim.slice(0, 2), victim.slice(2)))) problems.push('the damaged object was stored');
        problems.push(...(await damage(clone.dir)));
        return problems;
      })));
    }
    expect(lost).toEqual([]);
  }, 300_000);
});

describe('malformed input', () => {
  const CORPUS = path.join(REPO, 'test', 'fixtures', 'bad');

  it('every case of the bad-pipeline corpus: exit 2, a position, no stack trace', async () => {
    const lost: string[] = [];
    const cases = readdirSync(CORPUS).sort();
    const r = rng(7);
    const chosen = FULL ? cases : cases.filter(() => r.next() < 0.25);
    for (const name of chosen) {
      lost.push(...(await trial('bad input corpus (CLI)', async () => {
        const dir = tempDir('conno-fault-bad-');
        cpSync(path.join(CORPUS, name), dir, { recursive: true });
        const x = await conno(dir, ['status']);
        const problems: string[] = [];
        if (x.exitCode !== 2) problems.push(`${name}: exit ${x.exitCode}`);
        if (!/^\S+:\d+:\d+: error: /m.test(x.stderr)) problems.push(`${name}: no file:line:column`);
        if (STACK.test(x.all ?? '')) problems.push(`${name}: a stack trace`);
        return problems;
      })));
    }
    expect(lost).toEqual([]);
  }, 300_000);

  /** A valid pipeline to mutate: a command stage with params and a matrix, and a built-in stage. */
  const BASE = `params: [params.yaml]
slurm: { time: "10", mem: 1G }
stages:
  prep:
    cmd: echo \${audio.rate} \${item.seed} > out-\${item.seed}.txt
    matrix: { seed: [1, 2] }
    deps: [params.yaml]
    outs: ["out-\${item.seed}.txt"]
    resources: { gpu: 0 }
  data:
    uses: download
    needs: [prep]
    with: { dataset: synth, synth: { classes: 2, clips_per_class: 4 } }
  features:
    uses: features
    needs: [data]
    with: { n_mels: 16, frames: 10 }
`;
  const PARAMS = 'audio: { rate: 16000 }\n';
  const PIECES = [':', ' ', '\n', '\t', '-', '[', ']', '{', '}', ',', '&a', '*a', '!', '|', '>', "'", '"', '#', '%', '@', '`', '${', '}', '${item.seed}', '${audio.rate}', '${raw:audio.rate}', '..', '/', 'null', '~', '0x1f', '1e999', 'NaN', 'stages', 'needs', 'uses', 'with', 'cmd', 'outs', 'deps', 'matrix', 'slurm', '\u00e9', '\uFFFF', '\\'];
  /** A sequence of edits: insert a piece, delete a span, duplicate or drop a line. */
  const mutation = fc.record({
    kind: fc.constantFrom('insert', 'delete', 'dupline', 'dropline', 'replace'),
    at: fc.nat(),
    len: fc.integer({ min: 1, max: 12 }),
    piece: fc.constantFrom(...PIECES),
  });
  const doc = fc.array(mutation, { minLength: 1, maxLength: 6 }).map((edits) => {
    let s = BASE;
    for (const e of edits) {
      const at = e.at % (s.length + 1);
      if (e.kind === 'insert') s = s.slice(0, at) + e.piece + s.slice(at);
      else if (e.kind === 'delete') s = s.slice(0, at) + s.slice(at + e.len);
      else if (e.kind === 'replace') s = s.slice(0, at) + e.piece + s.slice(at + e.len);
      else {
        const lines = s.split('\n');
        const i = at % lines.length;
        if (e.kind === 'dupline') lines.splice(i, 0, lines[i]!);
        else lines.splice(i, 1);
        s = lines.join('\n');
      }
    }
    return s;
  });

  it('fuzzed pipeline.yaml: loads, or every problem has a position; never a crash (fast-check)', async () => {
    const lost: string[] = [];
    const dir = tempDir('conno-fault-fuzz-');
    writeFileSync(path.join(dir, 'params.yaml'), PARAMS);
    const file = path.join(dir, 'pipeline.yaml');
    const docs = fc.sample(doc, { numRuns: trials(300, 3000), seed: SEED });
    for (const text of docs) {
      lost.push(...(await trial('fuzzed pipeline.yaml (analyzer)', async () => {
        writeFileSync(file, text);
        const r = await loadPipeline(file, { display: (abs) => path.relative(dir, abs) });
        if (r.ok) return [];
        const problems: string[] = [];
        for (const d of r.diagnostics) {
          if (!(d.line >= 1 && d.column >= 1 && d.length >= 1) || !d.message || /\bundefined\b|\[object Object\]/.test(d.message)) problems.push(`a bad diagnostic ${JSON.stringify(d)} for:\n${text}`);
        }
        formatDiagnostics(r.diagnostics);
        return problems;
      })));
    }
    // Through the CLI too, for a sample: exit 0 or 2, never a stack trace.
    for (const text of fc.sample(doc, { numRuns: trials(12, 120), seed: SEED + 1 })) {
      lost.push(...(await trial('fuzzed pipeline.yaml (CLI)', async () => {
        const d = tempDir('conno-fault-fuzz-cli-');
        writeFileSync(path.join(d, 'params.yaml'), PARAMS);
        writeFileSync(path.join(d, 'pipeline.yaml'), text);
        const x = await conno(d, ['status']);
        const problems: string[] = [];
        if (x.exitCode !== 0 && x.exitCode !== 2) problems.push(`exit ${x.exitCode} for:\n${text}\n${x.all}`);
        if (STACK.test(x.all ?? '')) problems.push(`a stack trace for:\n${text}\n${x.all}`);
        if (x.exitCode === 2 && !/^\S+:\d+:\d+: error: /m.test(x.stderr)) problems.push(`exit 2 without a position for:\n${text}\n${x.stderr}`);
        return problems;
      })));
    }
    expect(lost).toEqual([]);
  }, 600_000);
});
