import { mkdirSync, mkdtempSync, promises as fsp, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { flushPendingSyncs, fsyncDirLater, fsyncLater, pendingSyncs, writeFileAtomic } from './fsx.js';
import { StatCache } from '../hash/statcache.js';
import { ObjectStore } from '../store/store.js';
import { RunCache } from '../store/runcache.js';
import { writeLock } from '../store/lockfile.js';
import { asFingerprint } from '../hash/types.js';
import { main } from '../cli/main.js';

let dir: string;
beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'conno-fsx-'));
  await flushPendingSyncs();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('deferred folder fsyncs', () => {
  it('a cache object leaves its bytes and name, a run record its name, to fsync later; writeLock fsyncs them before the lock', async () => {
    const store = new ObjectStore(path.join(dir, 'cache'));
    writeFileSync(path.join(dir, 'a.txt'), 'a');
    const put = await store.putFile(path.join(dir, 'a.txt'));
    await new RunCache(path.join(dir, 'cache')).put({ id: 's', entry: { fingerprint: asFingerprint('0123456789abcdef'), kind: 'cmd', deps: {}, outs: { 'a.txt': put } } });
    expect(pendingSyncs().sort()).toEqual([store.objectPath(put.hash), path.dirname(store.objectPath(put.hash)), path.join(dir, 'cache', 'runs', '01')].sort());
    await writeLock(path.join(dir, 'conno.lock'), { version: 1, stages: {} });
    expect(pendingSyncs()).toEqual([]);
    // A large file (streamed) and a folder's manifest take the same way.
    writeFileSync(path.join(dir, 'big.bin'), Buffer.alloc((1 << 20) + 1, 7));
    const big = await store.putFile(path.join(dir, 'big.bin'));
    const tree = await store.putTree(path.join(dir, 'cache', 'runs'));
    expect(pendingSyncs()).toEqual(expect.arrayContaining([store.objectPath(big.hash), store.objectPath(tree.hash)]));
    await writeLock(path.join(dir, 'other.lock'), { version: 1, stages: {} });
    expect(pendingSyncs()).toEqual([]);
  });

  it('the stat cache, which vouches for objects by their stat, is saved after them', async () => {
    writeFileSync(path.join(dir, 'a.txt'), 'a');
    const stats = await StatCache.open(path.join(dir, 'stat-cache.json'));
    await stats.hashFile(path.join(dir, 'a.txt'));
    fsyncLater(path.join(dir, 'a.txt'));
    await stats.save();
    expect(pendingSyncs()).toEqual([]);
  });

  it('a flush ends after the flushes called before it (which may hold what it must make durable)', async () => {
    const files = [1, 2, 3].map((i) => path.join(dir, `f${i}`));
    for (const f of files) writeFileSync(f, f);
    const order: number[] = [];
    fsyncLater(files[0]!);
    fsyncLater(files[1]!);
    const first = flushPendingSyncs().then(() => order.push(1));
    fsyncLater(files[2]!);
    const second = flushPendingSyncs().then(() => order.push(2));
    await second;
    expect(order).toEqual([1, 2]);
    await first;
    expect(pendingSyncs()).toEqual([]);
  });

  it('a flush syncs every named file, then every named folder, several at a time; a file removed since is skipped', async () => {
    const files = Array.from({ length: 40 }, (_, i) => path.join(dir, `d${i % 8}`, `f${i}`));
    for (const f of files) {
      mkdirSync(path.dirname(f), { recursive: true });
      writeFileSync(f, f);
      fsyncLater(f);
      fsyncDirLater(path.dirname(f));
    }
    rmSync(files[3]!); // gone before the flush (gc): nothing to make durable
    const opened: string[] = [];
    let inFlight = 0;
    let most = 0;
    const realOpen = fsp.open.bind(fsp);
    const spy = vi.spyOn(fsp, 'open').mockImplementation(async (...args: Parameters<typeof fsp.open>) => {
      opened.push(String(args[0]));
      const fh = await realOpen(...args);
      const sync = fh.sync.bind(fh);
      fh.sync = async () => {
        most = Math.max(most, ++inFlight);
        try {
          await new Promise((r) => setTimeout(r, 2));
          return await sync();
        } finally {
          inFlight--;
        }
      };
      return fh;
    });
    try {
      await flushPendingSyncs();
    } finally {
      spy.mockRestore();
    }
    expect(pendingSyncs()).toEqual([]);
    const dirs = [...new Set(files.map((f) => path.dirname(f)))];
    expect(new Set(opened)).toEqual(new Set([...files, ...dirs]));
    expect(Math.max(...files.map((f) => opened.indexOf(f)))).toBeLessThan(Math.min(...dirs.map((d) => opened.indexOf(d))));
    expect(most).toBeGreaterThan(1);
  });

  it('an atomic write is whole either way', async () => {
    const f = path.join(dir, 'sub', 'f.json');
    await writeFileAtomic(f, 'one');
    expect(pendingSyncs()).toEqual([]);
    await writeFileAtomic(f, 'two', { durable: 'later' });
    expect(readFileSync(f, 'utf8')).toBe('two');
    expect(pendingSyncs()).toEqual([path.dirname(f)]);
    await flushPendingSyncs();
    expect(pendingSyncs()).toEqual([]);
  });

  it('every command ends with the deferred fsyncs done, whatever it wrote', async () => {
    writeFileSync(path.join(dir, 'pipeline.yaml'), 'stages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n');
    const io = { out: () => undefined, err: () => undefined, isTTY: false };
    for (const args of [['status'], ['frobnicate']]) {
      await writeFileAtomic(path.join(dir, 'cache', 'runs', 'x.json'), '{}', { durable: 'later' });
      expect(pendingSyncs()).toHaveLength(1);
      await main(['-C', dir, ...args], io).catch(() => undefined);
      expect(pendingSyncs(), args.join(' ')).toEqual([]);
    }
  });
});
