/**
 * The dataset registry: where each public dataset comes from, what it is checked against, and
 * how its extracted files become labelled clips (official splits and folds).
 *
 * Checksums are the ones their maintainers or a well-known loader publish; where none exists
 * (GitHub archives of a tag or a branch) it is null, and the sha256 of whatever was fetched is
 * recorded in the stage's metrics instead. Pin it with the stage option `sha256:`.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Checksum } from './fetch.js';
import { parseCsvRecords } from './csv.js';

export interface ArchiveSpec {
  url: string;
  /** The file name looked up in mirror folders and used in the download cache. */
  fileName: string;
  checksum: Checksum | null;
  /** Copies known under another name with other bytes (e.g. a reproducible re-pack). */
  mirrorCopies?: readonly { fileName: string; checksum: Checksum }[];
  /** No single file to download (`url` empty): how to make the archive for the mirror folder. */
  manual?: string;
}

/** One clip found in a dataset, before decoding. */
export interface ClipEntry {
  /** Absolute path of the audio file. */
  file: string;
  /** Path inside the dataset (archive or folder), '/'-separated: the clip's `source`. */
  source: string;
  clipId: string;
  className: string;
  split: string;
  speaker: string | null;
  fold: number | null;
}

export interface ClipIndex {
  entries: ClipEntry[];
  /** Class names; a clip's label is the index of its class here. */
  classes: string[];
}

/** Dataset-specific options (validated by the download stage's schema). */
export interface IndexOptions {
  /** speechcommands: keep only these words, labelled in this order. */
  words?: readonly string[];
  /** esc50, esc10, urbansound8k: the fold whose clips form the test split. */
  testFold?: number;
  /** fsdnoisy18k: which part of the train set to keep. */
  subset?: 'all' | 'clean' | 'noisy_small';
  /** emodb, ravdess, cremad: the speakers whose clips form the test split (speaker-independent). */
  testSpeakers?: readonly string[];
}

export interface DatasetSpec {
  name: string;
  title: string;
  homepage: string;
  license: string;
  size: string;
  clips: string;
  sampleRate: string;
  archives: readonly ArchiveSpec[];
  /** The clips in the extracted archives (`roots[i]` holds `archives[i]`). */
  index(roots: readonly string[], opts: IndexOptions): Promise<ClipIndex>;
}

const sha256 = (value: string): Checksum => ({ algorithm: 'sha256', value });
const md5 = (value: string): Checksum => ({ algorithm: 'md5', value });

/** The same ten digits in label order, for FSDD and Speech Commands' digit words. */
export const DIGIT_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'] as const;

export const DATASETS = {
  fsdd: {
    name: 'fsdd',
    title: 'Free Spoken Digit Dataset v1.0.10',
    homepage: 'https://github.com/Jakobovski/free-spoken-digit-dataset',
    license: 'CC BY-SA 4.0',
    size: '21 MB (GitHub archive); 15.6 MB (reproducible re-pack fsdd-1.0.10.tar.gz)',
    clips: '3,000 (10 digits × 6 speakers × 50 takes)',
    sampleRate: '8 kHz',
    archives: [
      {
        url: 'https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/v1.0.10.tar.gz',
        fileName: 'free-spoken-digit-dataset-1.0.10.tar.gz',
        checksum: null, // None published; GitHub's tag archives are generated on demand.
        mirrorCopies: [{ fileName: 'fsdd-1.0.10.tar.gz', checksum: sha256('675a84ef5f7f7f57e9f681f08e220a03d137e2dc6c8e06c5a81a8eb0626a8b49') }],
      },
    ],
    index: indexFsdd,
  },
  speechcommands: {
    name: 'speechcommands',
    title: 'Speech Commands v0.02',
    homepage: 'https://arxiv.org/abs/1804.03209',
    license: 'CC BY 4.0',
    size: '2.3 GB (2,428,923,189 bytes)',
    clips: '105,829 one-second clips of 35 words (2,618 speakers)',
    sampleRate: '16 kHz',
    archives: [
      {
        url: 'http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz',
        fileName: 'speech_commands_v0.02.tar.gz',
        // torchaudio.datasets.speechcommands._CHECKSUMS (also TensorFlow Datasets' checksums.tsv).
        checksum: sha256('af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58'),
      },
    ],
    index: indexSpeechCommands,
  },
  esc50: {
    name: 'esc50',
    title: 'ESC-50',
    homepage: 'https://github.com/karolpiczak/ESC-50',
    license: 'CC BY-NC 3.0',
    size: '~600 MB (zip)',
    clips: '2,000 × 5 s, 50 classes, 5 folds',
    sampleRate: '44.1 kHz',
    archives: [{ url: 'https://github.com/karolpiczak/ESC-50/archive/master.zip', fileName: 'ESC-50-master.zip', checksum: null }],
    index: (roots, opts) => indexEsc(roots, opts, false),
  },
  esc10: {
    name: 'esc10',
    title: 'ESC-10 (the ESC-10 subset of ESC-50)',
    homepage: 'https://github.com/karolpiczak/ESC-50',
    license: 'CC BY-NC 3.0',
    size: '~600 MB (zip, the whole of ESC-50)',
    clips: '400 × 5 s, 10 classes, 5 folds',
    sampleRate: '44.1 kHz',
    archives: [{ url: 'https://github.com/karolpiczak/ESC-50/archive/master.zip', fileName: 'ESC-50-master.zip', checksum: null }],
    index: (roots, opts) => indexEsc(roots, opts, true),
  },
  fsdnoisy18k: {
    name: 'fsdnoisy18k',
    title: 'FSDnoisy18k',
    homepage: 'https://zenodo.org/record/2529934',
    license: 'CC BY (clips CC BY or CC0)',
    size: '~9 GB (zips)',
    clips: '18,532 (17,585 train of which ~10% verified, 947 test), 20 classes',
    sampleRate: '44.1 kHz',
    // md5s as listed by soundata (soundata/datasets/fsdnoisy18k.py), from Zenodo's record.
    archives: [
      { url: 'https://zenodo.org/record/2529934/files/FSDnoisy18k.audio_train.zip', fileName: 'FSDnoisy18k.audio_train.zip', checksum: md5('34dc1d34ca44622af5bf439ceb6f0d55') },
      { url: 'https://zenodo.org/record/2529934/files/FSDnoisy18k.audio_test.zip', fileName: 'FSDnoisy18k.audio_test.zip', checksum: md5('1ac73d70b4ef3f81900d98c261a832de') },
      { url: 'https://zenodo.org/record/2529934/files/FSDnoisy18k.meta.zip', fileName: 'FSDnoisy18k.meta.zip', checksum: md5('96e27a4a63b7a2870522ddcedb5d8296') },
    ],
    index: indexFsdNoisy18k,
  },
  urbansound8k: {
    name: 'urbansound8k',
    title: 'UrbanSound8K',
    homepage: 'https://zenodo.org/record/1203745',
    license: 'CC BY-NC 3.0',
    size: '~6 GB (tar.gz)',
    clips: '8,732 clips ≤ 4 s, 10 classes, 10 folds',
    sampleRate: 'varies (mostly 44.1 and 48 kHz; mono and stereo)',
    archives: [{ url: 'https://zenodo.org/record/1203745/files/UrbanSound8K.tar.gz', fileName: 'UrbanSound8K.tar.gz', checksum: md5('9aa69802bbf37fb986f71ec1483a196e') }],
    index: indexUrbanSound8k,
  },
  emodb: {
    name: 'emodb',
    title: 'Berlin Database of Emotional Speech (EmoDB)',
    homepage: 'http://www.emodb.bilderbar.info/',
    license: 'free for research use; the official site states no licence (Burkhardt et al., Interspeech 2005)',
    size: '~40 MB (zip)',
    clips: '535 utterances, 7 emotions, 10 speakers (5 female, 5 male), German',
    sampleRate: '16 kHz',
    // Save it in a mirror folder as emodb-download.zip (the site calls it download.zip).
    archives: [{ url: 'http://www.emodb.bilderbar.info/download/download.zip', fileName: 'emodb-download.zip', checksum: null }],
    index: indexEmoDb,
  },
  ravdess: {
    name: 'ravdess',
    title: 'RAVDESS (speech, audio only)',
    homepage: 'https://zenodo.org/record/1188976',
    license: 'CC BY-NC-SA 4.0',
    size: '208.5 MB (zip)',
    clips: '1,440 utterances (24 actors × 60), 8 emotions, English',
    sampleRate: '48 kHz',
    // The md5 Zenodo lists for the file.
    archives: [{ url: 'https://zenodo.org/record/1188976/files/Audio_Speech_Actors_01-24.zip', fileName: 'Audio_Speech_Actors_01-24.zip', checksum: md5('bc696df654c87fed845eb13823edef8a') }],
    index: indexRavdess,
  },
  cremad: {
    name: 'cremad',
    title: 'CREMA-D (audio)',
    homepage: 'https://github.com/CheyneyComputerScience/CREMA-D',
    license: 'Open Database License (ODbL) v1.0; contents under the Database Contents License (DbCL) v1.0',
    size: '~600 MB (AudioWAV/)',
    clips: '7,442 utterances, 6 emotions, 91 actors, English',
    sampleRate: '16 kHz',
    archives: [
      {
        url: '',
        fileName: 'CREMA-D-AudioWAV.zip',
        checksum: null,
        manual:
          'CREMA-D keeps its audio in Git LFS, with no archive to download. Make one with `git lfs install && git clone https://github.com/CheyneyComputerScience/CREMA-D.git && (cd CREMA-D && zip -qr ../CREMA-D-AudioWAV.zip AudioWAV)` and put CREMA-D-AudioWAV.zip in the mirror folder (`mirror:` or CONNO_DATA_MIRROR), or give `url:`',
      },
    ],
    index: indexCremaD,
  },
} satisfies Record<string, DatasetSpec>;

/** The default test speakers of the emotion datasets: about a fifth of them, both sexes. */
export const DEFAULT_TEST_SPEAKERS: Readonly<Record<string, readonly string[]>> = {
  emodb: ['15', '16'],
  ravdess: ['21', '22', '23', '24'],
  cremad: Array.from({ length: 18 }, (_, i) => String(1074 + i)),
};

export type RegisteredDataset = keyof typeof DATASETS;
export const REGISTERED_DATASETS = Object.keys(DATASETS) as RegisteredDataset[];

// ---------------------------------------------------------------------------------------------
// Layouts. Every indexer returns entries in no particular order; the stage sorts by clip id.

/** Every file under `root` (relative, '/'-separated). */
export async function walkFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await fsp.readdir(path.join(root, rel), { withFileTypes: true });
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(r);
      else if (e.isFile()) out.push(r);
    }
  };
  await walk('');
  return out.sort();
}

/** The one folder an archive unpacks into (GitHub and most tarballs), or the root itself. */
async function topFolder(root: string): Promise<string> {
  const entries = (await fsp.readdir(root, { withFileTypes: true })).filter((e) => !e.name.startsWith('.'));
  return entries.length === 1 && entries[0]!.isDirectory() ? path.join(root, entries[0]!.name) : root;
}

async function findFile(root: string, name: string): Promise<string> {
  const hit = (await walkFiles(root)).find((f) => f === name || f.endsWith(`/${name}`));
  if (!hit) throw new Error(`the archive has no ${name} (extracted in ${root})`);
  return path.join(root, hit);
}

const FSDD_NAME = /^(?<digit>\d)_(?<speaker>[a-z]+)_(?<take>\d+)\.wav$/;

/** FSDD: `recordings/{digit}_{speaker}_{take}.wav`; takes 0–4 are the test split (its README). */
async function indexFsdd(roots: readonly string[]): Promise<ClipIndex> {
  const root = roots[0]!;
  const entries: ClipEntry[] = [];
  for (const rel of await walkFiles(root)) {
    const m = FSDD_NAME.exec(path.posix.basename(rel));
    if (!m || !rel.includes('recordings/')) continue;
    const g = m.groups!;
    entries.push({
      file: path.join(root, rel),
      source: rel,
      clipId: path.posix.basename(rel, '.wav'),
      className: g.digit!,
      split: Number(g.take) < 5 ? 'test' : 'train',
      speaker: g.speaker!,
      fold: null,
    });
  }
  if (entries.length === 0) throw new Error(`no FSDD recordings ({digit}_{speaker}_{take}.wav) in ${root}`);
  return { entries, classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] };
}

/** Speech Commands: `{word}/{speaker}_nohash_{n}.wav`; validation_list.txt → dev, testing_list.txt → test. */
async function indexSpeechCommands(roots: readonly string[], opts: IndexOptions): Promise<ClipIndex> {
  const root = await topFolderWith(roots[0]!, 'testing_list.txt');
  const readList = async (name: string) => new Set((await fsp.readFile(path.join(root, name), 'utf8')).split(/\r?\n/).filter(Boolean));
  const test = await readList('testing_list.txt');
  const dev = await readList('validation_list.txt');
  const entries: ClipEntry[] = [];
  const words = new Set<string>();
  for (const rel of await walkFiles(root)) {
    const parts = rel.split('/');
    if (parts.length !== 2 || !rel.endsWith('.wav') || parts[0]!.startsWith('_')) continue;
    const [word, file] = parts as [string, string];
    words.add(word);
    entries.push({
      file: path.join(root, rel),
      source: rel,
      clipId: rel.slice(0, -'.wav'.length),
      className: word,
      split: test.has(rel) ? 'test' : dev.has(rel) ? 'dev' : 'train',
      speaker: file.split('_nohash_')[0]!,
      fold: null,
    });
  }
  const classes = opts.words ? [...opts.words] : [...words].sort();
  const unknown = classes.filter((w) => !words.has(w));
  if (unknown.length) throw new Error(`Speech Commands has no word(s) ${unknown.join(', ')} (it has: ${[...words].sort().join(', ')})`);
  const keep = new Set(classes);
  return { entries: entries.filter((e) => keep.has(e.className)), classes };
}

async function topFolderWith(root: string, marker: string): Promise<string> {
  return path.dirname(await findFile(root, marker));
}

/** ESC-50: meta/esc50.csv (filename, fold, target, category, esc10, …), audio/{filename}. */
async function indexEsc(roots: readonly string[], opts: IndexOptions, esc10: boolean): Promise<ClipIndex> {
  const csv = await findFile(roots[0]!, 'meta/esc50.csv');
  const base = path.dirname(path.dirname(csv));
  const rows = parseCsvRecords(await fsp.readFile(csv, 'utf8'), csv, ['filename', 'fold', 'target', 'category', 'esc10', 'src_file']);
  const kept = esc10 ? rows.filter((r) => r.esc10 === 'True') : rows;
  // Classes in the order of ESC-50's own target numbers (ESC-10 keeps their relative order).
  const byTarget = new Map<number, string>();
  for (const r of kept) byTarget.set(Number(r.target), r.category!);
  const classes = [...byTarget.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c);
  const testFold = opts.testFold ?? 5;
  const entries = kept.map((r): ClipEntry => {
    const fold = Number(r.fold);
    return {
      file: path.join(base, 'audio', r.filename!),
      source: `audio/${r.filename}`,
      clipId: r.filename!.replace(/\.wav$/, ''),
      className: r.category!,
      split: fold === testFold ? 'test' : 'train',
      speaker: r.src_file!, // The Freesound recording the clip was cut from.
      fold,
    };
  });
  return { entries, classes };
}

/** UrbanSound8K: metadata/UrbanSound8K.csv (slice_file_name, fsID, fold, classID, class), audio/fold{n}/. */
async function indexUrbanSound8k(roots: readonly string[], opts: IndexOptions): Promise<ClipIndex> {
  const csv = await findFile(roots[0]!, 'metadata/UrbanSound8K.csv');
  const base = path.dirname(path.dirname(csv));
  const rows = parseCsvRecords(await fsp.readFile(csv, 'utf8'), csv, ['slice_file_name', 'fsID', 'fold', 'classID', 'class']);
  const byId = new Map<number, string>();
  for (const r of rows) byId.set(Number(r.classID), r.class!);
  const classes = [...byId.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c);
  const testFold = opts.testFold ?? 10;
  const entries = rows.map((r): ClipEntry => {
    const fold = Number(r.fold);
    return {
      file: path.join(base, 'audio', `fold${fold}`, r.slice_file_name!),
      source: `audio/fold${fold}/${r.slice_file_name}`,
      clipId: r.slice_file_name!.replace(/\.wav$/, ''),
      className: r.class!,
      split: fold === testFold ? 'test' : 'train',
      speaker: r.fsID!,
      fold,
    };
  });
  return { entries, classes };
}

/** FSDnoisy18k: audio_train/, audio_test/ and meta/{train,test}.csv (fname, label, manually_verified, noisy_small). */
async function indexFsdNoisy18k(roots: readonly string[], opts: IndexOptions): Promise<ClipIndex> {
  const [trainRoot, testRoot, metaRoot] = roots as [string, string, string];
  const entries: ClipEntry[] = [];
  for (const split of ['train', 'test'] as const) {
    const csv = await findFile(metaRoot, `${split}.csv`);
    const rows = parseCsvRecords(await fsp.readFile(csv, 'utf8'), csv, ['fname', 'label']);
    const audioDir = await topFolder(split === 'train' ? trainRoot : testRoot);
    for (const r of rows) {
      if (split === 'train' && opts.subset === 'clean' && r.manually_verified !== '1') continue;
      if (split === 'train' && opts.subset === 'noisy_small' && r.noisy_small !== '1' && r.manually_verified !== '1') continue;
      entries.push({
        file: path.join(audioDir, r.fname!),
        source: `${path.basename(audioDir)}/${r.fname}`,
        clipId: r.fname!.replace(/\.wav$/, ''),
        className: r.label!,
        split,
        speaker: null,
        fold: null,
      });
    }
  }
  const classes = [...new Set(entries.map((e) => e.className))].sort();
  return { entries, classes };
}

/** A clip of an emotion dataset in the test split when its speaker is one of the test speakers. */
function speakerSplit(dataset: string, opts: IndexOptions): (speaker: string) => string {
  const test = new Set(opts.testSpeakers ?? DEFAULT_TEST_SPEAKERS[dataset] ?? []);
  return (speaker) => (test.has(speaker) ? 'test' : 'train');
}

/** Speakers named as test speakers must exist: a typo would silently leave the test split empty. */
function checkSpeakers(dataset: string, entries: readonly ClipEntry[], opts: IndexOptions): void {
  const have = new Set(entries.map((e) => e.speaker!));
  const missing = (opts.testSpeakers ?? []).filter((s) => !have.has(s));
  if (missing.length) throw new Error(`test_speakers: ${dataset} has no speaker ${missing.join(', ')} (its speakers: ${[...have].sort().join(', ')})`);
}

const EMODB_EMOTIONS: Record<string, string> = { W: 'anger', L: 'boredom', E: 'disgust', A: 'fear', F: 'happiness', T: 'sadness', N: 'neutral' };

/**
 * An emotion dataset whose file names say everything: each file matching `pattern` (a name that
 * does not is another kind of file, left out) is a clip of class `classOf(groups)`, spoken by
 * `groups.speaker`, in the test split when that speaker is a test speaker.
 */
interface FileNameLayout { pattern: RegExp; classes: readonly string[]; classOf(g: Record<string, string>): string; where?(rel: string): boolean; expected: string }
async function indexByFileName(dataset: string, roots: readonly string[], opts: IndexOptions, layout: FileNameLayout): Promise<ClipIndex> {
  const root = roots[0]!;
  const split = speakerSplit(dataset, opts);
  const entries: ClipEntry[] = [];
  for (const rel of await walkFiles(root)) {
    const m = layout.pattern.exec(path.posix.basename(rel));
    if (!m || (layout.where && !layout.where(rel))) continue;
    const g = m.groups as Record<string, string>;
    entries.push({ file: path.join(root, rel), source: rel, clipId: path.posix.basename(rel, '.wav'), className: layout.classOf(g), split: split(g.speaker!), speaker: g.speaker!, fold: null });
  }
  if (entries.length === 0) throw new Error(`no ${layout.expected} in ${root}`);
  checkSpeakers(dataset, entries, opts);
  return { entries, classes: [...layout.classes] };
}

/** EmoDB: `wav/{speaker}{text}{emotion}{version}.wav`, e.g. 03a01Fa.wav (speaker 03, happiness). */
function indexEmoDb(roots: readonly string[], opts: IndexOptions): Promise<ClipIndex> {
  return indexByFileName('emodb', roots, opts, {
    pattern: /^(?<speaker>\d\d)(?<text>[ab]\d\d)(?<emotion>[WLEAFTN])(?<version>[a-z])\.wav$/,
    classes: Object.values(EMODB_EMOTIONS),
    classOf: (g) => EMODB_EMOTIONS[g.emotion!]!,
    where: (rel) => rel.split('/').includes('wav'),
    expected: 'EmoDB utterances (wav/{speaker}{text}{emotion}{version}.wav, e.g. wav/03a01Fa.wav)',
  });
}

const RAVDESS_EMOTIONS = ['neutral', 'calm', 'happy', 'sad', 'angry', 'fearful', 'disgust', 'surprised'];

/** RAVDESS speech: `Actor_{nn}/03-01-{emotion}-{intensity}-{statement}-{repetition}-{actor}.wav` (03-01: audio only, speech). */
function indexRavdess(roots: readonly string[], opts: IndexOptions): Promise<ClipIndex> {
  return indexByFileName('ravdess', roots, opts, {
    pattern: /^03-01-(?<emotion>0[1-8])-(?<intensity>0[12])-(?<statement>0[12])-(?<repetition>0[12])-(?<speaker>\d\d)\.wav$/,
    classes: RAVDESS_EMOTIONS,
    classOf: (g) => RAVDESS_EMOTIONS[Number(g.emotion) - 1]!,
    expected: 'RAVDESS speech files (Actor_nn/03-01-EE-II-SS-RR-AA.wav)',
  });
}

const CREMAD_EMOTIONS: Record<string, string> = { ANG: 'anger', DIS: 'disgust', FEA: 'fear', HAP: 'happiness', NEU: 'neutral', SAD: 'sadness' };

/** CREMA-D: `AudioWAV/{actor}_{sentence}_{emotion}_{level}.wav`, e.g. 1001_DFA_ANG_XX.wav. */
function indexCremaD(roots: readonly string[], opts: IndexOptions): Promise<ClipIndex> {
  return indexByFileName('cremad', roots, opts, {
    pattern: /^(?<speaker>10\d\d)_(?<sentence>[A-Z]{3})_(?<emotion>ANG|DIS|FEA|HAP|NEU|SAD)_(?<level>LO|MD|HI|XX)\.wav$/,
    classes: Object.values(CREMAD_EMOTIONS),
    classOf: (g) => CREMAD_EMOTIONS[g.emotion!]!,
    expected: 'CREMA-D files (AudioWAV/{actor}_{sentence}_{emotion}_{level}.wav)',
  });
}
