import { readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { StatCache } from '../hash/statcache.js';
import { PACKAGE_ROOT, importStage, stageCodeOf } from './registry.js';
import { diffCode, type CodeDetail } from './code.js';

const BUILTINS = readdirSync(path.join(PACKAGE_ROOT, 'stages'));

async function closures(): Promise<Map<string, CodeDetail>> {
  const stats = await StatCache.open(path.join(os.tmpdir(), `conno-code-test-${process.pid}.json`), []);
  const out = new Map<string, CodeDetail>();
  for (const name of BUILTINS) {
    const mod = path.join(PACKAGE_ROOT, 'dist', 'stages', name, 'index.js');
    out.set(name, (await stageCodeOf(mod, true, PACKAGE_ROOT, await importStage(mod), stats)).detail);
  }
  return out;
}

describe('stage code closures', () => {
  it('hold the packages their files load where the lexer cannot see (createRequire)', async () => {
    const all = await closures();
    let checked = 0;
    for (const [stage, detail] of all) {
      for (const file of Object.keys(detail.files).filter((f) => f.endsWith('.ts'))) {
        const text = readFileSync(path.join(PACKAGE_ROOT, file), 'utf8');
        for (const m of text.matchAll(/(?:createRequire\([^)]*\)|require(?:\.resolve)?)\(\s*'([^'.][^']*)'/g)) {
          const spec = m[1]!;
          const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
          expect(detail.packages, `${stage}: ${file} requires ${spec}`).toHaveProperty([name]);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(0); // resample's libsamplerate, the tfjs version lookups
  });

  it('never list type declarations, and name every package with its installed version', async () => {
    for (const [stage, detail] of await closures()) {
      expect(Object.keys(detail.packages).filter((p) => p.startsWith('@types/')), stage).toEqual([]);
      for (const [name, v] of Object.entries(detail.packages)) expect(v, `${stage}: ${name}`).toMatch(/^(absent|\d[\w.+-]*( \d[\w.+-]*)*)$/);
      expect(detail.packages['zod'], stage).toBe(JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'node_modules', 'zod', 'package.json'), 'utf8')).version);
    }
  });
});

describe('diffCode', () => {
  const base: CodeDetail = { files: { 'a.ts': '1', 'b.ts': '2' }, packages: { zod: '4.0.0', x: '1.0.0' }, version: 1 };
  it('names every changed, new and dropped file and package, and the stage version', () => {
    expect(diffCode(base, base)).toEqual([]);
    expect(
      diffCode(base, { files: { 'a.ts': '9', 'c.ts': '3' }, packages: { zod: '4.1.0', y: '2.0.0' }, version: 2 }),
    ).toEqual(['a.ts', 'b.ts (no longer imported)', 'c.ts (now imported)', 'package x (no longer imported)', 'package y@2.0.0 (now imported)', 'package zod 4.0.0 → 4.1.0', 'stage version 1 → 2']);
  });
});
