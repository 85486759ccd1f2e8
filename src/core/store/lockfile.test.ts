import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCK_VERSION, lockText, readLock, readLockHashed, readLockSummaries, saveLockSummaries, summarize, writeLock, type LockEntry, type LockFile } from './lockfile.js';
import { asFingerprint, asObjectHash } from '../hash/types.js';
import { ConnoError } from '../util/errors.js';
import { sortDeep } from '../util/canonical.js';

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'conno-lock-'));
  file = path.join(dir, 'conno.lock');
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function entry(over: Partial<LockEntry> = {}): LockEntry {
  return {
    fingerprint: asFingerprint('585e8072652a1cff'),
    kind: 'cmd',
    cmd: 'python train.py --lr 0.001',
    params: { train: { lr: 0.001, epochs: 3 }, features: { n_mels: 64 } },
    deps: { 'data/raw': { hash: asObjectHash('1cc5aca7ba9f73be.dir'), size: 24132, nfiles: 3 } },
    outs: { 'out/model.pt': { hash: asObjectHash('56787861e9fe48e8'), size: 261 } },
    env: {},
    ...over,
  };
}

/** The same data with every object's keys inserted in reverse order. */
function reversedKeys<T>(v: T): T {
  if (Array.isArray(v)) return v.map(reversedKeys) as T;
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reversedKeys(x)])) as T;
  }
  return v;
}

describe('lockText', () => {
  it('has a fixed layout: header comment, then keys sorted at every depth', async () => {
    const lock: LockFile = {
      version: 1,
      stages: {
        'zeta@x=1': entry({ metrics: { 'val.acc': 0.91, loss: 0.2 }, env: { PYTHONHASHSEED: '0', CUDA: '12.4' } }),
        alpha: entry({ kind: 'builtin', cmd: undefined, uses: 'resample', code: 'c0de', params: { 'audio.rate': 16000 }, with: { rate: 16000, mono: true }, deps: {}, outs: {} }),
      },
    };
    expect(await lockText(lock)).toBe(
      [
        '# conno.lock: written by conno, commit it. What each stage instance was built from and produced.',
        'stages:',
        '  alpha:',
        '    code: c0de',
        '    deps: {}',
        '    env: {}',
        '    fingerprint: 585e8072652a1cff',
        '    kind: builtin',
        '    outs: {}',
        '    params:',
        '      audio.rate: 16000',
        '    uses: resample',
        '    with:',
        '      mono: true',
        '      rate: 16000',
        '  zeta@x=1:',
        '    cmd: python train.py --lr 0.001',
        '    deps:',
        '      data/raw:',
        '        hash: 1cc5aca7ba9f73be.dir',
        '        nfiles: 3',
        '        size: 24132',
        '    env:',
        '      CUDA: "12.4"',
        '      PYTHONHASHSEED: "0"',
        '    fingerprint: 585e8072652a1cff',
        '    kind: cmd',
        '    metrics:',
        '      loss: 0.2',
        '      val.acc: 0.91',
        '    outs:',
        '      out/model.pt:',
        '        hash: 56787861e9fe48e8',
        '        size: 261',
        '    params:',
        '      features:',
        '        n_mels: 64',
        '      train:',
        '        epochs: 3',
        '        lr: 0.001',
        'version: 1',
        '',
      ].join('\n'),
    );
  });

  it('does not depend on key insertion order at any depth', async () => {
    const lock: LockFile = { version: 1, stages: { b: entry(), a: entry({ params: { z: { y: 1, x: [{ q: 1, p: 2 }] }, a: 0 } }) } };
    const text = await lockText(lock);
    expect(await lockText(reversedKeys(lock))).toBe(text);
    expect(text.indexOf('  a:')).toBeLessThan(text.indexOf('  b:'));
    // Arrays keep their order; objects inside them are sorted too.
    expect(text).toContain('    params:\n      a: 0\n      z:\n        x:\n          - p: 2\n            q: 1\n        y: 1\n');
  });

  it('never folds a long command, and shares no anchors between equal objects', async () => {
    const cmd = `python run.py ${'--flag value '.repeat(40)}`.trim();
    const shared = { hash: asObjectHash('0123456789abcdef'), size: 1 };
    const text = await lockText({ version: 1, stages: { s: entry({ cmd, deps: { a: shared, b: shared } }) } });
    expect(text).toContain(`    cmd: ${cmd}\n`);
    expect(text).not.toMatch(/[&*]a\d/);
  });
});

describe('lockText, rendered entry by entry', () => {
  /** What lockText renders entry by entry must be what one stringify of the whole lock gives. */
  const whole = (lock: LockFile) => {
    const used = new Set(Object.values(lock.stages).map((e) => e.code));
    const code = Object.fromEntries(Object.entries(lock.code ?? {}).filter(([h]) => used.has(h)));
    const body = Object.keys(code).length ? { version: lock.version, stages: lock.stages, code } : { version: lock.version, stages: lock.stages };
    return '# conno.lock: written by conno, commit it. What each stage instance was built from and produced.\n' + stringify(sortDeep(body), { lineWidth: 0, aliasDuplicateObjects: false });
  };
  const key = fc.oneof(fc.string(), fc.constantFrom('__proto__', '0', '10', '2', 'a:b', '- x', '#c', 'true', 'null', '', ' sp ', 'é', 'line\nbreak'));
  const value = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small' }, fc.string(), fc.double(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(key, tie('v'), { maxKeys: 3 })),
  })).v;
  const lockArb = fc.record({
    stages: fc.dictionary(key, fc.record({ fingerprint: fc.constant('585e8072652a1cff'), kind: fc.constant('cmd'), cmd: fc.string(), code: fc.constantFrom('c1', 'c2', undefined), deps: fc.dictionary(key, value, { maxKeys: 2 }), outs: fc.constant({}), metrics: fc.dictionary(key, value, { maxKeys: 3 }) }), { maxKeys: 6 }),
    code: fc.dictionary(fc.constantFrom('c1', 'c2', 'c3'), value, { maxKeys: 3 }),
  });

  it('gives the bytes one stringify of the whole sorted lock gives, for any lock', async () => {
    await fc.assert(
      fc.asyncProperty(lockArb, async (l) => {
        const lock = { version: 1, ...l } as unknown as LockFile; // cast: generated entries
        expect(await lockText(lock)).toBe(whole(lock));
        // Again, from the entries rendered the first time.
        expect(await lockText(lock)).toBe(whole(lock));
      }),
      { numRuns: 300, seed: 16 },
    );
  });

  it('renders an entry again when its content changes, even in place', async () => {
    const e = entry();
    const lock: LockFile = { version: 1, stages: { s: e, t: entry() } };
    const before = await lockText(lock);
    e.outs['out/model.pt']!.size = 262;
    (e.params as Record<string, unknown>)['x'] = Number.NaN;
    const after = await lockText(lock);
    expect(after).not.toBe(before);
    expect(after).toBe(whole(lock));
    expect(after).toContain('        size: 262\n');
    (e.params as Record<string, unknown>)['x'] = null;
    expect(await lockText(lock)).toBe(whole(lock));
  });

  it('renders this repository\'s conno.lock byte for byte', async () => {
    const text = readFileSync(path.join(__dirname, '..', '..', '..', 'conno.lock'), 'utf8');
    const { parseLockText } = await import('./lockfile.js');
    const lock = await parseLockText('conno.lock', text);
    expect(await lockText(lock)).toBe(text);
  });
});

describe('writeLock / readLock', () => {
  it('round-trips, including strings YAML would otherwise read as numbers, booleans or null', async () => {
    const tricky = {
      digits: '1234567890123456', // an all-digit hash
      exp: '12345678e1234567', // hex hash that looks like a float
      lead0: '0123',
      yes: 'yes',
      t: 'true',
      nul: 'null',
      tilde: '~',
      empty: '',
      colon: 'a: b',
      hash: '# not a comment',
      multiline: 'line 1\nline 2\n',
      unicode: 'héllo ✓',
    };
    const lock: LockFile = {
      version: LOCK_VERSION,
      stages: {
        's@a=1': entry({
          params: { ...tricky, nested: { list: [1, 'two', null, true], float: 1e-7, neg: -3 } },
          deps: { [tricky.digits]: { hash: asObjectHash(tricky.exp), size: 0 } },
          env: { A: '1', B: 'false' },
          cmd: 'sh -c "echo \'x\'" && true # not a comment',
        }),
      },
    };
    expect(await writeLock(file, lock)).toBe(true);
    expect(await readLock(file)).toEqual(lock);
  });

  it('writeLock returns false and leaves the file alone when nothing changed', async () => {
    const lock: LockFile = { version: 1, stages: { a: entry() } };
    expect(await writeLock(file, lock)).toBe(true);
    const old = Date.now() / 1000 - 3600;
    utimesSync(file, old, old);
    const before = statSync(file, { bigint: true });

    expect(await writeLock(file, reversedKeys(lock))).toBe(false);
    const after = statSync(file, { bigint: true });
    expect([after.mtimeNs, after.ino]).toEqual([before.mtimeNs, before.ino]);

    // A real change is written (atomically: a new file replaces the old one, no temp file left).
    expect(await writeLock(file, { version: 1, stages: { a: entry({ cmd: 'other' }) } })).toBe(true);
    expect(readFileSync(file, 'utf8')).toContain('    cmd: other\n');
    expect(statSync(file, { bigint: true }).mtimeNs).not.toBe(before.mtimeNs);
    expect(readdirSync(dir)).toEqual(['conno.lock']);
  });

  it('writeLock creates missing folders', async () => {
    const nested = path.join(dir, 'a', 'b', 'conno.lock');
    expect(await writeLock(nested, { version: 1, stages: {} })).toBe(true);
    expect(readFileSync(nested, 'utf8')).toBe(
      '# conno.lock: written by conno, commit it. What each stage instance was built from and produced.\nstages: {}\nversion: 1\n',
    );
  });

  it('a missing or empty lock reads as an empty lock', async () => {
    expect(await readLock(file)).toEqual({ version: LOCK_VERSION, stages: {} });
    writeFileSync(file, '');
    expect(await readLock(file)).toEqual({ version: LOCK_VERSION, stages: {} });
    writeFileSync(file, '# only a comment\n');
    expect(await readLock(file)).toEqual({ version: LOCK_VERSION, stages: {} });
    expect(existsSync(path.join(dir, 'missing'))).toBe(false);
  });

  it.each([
    ['broken YAML', 'stages:\n  a: [unclosed\n', /is not valid YAML/],
    ['duplicate keys', 'version: 1\nstages: {}\nstages: {}\n', /is not valid YAML/],
    ['a scalar', 'hello\n', /does not look like a conno lock file/],
    ['a list', '- a\n- b\n', /does not look like a conno lock file/],
    ['stages: null', 'version: 1\nstages:\n', /does not look like a conno lock file/],
  ])('%s gives a ConnoError naming the file', async (_what, text, message) => {
    writeFileSync(file, text);
    const err = await readLock(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnoError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toContain(file);
  });

  it.each([
    ['a newer format', 'version: 2\nstages: {}\n', 'has lock format 2; this conno reads format 1'],
    ['no version', 'stages: {}\n', 'has lock format undefined; this conno reads format 1'],
    ['a string version', 'version: "1"\nstages: {}\n', 'has lock format "1"; this conno reads format 1'],
  ])('%s is refused', async (_what, text, message) => {
    writeFileSync(file, text);
    await expect(readLock(file)).rejects.toThrow(ConnoError);
    await expect(readLock(file)).rejects.toThrow(`${file} ${message}`);
  });

  it('a read error other than a missing file is not hidden', async () => {
    await expect(readLock(dir)).rejects.toMatchObject({ code: 'EISDIR' });
  });
});

describe('readLock with a parsed copy (parsedCacheFile)', () => {
  const lock = (): LockFile => ({ version: 1, stages: { a: entry(), 'b@x=1': entry({ params: { x: 1 }, metrics: { acc: 0.5 } }) } });

  it('gives the same lock as parsing the YAML, and writes the copy', async () => {
    const copy = path.join(dir, 'cache', 'lock.parsed.json');
    await writeLock(file, lock());
    expect(await readLock(file, copy)).toEqual(lock());
    expect(existsSync(copy)).toBe(true);
    expect(await readLock(file, copy)).toEqual(lock());
  });

  it('uses the copy while the lock bytes are unchanged, and ignores it once they change', async () => {
    const copy = path.join(dir, 'lock.parsed.json');
    await writeLock(file, lock());
    await readLock(file, copy);
    // Doctor the copy: as long as the lock text hashes the same, the copy is what is returned.
    const doctored = JSON.parse(readFileSync(copy, 'utf8')) as { hash: string; lock: LockFile };
    doctored.lock.stages = {};
    writeFileSync(copy, JSON.stringify(doctored));
    expect(await readLock(file, copy)).toEqual({ version: 1, stages: {} });
    // Any change to the lock text invalidates it.
    writeFileSync(file, `${readFileSync(file, 'utf8')}# edited\n`);
    expect(await readLock(file, copy)).toEqual(lock());
  });

  it('an unreadable copy is ignored and replaced', async () => {
    const copy = path.join(dir, 'lock.parsed.json');
    await writeLock(file, lock());
    writeFileSync(copy, '{not json');
    expect(await readLock(file, copy)).toEqual(lock());
    expect((JSON.parse(readFileSync(copy, 'utf8')) as { lock: LockFile }).lock).toEqual(lock());
  });

  it('a malformed lock is still refused (and no copy is written)', async () => {
    const copy = path.join(dir, 'lock.parsed.json');
    writeFileSync(file, 'version: 2\nstages: {}\n');
    await expect(readLock(file, copy)).rejects.toThrow(ConnoError);
    expect(existsSync(copy)).toBe(false);
  });

  it('non-finite numbers are written as the tagged strings canonicalJson uses, and read back the same way (with or without the copy)', async () => {
    const copy = path.join(dir, 'lock.parsed.json');
    const l: LockFile = { version: 1, stages: { a: entry({ params: { clip: Infinity }, metrics: { loss: NaN } }) } };
    await writeLock(file, l);
    expect(readFileSync(file, 'utf8')).toContain('      clip: __number:Infinity\n');
    expect(readFileSync(file, 'utf8')).toContain('      loss: __number:NaN\n');
    const back = await readLock(file);
    expect(back.stages.a?.params).toEqual({ clip: '__number:Infinity' });
    expect(await readLock(file, copy)).toEqual(back);
    expect(await readLock(file, copy)).toEqual(back);
    // What was read writes back to the same bytes.
    expect(await writeLock(file, back)).toBe(false);
  });
});

describe('lock summaries (readLockSummaries): what a no-op status reads of each entry', () => {
  const lock = (): LockFile => {
    const stages = Object.create(null) as LockFile['stages'];
    stages['a'] = entry();
    stages['b@x=1'] = entry({ fingerprint: asFingerprint('0123456789abcdef'), outs: { 'out/b': { hash: asObjectHash('1cc5aca7ba9f73be.dir'), size: 10, nfiles: 2 }, 'out/c.txt': { hash: asObjectHash('56787861e9fe48e9'), size: 0 } } });
    stages['__proto__'] = entry({ outs: {} }); // an id like any other
    return { version: 1, stages };
  };

  /** The lock read in full, its summaries saved (what status does when they are missing or stale). */
  const readAndSave = async (summary: string): Promise<LockFile> => {
    const { lock: full, hash } = await readLockHashed(file);
    await saveLockSummaries(summary, hash!, summarize(full));
    return full;
  };

  it('are saved from a lock read in full and read back as summarize gives them, output order and nfiles kept', async () => {
    const summary = path.join(dir, 'lock.summary.json');
    await writeLock(file, lock());
    expect(await readLockSummaries(file, summary)).toBeUndefined(); // none yet
    const full = await readAndSave(summary);
    const got = await readLockSummaries(file, summary);
    expect(got).toBeDefined();
    expect([...got!.summaries]).toEqual([...summarize(full)]);
    expect(got!.summaries.get('b@x=1')).toEqual({
      fingerprint: '0123456789abcdef',
      outs: [
        ['out/b', { hash: '1cc5aca7ba9f73be.dir', size: 10, nfiles: 2 }],
        ['out/c.txt', { hash: '56787861e9fe48e9', size: 0 }],
      ],
    });
    expect(got!.summaries.get('__proto__')).toEqual({ fingerprint: '585e8072652a1cff', outs: [] });
    expect([...got!.summaries.keys()].sort()).toEqual(['__proto__', 'a', 'b@x=1']);
  });

  it('are used only while the lock bytes hash the same, and only in their own format', async () => {
    const summary = path.join(dir, 'lock.summary.json');
    await writeLock(file, lock());
    await readAndSave(summary);
    // Doctored: as long as the lock text hashes the same, the file is what is read.
    const saved = JSON.parse(readFileSync(summary, 'utf8')) as { rows: Array<Array<string | number>> };
    saved.rows[0]![1] = 'ffffffffffffffff';
    writeFileSync(summary, JSON.stringify(saved));
    expect((await readLockSummaries(file, summary))!.summaries.get(String(saved.rows[0]![0]))?.fingerprint).toBe('ffffffffffffffff');
    // Any change to the lock's bytes makes it stale.
    writeFileSync(file, `${readFileSync(file, 'utf8')}# edited\n`);
    expect(await readLockSummaries(file, summary)).toBeUndefined();
    // Another format or lock version, or an unreadable file: not used.
    await readAndSave(summary);
    expect(await readLockSummaries(file, summary)).toBeDefined();
    for (const change of [{ format: 2 }, { version: 2 }, { rows: 'x' }]) {
      const good = JSON.parse(readFileSync(summary, 'utf8')) as Record<string, unknown>;
      writeFileSync(summary, JSON.stringify({ ...good, ...change }));
      expect(await readLockSummaries(file, summary), JSON.stringify(change)).toBeUndefined();
      writeFileSync(summary, JSON.stringify(good));
    }
    writeFileSync(summary, '{not json');
    expect(await readLockSummaries(file, summary)).toBeUndefined();
  });

  it('are empty without a conno.lock', async () => {
    expect(await readLockSummaries(file, path.join(dir, 'lock.summary.json'))).toEqual({ summaries: new Map(), hash: undefined });
  });
});
