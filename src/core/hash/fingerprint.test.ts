/**
 * Fingerprints decide what is rebuilt: a change in how a record is canonicalised or hashed makes
 * every stage of every project stale, so the exact bytes and hash of a fixed record are pinned
 * here. The hash in the snapshot was checked independently (python: xxhash.xxh64 of
 * json.dumps(record, sort_keys=True, separators=(',', ':'))).
 */
import { describe, expect, it } from 'vitest';
import { fingerprintOf, RECORD_FORMAT, type FingerprintRecord } from './fingerprint.js';
import { diffValues, explainChange, type Computed } from '../engine/state.js';
import type { Project } from '../engine/project.js';
import type { LockEntry } from '../store/lockfile.js';
import { canonicalJson, sortDeep } from '../util/canonical.js';
import { asFingerprint, asObjectHash, type ObjectHash } from './types.js';

const h = (s: string): ObjectHash => asObjectHash(s);

function fixedRecord(): FingerprintRecord {
  return {
    format: 1,
    kind: 'cmd',
    cmd: 'python scripts/train.py --n-mels 64 --out out/model.pt',
    params: { train: { seed: 7, lr: 0.001 }, features: { n_mels: 64, hop: 160, window: 'hann' } },
    deps: { 'scripts/train.py': h('22282a9ffb41ac8f'), 'data/raw': h('1cc5aca7ba9f73be.dir') },
    outs: ['out/model.pt'],
    env: { PYTHONHASHSEED: '0' },
  };
}

/** The same record with every object's keys inserted in reverse order. */
function reversedKeys<T>(v: T): T {
  if (Array.isArray(v)) return v.map(reversedKeys) as T;
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reversedKeys(x)])) as T;
  return v;
}

describe('fingerprintOf', () => {
  it('snapshot: record breakdown, canonical bytes and hash of a fixed record', async () => {
    const record = fixedRecord();
    expect(RECORD_FORMAT).toBe(1);
    expect(sortDeep(record)).toMatchInlineSnapshot(`
      {
        "cmd": "python scripts/train.py --n-mels 64 --out out/model.pt",
        "deps": {
          "data/raw": "1cc5aca7ba9f73be.dir",
          "scripts/train.py": "22282a9ffb41ac8f",
        },
        "env": {
          "PYTHONHASHSEED": "0",
        },
        "format": 1,
        "kind": "cmd",
        "outs": [
          "out/model.pt",
        ],
        "params": {
          "features": {
            "hop": 160,
            "n_mels": 64,
            "window": "hann",
          },
          "train": {
            "lr": 0.001,
            "seed": 7,
          },
        },
      }
    `);
    expect(canonicalJson(record)).toMatchInlineSnapshot(`"{"cmd":"python scripts/train.py --n-mels 64 --out out/model.pt","deps":{"data/raw":"1cc5aca7ba9f73be.dir","scripts/train.py":"22282a9ffb41ac8f"},"env":{"PYTHONHASHSEED":"0"},"format":1,"kind":"cmd","outs":["out/model.pt"],"params":{"features":{"hop":160,"n_mels":64,"window":"hann"},"train":{"lr":0.001,"seed":7}}}"`);
    expect(await fingerprintOf(record)).toMatchInlineSnapshot(`"5cec49272556f40f"`);
  });

  it('a built-in stage record', async () => {
    const record: FingerprintRecord = {
      format: 1,
      kind: 'builtin',
      uses: 'melspec',
      code: '9a0b1c2d3e4f5061',
      params: {},
      with: { n_mels: 40, sample_rate: 16000 },
      deps: { 'resample@sr=16000:audio': h('0123456789abcdef.dir') },
      outs: ['features'],
      env: {},
    };
    expect(canonicalJson(record)).toMatchInlineSnapshot(`"{"code":"9a0b1c2d3e4f5061","deps":{"resample@sr=16000:audio":"0123456789abcdef.dir"},"env":{},"format":1,"kind":"builtin","outs":["features"],"params":{},"uses":"melspec","with":{"n_mels":40,"sample_rate":16000}}"`);
    expect(await fingerprintOf(record)).toMatchInlineSnapshot(`"b885e7a061a340c0"`);
  });

  it('key order of params, deps, env and the record itself does not change the fingerprint', async () => {
    const base = await fingerprintOf(fixedRecord());
    expect(await fingerprintOf(reversedKeys(fixedRecord()))).toBe(base);
    const r = fixedRecord();
    r.params = { features: { window: 'hann', hop: 160, n_mels: 64 }, train: { lr: 0.001, seed: 7 } };
    r.deps = { 'data/raw': h('1cc5aca7ba9f73be.dir'), 'scripts/train.py': h('22282a9ffb41ac8f') };
    expect(await fingerprintOf(r)).toBe(base);
  });

  it('an optional field set to undefined is the same as an absent one', async () => {
    const base = await fingerprintOf(fixedRecord());
    expect(await fingerprintOf({ ...fixedRecord(), uses: undefined, code: undefined, with: undefined })).toBe(base);
  });

  const mutations: [string, (r: FingerprintRecord) => void][] = [
    ['format', (r) => void (r.format = 2)],
    ['kind', (r) => void (r.kind = 'builtin')],
    ['cmd', (r) => void (r.cmd = r.cmd!.replace('64', '40'))],
    ['cmd whitespace', (r) => void (r.cmd = `${r.cmd} `)],
    ['uses added', (r) => void (r.uses = 'melspec')],
    ['code added', (r) => void (r.code = '0000000000000000')],
    ['a nested param value', (r) => void ((r.params.features as Record<string, unknown>).n_mels = 40)],
    ['a param type (64 → "64")', (r) => void ((r.params.features as Record<string, unknown>).n_mels = '64')],
    ['a param added', (r) => void (r.params.extra = true)],
    ['a param removed', (r) => void delete r.params.train],
    ['a param moved to another group', (r) => void (r.params = { train: { seed: 7, lr: 0.001, n_mels: 64, hop: 160, window: 'hann' }, features: {} })],
    ['with added', (r) => void (r.with = {})],
    ['a dep hash', (r) => void (r.deps['data/raw'] = h('1cc5aca7ba9f73bf.dir'))],
    ['a dep renamed', (r) => void ((r.deps = { 'scripts/train.py': h('22282a9ffb41ac8f'), 'data/raw2': h('1cc5aca7ba9f73be.dir') }))],
    ['a dep added', (r) => void (r.deps['extra.txt'] = h('0000000000000000'))],
    ['an output renamed', (r) => void (r.outs = ['out/model.ckpt'])],
    ['an output added', (r) => void r.outs.push('out/log.txt')],
    ['env value', (r) => void (r.env.PYTHONHASHSEED = '1')],
    ['env added', (r) => void (r.env.TOOL = 'sox 14.4.2')],
  ];

  it.each(mutations)('changing %s changes the fingerprint', async (_what, mutate) => {
    const r = fixedRecord();
    mutate(r);
    expect(await fingerprintOf(r)).not.toBe(await fingerprintOf(fixedRecord()));
  });

  it('every single-field change gives a distinct fingerprint', async () => {
    const all = new Set<string>([await fingerprintOf(fixedRecord())]);
    for (const [, mutate] of mutations) {
      const r = fixedRecord();
      mutate(r);
      all.add(await fingerprintOf(r));
    }
    expect(all.size).toBe(mutations.length + 1);
  });

  it('is a 16-hex-digit string', async () => {
    expect(await fingerprintOf(fixedRecord())).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('diffValues', () => {
  it('nested params as dotted keys: `features.n_mels 64 → 40`', () => {
    expect(diffValues({ features: { n_mels: 64, hop: 160 } }, { features: { n_mels: 40, hop: 160 } })).toEqual(['features.n_mels 64 → 40']);
  });

  it('added and removed keys show as (unset), sorted by key', () => {
    expect(diffValues({ train: { lr: 0.001, dropout: 0.1 } }, { train: { lr: 0.001, epochs: 10 } })).toEqual([
      'train.dropout 0.1 → (unset)',
      'train.epochs (unset) → 10',
    ]);
    expect(diffValues({}, { features: { n_mels: 40 } })).toEqual(['features (unset) → {"n_mels":40}']);
    expect(diffValues({ features: { n_mels: 40 } }, {})).toEqual(['features {"n_mels":40} → (unset)']);
  });

  it('lists every changed leaf, sorted by dotted key, and nothing for equal values in any key order', () => {
    const a = { z: 1, a: { y: [1, 2], x: { k: 'v' } }, same: { p: 1, q: 2 } };
    const b = { same: { q: 2, p: 1 }, a: { x: { k: 'w' }, y: [1, 3] }, z: 2 };
    expect(diffValues(a, b)).toEqual(['a.x.k v → w', 'a.y [1,2] → [1,3]', 'z 1 → 2']);
    expect(diffValues(a, reversedKeys(a))).toEqual([]);
  });

  it('shows plain strings bare and others quoted', () => {
    expect(diffValues({ arch: 'resnet18' }, { arch: 'conv net' })).toEqual(['arch resnet18 → "conv net"']);
    expect(diffValues({ path: 'data/raw-v1' }, { path: 'data/raw-v2' })).toEqual(['path data/raw-v1 → data/raw-v2']);
    expect(diffValues({ x: null }, { x: false })).toEqual(['x null → false']);
    expect(diffValues({ x: { a: 1 } }, { x: 3 })).toEqual(['x {"a":1} → 3']);
  });

  it('a change of type only is visible (number 64 → string "64")', () => {
    expect(diffValues({ n_mels: 64 }, { n_mels: '64' })).toEqual(['n_mels 64 → "64"']);
    expect(diffValues({ flag: 'true' }, { flag: true })).toEqual(['flag "true" → true']);
    expect(diffValues({ v: 'null' }, { v: null })).toEqual(['v "null" → null']);
    expect(diffValues({ arch: 'resnet' }, { arch: 3 })).toEqual(['arch "resnet" → 3']);
    // Same type: no quotes needed (env values are always strings).
    expect(diffValues({ OMP_NUM_THREADS: '1' }, { OMP_NUM_THREADS: '2' })).toEqual(['OMP_NUM_THREADS 1 → 2']);
  });
});

describe('explainChange', () => {
  const project = {} as Project;
  const deps = { 'data/raw': { hash: h('1cc5aca7ba9f73be.dir'), size: 10, nfiles: 2 }, 'scripts/train.py': { hash: h('22282a9ffb41ac8f'), size: 5 } };
  const oldEntry = (): LockEntry => ({
    fingerprint: asFingerprint('aaaaaaaaaaaaaaaa'),
    kind: 'cmd',
    cmd: fixedRecord().cmd,
    params: fixedRecord().params,
    deps: structuredClone(deps),
    outs: { 'out/model.pt': { hash: h('56787861e9fe48e8'), size: 1 } },
    env: { PYTHONHASHSEED: '0' },
  });
  const now = (mutate: (c: Computed) => void = () => {}): Computed => {
    const c: Computed = { record: fixedRecord(), fingerprint: asFingerprint('bbbbbbbbbbbbbbbb'), deps: structuredClone(deps), inputs: [], missing: [], manifests: [] };
    mutate(c);
    // As computeInstance builds it: the record names every resolved input's hash.
    c.record.deps = Object.fromEntries(Object.entries(c.deps).map(([k, v]) => [k, v.hash]));
    return c;
  };

  it('names each changed param, input, output and env var', async () => {
    const c = now((c) => {
      (c.record.params.features as Record<string, unknown>).n_mels = 40;
      delete (c.record.params.train as Record<string, unknown>).seed;
      c.record.cmd = 'python scripts/train.py --n-mels 40 --out out/model.pt';
      c.deps['data/raw'] = { hash: h('1111111111111111.dir'), size: 10, nfiles: 2 };
      delete c.deps['scripts/train.py'];
      c.missing.push('scripts/train.py');
      c.deps['extra.csv'] = { hash: h('2222222222222222'), size: 1 };
      c.record.outs = ['out/model.pt', 'out/log.txt'];
      c.record.env = { PYTHONHASHSEED: '1' };
    });
    expect(await explainChange(project, oldEntry(), c)).toEqual([
      'cmd changed',
      'params changed: features.n_mels 64 → 40',
      'params changed: train.seed 7 → (unset)',
      'input changed: data/raw',
      'input added: extra.csv',
      'input missing: scripts/train.py',
      'outs changed: [out/model.pt] → [out/model.pt, out/log.txt]',
      'environment changed: PYTHONHASHSEED 0 → 1',
    ]);
  });

  it('nothing changed but the fingerprint: the record format changed', async () => {
    expect(await explainChange(project, oldEntry(), now())).toEqual(['fingerprint format changed']);
    expect(await explainChange(project, { ...oldEntry(), fingerprint: asFingerprint('bbbbbbbbbbbbbbbb') }, now())).toEqual([]);
  });

  it('a removed input that still exists is "removed", and renderDepChange words a changed one', async () => {
    const c = now((c) => {
      delete c.deps['scripts/train.py'];
      c.deps['data/raw'] = { hash: h('1111111111111111.dir'), size: 10, nfiles: 2 };
    });
    const render = async (k: string, a: unknown, b: unknown) => `custom ${k} ${(a as { hash: string }).hash} ${(b as { hash: string }).hash}`;
    expect(await explainChange(project, oldEntry(), c, render)).toEqual([
      'custom data/raw 1cc5aca7ba9f73be.dir 1111111111111111.dir',
      'input removed: scripts/train.py',
    ]);
  });
});
