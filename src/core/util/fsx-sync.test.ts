import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SYNC_BYTES, ensureDirSync, readSmallSync, readTextSync, removePathQuick, renameIntoSync, writeFileAtomicLaterSync, writeNewFileSync } from './fsx-sync.js';
import { flushPendingSyncs, pendingSyncs } from './fsx.js';
import { RunCache } from '../store/runcache.js';
import { asFingerprint } from '../hash/types.js';

let dir: string;
beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'conno-fsx-sync-'));
  await flushPendingSyncs();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));
const at = (...p: string[]) => path.join(dir, ...p);

describe('fsx-sync', () => {
  it('ensureDirSync makes missing folders and leaves existing ones; a file in the way is an error', () => {
    ensureDirSync(at('a', 'b', 'c'));
    expect(statSync(at('a', 'b', 'c')).isDirectory()).toBe(true);
    writeFileSync(at('a', 'b', 'c', 'keep'), 'x');
    ensureDirSync(at('a', 'b', 'c'));
    expect(readFileSync(at('a', 'b', 'c', 'keep'), 'utf8')).toBe('x');
    writeFileSync(at('f'), 'x');
    expect(() => ensureDirSync(at('f'))).toThrow(/EEXIST|ENOTDIR/);
  });

  it('removePathQuick removes nothing, a file, a symlink (not its target), a folder tree, and a read-only tree', async () => {
    await removePathQuick(at('absent'));
    writeFileSync(at('file'), 'x');
    await removePathQuick(at('file'));
    expect(existsSync(at('file'))).toBe(false);
    mkdirSync(at('tree', 'sub'), { recursive: true });
    writeFileSync(at('tree', 'sub', 'x'), 'x');
    await removePathQuick(at('tree'));
    expect(existsSync(at('tree'))).toBe(false);
    writeFileSync(at('target'), 't');
    const { symlinkSync } = await import('node:fs');
    symlinkSync(at('target'), at('link'));
    await removePathQuick(at('link'));
    expect(existsSync(at('link'))).toBe(false);
    expect(readFileSync(at('target'), 'utf8')).toBe('t');
    // A read-only folder with a read-only file, as a checkout from the cache leaves it. (As root,
    // which CI is, permissions do not stop the unlink: removePath's chmod fallback is not reached.)
    mkdirSync(at('ro'));
    writeFileSync(at('ro', 'x'), 'x');
    chmodSync(at('ro', 'x'), 0o444);
    chmodSync(at('ro'), 0o555);
    await removePathQuick(at('ro'));
    expect(existsSync(at('ro'))).toBe(false);
  });

  it('readSmallSync reads a file of up to its limit whole, says undefined past it, and throws for a missing file', () => {
    const bytes = Buffer.from(Array.from({ length: 300 }, (_, i) => i & 0xff));
    writeFileSync(at('b'), bytes);
    expect(readSmallSync(at('b'))!.equals(bytes)).toBe(true);
    expect(readSmallSync(at('b'), 300)!.equals(bytes)).toBe(true);
    expect(readSmallSync(at('b'), 299)).toBeUndefined();
    writeFileSync(at('empty'), '');
    expect(readSmallSync(at('empty'))!.length).toBe(0);
    expect(() => readSmallSync(at('missing'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(readTextSync(at('missing'))).toBeUndefined();
    expect(readTextSync(at('b'))).toBe(bytes.toString('utf8'));
  });

  it('writeNewFileSync writes a new file with its mode, makes its folder, and refuses to overwrite', () => {
    writeNewFileSync(at('new', 'deep', 'f'), 'hello', 0o444);
    expect(readFileSync(at('new', 'deep', 'f'), 'utf8')).toBe('hello');
    if (process.getuid?.() !== 0) expect(statSync(at('new', 'deep', 'f')).mode & 0o777).toBe(0o444);
    else expect(statSync(at('new', 'deep', 'f')).mode & 0o222).toBe(0);
    expect(() => writeNewFileSync(at('new', 'deep', 'f'), 'again')).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(readFileSync(at('new', 'deep', 'f'), 'utf8')).toBe('hello');
  });

  it('renameIntoSync makes the destination folder, and removes the temp file when the rename fails', () => {
    writeFileSync(at('t1'), 'one');
    renameIntoSync(at('t1'), at('x', 'y', 'one'));
    expect(readFileSync(at('x', 'y', 'one'), 'utf8')).toBe('one');
    expect(existsSync(at('t1'))).toBe(false);
    // A folder in the way of the destination: the rename fails, nothing is left behind.
    mkdirSync(at('x', 'busy', 'inside'), { recursive: true });
    writeFileSync(at('t2'), 'two');
    expect(() => renameIntoSync(at('t2'), at('x', 'busy'))).toThrow();
    expect(existsSync(at('t2'))).toBe(false);
  });

  it('writeFileAtomicLaterSync replaces a file whole, leaves no temp file, and defers its folder fsync', () => {
    writeFileAtomicLaterSync(at('r', 'rec.json'), '{"a":1}');
    writeFileAtomicLaterSync(at('r', 'rec.json'), '{"a":2}');
    expect(readFileSync(at('r', 'rec.json'), 'utf8')).toBe('{"a":2}');
    expect(readdirSync(at('r'))).toEqual(['rec.json']);
    expect(pendingSyncs()).toEqual([at('r')]);
  });

  it('a run record past SYNC_BYTES is written the promise-based way, and reads back the same either way', async () => {
    const runs = new RunCache(at('cache'));
    const entry = (fp: string, note: string) => ({ fingerprint: asFingerprint(fp), kind: 'cmd' as const, deps: {}, outs: {}, metrics: { 'm.json': { note } } });
    const small = { id: 's', entry: entry('0123456789abcdef', 'x') };
    const large = { id: 'l', entry: entry('fedcba9876543210', 'y'.repeat(SYNC_BYTES + 1)) };
    await runs.put(small);
    await runs.put(large);
    expect(await runs.get(asFingerprint('0123456789abcdef'))).toEqual(small);
    expect(await runs.get(asFingerprint('fedcba9876543210'))).toEqual(large);
    expect(await runs.get(asFingerprint('00000000000000ff'))).toBeUndefined();
    expect(pendingSyncs().sort()).toEqual([at('cache', 'runs', '01'), at('cache', 'runs', 'fe')]);
  });
});
