/**
 * `conno verify TARGET…` reruns the targets alone, from the inputs conno.lock records (taken from
 * the cache by their hashes, or from the remote with --pull): their upstream never runs, a
 * corrupted, missing or stale input is named, and a target that does not reproduce is caught.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { tempProject, type TempProject } from './helpers.js';

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

/** A stage command that also counts its runs in a file outside every project and scratch copy. */
const counted = (counter: string, name: string, body: string) => `echo x >> ${counter}/${name} && ${body}`;

function project(extra = ''): { p: TempProject; runs: (name: string) => number } {
  const counter = mkdtempSync(path.join(os.tmpdir(), 'conno-runs-'));
  const p = tempProject({
    'params.yaml': 'n: 5\n',
    'in.txt': 'one\ntwo\n',
    'pipeline.yaml': `params: [params.yaml]
${extra}
stages:
  prepare:
    cmd: ${JSON.stringify(counted(counter, 'prepare', 'mkdir -p prep && cat in.txt > prep/all.txt && seq 1 ${n} > prep/n.txt'))}
    deps: [in.txt]
    outs: [prep]
  train:
    matrix: { seed: [1, 2, 3] }
    needs: [prepare]
    cmd: ${JSON.stringify(counted(counter, 'train', 'mkdir -p models && (cat prep/all.txt prep/n.txt; echo seed=${item.seed}) > models/m${item.seed}.txt'))}
    outs: ["models/m\${item.seed}.txt"]
  noisy:
    needs: [prepare]
    cmd: ${JSON.stringify(counted(counter, 'noisy', 'head -c 16 /dev/urandom | od -x > noisy.txt'))}
    outs: [noisy.txt]
`,
  });
  cleanup.push(() => p.remove(), () => rmSync(counter, { recursive: true, force: true }));
  const runs = (name: string) => (readdirSync(counter).includes(name) ? readFileSync(path.join(counter, name), 'utf8').split('\n').length - 1 : 0);
  return { p, runs };
}

async function built(p: TempProject): Promise<void> {
  const r = await p.conno(['repro']);
  expect(r.exitCode, r.all).toBe(0);
}

/** The cache object of an instance's output, as conno.lock records it. */
function objectOf(p: TempProject, id: string, out: string): string {
  const hash: string = parse(p.read('conno.lock')).stages[id].outs[out].hash;
  return path.join(p.dir, 'cache', 'objects', hash.slice(0, 2), hash.slice(2));
}

describe('verify TARGET', () => {
  it('reruns the target alone, from the recorded inputs, and reports each instance', async () => {
    const { p, runs } = project();
    await built(p);
    expect([runs('prepare'), runs('train')]).toEqual([1, 3]);

    const r = await p.conno(['verify', 'train@seed=2']);
    expect(r.exitCode, r.all).toBe(0);
    // Its upstream was taken from the cache, not run; the target ran once, in a scratch copy.
    expect([runs('prepare'), runs('train')]).toEqual([1, 4]);
    expect(r.stderr).toContain('running train@seed=2\n');
    expect(r.stderr).not.toContain('running prepare');
    expect(r.stdout).toContain('input prepare (as conno.lock records it)');
    expect(r.stdout).toMatch(/^ok train@seed=2 \(\d+ ms\)$/m);
    expect(r.stdout).toContain('Verified: the stage instance reproduces conno.lock bit for bit.');

    const j = await p.conno(['verify', 'train@seed=1', '--json']);
    expect(j.exitCode, j.all).toBe(0);
    const out = JSON.parse(j.stdout);
    expect(out.ok).toBe(true);
    expect(out.instances.map((c: { id: string; status: string }) => [c.id, c.status])).toEqual([
      ['prepare', 'input'],
      ['train@seed=1', 'ok'],
    ]);
    expect(typeof out.instances[1].ms).toBe('number');

    // --upstream keeps the old way: everything the target needs, rebuilt from scratch.
    const u = await p.conno(['verify', '--upstream', 'train@seed=3']);
    expect(u.exitCode, u.all).toBe(0);
    expect(u.stdout).toContain('Verified: all 2 stage instances reproduce conno.lock bit for bit.');
    expect(runs('prepare')).toBe(2);
  });

  it('catches a target that does not reproduce, naming the output', async () => {
    const { p } = project();
    await built(p);
    const r = await p.conno(['verify', 'noisy', '--json']);
    expect(r.exitCode).toBe(1);
    const out = JSON.parse(r.stdout);
    const noisy = out.instances.find((c: { id: string }) => c.id === 'noisy');
    expect(noisy.status).toBe('mismatch');
    expect(noisy.mismatches).toEqual([{ id: 'noisy', output: 'noisy.txt', expected: expect.stringMatching(/^[0-9a-f]{16}$/), got: expect.stringMatching(/^[0-9a-f]{16}$/) }]);
    const t = await p.conno(['verify', 'noisy']);
    expect(t.stdout).toMatch(/^MISMATCH noisy noisy\.txt: expected [0-9a-f]{16}, got [0-9a-f]{16}/m);
    expect(t.stdout).toContain('Verify failed: 1 mismatch, 0 failed stage instances.');
  });

  it('names a corrupted or missing input and how to get it, and rebuilds nothing', async () => {
    const { p, runs } = project();
    await built(p);
    // prep/ is a folder: its manifest object lists the files; corrupt one file's object.
    const manifest = objectOf(p, 'prepare', 'prep');
    const fileHash = readFileSync(manifest, 'utf8').match(/[0-9a-f]{16}/)![0];
    const fileObject = path.join(p.dir, 'cache', 'objects', fileHash.slice(0, 2), fileHash.slice(2));
    rmSync(fileObject, { force: true });
    writeFileSync(fileObject, 'tampered\n');
    let r = await p.conno(['verify', 'train@seed=1']);
    expect(r.exitCode).toBe(1);
    expect(r.all).toMatch(/prepare.*its recorded outputs \(prep [0-9a-f]{16}\.dir\) are not in the cache: `conno pull prepare` fetches them from a remote, or `conno verify --upstream` rebuilds them/);
    expect(r.stderr).toMatch(/^skipped train@seed=1: upstream prepare failed$/m);
    expect(r.stdout).toContain('Verify failed: 0 mismatches, 2 failed stage instances (prepare, train@seed=1).');
    expect([runs('prepare'), runs('train')]).toEqual([1, 3]);

    rmSync(path.join(p.dir, 'cache'), { recursive: true, force: true });
    r = await p.conno(['verify', 'train@seed=1']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^FAILED prepare: its recorded outputs \(prep [0-9a-f]{16}\.dir\) are not in the cache: `conno pull prepare`/m);
    expect(runs('prepare')).toBe(1);
  });

  it('fails when conno.lock was not made from the current inputs of what the target needs', async () => {
    const { p, runs } = project();
    await built(p);
    // An edit upstream, not rerun: the lock's prepare (and so the target's inputs) are stale.
    p.write('in.txt', 'one\nthree\n');
    let r = await p.conno(['verify', 'train@seed=1']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^FAILED prepare: conno\.lock's entry was not made from the current code, params and inputs \(input changed: in\.txt\): run `conno repro` and commit conno\.lock$/m);
    expect(runs('train')).toBe(3);
    p.write('in.txt', 'one\ntwo\n');
    p.write('params.yaml', 'n: 6\n');
    r = await p.conno(['verify', 'train@seed=1']);
    expect(r.stderr).toMatch(/FAILED prepare: .*params changed: n 5 → 6/);
  });

  it('--sample N --seed S draws a reproducible sample, from the targets or from all', async () => {
    const { p } = project();
    await built(p);
    const a = await p.conno(['verify', '--sample', '2', '--seed', '7', 'train', '--json']);
    expect(a.exitCode, a.all).toBe(0);
    const sa = JSON.parse(a.stdout);
    expect(sa.sample).toEqual({ n: 2, seed: 7, from: 3 });
    const picked = sa.instances.filter((c: { status: string }) => c.status === 'ok').map((c: { id: string }) => c.id);
    expect(picked).toHaveLength(2);
    for (const id of picked) expect(id).toMatch(/^train@seed=[123]$/);
    const b = JSON.parse((await p.conno(['verify', '--sample', '2', '--seed', '7', 'train', '--json'])).stdout);
    expect(b.instances).toEqual(sa.instances.map((c: { ms?: number }) => (c.ms === undefined ? c : { ...c, ms: expect.any(Number) })));
    // Different seeds draw different samples (the 3 choose 2 samples of seeds 0..9 are not all one).
    const samples = new Set<string>();
    for (let s = 0; s < 10; s++) {
      const t = await p.conno(['verify', '--sample', '1', '--seed', String(s), '--json']);
      samples.add(JSON.parse(t.stdout).instances.filter((c: { status: string }) => c.status !== 'input').map((c: { id: string }) => c.id).join());
    }
    expect(samples.size).toBeGreaterThan(1);
    const text = await p.conno(['verify', '--sample', '1', '--seed', '3', 'prepare']);
    expect(text.stdout).toContain('Sample of 1 of 1 stage instances (seed 3): prepare');

    for (const [args, msg] of [
      [['--sample', '0'], '--sample takes a positive whole number'],
      [['--seed', '3'], '--seed goes with --sample'],
      [['--sample', '1', '--seed', 'x1'], '--seed takes a whole number from 0'],
      [['--remote', 'x'], '--remote goes with --pull'],
    ] as const) {
      const e = await p.conno(['verify', ...args]);
      expect(e.exitCode, e.all).toBe(2);
      expect(e.stderr).toContain(msg);
      expect(e.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('--pull fetches the recorded inputs from the remote when the cache lacks them', async () => {
    const remoteDir = mkdtempSync(path.join(os.tmpdir(), 'conno-remote-'));
    cleanup.push(() => rmSync(remoteDir, { recursive: true, force: true }));
    const { p, runs } = project(`remotes:\n  shared: ${remoteDir}\ndefault_remote: shared`);
    await built(p);
    expect((await p.conno(['push'])).exitCode).toBe(0);
    // A reviewer's clone: the committed files, no cache, no outputs.
    const c = tempProject({});
    cleanup.push(() => c.remove());
    for (const f of ['pipeline.yaml', 'params.yaml', 'in.txt', 'conno.lock']) cpSync(path.join(p.dir, f), path.join(c.dir, f));
    let r = await c.conno(['verify', 'train@seed=2']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('`conno pull prepare` fetches them');
    r = await c.conno(['verify', 'train@seed=2', '--pull']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toMatch(/^ok train@seed=2/m);
    expect(runs('prepare')).toBe(1);
    // Nothing was written into the reviewer's project but the cache.
    expect(c.exists('prep')).toBe(false);
    expect(c.exists('models')).toBe(false);
  });
});
