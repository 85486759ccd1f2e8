import { readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { StatCache } from '../hash/statcache.js';
import { PACKAGE_ROOT, importStage, stageCodeOf } from './registry.js';
import { diffCode, type CodeDetail } from './code.js';

const BUILTINS = readdirSync(path.join(PACKAGE_ROOT, 'stages'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);

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

describe('declarations', () => {
  it("are comments of their own line: the analyzer's closure (whose code.ts quotes one in its documentation) can be followed, and the kernels' asset is in train's", async () => {
    const stats = await StatCache.open(path.join(os.tmpdir(), `conno-code-test-decl-${process.pid}.json`), []);
    const { stageCode, BUILD_MANIFEST } = await import('./code.js');
    const dist = path.join(PACKAGE_ROOT, 'dist');
    const where = { root: PACKAGE_ROOT, dist, manifestFile: path.join(dist, BUILD_MANIFEST) };
    const load = path.join(dist, 'src', 'core', 'pipeline', 'load.js');
    // Its computed import() (the stage modules) is an error in a stage's closure…
    await expect(stageCode(load, 0, where, stats)).rejects.toThrow(/import\(\) of a computed specifier/);
    // …and passed over in the analyzer's, which follows the stage modules on its own.
    const analyzer = await stageCode(load, 0, { ...where, skipComputedImports: true }, stats);
    expect(Object.keys(analyzer.detail.files)).toContain('src/core/stage/code.ts');
    expect(Object.keys(analyzer.detail.files).filter((f) => f.endsWith('.wasm'))).toEqual([]);
    const train = (await closures()).get('train')!;
    expect(Object.keys(train.files)).toContain('src/lab/ml/kernels/c/simd_kernels.wasm');
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

describe('the closure cache', () => {
  it('reuses a closure only while every file and lookup it came from answers the same', async () => {
    const { mkdtempSync, mkdirSync, writeFileSync, rmSync } = await import('node:fs');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'conno-codecache-'));
    try {
      const write = (rel: string, text: string) => {
        mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
        writeFileSync(path.join(dir, rel), text);
      };
      write('node_modules/fakepkg/package.json', '{"name":"fakepkg","version":"1.0.0"}');
      write('node_modules/fakepkg/index.js', 'export default 1;\n');
      write('stages/m.mjs', "import x from 'fakepkg';\nimport { y } from './lib.mjs';\nexport const stage = x + y;\n");
      write('stages/lib.mjs', 'export const y = 1;\n');
      const { stageCode, CodeCache } = await import('./code.js');
      const stats = await StatCache.open(undefined);
      const cacheFile = path.join(dir, 'code.json');
      const closure = async () => {
        const cache = CodeCache.open(cacheFile);
        const c = await stageCode(path.join(dir, 'stages/m.mjs'), 1, { root: dir }, stats, cache);
        await cache.save();
        return c.detail;
      };
      const first = await closure();
      expect(first.packages).toEqual({ fakepkg: '1.0.0' });
      expect(Object.keys(first.files)).toEqual(['stages/lib.mjs', 'stages/m.mjs']);
      expect(await closure()).toEqual(first); // from the cache

      // A package installed nearer the module shadows the old one: the lookup that found nothing there changes.
      write('stages/node_modules/fakepkg/package.json', '{"name":"fakepkg","version":"2.0.0"}');
      write('stages/node_modules/fakepkg/index.js', 'export default 2;\n');
      expect((await closure()).packages).toEqual({ fakepkg: '2.0.0' });

      // An edit to an imported file (same size, so only its content differs).
      write('stages/lib.mjs', 'export const y = 2;\n');
      const edited = await closure();
      expect(edited.files['stages/lib.mjs']).not.toBe(first.files['stages/lib.mjs']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
