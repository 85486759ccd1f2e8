/**
 * End-to-end: the whole audio front end (download → resample → features) on real FSDD speech,
 * offline through the data mirror, as a user would run it.
 */
import { afterEach, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { REPO, tempProject, type TempProject } from './helpers.js';
import { readTableFile, flatFloat32 } from '../src/core/arrow/io.js';

const FSDD = path.resolve(REPO, '../shared/datasets/fsdd');
if (!existsSync(path.join(FSDD, 'fsdd-1.0.10.tar.gz'))) throw new Error(`FSDD archive not found at ${FSDD}`);

let p: TempProject | undefined;
afterEach(() => p?.remove());

it('FSDD through the mirror: 8 kHz → 16 kHz → log-mel; up to date, verify, and a param edit', async () => {
  p = tempProject({
    'params/study.yaml': 'audio:\n  rate: 16000\nfeatures:\n  n_mels: 40\n',
    'pipeline.yaml': `params: [params/study.yaml]
stages:
  data:
    uses: download
    with: { dataset: fsdd, max_clips_per_class: 6, holdout: { speakers: [theo] } }
  resample:
    uses: resample
    needs: [data]
    with: { rate: "\${audio.rate}", quality: fast }
  features:
    uses: features
    needs: [resample]
    with: { n_mels: "\${features.n_mels}", frames: 80, normalize: true }
`,
  });
  const env = { CONNO_DATA_MIRROR: FSDD };
  let r = await p.conno(['repro'], { env, timeout: 180_000 });
  expect(r.exitCode, r.all).toBe(0);
  expect(r.stdout).toContain('Done: 3 ran, 0 restored, 0 up to date.');

  const lock = parse(p.read('conno.lock'));
  const table = readTableFile((await p.conno(['show', 'features', '--path'])).stdout.trim());
  const { shape } = flatFloat32(table, 'features');
  expect(shape).toEqual([40, 80]);
  const splits = table.getChild('split')!.toArray() as string[];
  // 6 clips per class in each of train, test and holdout (theo's clips), 10 classes.
  expect(table.numRows).toBe(180);
  expect(new Set(splits)).toEqual(new Set(['train', 'test', 'holdout']));
  expect(JSON.parse(table.schema.metadata.get('conno.features')!)).toMatchObject({ sample_rate: 16000, n_mels: 40 });
  expect(lock.stages.resample.with).toMatchObject({ rate: 16000 });

  r = await p.conno(['status'], { env });
  expect(r.stdout).toContain('Everything is up to date (3 stage instances).');
  r = await p.conno(['verify'], { env, timeout: 180_000 });
  expect(r.exitCode, r.all).toBe(0);
  expect(r.stdout).toContain('Verified: all 3 stage instances reproduce conno.lock bit for bit.');

  p.write('params/study.yaml', 'audio:\n  rate: 22050\nfeatures:\n  n_mels: 40\n');
  r = await p.conno(['status'], { env });
  expect(r.stdout).toContain('resample:\n    params changed: audio.rate 16000 → 22050\n');
  expect(r.stdout).toContain('features:\n    upstream stale: resample');
  expect(r.stdout).not.toContain('data:');
}, 300_000);
