/**
 * End-to-end: the download stage on the real FSDD archive (../shared/datasets/fsdd, never copied
 * into the repository), through a mirror folder and through HTTP on 127.0.0.1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { REPO, tempProject, type TempProject } from './helpers.js';
import { serveFolder } from './support/http-server.js';
import { makeZip } from './support/zip.js';
import { readClips } from '../src/lab/audio/clips.js';
import { wavFile } from './support/wav.js';

const FSDD = path.resolve(REPO, '../shared/datasets/fsdd');
const FSDD_SHA256 = '675a84ef5f7f7f57e9f681f08e220a03d137e2dc6c8e06c5a81a8eb0626a8b49';
const haveFsdd = existsSync(path.join(FSDD, 'fsdd-1.0.10.tar.gz'));

let p: TempProject | undefined;
afterEach(() => {
  p?.remove();
  p = undefined;
});

const pipeline = (withText: string) => `stages:\n  data:\n    uses: download\n    with: ${withText}\n`;
// Keep the machine's own mirror setting out of these tests.
const ENV = { CONNO_DATA_MIRROR: '' };

function cacheFiles(dir: string, sub: string): string[] {
  const abs = path.join(dir, 'cache', sub);
  return existsSync(abs) ? (readdirSync(abs, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name) as string[]) : [];
}

// The archive is part of the project's shared data: missing, the tests fail rather than skip.
if (!haveFsdd) throw new Error(`FSDD archive not found at ${FSDD}: the tests read it from ../shared/datasets/fsdd`);

describe('download: FSDD', () => {
  it('builds the clip table from the mirror; show, up to date, verify', async () => {
    p = tempProject({ 'pipeline.yaml': pipeline(`{ dataset: fsdd, mirror: ${JSON.stringify(FSDD)} }`) });
    let r = await p.conno(['repro'], { env: ENV, timeout: 120_000 });
    expect(r.exitCode, r.all).toBe(0);

    const file = (await p.conno(['show', 'data', '--path'])).stdout.trim();
    const set = readClips(file);
    expect(set.clips).toHaveLength(3000);
    expect(set.clips.filter((c) => c.split === 'test')).toHaveLength(300);
    expect(set.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(new Set(set.clips.map((c) => c.speaker))).toEqual(new Set(['george', 'jackson', 'lucas', 'nicolas', 'theo', 'yweweler']));
    expect(new Set(set.clips.map((c) => c.sampleRate))).toEqual(new Set([8000]));
    const ids = set.clips.map((c) => c.clipId);
    expect(ids).toEqual([...ids].sort());
    const first = set.clips[0]!;
    expect(first).toMatchObject({ clipId: '0_george_0', split: 'test', label: 0, speaker: 'george', fold: null, source: 'free-spoken-digit-dataset-1.0.10/recordings/0_george_0.wav' });
    // The first sample of 0_george_0.wav is int16 0xfa2f = -1489.
    expect(first.audio[0]).toBe(Math.fround(-1489 / 32768));
    expect(set.metadata['conno.archive_sha256']).toBe(FSDD_SHA256);

    const lock = parse(p.read('conno.lock'));
    expect(lock.stages.data.metrics).toEqual({
      archives: [{ file: 'fsdd-1.0.10.tar.gz', sha256: FSDD_SHA256, verified: true }],
      classes: 10,
      clips: { test: 300, train: 2700 },
      skipped_files: 0,
    });

    r = await p.conno(['show', 'data', '--head', '3']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('0_george_0');
    expect(r.stdout).toContain('3000 rows × 8 columns (showing first 3)');

    r = await p.conno(['repro'], { env: ENV });
    expect(r.stdout).toContain('Done: 0 ran, 0 restored, 1 up to date.');
    r = await p.conno(['verify'], { env: ENV, timeout: 120_000 });
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('Verified: the stage instance reproduces conno.lock bit for bit.');
  });

  it('carves a dev split out of train: a whole speaker, seeded, the same bytes on a second build', async () => {
    const withText = `{ dataset: fsdd, mirror: ${JSON.stringify(FSDD)}, dev: { by: speaker, fraction: 0.2, seed: 3 } }`;
    p = tempProject({ 'pipeline.yaml': pipeline(withText) });
    let r = await p.conno(['repro'], { env: ENV, timeout: 120_000 });
    expect(r.exitCode, r.all).toBe(0);
    const set = readClips((await p.conno(['show', 'data', '--path'])).stdout.trim());
    const devSpeakers = new Set(set.clips.filter((c) => c.split === 'dev').map((c) => c.speaker));
    expect(devSpeakers.size).toBe(1); // round(0.2 × 6 speakers)
    const trainSpeakers = new Set(set.clips.filter((c) => c.split === 'train').map((c) => c.speaker));
    for (const s of devSpeakers) expect(trainSpeakers.has(s)).toBe(false);
    expect(set.clips.filter((c) => c.split === 'test')).toHaveLength(300); // takes 0–4 stay test
    const lock = parse(p.read('conno.lock'));
    expect(lock.stages.data.metrics.clips).toEqual({ dev: 450, test: 300, train: 2250 });
    r = await p.conno(['verify'], { env: ENV, timeout: 120_000 });
    expect(r.exitCode, r.all).toBe(0);
  });

  it('a hostile archive in the mirror (a member climbing out, a symlink) is refused by name; nothing is written or cached', async () => {
    // ESC-50's archive has no published checksum, so the mirror copy is used as it is: what it
    // holds is all that stands between it and the file system.
    for (const [name, member] of [
      ['../../escaped.txt', { name: 'ESC-50-master/../../escaped.txt', data: Buffer.from('x') }],
      ['ESC-50-master/audio/link.wav', { name: 'ESC-50-master/audio/link.wav', data: Buffer.from('/etc/passwd'), mode: 0o120777 }],
    ] as const) {
      p?.remove();
      p = tempProject({ 'pipeline.yaml': pipeline('{ dataset: esc50, mirror: mirror }') });
      p.write('mirror/.keep', '');
      writeFileSync(path.join(p.dir, 'mirror', 'ESC-50-master.zip'), makeZip([{ name: 'ESC-50-master/meta/esc50.csv', data: Buffer.from('filename,fold,target,category,esc10,src_file,take\n') }, member]));
      const r = await p.conno(['repro'], { env: ENV });
      expect(r.exitCode).toBe(1);
      expect(r.all).toContain(`refusing ${member.name.includes('..') ? 'entry path' : 'link entry'} '${member.name}'`);
      expect(r.all).not.toMatch(/\n\s+at /);
      expect(existsSync(path.join(p.dir, '..', 'escaped.txt'))).toBe(false);
      expect(existsSync(path.join(p.dir, 'escaped.txt'))).toBe(false);
      expect(cacheFiles(p.dir, 'objects')).toEqual([]);
      expect(cacheFiles(p.dir, 'tmp')).toEqual([]);
      expect(name).toBeTruthy();
    }
  });

  it('a corrupted mirror copy fails with both checksums and leaves nothing in the cache', async () => {
    p = tempProject({ 'pipeline.yaml': pipeline('{ dataset: fsdd, mirror: mirror }') });
    const bytes = readFileSync(path.join(FSDD, 'fsdd-1.0.10.tar.gz'));
    bytes[1_000_000] ^= 0xff;
    p.write('mirror/.keep', '');
    writeFileSync(path.join(p.dir, 'mirror', 'fsdd-1.0.10.tar.gz'), bytes);
    const r = await p.conno(['repro'], { env: ENV });
    expect(r.exitCode).toBe(1);
    expect(r.all).toContain(`expected sha256 ${FSDD_SHA256}, got sha256 `);
    expect(r.all).toMatch(/got sha256 [0-9a-f]{64}/);
    expect(r.all).not.toMatch(/\n\s+at /); // a user's problem: no stack trace, in the output or the log
    expect(readFileSync(path.join(p.dir, 'cache', 'logs', 'data.log'), 'utf8')).not.toMatch(/\n\s+at /);
    expect(cacheFiles(p.dir, 'objects')).toEqual([]);
    expect(cacheFiles(p.dir, 'downloads')).toEqual([]);
    expect(cacheFiles(p.dir, 'tmp')).toEqual([]);
    expect(p.exists('conno.lock') ? parse(p.read('conno.lock'))?.stages?.data : undefined).toBeUndefined();
  });

  it('downloads over HTTP (URL from CONNO_DATASET_URL_fsdd), with the same bytes as from the mirror; holdout and caps', async () => {
    const server = await serveFolder(FSDD);
    try {
      p = tempProject({ 'pipeline.yaml': pipeline('{ dataset: fsdd }') });
      const env = { ...ENV, CONNO_DATASET_URL_fsdd: `${server.url}/fsdd-1.0.10.tar.gz` };
      let r = await p.conno(['repro'], { env, timeout: 120_000 });
      expect(r.exitCode, r.all).toBe(0);
      expect(cacheFiles(p.dir, 'downloads')).toEqual(['fsdd-1.0.10.tar.gz']);
      expect(server.requests).toHaveLength(1);
      const file = (await p.conno(['show', 'data', '--path'])).stdout.trim();
      expect(readClips(file).clips).toHaveLength(3000);

      // Same bytes as the mirror run (the content hash is the same wherever the archive came from).
      const viaMirror = tempProject({ 'pipeline.yaml': pipeline(`{ dataset: fsdd, mirror: ${JSON.stringify(FSDD)} }`) });
      try {
        expect((await viaMirror.conno(['repro'], { env: ENV, timeout: 120_000 })).exitCode).toBe(0);
        expect(parse(viaMirror.read('conno.lock')).stages.data.outs).toEqual(parse(p.read('conno.lock')).stages.data.outs);
      } finally {
        viaMirror.remove();
      }

      // A changed stage option reruns from the download cache: no second request.
      p.write('pipeline.yaml', pipeline('{ dataset: fsdd, holdout: { speakers: [theo] }, max_clips_per_class: 20 }'));
      r = await p.conno(['repro'], { env, timeout: 120_000 });
      expect(r.exitCode, r.all).toBe(0);
      expect(server.requests).toHaveLength(1);
      const small = readClips((await p.conno(['show', 'data', '--path'])).stdout.trim());
      const count = (split: string) => small.clips.filter((c) => c.split === split).length;
      // 20 per class and split: train 200, test 200 (5 speakers × 5 takes ≥ 20), holdout 200.
      expect([count('train'), count('test'), count('holdout')]).toEqual([200, 200, 200]);
      expect(small.clips.filter((c) => c.speaker === 'theo').every((c) => c.split === 'holdout')).toBe(true);
    } finally {
      await server.close();
    }
  });
});

describe('download: folder', () => {
  const wav16 = (samples: number[], rate = 16000): Buffer => wavFile(samples, { rate });


  it('labels files by a file-name pattern, skips a bad file when asked; the folder is an input', async () => {
    p = tempProject({
      'pipeline.yaml': `stages:
  data:
    uses: download
    deps: [mydata]
    with:
      dataset: folder
      on_bad_file: skip
      folder: { path: mydata, pattern: '^(?<label>[a-z]+)_(?<speaker>[a-z]+)_(?<take>\\d+)\\.wav$' }
`,
    });
    for (const [name, s] of [['yes_ann_0.wav', [1, 2]], ['yes_bob_0.wav', [3]], ['no_ann_0.wav', [-16384]], ['no_bob_1.wav', [5, 6, 7]]] as const) {
      p.write(`mydata/${name}`, '');
      writeFileSync(path.join(p.dir, 'mydata', name), wav16([...s]));
    }
    writeFileSync(path.join(p.dir, 'mydata', 'yes_cat_9.wav'), wav16([1, 2, 3]).subarray(0, 46));
    let r = await p.conno(['repro']);
    expect(r.exitCode, r.all).toBe(0);
    const set = readClips((await p.conno(['show', 'data', '--path'])).stdout.trim());
    expect(set.classes).toEqual(['no', 'yes']);
    expect(set.clips.map((c) => [c.clipId, c.label, c.speaker, c.split])).toEqual([
      ['no_ann_0', 0, 'ann', 'train'],
      ['no_bob_1', 0, 'bob', 'train'],
      ['yes_ann_0', 1, 'ann', 'train'],
      ['yes_bob_0', 1, 'bob', 'train'],
    ]);
    expect(Array.from(set.clips[0]!.audio)).toEqual([-0.5]);
    expect(parse(p.read('conno.lock')).stages.data.metrics.skipped_files).toBe(1);

    p.write('pipeline.yaml', p.read('pipeline.yaml').replace('on_bad_file: skip', 'on_bad_file: error'));
    r = await p.conno(['repro']);
    expect(r.exitCode).toBe(1);
    expect(r.all).toContain('yes_cat_9.wav: truncated');

    // The folder is an input of the stage without `deps:` as well: same fingerprint, and an
    // edit to one of its files makes the stage stale, naming the file.
    p.write('pipeline.yaml', p.read('pipeline.yaml').replace('    deps: [mydata]\n', '').replace('on_bad_file: error', 'on_bad_file: skip'));
    r = await p.conno(['status']);
    expect(r.stdout).toContain('Everything is up to date');
    writeFileSync(path.join(p.dir, 'mydata', 'yes_ann_0.wav'), wav16([9, 9]));
    r = await p.conno(['status']);
    expect(r.stdout).toContain('input changed: mydata (1 modified: yes_ann_0.wav)');
    r = await p.conno(['repro']);
    expect(r.exitCode, r.all).toBe(0);
    expect(Array.from(readClips((await p.conno(['show', 'data', '--path'])).stdout.trim()).clips[2]!.audio)).toEqual([9 / 32768, 9 / 32768]);
  });

  it('a float WAV of NaN is a bad file: an error naming it, or skipped and counted', async () => {
    const wavF32 = (samples: number[]): Buffer => wavFile(samples, { format: 'float32', rate: 8000 });

    p = tempProject({ 'pipeline.yaml': `stages:\n  data:\n    uses: download\n    with: { dataset: folder, folder: { path: w, pattern: '^(?<label>[a-z]+)_\\d\\.wav$' } }\n` });
    p.write('w/.keep', '');
    writeFileSync(path.join(p.dir, 'w', 'yes_1.wav'), wavF32([0.5, -0.25]));
    writeFileSync(path.join(p.dir, 'w', 'no_1.wav'), wavF32([0.1, NaN, 0.2]));
    let r = await p.conno(['repro']);
    expect(r.exitCode).toBe(1);
    expect(r.all).toContain('no_1.wav: 1 of 3 samples are not finite numbers (NaN or ±Inf; the first at frame 1)');
    expect(cacheFiles(p.dir, 'objects')).toEqual([]);
    p.write('pipeline.yaml', p.read('pipeline.yaml').replace('dataset: folder,', 'dataset: folder, on_bad_file: skip,'));
    r = await p.conno(['repro']);
    expect(r.exitCode, r.all).toBe(0);
    expect(parse(p.read('conno.lock')).stages.data.metrics.skipped_files).toBe(1);
    expect(readClips((await p.conno(['show', 'data', '--path'])).stdout.trim()).clips.map((c) => c.clipId)).toEqual(['yes_1']);
  });

  it('labels files from a CSV with splits and folds, and holds out a fold', async () => {
    p = tempProject({
      'pipeline.yaml': `stages:
  data: { uses: download, with: { dataset: folder, folder: { path: d, csv: labels.csv }, holdout: { folds: [2] } } }
`,
      'd/labels.csv': 'file,label,split,speaker,fold\na/1.wav,dog,train,s1,1\na/2.wav,cat,test,s2,1\nb/3.wav,dog,train,,2\n',
    });
    for (const f of ['a/1.wav', 'a/2.wav', 'b/3.wav']) {
      p.write(`d/${f}`, '');
      writeFileSync(path.join(p.dir, 'd', f), wav16([100]));
    }
    const r = await p.conno(['repro']);
    expect(r.exitCode, r.all).toBe(0);
    const set = readClips((await p.conno(['show', 'data', '--path'])).stdout.trim());
    expect(set.classes).toEqual(['cat', 'dog']);
    expect(set.clips.map((c) => [c.clipId, c.label, c.split, c.speaker, c.fold])).toEqual([
      ['a/1', 1, 'train', 's1', 1],
      ['a/2', 0, 'test', 's2', 1],
      ['b/3', 1, 'holdout', null, 2],
    ]);
  });
});

