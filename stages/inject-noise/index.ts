/**
 * inject-noise: label noise, soft labels and data noise on the upstream clip table
 * (data → resample → inject-noise → features), seeded with counter-based streams per clip
 * (src/lab/noise/random.ts), so a clip's noise depends on the seed and its clip id only.
 *
 * Output `clips`: the input clip table (rows, order, metadata) with labels and waveforms noised,
 * plus these columns (they travel on through features):
 *
 *   label_orig  int32    the label before label noise (`label` is the noisy label)
 *   flipped     bool     label ≠ label_orig
 *   target_eps  float32  label-smoothing ε of the clip's training target:
 *                        target = (1−ε)·onehot(label) + ε/K (0: a hard label)
 *   snr_db      float32? achieved SNR of the mixed float32 waveform, 10·log10(P_s/mean((x̃−s)²));
 *                        null for untouched clips and for pure noise
 *   noise       utf8     none | white | pink | brown | babble | recorded | pure
 *
 * With `data.test_copies`, rows follow for each SNR: a noisy copy of every clip of the split
 * (split `test@snr=10`, clip id `<id>@snr=10`), made from the clean waveform. Mixed waveforms
 * are not clipped (they may exceed ±1). Schema metadata `conno.inject_noise`: the parameters
 * and the transition matrix used.
 */
import { defineStage } from '../../src/core/stage/api.js';
import { InjectNoiseParamsSchema, type DataNoiseParams, type NoiseKind } from './params.js';

export const stage = defineStage({
  version: 1,
  description: 'Label noise (symmetric, pair, matrix, per-class, instance), label smoothing and waveform noise at a target SNR.',
  params: InjectNoiseParamsSchema,
  outputs: ['clips'],
  async run(ctx) {
    const { readClips, writeClips } = await import('../../src/lab/audio/clips.js');
    const { canonicalJson } = await import('../../src/core/util/canonical.js');
    const L = await import('../../src/lab/noise/label.js');
    const S = await import('../../src/lab/noise/signal.js');
    const { clipRng } = await import('../../src/lab/noise/random.js');
    const p = ctx.params;
    type Clip = ReturnType<typeof readClips>['clips'][number];

    const all = ctx.inputs.filter((i) => i.output === 'clips');
    const noiseFrom = p.data?.noise_from ?? null;
    const isNoise = (from: string) => noiseFrom !== null && (from === noiseFrom || from.startsWith(`${noiseFrom}@`));
    const main = all.filter((i) => !isNoise(i.from));
    const noiseInputs = all.filter((i) => isNoise(i.from));
    if (main.length !== 1) {
      const what = main.length === 0 ? 'no upstream clip table' : `${main.length} upstream clip tables (${main.map((t) => t.from).join(', ')}); name the noise recordings' stage in data.noise_from`;
      throw new Error(`inject-noise needs exactly one upstream clip table to noise (e.g. needs: [resample]); got ${what}`);
    }
    if (noiseFrom !== null && noiseInputs.length === 0) {
      throw new Error(`data.noise_from: '${noiseFrom}' is not an upstream stage with a 'clips' output; add it to needs (upstream: ${all.map((t) => t.from).join(', ')})`);
    }
    const set = readClips(main[0]!.path);
    const clips = set.clips;
    const n = clips.length;
    const k = set.classes.length;
    const ids = clips.map((c) => c.clipId);
    const classIndex = (ref: string | number, where: string): number => {
      const i = typeof ref === 'number' ? ref : set.classes.indexOf(ref) >= 0 ? set.classes.indexOf(ref) : /^\d+$/.test(ref) ? Number(ref) : -1;
      if (!(i >= 0 && i < k)) throw new Error(`${where}: '${ref}' is not a class (classes: ${set.classes.join(', ')})`);
      return i;
    };
    const perClass = (v: number[] | Record<string, number>, where: string): number[] => {
      if (Array.isArray(v)) {
        if (v.length !== k) throw new Error(`${where}: ${v.length} values for ${k} classes`);
        return v;
      }
      const out = new Array<number>(k).fill(0);
      for (const [name, r] of Object.entries(v)) out[classIndex(name, where)] = r;
      return out;
    };

    // ---- label noise
    const labelOrig = Int32Array.from(clips, (c) => c.label);
    let labels: Int32Array = Int32Array.from(labelOrig);
    let flipped: boolean[] = new Array(n).fill(false);
    let transition: number[][] | null = null;
    const lp = p.label;
    if (lp) {
      const apply = clips.map((c) => lp.splits.includes(c.split));
      if (lp.model === 'instance') {
        const idx = clips.flatMap((c, i) => (apply[i] ? [i] : []));
        const feats: Float64Array[] = [];
        for (const i of idx) feats.push(await S.coarseLogSpectrum(clips[i]!.audio, lp.bands));
        const r = L.instanceFlips(idx.map((i) => labelOrig[i]!), feats, { rate: lp.rate, sd: lp.sd, classes: k }, p.seed, idx.map((i) => ids[i]!));
        idx.forEach((i, j) => {
          labels[i] = r.labels[j]!;
          flipped[i] = r.flipped[j]!;
        });
        let qm = 0;
        for (const q of r.q) qm += q / Math.max(1, r.q.length);
        ctx.metric('label_mean_q', idx.length ? +qm.toFixed(6) : null);
      } else {
        if (lp.model === 'symmetric') transition = L.symmetricMatrix(k, lp.rate);
        else if (lp.model === 'symmetric_incl') transition = L.symmetricInclMatrix(k, lp.rate);
        else if (lp.model === 'pair') {
          const m = lp.mapping ? new Map(Object.entries(lp.mapping).map(([f, t]) => [classIndex(f, 'label.mapping'), classIndex(t, 'label.mapping')] as const)) : undefined;
          transition = L.pairMatrix(k, lp.rate, m);
        } else if (lp.model === 'per_class') transition = L.perClassMatrix(perClass(lp.rates, 'label.rates'));
        else {
          const problem = L.matrixProblem(lp.matrix, k);
          if (problem) throw new Error(`label.matrix: ${problem.message} (the dataset has ${k} classes: ${set.classes.join(', ')})`);
          transition = lp.matrix;
        }
        ({ labels, flipped } = L.applyTransition(labelOrig, transition, p.seed, ids, apply));
      }
      const rates = L.flipRates(labelOrig, flipped, k, apply);
      const r6 = (x: number) => (Number.isNaN(x) ? null : +x.toFixed(6));
      ctx.metric('label_flip_rate', r6(rates.overall));
      ctx.metric('label_flip_rate_per_class', Object.fromEntries(set.classes.map((c, y) => [c, r6(rates.perClass[y]!)])));
      ctx.metric('label_flips', rates.flips);
      ctx.metric('label_noisy_split_clips', rates.n);
      ctx.log(`label noise (${lp.model}) on ${lp.splits.join(', ')}: ${rates.flips} of ${rates.n} labels flipped (${(100 * rates.overall).toFixed(2)} %)`);
    }

    // ---- soft labels
    const eps = new Float32Array(n);
    if (p.smoothing) {
      const sm = p.smoothing;
      const byClass = sm.per_class_eps !== undefined ? perClass(sm.per_class_eps, 'smoothing.per_class_eps') : undefined;
      clips.forEach((c, i) => {
        if (sm.splits.includes(c.split)) eps[i] = byClass ? byClass[labels[i]!]! : sm.eps!;
      });
    }

    // ---- data noise
    const snr: (number | null)[] = new Array(n).fill(null);
    const kindOf: string[] = new Array(n).fill('none');
    const audio: Float32Array[] = clips.map((c) => c.audio);
    const noiseClips: Clip[] = noiseInputs.flatMap((t) => readClips(t.path).clips).filter((c) => c.audio.length > 0);
    const rate = clips[0]?.sampleRate;
    for (const c of noiseClips) {
      if (c.sampleRate !== rate) throw new Error(`noise clip '${c.clipId}' of '${noiseFrom}' is at ${c.sampleRate} Hz but the clips are at ${rate} Hz; resample the noise table too`);
    }
    const bySplit = new Map<string, number[]>();
    clips.forEach((c, i) => bySplit.set(c.split, [...(bySplit.get(c.split) ?? []), i]));
    const makeNoise = (kind: NoiseKind, rng: ReturnType<typeof clipRng>, i: number, len: number): Float64Array => {
      switch (kind) {
        case 'white':
          return S.whiteNoise(rng, len);
        case 'pink':
          return S.pinkNoise(rng, len);
        case 'brown':
          return S.brownNoise(rng, len);
        case 'babble': {
          const same = (bySplit.get(clips[i]!.split) ?? []).filter((j) => j !== i && clips[j]!.audio.length > 0);
          const pool = same.length > 0 ? same : clips.flatMap((c, j) => (j !== i && c.audio.length > 0 ? [j] : []));
          if (pool.length === 0) throw new Error('babble needs at least two clips with audio');
          const sum = new Float64Array(len);
          const free = [...pool];
          for (let t = 0; t < (p.data as DataNoiseParams).babble_n; t++) {
            const from = free.length > 0 ? free : pool;
            const pick = from.splice(rng.int(from.length), from === free ? 1 : 0)[0]!;
            const src = clips[pick]!.audio;
            const part = S.tileUnit(src, len, rng.int(src.length));
            for (let s = 0; s < len; s++) sum[s]! += part[s]!;
          }
          return sum;
        }
        case 'recorded': {
          if (noiseClips.length === 0) throw new Error(`'${noiseFrom}' has no noise clips with audio`);
          const src = noiseClips[rng.int(noiseClips.length)]!.audio;
          return S.tileUnit(src, len, rng.int(src.length));
        }
      }
    };
    const d = p.data;
    if (d) {
      const candidates = clips.flatMap((c, i) => (d.splits.includes(c.split) ? [i] : []));
      const keyed = candidates.map((i) => ({ i, key: clipRng(p.seed, 'select', ids[i]!).next() }));
      keyed.sort((a, b) => a.key - b.key || (ids[a.i]! < ids[b.i]! ? -1 : 1));
      const chosen = keyed.slice(0, Math.round(d.fraction * candidates.length)).map((e) => e.i).sort((a, b) => a - b);
      // pure_level split: the mean power of the clips replaced, one level for all of them.
      const level = d.kind === 'pure' && d.pure_level === 'split' && chosen.length > 0 ? chosen.reduce((a, i) => a + S.power(clips[i]!.audio), 0) / chosen.length : undefined;
      for (const i of chosen) {
        const rng = clipRng(p.seed, 'noise', ids[i]!);
        const target = typeof d.snr_db === 'number' ? d.snr_db : rng.uniform(d.snr_db.min, d.snr_db.max);
        const src = clips[i]!.audio;
        const noise = makeNoise(d.kind === 'pure' ? d.source : d.kind, rng, i, src.length);
        const m = d.kind === 'pure' ? S.pureNoise(src, noise, level) : S.mixAtSnr(src, noise, target);
        audio[i] = m.audio;
        snr[i] = m.snrDb;
        kindOf[i] = d.kind === 'pure' || m.snrDb !== null ? d.kind : 'none';
      }
      const done = chosen.filter((i) => snr[i] !== null);
      const mean = done.length ? done.reduce((a, i) => a + snr[i]!, 0) / done.length : null;
      ctx.metric('data_noisy_clips', chosen.filter((i) => kindOf[i] !== 'none').length);
      ctx.metric('data_noisy_split_clips', candidates.length);
      ctx.metric('data_mean_snr_db', mean === null ? null : +mean.toFixed(4));
      ctx.log(`data noise (${d.kind}) on ${chosen.length} of ${candidates.length} clips of ${d.splits.join(', ')}${mean === null ? '' : `, mean achieved SNR ${mean.toFixed(2)} dB`}`);
    }

    // ---- rows
    const rows = clips.map((c, i) => ({ ...c, label: labels[i]!, audio: audio[i]! }));
    const col = { label_orig: [...labelOrig], flipped, target_eps: [...eps], snr_db: snr, noise: kindOf };
    const copies = d?.test_copies;
    if (d && copies) {
      const kind = d.kind === 'pure' ? d.source : d.kind;
      const base = clips.flatMap((c, i) => (c.split === copies.split ? [i] : []));
      const perSnr: Record<string, number> = {};
      for (const target of copies.snrs) {
        let count = 0;
        for (const i of base) {
          const c = clips[i]!;
          const rng = clipRng(p.seed, `copy:${target}`, ids[i]!);
          const m = S.mixAtSnr(c.audio, makeNoise(kind, rng, i, c.audio.length), target);
          rows.push({ ...c, clipId: `${c.clipId}@snr=${target}`, split: `${c.split}@snr=${target}`, label: labels[i]!, audio: m.audio });
          col.label_orig.push(labelOrig[i]!);
          col.flipped.push(flipped[i]!);
          col.target_eps.push(eps[i]!);
          col.snr_db.push(m.snrDb);
          col.noise.push(m.snrDb === null ? 'none' : kind);
          count++;
        }
        perSnr[String(target)] = count;
      }
      ctx.metric('test_copies', perSnr);
    }

    await writeClips(ctx.outPath('clips'), {
      clips: rows,
      classes: set.classes,
      metadata: { ...set.metadata, 'conno.inject_noise': canonicalJson({ params: p, transition }) },
      extra: {
        label_orig: { type: 'int32', values: Int32Array.from(col.label_orig) },
        flipped: { type: 'bool', values: col.flipped },
        target_eps: { type: 'float32', values: Float32Array.from(col.target_eps) },
        snr_db: { type: 'float32', values: col.snr_db, nullable: true },
        noise: { type: 'utf8', values: col.noise },
      },
    });
    ctx.metric('rows', rows.length);
  },
});
