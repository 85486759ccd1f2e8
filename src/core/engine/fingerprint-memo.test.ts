import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { init, parse } from 'es-module-lexer';
import { REPO } from '../../../test/helpers.js';
import type { ObjectHash, Fingerprint } from '../hash/types.js';
import { dict } from '../util/dict.js';

// The built modules: the memo's key hashes the code files beside it, which must be the ones that run.
const dist = (rel: string) => path.join(REPO, 'dist', 'src', 'core', rel);
const { FingerprintMemo, RECORD_CODE } = (await import(dist('engine/fingerprint-memo.js'))) as typeof import('./fingerprint-memo.js');
const { StatCache } = (await import(dist('hash/statcache.js'))) as typeof import('../hash/statcache.js');

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const fp = (s: string) => s as Fingerprint;
const deps = (o: Record<string, string>) => Object.assign(dict<ObjectHash>(), o) as Record<string, ObjectHash>;

async function memoAt(analysis: string) {
  dir ??= mkdtempSync(path.join(os.tmpdir(), 'conno-fpmemo-'));
  const stats = await StatCache.open(undefined);
  return FingerprintMemo.open(path.join(dir, 'fingerprints.json'), analysis, stats);
}

describe('the fingerprint memo', () => {
  it('gives a fingerprint back only for the same input keys with the same hashes', async () => {
    const m = await memoAt('{"analysis":1}');
    const d = deps({ 'out/a.txt': '1111', 'out/b.txt': '2222' });
    expect(m.lookup('s1', d)).toBeUndefined();
    m.remember('s1', d, fp('f1'));
    m.remember('s0', deps({}), fp('f0'));
    m.remember('p', deps({ __proto__: '3333', '0': '4444' }), fp('fp'));
    await m.save(['s0', 's1', 'p']);

    const again = await memoAt('{"analysis":1}');
    expect(again.lookup('s1', deps({ 'out/a.txt': '1111', 'out/b.txt': '2222' }))).toBe('f1');
    expect(again.lookup('s0', deps({}))).toBe('f0');
    expect(again.lookup('p', deps({ __proto__: '3333', '0': '4444' }))).toBe('fp');
    // Any other input set or hash: computed.
    expect(again.lookup('s1', deps({ 'out/a.txt': '1111', 'out/b.txt': '9999' }))).toBeUndefined();
    expect(again.lookup('s1', deps({ 'out/a.txt': '1111' }))).toBeUndefined();
    expect(again.lookup('s1', deps({ 'out/a.txt': '1111', 'out/b.txt': '2222', 'out/c.txt': '3333' }))).toBeUndefined();
    expect(again.lookup('s1', deps({ 'out/a.txt': '1111', 'out/c.txt': '2222' }))).toBeUndefined();
    expect(again.lookup('s0', deps({ x: '1' }))).toBeUndefined();
    expect(again.lookup('p', deps({ __proto__: '3333' }))).toBeUndefined();
    expect(again.lookup('s2', deps({}))).toBeUndefined();
  });

  it('is empty for another saved analysis, and when unreadable', async () => {
    const m = await memoAt('{"analysis":1}');
    m.remember('s0', deps({}), fp('f0'));
    await m.save(['s0']);
    expect((await memoAt('{"analysis":1} ')).lookup('s0', deps({}))).toBeUndefined();
    expect((await memoAt('{"analysis":1}')).lookup('s0', deps({}))).toBe('f0');
    writeFileSync(path.join(dir!, 'fingerprints.json'), '{"format":1,"key":');
    expect((await memoAt('{"analysis":1}')).lookup('s0', deps({}))).toBeUndefined();
  });

  it('keeps only the rows of the instances it is given when saving', async () => {
    const m = await memoAt('a');
    m.remember('gone', deps({}), fp('f9'));
    m.remember('kept', deps({}), fp('f1'));
    await m.save(['kept']);
    const rows = JSON.parse(readFileSync(path.join(dir!, 'fingerprints.json'), 'utf8')).rows as string[][];
    expect(rows.map((r) => r[0])).toEqual(['kept']);
  });

  it("is keyed by every module a command stage's record depends on: RECORD_CODE holds the static imports of state, the analysis reader and the memo", async () => {
    await init;
    const root = dist('engine');
    const have = new Set(RECORD_CODE.map((r) => path.resolve(root, `${r}.js`)));
    const queue = ['state', 'fingerprint-memo', '../pipeline/analysis-cache'].map((r) => path.resolve(root, `${r}.js`));
    const seen = new Set<string>();
    while (queue.length) {
      const f = queue.pop()!;
      if (seen.has(f)) continue;
      seen.add(f);
      const [imports] = parse(readFileSync(f, 'utf8'));
      // Static imports only (d === -1): the dynamic ones (stage code) serve module stages, which the memo leaves out.
      for (const i of imports) if (i.d === -1 && i.n?.startsWith('.')) queue.push(path.resolve(path.dirname(f), i.n));
    }
    const missing = [...seen].filter((f) => !have.has(f)).map((f) => path.relative(root, f));
    expect(missing).toEqual([]);
    expect(seen.size).toBeGreaterThan(8);
  });
});
