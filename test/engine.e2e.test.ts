/**
 * End-to-end: the CLI as a user runs it, in temp projects.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, statSync, chmodSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { countingCmd, runCount, tempProject, type TempProject, REPO, ZOD_MODULE, distModule, unbundledUrls, TRACE_IMPORTS } from './helpers.js';
import { hashFile } from '../src/core/hash/xxhash.js';

let p: TempProject | undefined;
afterEach(() => {
  p?.remove();
  p = undefined;
});

const STUDY = `audio:
  rate: 8000
features:
  n_mels: 64
`;

/** prepare → features (uses n_mels) → train matrix → report. */
function studyProject(): TempProject {
  return tempProject({
    'params/study.yaml': STUDY,
    'data/raw/a.txt': 'aaa\n',
    'data/raw/b.txt': 'bbb\n',
    'pipeline.yaml': `params: [params/study.yaml]
stages:
  prepare:
    cmd: ${JSON.stringify(countingCmd('prepare', 'mkdir -p data/prepared && cat data/raw/*.txt > data/prepared/all.txt && echo ${audio.rate} >> data/prepared/all.txt'))}
    deps: [data/raw]
    outs: [data/prepared]
  features:
    cmd: ${JSON.stringify(countingCmd('features', 'mkdir -p out && (cat data/prepared/all.txt; echo mels=${features.n_mels}) > out/features.txt'))}
    deps: [data/prepared]
    outs: [out/features.txt]
  train:
    matrix: { seed: [1, 2] }
    needs: [features]
    cmd: ${JSON.stringify(countingCmd('train-${item.seed}', 'mkdir -p out && (cat out/features.txt; echo seed=${item.seed}) > out/model-${item.seed}.txt'))}
    outs: ["out/model-\${item.seed}.txt"]
  report:
    needs: [train]
    cmd: ${JSON.stringify(countingCmd('report', 'cat out/model-*.txt | wc -l | tr -d " " > out/report.txt && echo "{\\"lines\\": $(cat out/report.txt)}" > out/metrics.json'))}
    outs: [out/report.txt, out/metrics.json]
    metrics: [out/metrics.json]
`,
  });
}

async function objectsAllMatch(dir: string): Promise<{ total: number; bad: string[] }> {
  const objects = path.join(dir, 'cache', 'objects');
  const bad: string[] = [];
  let total = 0;
  let shards: string[] = [];
  try {
    shards = readdirSync(objects);
  } catch {
    return { total, bad };
  }
  for (const shard of shards) {
    for (const rest of readdirSync(path.join(objects, shard))) {
      total++;
      const name = shard + rest;
      const file = path.join(objects, shard, rest);
      if (name.endsWith('.dir')) {
        const { hashString } = await import('../src/core/hash/xxhash.js');
        if ((await hashString(readFileSync(file, 'utf8'))) + '.dir' !== name) bad.push(name);
      } else if ((await hashFile(file)).hash !== name) bad.push(name);
    }
  }
  return { total, bad };
}

describe('a newcomer edits a param', () => {
  it('repro runs everything, status names the param, only what changed reruns, verify passes', async () => {
    p = studyProject();
    let r = await p.conno(['status']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('prepare:\n    new');

    r = await p.conno(['repro']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('Done: 5 ran, 0 restored, 0 up to date.');
    expect(p.read('out/report.txt').trim()).toBe('10');
    const lock = parse(p.read('conno.lock'));
    expect(lock.stages.report.metrics).toEqual({ 'out/metrics.json': { lines: 10 } });
    expect(lock.stages.features.params).toEqual({ 'features.n_mels': 64 });

    r = await p.conno(['status']);
    expect(r.stdout).toContain('Everything is up to date (5 stage instances).');

    p.write('params/study.yaml', STUDY.replace('n_mels: 64', 'n_mels: 40'));
    r = await p.conno(['status']);
    expect(r.stdout).toContain('features:\n    cmd changed\n    params changed: features.n_mels 64 → 40');
    expect(r.stdout).toContain('train@seed=1:\n    upstream stale: features');
    expect(r.stdout).not.toContain('prepare:');
    const json = JSON.parse((await p.conno(['status', '--json'])).stdout);
    expect(json.stages.map((s: { id: string }) => s.id)).toEqual(['prepare', 'features', 'train@seed=1', 'train@seed=2', 'report']);
    expect(json.stages.find((s: { id: string }) => s.id === 'prepare')).toEqual({ id: 'prepare', stale: false, reasons: [] });

    r = await p.conno(['repro']);
    expect(r.exitCode, r.all).toBe(0);
    expect(runCount(p, 'prepare')).toBe(1);
    expect(runCount(p, 'features')).toBe(2);
    expect(runCount(p, 'train-1')).toBe(2);
    // The report's inputs changed content, so it reran too.
    expect(runCount(p, 'report')).toBe(2);

    r = await p.conno(['verify', '--upstream', 'report']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('Verified: all 5 stage instances reproduce conno.lock bit for bit.');
    // Everything the target needs was executed again, in a scratch copy, not restored.
    for (const id of ['prepare', 'features', 'train@seed=1', 'train@seed=2', 'report']) expect(r.stderr).toContain(`running ${id}\n`);
    expect(runCount(p, 'prepare')).toBe(1);
  });

  it('status reads the lock entries’ summaries while conno.lock is unchanged, the whole lock to explain, and refuses a lock rewritten meanwhile', async () => {
    p = studyProject();
    expect((await p.conno(['repro'])).exitCode).toBe(0);
    expect((await p.conno(['status'])).stdout).toContain('Everything is up to date (5 stage instances).');
    const summary = path.join(p.dir, 'cache', 'lock.summary.json');
    const saved = JSON.parse(readFileSync(summary, 'utf8')) as { rows: Array<Array<string | number>> };
    // What a no-op status compares: the summary's fingerprint, not the lock parsed in full
    // (doctored while conno.lock's bytes, its key, stay the same).
    const row = saved.rows.find((r) => r[0] === 'features')!;
    row[1] = 'ffffffffffffffff';
    writeFileSync(summary, JSON.stringify(saved));
    let r = await p.conno(['status']);
    expect(r.stdout).toContain('features:\n    the lock summary in cache/ disagrees with conno.lock');
    // A summary of other bytes than conno.lock's is not used: the lock is read again.
    writeFileSync(path.join(p.dir, 'conno.lock'), `${p.read('conno.lock')}# a comment\n`);
    r = await p.conno(['status']);
    expect(r.stdout).toContain('Everything is up to date (5 stage instances).');
    // A change is explained from the whole lock.
    p.write('params/study.yaml', STUDY.replace('n_mels: 64', 'n_mels: 40'));
    expect((await p.conno(['status'])).stdout).toContain('features:\n    cmd changed\n    params changed: features.n_mels 64 → 40');
    // conno.lock rewritten between its summaries and the whole of it (a repro beside): answered
    // again from the new lock, the same as a status that started after it.
    const { Project } = await import('../src/core/engine/project.js');
    const { computeStatus } = await import('../src/core/engine/status.js');
    const fresh = async () => {
      const q = await Project.open({ dir: p!.dir, summariesOnly: true });
      return computeStatus(q, q.selectTargets([]));
    };
    await fresh(); // the summaries of the lock as it is
    const project = await Project.open({ dir: p.dir, summariesOnly: true });
    expect(() => project.lock).toThrow('call loadLock() first');
    // As a repro would leave it: another entry.
    writeFileSync(path.join(p.dir, 'conno.lock'), `${p.read('conno.lock').replace(/fingerprint: [0-9a-f]{16}\n(\s+item:\n\s+seed: 2)/, 'fingerprint: 0000000000000000\n$1')}`);
    const answer = await computeStatus(project, project.selectTargets([]));
    expect(project.lockChangedSinceSummaries).toBe(true);
    expect(answer).toEqual(await fresh());
    expect(answer.find((s) => s.id === 'train@seed=2')!.reasons).toContain('fingerprint format changed');
  });

  it('says which file inside a dependency folder changed', async () => {
    p = studyProject();
    expect((await p.conno(['repro'])).exitCode).toBe(0);
    p.write('data/raw/b.txt', 'BBB\n');
    p.write('data/raw/c.txt', 'ccc\n');
    const r = await p.conno(['status', 'prepare']);
    expect(r.stdout).toContain('input changed: data/raw (1 modified: b.txt; 1 added: c.txt)');
  });

  it('works on another folder with -C and reports a missing pipeline with exit 2', async () => {
    p = studyProject();
    const other = tempProject();
    try {
      let r = await other.conno(['-C', p.dir, 'status']);
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toContain('prepare:');
      r = await other.conno(['status']);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toContain('no pipeline.yaml in');
    } finally {
      other.remove();
    }
  });
});

describe('names that Object.prototype also has', () => {
  it('a file `__proto__`, stages `__proto__` and `constructor`, an output `toString`, a metric `__proto__` are data: changing the file makes its reader stale', async () => {
    p = tempProject({
      ['__proto__']: 'one\n', // computed: a literal __proto__ key would set the prototype
      'params.yaml': '__proto__: { lr: 1 }\nconstructor: 2\n',
      'pipeline.yaml': `params: [params.yaml]
stages:
  __proto__:
    cmd: cat __proto__ > out.txt && echo \${__proto__.lr} >> out.txt && echo '{"__proto__":1}' > m.json
    deps: [__proto__]
    outs: [out.txt]
    metrics: [m.json]
  constructor:
    cmd: cat out.txt > toString && echo \${constructor} >> toString
    deps: [out.txt]
    outs: [toString]
`,
    });
    // First a lock without them (read back from disk when the stages are added).
    const full = p.read('pipeline.yaml');
    p.write('pipeline.yaml', 'stages:\n  first:\n    cmd: echo 1 > first.txt\n    outs: [first.txt]\n');
    let r = await p.conno(['repro']);
    expect(r.exitCode, r.all).toBe(0);
    p.write('pipeline.yaml', `${full}  first:\n    cmd: echo 1 > first.txt\n    outs: [first.txt]\n`);
    r = await p.conno(['repro']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('Done: 2 ran, 0 restored, 1 up to date');
    const lock = parse(p.read('conno.lock')) as { stages: Record<string, { deps: Record<string, unknown>; outs: Record<string, unknown>; params: Record<string, unknown>; metrics: Record<string, unknown> }> };
    expect(Object.keys(lock.stages)).toEqual(['__proto__', 'constructor', 'first']);
    expect(Object.keys(lock.stages.__proto__!.deps)).toEqual(['__proto__']);
    expect(Object.keys(lock.stages.__proto__!.params)).toEqual(['__proto__.lr']);
    expect(JSON.stringify(lock.stages.__proto__!.metrics)).toBe('{"m.json":{"__proto__":1}}');
    expect(Object.keys(lock.stages.constructor!.outs)).toEqual(['toString']);
    expect(p.read('toString')).toBe('one\n1\n2\n');

    r = await p.conno(['status']);
    expect(r.stdout).toContain('Everything is up to date (3 stage instances).');

    p.write('__proto__', 'two\n');
    r = await p.conno(['status']);
    expect(r.stdout).toContain('__proto__:\n    input changed: __proto__');
    expect(r.stdout).toContain('constructor:\n    upstream stale: __proto__');

    r = await p.conno(['repro']);
    expect(r.exitCode, r.all).toBe(0);
    expect(p.read('toString')).toBe('two\n1\n2\n');
    expect((await p.conno(['status'])).stdout).toContain('Everything is up to date (3 stage instances).');
  });
});

describe('run-cache', () => {
  it('going back to earlier params restores outputs instead of recomputing', async () => {
    p = studyProject();
    expect((await p.conno(['repro'])).exitCode).toBe(0);
    const first = p.read('out/features.txt');
    p.write('params/study.yaml', STUDY.replace('n_mels: 64', 'n_mels: 40'));
    expect((await p.conno(['repro'])).exitCode).toBe(0);
    expect(p.read('out/features.txt')).toContain('mels=40');
    p.write('params/study.yaml', STUDY);
    const r = await p.conno(['repro']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('Done: 0 ran, 4 restored, 1 up to date.');
    expect(p.read('out/features.txt')).toBe(first);
    expect(runCount(p, 'features')).toBe(2);
    expect((await p.conno(['status'])).stdout).toContain('Everything is up to date');
  });

  it('a deleted output is restored from the cache without rerunning', async () => {
    p = studyProject();
    expect((await p.conno(['repro'])).exitCode).toBe(0);
    p.write('out/features.txt', 'tampered\n');
    let r = await p.conno(['status']);
    expect(r.stdout).toContain('features:\n    output changed: out/features.txt');
    r = await p.conno(['repro']);
    expect(r.exitCode).toBe(0);
    expect(p.read('out/features.txt')).toContain('mels=64');
    expect(runCount(p, 'features')).toBe(1);
  });

  it('--force reruns what is up to date', async () => {
    p = studyProject();
    expect((await p.conno(['repro'])).exitCode).toBe(0);
    const r = await p.conno(['repro', '--force', 'features']);
    expect(r.exitCode).toBe(0);
    expect(runCount(p, 'features')).toBe(2);
    // Only the target is forced; what it needs is merely brought up to date.
    expect(runCount(p, 'prepare')).toBe(1);
    expect(runCount(p, 'report')).toBe(1);
    expect((await p.conno(['repro', '--force'])).exitCode).toBe(0);
    expect(runCount(p, 'prepare')).toBe(2);
  });
});

describe('corrupted cache objects', () => {
  it('are detected by their hash and rebuilt, never used', async () => {
    p = studyProject();
    expect((await p.conno(['repro'])).exitCode).toBe(0);
    const lock = parse(p.read('conno.lock'));
    const hash: string = lock.stages.features.outs['out/features.txt'].hash;
    const obj = path.join(p.dir, 'cache', 'objects', hash.slice(0, 2), hash.slice(2));
    const size = statSync(obj).size;
    chmodSync(obj, 0o644);
    writeFileSync(obj, 'x'.repeat(size)); // Same size, other bytes.
    p.write('out/features.txt', 'deleted by the user\n');
    const r = await p.conno(['repro']);
    expect(r.exitCode, r.all).toBe(0);
    expect(runCount(p, 'features')).toBe(2); // Rebuilt, not restored from the corrupt object.
    expect(p.read('out/features.txt')).toContain('mels=64');
    expect((await objectsAllMatch(p.dir)).bad).toEqual([]);
  });

  it('a truncated object of a folder output is rebuilt', async () => {
    p = studyProject();
    expect((await p.conno(['repro'])).exitCode).toBe(0);
    const lock = parse(p.read('conno.lock'));
    const dirHash: string = lock.stages.prepare.outs['data/prepared'].hash;
    const manifest = JSON.parse(readFileSync(path.join(p.dir, 'cache', 'objects', dirHash.slice(0, 2), dirHash.slice(2)), 'utf8'));
    const fileHash: string = manifest.files[0].hash;
    const obj = path.join(p.dir, 'cache', 'objects', fileHash.slice(0, 2), fileHash.slice(2));
    chmodSync(obj, 0o644);
    writeFileSync(obj, readFileSync(obj).subarray(0, 3));
    p.write('data/prepared/all.txt', 'changed\n');
    const r = await p.conno(['repro']);
    expect(r.exitCode, r.all).toBe(0);
    expect(runCount(p, 'prepare')).toBe(2);
    expect(p.read('data/prepared/all.txt')).toBe('aaa\nbbb\n8000\n');
  });
});

describe('verify', () => {
  it('catches a tampered output hash in conno.lock and a stage that is not deterministic', async () => {
    p = tempProject({
      'pipeline.yaml': `stages:
  stable: { cmd: echo same > stable.txt, outs: [stable.txt] }
  random: { cmd: head -c 16 /dev/urandom | od -x > random.txt, outs: [random.txt] }
`,
    });
    expect((await p.conno(['repro'])).exitCode).toBe(0);
    let r = await p.conno(['verify', 'stable']);
    expect(r.exitCode, r.all).toBe(0);
    r = await p.conno(['verify']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/MISMATCH random random\.txt: expected [0-9a-f]{16}, got [0-9a-f]{16}/);
    expect(r.stdout).not.toContain('MISMATCH stable');

    const lockText = p.read('conno.lock');
    const lock = parse(lockText);
    const real: string = lock.stages.stable.outs['stable.txt'].hash;
    p.write('conno.lock', lockText.replace(real, '0123456789abcdef'));
    r = await p.conno(['verify', 'stable']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain(`MISMATCH stable stable.txt: expected 0123456789abcdef, got ${real}`);
    // verify never rewrites the lock.
    expect(p.read('conno.lock')).toContain('0123456789abcdef');
  });

  it('catches a lock whose recorded inputs are not the committed ones', async () => {
    p = tempProject({ 'in.txt': 'one\n', 'pipeline.yaml': 'stages:\n  copy:\n    cmd: cp in.txt out.txt\n    deps: [in.txt]\n    outs: [out.txt]\n' });
    expect((await p.conno(['repro'])).exitCode).toBe(0);
    p.write('in.txt', 'two\n');
    const r = await p.conno(['verify']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/MISMATCH copy fingerprint: expected [0-9a-f]{16}, got [0-9a-f]{16}/);
    expect(r.stdout).toMatch(/MISMATCH copy out\.txt/);
  });
});

describe('failures', () => {
  it('an error while a run is recorded fails that instance by name (it was counted failed without a word)', async () => {
    p = tempProject({ 'pipeline.yaml': 'stages:\n  a:\n    cmd: echo 1 > a.txt\n    outs: [a.txt]\n  b:\n    cmd: echo b > b.txt\n    outs: [b.txt]\n' });
    expect((await p.conno(['repro'])).exitCode).toBe(0);
    // The run-cache's folder is a file now: recording a's next run fails.
    rmSync(path.join(p.dir, 'cache', 'runs'), { recursive: true });
    writeFileSync(path.join(p.dir, 'cache', 'runs'), '');
    p.write('pipeline.yaml', p.read('pipeline.yaml').replace('echo 1', 'echo 2'));
    const r = await p.conno(['repro', '--keep-going']);
    expect(r.exitCode).toBe(1);
    expect(r.all).toMatch(/FAILED a: .*cache\/runs/);
    expect(r.all).toContain('Failed: 0 ran, 0 restored, 1 up to date, 1 failed.');
    expect(r.all).not.toMatch(/\n\s+at /);
  });

  it('a failing stage stops its downstream, caches nothing of it, and keeps its log', async () => {
    p = tempProject({
      'pipeline.yaml': `stages:
  ok:
    cmd: echo fine > ok.txt
    outs: [ok.txt]
  bad:
    cmd: echo partial > bad.txt && echo "something broke" >&2 && exit 3
    outs: [bad.txt]
  after:
    cmd: cat bad.txt > after.txt
    deps: [bad.txt]
    outs: [after.txt]
`,
    });
    const r = await p.conno(['repro', '--jobs', '1', '--keep-going']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('FAILED bad: command failed (exit code 3)');
    expect(r.stderr).toContain('something broke');
    expect(r.stderr).toContain('skipped after: upstream bad failed');
    expect(p.read('cache/logs/bad.log')).toContain('something broke');
    const lock = parse(p.read('conno.lock'));
    expect(Object.keys(lock.stages)).toEqual(['ok']);
    // The partial bad.txt never reached the store.
    const { hashBytes } = await import('../src/core/hash/xxhash.js');
    const partial = await hashBytes(Buffer.from('partial\n'));
    expect(p.exists(`cache/objects/${partial.slice(0, 2)}/${partial.slice(2)}`)).toBe(false);
    expect((await p.conno(['status'])).stdout).toContain('bad:\n    new');
  });

  it('a stage that does not write its declared output fails', async () => {
    p = tempProject({ 'pipeline.yaml': 'stages:\n  lazy:\n    cmd: "true"\n    outs: [missing.txt]\n' });
    const r = await p.conno(['repro']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("did not write its declared output 'missing.txt'");
  });

  it('a dep nothing writes is reported before running', async () => {
    p = tempProject({ 'pipeline.yaml': 'stages:\n  a:\n    cmd: cat nothere.txt > a.txt\n    deps: [nothere.txt]\n    outs: [a.txt]\n' });
    const r = await p.conno(['repro']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('missing input: nothere.txt (no stage writes it');
    expect((await p.conno(['status'])).stdout).toContain('input missing: nothere.txt');
  });
});

describe('GPU slots', () => {
  it('hands each GPU stage its own device from a fake device list, two at a time', async () => {
    const stage = (i: number) => `  g${i}:
    resources: { gpu: 1 }
    cmd: echo "$CUDA_VISIBLE_DEVICES $(date +%s%N) start" > g${i}.txt && sleep 0.4 && echo "$CUDA_VISIBLE_DEVICES $(date +%s%N) end" >> g${i}.txt
    outs: [g${i}.txt]
`;
    p = tempProject({
      'pipeline.yaml': `stages:\n${[1, 2, 3, 4].map(stage).join('')}  cpu:\n    cmd: echo "[$CUDA_VISIBLE_DEVICES]" > cpu.txt\n    outs: [cpu.txt]\n`,
    });
    const r = await p.conno(['repro', '--jobs', '8', '--gpus', '0,1']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stderr).toContain('GPU slots: 0, 1 (from --gpus)');
    const spans = [1, 2, 3, 4].map((i) => {
      const [s, e] = p!.read(`g${i}.txt`).trim().split('\n').map((l) => l.split(' '));
      expect(s![0]).toBe(e![0]);
      return { gpu: s![0]!, start: Number(BigInt(s![1]!) / 1000n), end: Number(BigInt(e![1]!) / 1000n) };
    });
    for (const s of spans) expect(['0', '1']).toContain(s.gpu);
    // At no moment do two stages hold the same GPU, and never more than two run at once.
    for (const a of spans) {
      // Who is running at the moment `a` starts.
      const running = spans.filter((b) => b.start <= a.start && a.start < b.end);
      expect(running.length).toBeLessThanOrEqual(2);
      expect(new Set(running.map((b) => b.gpu)).size).toBe(running.length);
    }
    // And they did run two at a time (4 stages of 0.4 s each on 2 GPUs).
    expect(spans.some((a) => spans.some((b) => b !== a && b.start <= a.start && a.start < b.end))).toBe(true);
    expect(p.read('cpu.txt').trim()).toBe('[]');
    // CONNO_GPUS works the same way.
    const r2 = await p.conno(['repro', '--force', 'g1'], { env: { CONNO_GPUS: '3' } });
    expect(r2.exitCode).toBe(0);
    expect(p.read('g1.txt').split(' ')[0]).toBe('3');
  });
});

describe('concurrency and crashes', () => {
  const slowPipeline = (n: number) =>
    `stages:\n` +
    Array.from({ length: n }, (_, i) => `  s${i}:\n    cmd: ${countingCmd(`s${i}`, `sleep 0.15 && echo ${i} > o/s${i}.txt`)}\n${i > 0 ? `    deps: [o/s${i - 1}.txt]\n` : ''}    outs: [o/s${i}.txt]\n`).join('');

  it('a second repro waits for the first; nothing runs twice; --no-wait refuses clearly', async () => {
    p = tempProject({ 'pipeline.yaml': slowPipeline(6) });
    const first = p.conno(['repro']);
    await new Promise((r) => setTimeout(r, 300));
    const refused = await p.conno(['repro', '--no-wait']);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/another conno is working on this project \(pid \d+/);
    const second = p.conno(['repro']);
    const [a, b] = await Promise.all([first, second]);
    expect(a.exitCode, a.all).toBe(0);
    expect(b.exitCode, b.all).toBe(0);
    expect(b.stderr).toContain('waiting for another conno on this project to finish');
    for (let i = 0; i < 6; i++) expect(runCount(p, `s${i}`)).toBe(1);
    expect(b.stdout).toContain('Done: 0 ran, 0 restored, 6 up to date.');
  });

  it('SIGKILL at any moment leaves a consistent store and lock; the next repro finishes', async () => {
    p = tempProject({ 'pipeline.yaml': slowPipeline(8) });
    for (const delay of [120, 350, 600, 900]) {
      const run = p.conno(['repro']);
      await new Promise((r) => setTimeout(r, delay));
      run.kill('SIGKILL');
      await run;
      const { bad } = await objectsAllMatch(p.dir);
      expect(bad).toEqual([]);
      if (p.exists('conno.lock')) expect(() => parse(p!.read('conno.lock'))).not.toThrow();
    }
    const r = await p.conno(['repro']);
    expect(r.exitCode, r.all).toBe(0);
    for (let i = 0; i < 8; i++) expect(p.read(`o/s${i}.txt`).trim()).toBe(String(i));
    expect((await p.conno(['status'])).stdout).toContain('Everything is up to date (8 stage instances).');
    expect((await p.conno(['verify'])).exitCode).toBe(0);
  }, 120_000);
});

describe('built-in style stage modules and show', () => {
  it('runs a stage module in its own process, stores its Arrow output, and show prints it', async () => {
    p = tempProject({
      'params/study.yaml': 'scale: 2\n',
      'stages/squares.mjs': `import { z } from ${ZOD_MODULE};
import { makeTable, writeTableFile } from ${distModule('src/core/arrow/io.js')};
export const stage = {
  version: 1,
  description: 'squares of 0..n-1, times a scale',
  params: z.strictObject({ n: z.number().int().positive(), scale: z.number().default(1) }),
  outputs: ['table'],
  async run(ctx) {
    const v = Float64Array.from({ length: ctx.params.n }, (_, i) => i * i * ctx.params.scale);
    await writeTableFile(ctx.outPath('table'), makeTable({ i: { type: 'int32', values: Int32Array.from({ length: ctx.params.n }, (_, i) => i) }, sq: { type: 'float64', values: v } }));
    ctx.metric('sum', v.reduce((a, b) => a + b, 0));
    ctx.metric('pid', process.pid === Number(process.env.CONNO_PARENT_PID) ? 'same' : 'child');
  },
};
`,
      'pipeline.yaml': `params: [params/study.yaml]
stages:
  squares:
    uses: ./stages/squares.mjs
    with: { n: 4, scale: "\${scale}" }
  use:
    needs: [squares]
    cmd: node -e "const i=JSON.parse(process.env.CONNO_INPUTS); require('fs').writeFileSync('inputs.txt', i.map(x => x.from + ':' + x.output).join(','))"
    outs: [inputs.txt]
`,
    });
    let r = await p.conno(['repro'], { env: { CONNO_PARENT_PID: '-1' } });
    expect(r.exitCode, r.all).toBe(0);
    const lock = parse(p.read('conno.lock'));
    expect(lock.stages.squares.metrics).toEqual({ sum: 28, pid: 'child' });
    expect(lock.stages.squares.with).toEqual({ n: 4, scale: 2 });
    expect(lock.stages.squares.code).toMatch(/^[0-9a-f]{16}$/);
    expect(p.read('inputs.txt')).toBe('squares:table');
    r = await p.conno(['show', 'squares', '--json']);
    expect(r.exitCode, r.all).toBe(0);
    const shown = JSON.parse(r.stdout);
    expect(shown.rows).toEqual([
      { i: 0, sq: 0 },
      { i: 1, sq: 2 },
      { i: 2, sq: 8 },
      { i: 3, sq: 18 },
    ]);
    r = await p.conno(['show', 'squares:table', '--head', '2']);
    expect(r.stdout).toContain('sq');
    expect(r.stdout).toContain('4 rows');
    const objPath = (await p.conno(['show', 'squares', '--path'])).stdout.trim();
    expect(objPath.startsWith(path.join(p.dir, 'cache', 'objects'))).toBe(true);

    // Editing the module's code makes exactly its instances stale, saying why.
    p.write('stages/squares.mjs', p.read('stages/squares.mjs').replace("'squares of", "'the squares of"));
    r = await p.conno(['status']);
    expect(r.stdout).toContain('squares:\n    code changed');
    // A bad value for the stage's own params schema is a positioned error.
    p.write('pipeline.yaml', p.read('pipeline.yaml').replace('n: 4', 'n: -4'));
    r = await p.conno(['status']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/pipeline\.yaml:5:\d+: error: .*n/);
  });
});

describe('what a no-op status loads', () => {
  /** The conno modules `status` imported (paths under dist/src/core), recorded by a resolve hook. */
  async function statusModules(project: TempProject): Promise<string[]> {
    const log = path.join(project.dir, 'resolved.log');
    rmSync(log, { force: true }); // the hook appends
    const { execa } = await import('execa');
    const r = await execa(process.execPath, ['--import', TRACE_IMPORTS, path.join(REPO, 'bin/conno.js'), 'status'], { cwd: project.dir, reject: false, all: true, env: { CI: '1', CONNO_GPUS: '', CONNO_TRACE_IMPORTS: log } });
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toMatch(/up to date/i);
    const urls = readFileSync(log, 'utf8').split('\n');
    expect(urls.some((u) => u.includes('/dist/cli-bundle/')), 'status ran from the bundle').toBe(true);
    // A file of the CLI's bundle stands for the modules it holds.
    const modules = unbundledUrls(urls).filter((u) => u.includes('/dist/src/core/')).map((u) => u.replace(/.*\/dist\/src\/core\//, ''));
    return [...new Set(modules)];
  }

  it('leaves the stage-code modules and the help text unloaded for command stages, and loads them for module stages', async () => {
    p = tempProject({ 'pipeline.yaml': 'stages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n  b:\n    cmd: cat a.txt > b.txt\n    deps: [a.txt]\n    outs: [b.txt]\n' });
    expect((await p.conno(['repro'])).exitCode).toBe(0);
    await statusModules(p); // the first status may analyse the pipeline anew
    const cmdOnly = await statusModules(p);
    expect(cmdOnly).toContain('engine/status.js');
    for (const m of ['stage/code.js', 'stage/registry.js', 'stage/kinds.js', 'cli/help.js', 'pipeline/load.js']) expect(cmdOnly).not.toContain(m);
    p.remove();

    p = tempProject({
      'stages/one.mjs': `import { z } from ${ZOD_MODULE};
import { makeTable, writeTableFile } from ${distModule('src/core/arrow/io.js')};
export const stage = {
  version: 1,
  params: z.strictObject({}),
  outputs: ['table'],
  async run(ctx) {
    await writeTableFile(ctx.outPath('table'), makeTable({ i: { type: 'int32', values: Int32Array.from([1]) } }));
  },
};
`,
      'pipeline.yaml': 'stages:\n  one:\n    uses: ./stages/one.mjs\n',
    });
    expect((await p.conno(['repro'])).exitCode).toBe(0);
    await statusModules(p);
    const withModule = await statusModules(p);
    for (const m of ['stage/code.js', 'stage/registry.js']) expect(withModule).toContain(m);
    expect(withModule).not.toContain('pipeline/load.js'); // the saved analysis served both
  });
});

describe('the fingerprint memo of status', () => {
  it('answers a status after a status as one computed afresh: an input, a cmd, a param or env changed is stale, and back again is up to date', async () => {
    p = tempProject({
      'params.yaml': 'k: 1\n',
      'data/in.txt': 'one\n',
      'pipeline.yaml': `params: [params.yaml]
stages:
  a:
    cmd: cat data/in.txt > a.txt
    deps: [data/in.txt]
    outs: [a.txt]
  b:
    cmd: cat a.txt > b.txt && echo \${k} >> b.txt
    deps: [a.txt]
    outs: [b.txt]
    env: { MODE: fast }
  c:
    cmd: cat b.txt > c.txt
    deps: [b.txt]
    outs: [c.txt]
`,
    });
    expect((await p.conno(['repro'])).exitCode).toBe(0);
    const status = async () => {
      const r = await p!.conno(['status', '--json']);
      expect(r.exitCode, r.all).toBe(0);
      return Object.fromEntries((JSON.parse(r.stdout) as { stages: { id: string; stale: boolean; reasons: string[] }[] }).stages.map((s) => [s.id, s.stale ? s.reasons : 'ok']));
    };
    const fresh = { a: 'ok', b: 'ok', c: 'ok' };
    expect(await status()).toEqual(fresh);
    expect(await status()).toEqual(fresh);
    const rows = (JSON.parse(p.read('cache/fingerprints.json')) as { rows: string[][] }).rows;
    expect(rows.map((r) => r[0])).toEqual(['a', 'b', 'c']);

    // An input's bytes: the memo has the old hash, so the fingerprint is computed.
    p.write('data/in.txt', 'two\n');
    expect(await status()).toEqual({ a: ['input changed: data/in.txt'], b: ['upstream stale: a'], c: ['upstream stale: b'] });
    expect(await status()).toEqual({ a: ['input changed: data/in.txt'], b: ['upstream stale: a'], c: ['upstream stale: b'] });
    p.write('data/in.txt', 'one\n');
    expect(await status()).toEqual(fresh);

    // The pipeline and its params: another saved analysis, another memo.
    const pipeline = p.read('pipeline.yaml');
    for (const [edit, why] of [
      [pipeline.replace('cat b.txt > c.txt', 'cat b.txt b.txt > c.txt'), { c: ['cmd changed'] }],
      [pipeline.replace('MODE: fast', 'MODE: slow'), { b: ['environment changed: MODE fast → slow'] }],
    ] as const) {
      p.write('pipeline.yaml', edit);
      const now = await status();
      expect(now).toMatchObject(why);
      expect(await status()).toEqual(now);
      p.write('pipeline.yaml', pipeline);
      expect(await status()).toEqual(fresh);
    }
    p.write('params.yaml', 'k: 2\n');
    expect((await status()).b).toEqual(['cmd changed', 'params changed: k 1 → 2']);
    expect((await status()).b).toEqual(['cmd changed', 'params changed: k 1 → 2']);
    p.write('params.yaml', 'k: 1\n');
    expect(await status()).toEqual(fresh);

    // A memo made for another analysis is not used: its rows would say "up to date" for c.
    p.write('pipeline.yaml', pipeline.replace('cat b.txt > c.txt', 'cat b.txt b.txt > c.txt'));
    await status();
    const other = JSON.parse(p.read('cache/fingerprints.json')) as { key: string; rows: string[][] };
    p.write('pipeline.yaml', pipeline);
    await status();
    const lock = parse(p.read('conno.lock')) as { stages: Record<string, { fingerprint: string }> };
    p.write('cache/fingerprints.json', JSON.stringify({ format: 1, key: other.key, rows: other.rows.map((r) => (r[0] === 'c' ? ['c', lock.stages.c!.fingerprint, ...r.slice(2)] : r)) }));
    p.write('pipeline.yaml', pipeline.replace('cat b.txt > c.txt', 'cat b.txt b.txt > c.txt'));
    expect((await status()).c).toEqual(['cmd changed']);
  });
});

describe('dag, dry-run and gc', () => {
  it('dag prints text, mermaid and dot; dry-run runs nothing', async () => {
    p = studyProject();
    let r = await p.conno(['dag']);
    expect(r.stdout).toBe('prepare\nfeatures  ← prepare\ntrain ×2  ← features\nreport  ← train');
    r = await p.conno(['dag', '--format', 'dot']);
    expect(r.stdout).toContain('"features" -> "train";');
    r = await p.conno(['dag', '--format', 'mermaid', '--instances']);
    expect(r.stdout).toContain('["train@seed=2"]');
    r = await p.conno(['dag', '--format', 'png']);
    expect(r.exitCode).toBe(2);
    r = await p.conno(['repro', '--dry-run']);
    expect(r.stdout).toContain('would run prepare: new');
    expect(r.stdout).toContain('5 stage instances would run.');
    expect(runCount(p, 'prepare')).toBe(0);
    expect(p.exists('conno.lock')).toBe(false);
  });

  it('gc removes objects that nothing references and keeps the rest', async () => {
    p = studyProject();
    expect((await p.conno(['repro'])).exitCode).toBe(0);
    p.write('params/study.yaml', STUDY.replace('n_mels: 64', 'n_mels: 40'));
    expect((await p.conno(['repro'])).exitCode).toBe(0);
    let r = await p.conno(['gc']);
    expect(r.stdout).toMatch(/removed 0 objects .* and 0 run-cache entries/);
    r = await p.conno(['gc', '--keep-runs', 'lock', '--dry-run']);
    expect(r.stdout).toMatch(/would remove [1-9]\d* objects/);
    r = await p.conno(['gc', '--keep-runs', 'lock']);
    expect(r.stdout).toMatch(/removed [1-9]\d* objects .* and 4 run-cache entries/);
    // Everything the lock needs is still there.
    p.write('out/features.txt', 'x');
    expect((await p.conno(['repro'])).stdout).toContain('Done: 0 ran, 1 restored, 4 up to date.');
    // The old params now have to be recomputed.
    p.write('params/study.yaml', STUDY);
    expect((await p.conno(['repro'])).stdout).toMatch(/Done: 4 ran/);
  });
});

describe('targets', () => {
  it('--downstream rebuilds what depends on the target; a partial id selects matching instances', async () => {
    p = studyProject();
    expect((await p.conno(['repro'])).exitCode).toBe(0);
    let r = await p.conno(['repro', '--force', '--downstream', 'train@seed=2']);
    expect(r.exitCode, r.all).toBe(0);
    expect(runCount(p, 'train-2')).toBe(2);
    expect(runCount(p, 'train-1')).toBe(1);
    expect(runCount(p, 'report')).toBe(2);
    expect(runCount(p, 'features')).toBe(1);
    r = await p.conno(['status', 'train@seed=1', '--json']);
    expect(JSON.parse(r.stdout).stages.map((s: { id: string }) => s.id)).toEqual(['train@seed=1']);
  });
});

describe('interrupts', () => {
  it('Ctrl-C stops running commands, records nothing for them, and exits 130', async () => {
    p = tempProject({
      'pipeline.yaml': 'stages:\n  slow:\n    cmd: echo $$ > pid.txt && sleep 30 && echo done > slow.txt\n    outs: [slow.txt]\n',
    });
    const run = p.conno(['repro']);
    for (let i = 0; i < 100 && !p.exists('pid.txt'); i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 200));
    run.kill('SIGINT');
    const r = await run;
    expect(r.exitCode).toBe(130);
    expect(r.stderr).toContain('interrupted');
    const pid = Number(p.read('pid.txt'));
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    expect(alive).toBe(false);
    expect(p.exists('conno.lock')).toBe(false);
    // The project lock was released: the next run does not wait.
    const again = await p.conno(['repro', '--dry-run']);
    expect(again.stdout).toContain('would run slow: new');
  });
});

describe('many commands', () => {
  // The first command waits 2 s, long enough for the spawner to be up for all after it.
  const pipeline = (n: number, last: string) =>
    'stages:\n' +
    Array.from({ length: n }, (_, i) => `  s${i}:\n    cmd: ${i ? '' : 'sleep 2 && '}echo $PPID > p${i}.txt${i ? `\n    deps: [p${i - 1}.txt]` : ''}\n    outs: [p${i}.txt]\n`).join('') +
    `  last:\n    cmd: ${last}\n    deps: [p${n - 1}.txt]\n    outs: [last.txt]\n`;

  it('are started by the spawner process once it is up, with the same results as one by one', async () => {
    p = tempProject({ 'pipeline.yaml': pipeline(40, 'echo $PPID > last.txt') });
    const run = p.conno(['repro']) as ReturnType<TempProject['conno']> & { pid?: number };
    const r = await run;
    expect(r.exitCode, r.all).toBe(0);
    const parents = Array.from({ length: 40 }, (_, i) => Number(p.read(`p${i}.txt`)));
    // The first command starts while the helper starts, from conno itself; the others through it.
    expect(parents[0]).toBe(run.pid);
    const helper = parents[1]!;
    expect(helper).not.toBe(run.pid);
    expect(parents.slice(1).every((x) => x === helper)).toBe(true);
    // What the lock records does not depend on who started the command.
    const lock = parse(p.read('conno.lock')) as { stages: Record<string, { outs: Record<string, { hash: string }> }> };
    expect(Object.keys(lock.stages)).toHaveLength(41);
    expect((await p.conno(['status'])).stdout).toMatch(/up to date/i);
  });

  it('Ctrl-C (SIGINT to the terminal’s whole process group) stops a command the spawner started', async () => {
    p = tempProject({ 'pipeline.yaml': pipeline(20, 'echo $$ > pid.txt && sleep 30 && echo done > last.txt') });
    const { execa } = await import('execa');
    // Its own process group, as a terminal's foreground job: SIGINT reaches conno and its helper.
    const run = execa(process.execPath, [path.join(REPO, 'bin/conno.js'), 'repro'], { cwd: p.dir, reject: false, all: true, detached: true, env: { CI: '1', CONNO_GPUS: '' } });
    for (let i = 0; i < 300 && !p.exists('pid.txt'); i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 200));
    const pid = Number(p.read('pid.txt'));
    expect(Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1])).not.toBe(run.pid); // started by the helper
    process.kill(-run.pid!, 'SIGINT');
    const r = await run;
    expect(r.exitCode, r.all).toBe(130);
    let alive = true;
    for (let i = 0; i < 50 && alive; i++) {
      try {
        process.kill(pid, 0);
        await new Promise((res) => setTimeout(res, 20));
      } catch {
        alive = false;
      }
    }
    expect(alive).toBe(false);
    const lock = parse(p.read('conno.lock')) as { stages: Record<string, unknown> };
    expect(Object.keys(lock.stages)).toHaveLength(20); // the twenty that finished, not `last`
    expect((await p.conno(['repro', '--dry-run'])).stdout).toContain('would run last: new');
  });
});

describe('pipes', () => {
  it('`conno status | head -1` ends quietly when the reader closes the pipe', async () => {
    // Enough output (≈ 150 kB of JSON) to overflow the pipe's buffer after head has gone.
    p = tempProject({ 'pipeline.yaml': 'stages:\n' + Array.from({ length: 2000 }, (_, i) => `  s${i}:\n    cmd: echo ${i} > o${i}.txt\n    outs: [o${i}.txt]\n`).join('') });
    const { execa } = await import('execa');
    const r = await execa('sh', ['-c', `${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(REPO, 'bin/conno.js'))} status --json | head -1; echo "status=\${PIPESTATUS:-done}"`], { cwd: p.dir, reject: false, shell: false });
    expect(r.stdout.split('\n')[0]).toBe('{');
    expect(r.stderr).not.toContain('EPIPE');
  });
});

describe('usage errors', () => {
  it('exit 2 with one clear line and no stack trace', async () => {
    p = studyProject();
    for (const args of [['frobnicate'], ['repro', '--jobs', 'zero'], ['repro', '--bogus'], ['repro', 'nosuchstage'], ['repro', 'train@seed=9'], ['repro', '--gpus', 'x1']]) {
      const r = await p.conno(args);
      expect(r.exitCode, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^conno: /);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});

describe('stages that read upstream records and publish workspace copies', () => {
  const MODULE = (name: string, extra: string) => `import { z } from ${ZOD_MODULE};
import { writeFileSync } from 'node:fs';
export const stage = {
  version: 1,
  description: '${name}',
  params: z.strictObject({ n: z.number().int().default(1), note: z.string().default('') }),
  outputs: ['out'],
  ${extra}
  async run(ctx) {
    const lines = ctx.inputs.map((i) => [i.from, i.output, i.fingerprint ?? '-', JSON.stringify(i.params ?? null)].join(' '));
    writeFileSync(ctx.outPath('out'), JSON.stringify({ n: ctx.params.n, lines }) + '\\n');
  },
};
`;
  const PIPE = (note: string) => `stages:
  run:
    uses: ./stages/run.mjs
    matrix: { n: [1, 2] }
    with: { n: "\${item.n}", note: ${JSON.stringify(note)} }
  table:
    uses: ./stages/table.mjs
    needs: [run]
`;

  it('gives upstream fingerprints and params, reruns when they change, and keeps the workspace copy current', async () => {
    p = tempProject({
      'stages/run.mjs': MODULE('run', "// writes its n only: 'note' does not change its output"),
      'stages/table.mjs': MODULE('table', "upstreamRecords: true, workspace: { out: 'published/table.json' },"),
      'pipeline.yaml': PIPE('a'),
    });
    let r = await p.conno(['repro']);
    expect(r.exitCode, r.all).toBe(0);
    const lock = parse(p.read('conno.lock'));
    const published = JSON.parse(p.read('published/table.json')) as { lines: string[] };
    expect(published.lines).toEqual([
      `run@n=1 out ${lock.stages['run@n=1'].fingerprint} {"n":1,"note":"a"}`,
      `run@n=2 out ${lock.stages['run@n=2'].fingerprint} {"n":2,"note":"a"}`,
    ]);
    expect(lock.stages.table.upstream).toEqual({ 'run@n=1': lock.stages['run@n=1'].fingerprint, 'run@n=2': lock.stages['run@n=2'].fingerprint });
    // A stage without upstreamRecords sees neither (and records none).
    expect(lock.stages['run@n=1'].upstream).toBeUndefined();

    // The workspace copy comes back when deleted or edited, without rerunning anything.
    rmSync(path.join(p.dir, 'published'), { recursive: true });
    r = await p.conno(['repro']);
    expect(r.exitCode, r.all).toBe(0);
    expect(JSON.parse(p.read('published/table.json'))).toEqual(published);
    p.write('published/table.json', '{}\n');
    r = await p.conno(['repro']);
    expect(JSON.parse(p.read('published/table.json'))).toEqual(published);
    expect(r.all).not.toContain('running');

    // A param that leaves run's outputs unchanged still changes its fingerprint: the table reruns.
    p.write('pipeline.yaml', PIPE('b'));
    r = await p.conno(['status']);
    expect(r.stdout).toContain('upstream stale: run@n=1');
    r = await p.conno(['repro']);
    expect(r.exitCode, r.all).toBe(0);
    const after = parse(p.read('conno.lock'));
    expect(after.stages['run@n=1'].outs).toEqual(lock.stages['run@n=1'].outs);
    expect(after.stages['run@n=1'].fingerprint).not.toBe(lock.stages['run@n=1'].fingerprint);
    expect(p.read('published/table.json')).toContain('\\"note\\":\\"b\\"');
    r = await p.conno(['status']);
    expect(r.stdout).toContain('Everything is up to date');
  }, 60_000);
});

describe('matrix instances', () => {
  it('are told apart by their matrix values even when no param uses them (each sees its own item)', async () => {
    p = tempProject({
      'stages/who.mjs': `import { z } from ${ZOD_MODULE};
import { writeFileSync } from 'node:fs';
export const stage = {
  version: 1,
  description: 'writes its matrix values',
  params: z.strictObject({}),
  outputs: ['out'],
  async run(ctx) { writeFileSync(ctx.outPath('out'), JSON.stringify(ctx.item) + '\\n'); },
};
`,
      'pipeline.yaml': `stages:
  who:
    uses: ./stages/who.mjs
    matrix: { loss: [ce, gce] }
  cmd:
    matrix: { loss: [ce, gce] }
    cmd: node -e "require('fs').writeFileSync('out-' + JSON.parse(process.env.CONNO_ITEM).loss + '.txt', process.env.CONNO_ITEM)"
`,
    });
    const r = await p.conno(['repro']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('Done: 4 ran, 0 restored');
    const lock = parse(p.read('conno.lock'));
    expect(lock.stages['who@loss=ce'].fingerprint).not.toBe(lock.stages['who@loss=gce'].fingerprint);
    expect(lock.stages['who@loss=ce'].outs.out.hash).not.toBe(lock.stages['who@loss=gce'].outs.out.hash);
    expect(lock.stages['who@loss=gce'].item).toEqual({ loss: 'gce' });
    expect(lock.stages['cmd@loss=ce'].fingerprint).not.toBe(lock.stages['cmd@loss=gce'].fingerprint);
    const shown = await p.conno(['show', 'who@loss=gce:out', '--path']);
    expect(readFileSync(shown.stdout.trim(), 'utf8')).toBe('{"loss":"gce"}\n');
  });
});
