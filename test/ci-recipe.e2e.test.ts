/**
 * The CI recipe (docs/ci/review.sh, which docs/ci/conno-review.yml runs) on a two-commit git
 * repository made here: an author pushes results to a folder remote and opens a "pull request";
 * the review job, in a fresh clone with no cache, pulls, writes `conno diff` into the job summary
 * and verifies a seeded sample. A PR whose lock its code does not reproduce fails the job.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { BIN, REPO } from './helpers.js';

const SCRIPT = path.join(REPO, 'docs', 'ci', 'review.sh');
let root: string;
let remote: string;
let origin: string;

const sh = (cwd: string, cmd: string, args: string[], env: Record<string, string> = {}) =>
  execa(cmd, args, { cwd, reject: false, all: true, env: { CI: '1', CONNO_GPUS: '', GIT_AUTHOR_NAME: 'A', GIT_AUTHOR_EMAIL: 'a@example.org', GIT_COMMITTER_NAME: 'A', GIT_COMMITTER_EMAIL: 'a@example.org', ...env } });
const conno = (cwd: string, ...args: string[]) => sh(cwd, process.execPath, [BIN, ...args]);
const git = (cwd: string, ...args: string[]) => sh(cwd, 'git', args);

const PIPELINE = (remoteDir: string) => `params: [params.yaml]
remotes:
  lab: ${remoteDir}
default_remote: lab
stages:
  prepare:
    cmd: mkdir -p prep && seq 1 \${n} > prep/n.txt
    outs: [prep]
  train:
    matrix: { seed: [1, 2, 3, 4] }
    needs: [prepare]
    cmd: mkdir -p out && printf '{"acc":%d}\\n' $(( \${n} * 10 + \${item.seed} )) > out/m\${item.seed}.json
    outs: ["out/m\${item.seed}.json"]
    metrics: ["out/m\${item.seed}.json"]
`;

/** The review job in a fresh clone of `branch`: no cache, no outputs. */
async function review(branch: string, seed: string) {
  const dir = mkdtempSync(path.join(root, 'ci-'));
  expect((await git(root, 'clone', '-q', '--branch', branch, origin, dir)).exitCode).toBe(0);
  const summary = path.join(dir, '..', `${path.basename(dir)}.summary.md`);
  writeFileSync(summary, '');
  const r = await sh(dir, 'bash', [SCRIPT], { BASE: 'origin/main', SAMPLE: '2', SEED: seed, CONNO: `${process.execPath} ${BIN}`, GITHUB_STEP_SUMMARY: summary });
  return { r, summary: readFileSync(summary, 'utf8'), dir };
}

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'conno-ci-'));
  remote = path.join(root, 'remote');
  origin = path.join(root, 'origin.git');
  const author = path.join(root, 'author');
  expect((await git(root, 'init', '-q', '--bare', '-b', 'main', origin)).exitCode).toBe(0);
  expect((await git(root, 'clone', '-q', origin, author)).exitCode).toBe(0);
  await git(author, 'checkout', '-q', '-b', 'main');
  writeFileSync(path.join(author, 'pipeline.yaml'), PIPELINE(remote));
  writeFileSync(path.join(author, 'params.yaml'), 'n: 3\n');
  writeFileSync(path.join(author, '.gitignore'), 'cache/\nprep/\nout/\n');
  const steps: [string, string[]][] = [
    ['conno', ['repro']],
    ['conno', ['push']],
    ['git', ['add', '-A']],
    ['git', ['commit', '-q', '-m', 'study']],
    ['git', ['push', '-q', 'origin', 'main']],
  ];
  const run = async (s: [string, string[]][]) => {
    for (const [tool, args] of s) {
      const r = tool === 'conno' ? await conno(author, ...args) : await git(author, ...args);
      expect(r.exitCode, `${tool} ${args.join(' ')}: ${r.all}`).toBe(0);
    }
  };
  await run(steps);
  // The pull request: n 3 → 5, results rebuilt and pushed.
  await git(author, 'checkout', '-q', '-b', 'pr');
  writeFileSync(path.join(author, 'params.yaml'), 'n: 5\n');
  await run([...steps.slice(0, 3), ['git', ['commit', '-q', '-m', 'n = 5']], ['git', ['push', '-q', 'origin', 'pr']]]);
  // A second pull request that changes how train computes, but not conno.lock (never rerun):
  // its results are all on the remote, yet its code does not make them.
  await git(author, 'checkout', '-q', '-b', 'bad', 'pr');
  writeFileSync(path.join(author, 'pipeline.yaml'), PIPELINE(remote).replace('* 10 +', '* 11 +'));
  await run([['git', ['commit', '-q', '-am', 'train: ×11']], ['git', ['push', '-q', 'origin', 'bad']]]);
}, 180_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('docs/ci/review.sh', () => {
  it('pulls, writes the diff into the job summary, and verifies a seeded sample', async () => {
    const { r, summary, dir } = await review('pr', '11');
    expect(r.exitCode, r.all).toBe(0);
    expect(summary).toContain('## conno.lock: origin/main → HEAD');
    expect(summary).toContain('| train@seed=1 | acc | 31 | 51 | +20 | +64.5% |');
    expect(summary).toContain('| prepare | param n 3 → 5 |');
    expect(summary).toContain('## conno verify --sample 2 --seed 11');
    expect(summary).toMatch(/Sample of 2 of 5 stage instances \(seed 11\)/);
    expect(summary).toContain('reproduce conno.lock bit for bit.');
    // The pull restored the results into the clone; nothing else was built.
    expect(readFileSync(path.join(dir, 'out', 'm1.json'), 'utf8')).toBe('{"acc":51}\n');
    // The sample is the seed's: another run of the same commit checks the same instances.
    const again = await review('pr', '11');
    const pick = (s: string) => s.match(/Sample of 2 of 5 stage instances \(seed 11\): (.*)/)![1];
    expect(pick(again.summary)).toBe(pick(summary));
  });

  it('fails the job on a lock that its code does not reproduce', async () => {
    // Any sample of 2 of the 5 instances holds a train instance.
    const { r, summary } = await review('bad', '11');
    expect(r.exitCode, r.all).toBe(1);
    expect(summary).toMatch(/MISMATCH train@seed=\d fingerprint: expected [0-9a-f]{16}, got [0-9a-f]{16}/);
    expect(summary).toMatch(/MISMATCH train@seed=\d out\/m\d\.json: expected [0-9a-f]{16}, got [0-9a-f]{16}/);
    expect(summary).toMatch(/Verify failed: \d+ mismatches/);
  });
});
