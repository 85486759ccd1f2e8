#!/usr/bin/env node
// Features benchmark: conno's log-mel front end against torchaudio's, on the same real clips,
// in the same run, one thread each.
//
// Clips: the FSDD recordings (8 kHz speech, 0.14–2.3 s) from the archive in
// /work/shared/datasets/fsdd (or --archive), extracted to a temp dir and decoded with conno's
// WAV decoder; the same float32 samples go to torchaudio through a temp file.
// Parameters (both sides): n_fft 256, 25 ms Hann window (200), 10 ms hop (80), 40 htk mel bands
// 20–4000 Hz, power 2, centred reflect padding, ln(x + 1e-6).
// conno: LogMelExtractor (src/lab/audio/mel.ts) on the main thread. torchaudio:
// transforms.MelSpectrogram + torch.log on float32 tensors, torch.set_num_threads(1), no grad.
// Each side makes `--reps` passes over all clips (after one warm-up pass) and keeps the fastest.
// The first 50 clips' outputs are compared (max abs difference, ln units) as a sanity check.
//
// Usage: npm run bench:features -- [--clips N] [--reps K] [--archive PATH] [--json]
// --json prints exactly one JSON object on stdout ({ ratio: conno clips/s ÷ torchaudio clips/s,
// conno, torchaudio, clips, audio_seconds, params, max_abs_diff, … }); notes go to stderr.
// Needs Debian's python3-torchaudio for /usr/bin/python3: installed with apt-get if missing.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = '/usr/bin/python3';

function parseArgs(argv) {
  const o = { clips: 3000, reps: 5, archive: '/work/shared/datasets/fsdd/fsdd-1.0.10.tar.gz', json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') o.json = true;
    else if (a === '--clips') o.clips = Number(argv[++i]);
    else if (a === '--reps') o.reps = Number(argv[++i]);
    else if (a === '--archive') o.archive = argv[++i];
    else {
      process.stderr.write(`bench/features.mjs: unknown argument ${a}\nusage: node bench/features.mjs [--clips N] [--reps K] [--archive PATH] [--json]\n`);
      process.exit(2);
    }
  }
  if (!(o.clips > 0) || !(o.reps > 0)) {
    process.stderr.write('bench/features.mjs: --clips and --reps must be positive\n');
    process.exit(2);
  }
  return o;
}

const note = (msg) => process.stderr.write(`${msg}\n`);

function ensureTorchaudio() {
  const probe = spawnSync(PYTHON, ['-c', 'import torchaudio'], { encoding: 'utf8' });
  if (probe.status === 0) return;
  note('bench/features.mjs: torchaudio is missing for /usr/bin/python3; installing python3-torchaudio with apt-get (needs root) …');
  for (const args of [['update'], ['install', '-y', 'python3-torchaudio']]) {
    const r = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) {
      note(`bench/features.mjs: apt-get ${args.join(' ')} failed; install python3-torchaudio and run again`);
      process.exit(1);
    }
  }
}

const PARAMS = {
  sample_rate: 8000, n_fft: 256, win_length: 200, hop_length: 80, window: 'hann', n_mels: 40,
  f_min: 20, f_max: 4000, mel_scale: 'htk', mel_norm: 'none', power: 2, center: true, pad_mode: 'reflect', log_offset: 1e-6,
};
const COMPARE = 50;

const TORCH_SCRIPT = `
import json, sys, time
import numpy as np, torch, torchaudio
torch.set_num_threads(1)
samples_path, offsets_path, reps, out_path, compare, params = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), json.loads(sys.argv[6])
samples = np.fromfile(samples_path, dtype='<f4')
offsets = np.fromfile(offsets_path, dtype='<i8')
clips = [torch.from_numpy(samples[offsets[i]:offsets[i + 1]]) for i in range(len(offsets) - 1)]
mel = torchaudio.transforms.MelSpectrogram(sample_rate=params['sample_rate'], n_fft=params['n_fft'], win_length=params['win_length'],
    hop_length=params['hop_length'], f_min=params['f_min'], f_max=params['f_max'], n_mels=params['n_mels'], window_fn=torch.hann_window,
    power=2.0, center=True, pad_mode='reflect', norm=None, mel_scale='htk')
offset = params['log_offset']
def one_pass():
    return [torch.log(mel(x) + offset) for x in clips]
with torch.no_grad():
    outs = one_pass()  # warm-up
    best = float('inf')
    for _ in range(reps):
        t0 = time.perf_counter()
        one_pass()
        best = min(best, time.perf_counter() - t0)
np.concatenate([o.numpy().ravel() for o in outs[:compare]]).astype('<f4').tofile(out_path)
print(json.dumps({'seconds': best, 'torch': torch.__version__, 'torchaudio': torchaudio.__version__, 'threads': torch.get_num_threads()}))
`;

async function loadClips(archive, limit, tmp) {
  const tar = await import('tar');
  const { decodeWav } = await import(path.join(REPO, 'dist', 'src', 'audio', 'wav.js'));
  await tar.x({ file: archive, cwd: tmp, filter: (p) => p.endsWith('.wav') });
  const files = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.wav')) files.push(p);
    }
  };
  walk(tmp);
  return files.slice(0, limit).map((f) => decodeWav(fs.readFileSync(f), path.basename(f)).samples);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(path.join(REPO, 'dist', 'src', 'audio', 'mel.js'))) {
    note('bench/features.mjs: dist/ is missing; run npm run build first');
    process.exit(1);
  }
  ensureTorchaudio();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'conno-bench-features-'));
  try {
    const clips = await loadClips(opts.archive, opts.clips, tmp);
    const totalSamples = clips.reduce((n, c) => n + c.length, 0);
    const audioSeconds = totalSamples / PARAMS.sample_rate;
    note(`${clips.length} FSDD clips, ${audioSeconds.toFixed(1)} s of 8 kHz audio; ${opts.reps} timed passes each after a warm-up`);

    // conno
    const { LogMelExtractor } = await import(path.join(REPO, 'dist', 'src', 'audio', 'mel.js'));
    const ex = await LogMelExtractor.create({
      sampleRate: PARAMS.sample_rate, nFft: PARAMS.n_fft, winLength: PARAMS.win_length, hopLength: PARAMS.hop_length,
      window: 'hann', center: true, padMode: 'reflect', nMels: PARAMS.n_mels, fMin: PARAMS.f_min, fMax: PARAMS.f_max,
      melScale: 'htk', melNorm: 'none', power: 2, scaling: { kind: 'log', offset: PARAMS.log_offset }, nMfcc: null,
    });
    const ours = []; // the first COMPARE outputs, [bands, frames] each
    for (let i = 0; i < clips.length; i++) {
      const { values, frames } = ex.compute(clips[i]); // warm-up pass
      if (i < COMPARE) ours.push({ values: Float32Array.from(values), frames });
    }
    let connoBest = Infinity;
    for (let r = 0; r < opts.reps; r++) {
      const t0 = process.hrtime.bigint();
      for (const c of clips) ex.compute(c);
      connoBest = Math.min(connoBest, Number(process.hrtime.bigint() - t0) / 1e9);
    }
    ex.dispose();

    // torchaudio, on the same samples
    const samplesPath = path.join(tmp, 'samples.f32');
    const offsetsPath = path.join(tmp, 'offsets.i64');
    const outPath = path.join(tmp, 'torch-out.f32');
    const all = new Float32Array(totalSamples);
    const offsets = new BigInt64Array(clips.length + 1);
    clips.forEach((c, i) => {
      all.set(c, Number(offsets[i]));
      offsets[i + 1] = offsets[i] + BigInt(c.length);
    });
    fs.writeFileSync(samplesPath, all);
    fs.writeFileSync(offsetsPath, offsets);
    const py = spawnSync(
      PYTHON,
      ['-c', TORCH_SCRIPT, samplesPath, offsetsPath, String(opts.reps), outPath, String(COMPARE), JSON.stringify(PARAMS)],
      { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' }, maxBuffer: 1 << 24 },
    );
    if (py.status !== 0) {
      note(`bench/features.mjs: the torchaudio run failed:\n${py.stderr}`);
      process.exit(1);
    }
    const torch = JSON.parse(py.stdout.trim().split('\n').pop());
    const theirs = new Float32Array(fs.readFileSync(outPath).buffer.slice(0));
    let at = 0;
    let maxDiff = 0;
    for (const o of ours) {
      const cols = o.frames + 1; // conno adds one silent column
      for (let b = 0; b < PARAMS.n_mels; b++) {
        for (let t = 0; t < o.frames; t++) maxDiff = Math.max(maxDiff, Math.abs(o.values[b * cols + t] - theirs[at + b * o.frames + t]));
      }
      at += PARAMS.n_mels * o.frames;
    }

    const figures = (seconds) => ({
      seconds: Number(seconds.toFixed(4)),
      clips_per_s: Math.round(clips.length / seconds),
      x_realtime: Math.round(audioSeconds / seconds),
    });
    const result = {
      ratio: Number((torch.seconds / connoBest).toFixed(2)),
      clips: clips.length,
      audio_seconds: Number(audioSeconds.toFixed(2)),
      params: PARAMS,
      conno: { ...figures(connoBest), fft: ex.fftBackend, node: process.version },
      torchaudio: { ...figures(torch.seconds), torch: torch.torch, torchaudio: torch.torchaudio, threads: torch.threads },
      max_abs_diff: Number(maxDiff.toExponential(2)),
      compared_clips: ours.length,
    };
    if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      const line = (name, f) => `${name.padEnd(11)} ${String(f.clips_per_s).padStart(7)} clips/s  ${String(f.x_realtime).padStart(6)}× realtime  (${f.seconds.toFixed(3)} s)`;
      process.stdout.write(
        `log-mel of ${clips.length} FSDD clips (${audioSeconds.toFixed(0)} s of audio), one thread, best of ${opts.reps}\n` +
          `${line('conno', result.conno)}  ${result.conno.fft}\n` +
          `${line('torchaudio', result.torchaudio)}  torch ${torch.torch}, torchaudio ${torch.torchaudio}\n` +
          `ratio (conno ÷ torchaudio clips/s): ${result.ratio}×\n` +
          `max abs difference on the first ${ours.length} clips: ${result.max_abs_diff} (ln units)\n`,
      );
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
