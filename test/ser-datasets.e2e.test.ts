/**
 * The speech emotion datasets (emodb, ravdess, cremad) through the download stage's mirror path:
 * each from a small archive of its real layout made here (the real ones cannot be downloaded on
 * these machines), with labels and speakers from the file names and a speaker-independent test
 * split; files of other kinds in the archive are left out; what cannot be fetched says how.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempProject, type TempProject } from './helpers.js';
import { makeZip, type ZipEntry } from './support/zip.js';
import { wavFile } from './support/wav.js';
import { readClips } from '../src/lab/audio/clips.js';

let p: TempProject | undefined;
afterEach(() => {
  p?.remove();
  p = undefined;
});

const ENV = { CONNO_DATA_MIRROR: '' };
const wav = (k: number, rate: number): Buffer => wavFile([k * 100, -k * 100, k * 50, 0], { rate });

/** A project whose mirror/ holds `archive` (named `fileName`), and its sha256. */
function withMirror(dataset: string, fileName: string, entries: ZipEntry[], extra = ''): string {
  const zip = makeZip(entries);
  const sha = createHash('sha256').update(zip).digest('hex');
  p = tempProject({ 'pipeline.yaml': `stages:\n  data:\n    uses: download\n    with: { dataset: ${dataset}, mirror: mirror${extra.replace('SHA', sha)} }\n` });
  p.write('mirror/.keep', '');
  writeFileSync(path.join(p.dir, 'mirror', fileName), zip);
  return sha;
}

async function clips() {
  const r = await p!.conno(['repro'], { env: ENV });
  expect(r.exitCode, r.all).toBe(0);
  return readClips((await p!.conno(['show', 'data', '--path'])).stdout.trim());
}

describe('speech emotion datasets', () => {
  it('emodb: speaker, text, emotion letter and version from wav/03a01Fa.wav; speakers 15 and 16 are the test split', async () => {
    const names = ['03a01Fa', '03a01Wb', '08b02Tc', '10a05Lb', '11b09Ea', '15a07Aa', '16b10Na', '16a01Fa'];
    withMirror('emodb', 'emodb-download.zip', [
      ...names.map((n, k) => ({ name: `wav/${n}.wav`, data: wav(k + 1, 16000) })),
      { name: 'lablaut/03a01Fa.lab', data: Buffer.from('x') },
      { name: 'wav/readme.wav.txt', data: Buffer.from('x') },
    ]);
    const set = await clips();
    expect(set.classes).toEqual(['anger', 'boredom', 'disgust', 'fear', 'happiness', 'sadness', 'neutral']);
    expect(set.clips.map((c) => [c.clipId, set.classes[c.label], c.speaker, c.split, c.sampleRate])).toEqual([
      ['03a01Fa', 'happiness', '03', 'train', 16000],
      ['03a01Wb', 'anger', '03', 'train', 16000],
      ['08b02Tc', 'sadness', '08', 'train', 16000],
      ['10a05Lb', 'boredom', '10', 'train', 16000],
      ['11b09Ea', 'disgust', '11', 'train', 16000],
      ['15a07Aa', 'fear', '15', 'test', 16000],
      ['16a01Fa', 'happiness', '16', 'test', 16000],
      ['16b10Na', 'neutral', '16', 'test', 16000],
    ]);
    // No published checksum: the archive's sha256 is recorded (in the clip table and conno.lock).
    expect(set.metadata['conno.archive_sha256']).toMatch(/^[0-9a-f]{64}$/);
    expect(set.metadata['conno.license']).toContain('free for research use');
  });

  it('ravdess: emotion and actor from Actor_nn/03-01-EE-II-SS-RR-AA.wav (speech only), test_speakers; the md5 Zenodo publishes is checked', async () => {
    const files = ['03-01-01-01-01-01-01', '03-01-05-02-02-01-01', '03-01-08-01-01-02-02', '03-01-02-02-01-01-21', '03-01-06-01-02-02-24'];
    const entries = [
      ...files.map((f, k) => ({ name: `Actor_${f.slice(-2)}/${f}.wav`, data: wav(k + 1, 48000) })),
      { name: 'Actor_01/03-02-01-01-01-01-01.wav', data: wav(9, 48000) }, // song: not this dataset
      { name: 'Actor_01/01-01-01-01-01-01-01.wav', data: wav(9, 48000) }, // audio-visual: not this dataset
    ];
    // The real archive's md5 is checked: this one is not it.
    withMirror('ravdess', 'Audio_Speech_Actors_01-24.zip', entries);
    const bad = await p!.conno(['repro'], { env: ENV });
    expect(bad.exitCode).toBe(1);
    expect(bad.all).toMatch(/expected md5 bc696df654c87fed845eb13823edef8a, got md5 [0-9a-f]{32}/);
    p!.remove();

    withMirror('ravdess', 'Audio_Speech_Actors_01-24.zip', entries, ', sha256: SHA, test_speakers: ["02"]');
    const set = await clips();
    expect(set.classes).toEqual(['neutral', 'calm', 'happy', 'sad', 'angry', 'fearful', 'disgust', 'surprised']);
    expect(set.clips.map((c) => [c.clipId, set.classes[c.label], c.speaker, c.split])).toEqual([
      ['03-01-01-01-01-01-01', 'neutral', '01', 'train'],
      ['03-01-02-02-01-01-21', 'calm', '21', 'train'],
      ['03-01-05-02-02-01-01', 'angry', '01', 'train'],
      ['03-01-06-01-02-02-24', 'fearful', '24', 'train'],
      ['03-01-08-01-01-02-02', 'surprised', '02', 'test'],
    ]);
  });

  it('cremad: actor and emotion from AudioWAV/1001_DFA_ANG_XX.wav; actors 1074–1091 are the test split; without a mirror copy it says how to make one', async () => {
    const names = ['1001_DFA_ANG_XX', '1001_IEO_HAP_HI', '1040_TIE_NEU_XX', '1073_ITS_SAD_LO', '1074_WSI_FEA_MD', '1091_MTI_DIS_XX'];
    withMirror('cremad', 'CREMA-D-AudioWAV.zip', [...names.map((n, k) => ({ name: `AudioWAV/${n}.wav`, data: wav(k + 1, 16000) })), { name: 'AudioWAV/.gitattributes', data: Buffer.from('x') }]);
    const set = await clips();
    expect(set.classes).toEqual(['anger', 'disgust', 'fear', 'happiness', 'neutral', 'sadness']);
    expect(set.clips.map((c) => [c.clipId, set.classes[c.label], c.speaker, c.split])).toEqual([
      ['1001_DFA_ANG_XX', 'anger', '1001', 'train'],
      ['1001_IEO_HAP_HI', 'happiness', '1001', 'train'],
      ['1040_TIE_NEU_XX', 'neutral', '1040', 'train'],
      ['1073_ITS_SAD_LO', 'sadness', '1073', 'train'],
      ['1074_WSI_FEA_MD', 'fear', '1074', 'test'],
      ['1091_MTI_DIS_XX', 'disgust', '1091', 'test'],
    ]);
    // A test speaker that does not exist is named, not an empty test split.
    p!.write('pipeline.yaml', p!.read('pipeline.yaml').replace('mirror: mirror', 'mirror: mirror, test_speakers: ["1100"]'));
    let r = await p!.conno(['repro'], { env: ENV });
    expect(r.exitCode).toBe(1);
    expect(r.all).toContain('test_speakers: cremad has no speaker 1100 (its speakers: 1001, 1040, 1073, 1074, 1091)');
    p!.remove();

    p = tempProject({ 'pipeline.yaml': 'stages:\n  data:\n    uses: download\n    with: { dataset: cremad }\n' });
    r = await p.conno(['repro'], { env: ENV });
    expect(r.exitCode).toBe(1);
    expect(r.all).toContain('CREMA-D-AudioWAV.zip is not in a mirror folder, and conno cannot download it: CREMA-D keeps its audio in Git LFS');
    expect(r.all).toContain('git clone https://github.com/CheyneyComputerScience/CREMA-D.git');
    expect(r.all).not.toMatch(/\n\s+at /);
  });

  it('test_speakers applies to the emotion datasets only (exit 2, positioned)', async () => {
    p = tempProject({ 'pipeline.yaml': 'stages:\n  data:\n    uses: download\n    with: { dataset: fsdd, test_speakers: [theo] }\n' });
    const r = await p.conno(['status']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/pipeline\.yaml:4:\d+: .*'test_speakers' applies to emodb, ravdess and cremad only, not 'fsdd'/);
  });
});
