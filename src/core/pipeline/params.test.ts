import { afterEach, describe, expect, it } from 'vitest';
import path from 'node:path';
import { loadParams, lookupParam } from './params.js';
import { closest } from '../util/closest.js';
import type { Diagnostic } from '../util/diagnostics.js';
import { tempProject, type TempProject } from '../../../test/helpers.js';

let p: TempProject | undefined;
afterEach(() => {
  p?.remove();
  p = undefined;
});

function load(files: Record<string, string>, rels: string[], where?: (i: number, message: string) => Diagnostic) {
  p = tempProject(files);
  const dir = p.dir;
  return loadParams(dir, rels, (abs) => path.relative(dir, abs).split(path.sep).join('/'), where);
}

describe('loadParams', () => {
  it('merges files deeply; disjoint leaves under one key are fine', () => {
    const { params, diagnostics } = load(
      {
        'params.yaml': 'audio:\n  rate: 16000\n  tones: [220, 440]\nseed: 3\n',
        'params/local.yaml': 'audio:\n  seconds: 2\n  extra:\n    gain: 0.5\ntrain:\n  epochs: 10\n',
      },
      ['params.yaml', 'params/local.yaml'],
    );
    expect(diagnostics).toEqual([]);
    expect(params.values).toEqual({ audio: { rate: 16000, tones: [220, 440], seconds: 2, extra: { gain: 0.5 } }, seed: 3, train: { epochs: 10 } });
    expect(params.files).toEqual(['params.yaml', 'params/local.yaml']);
    expect(params.origin.get('audio')?.file).toBe('params.yaml');
    expect(params.origin.get('train')?.file).toBe('params/local.yaml');
  });

  it('an empty params file defines nothing', () => {
    const { params, diagnostics } = load({ 'params.yaml': '# nothing yet\n' }, ['params.yaml']);
    expect(diagnostics).toEqual([]);
    expect(params.values).toEqual({});
  });

  it('a leaf defined in two files is an error at the second, naming the first file and line', () => {
    const { diagnostics } = load(
      {
        'a.yaml': 'audio:\n  rate: 16000\n  seconds: 2\n',
        'b.yaml': 'audio:\n  channels: 1\n  seconds: 3\n',
      },
      ['a.yaml', 'b.yaml'],
    );
    expect(diagnostics).toEqual([
      { file: 'b.yaml', line: 3, column: 3, length: 7, message: "params key 'audio.seconds' is also defined in a.yaml:3", lineText: '  seconds: 3' },
    ]);
  });

  it('names the file that really defines the clashing leaf, not the first one with its top-level key', () => {
    const { diagnostics } = load(
      {
        'a.yaml': 'audio:\n  rate: 16000\n',
        'b.yaml': 'audio:\n  seconds: 2\n',
        'c.yaml': 'audio:\n  seconds: 3\n',
      },
      ['a.yaml', 'b.yaml', 'c.yaml'],
    );
    expect(diagnostics.map((d) => `${d.file}:${d.line}:${d.column}: ${d.message}`)).toEqual(["c.yaml:2:3: params key 'audio.seconds' is also defined in b.yaml:2"]);
  });

  it('a mapping in one file and a value in another clash at the key itself', () => {
    const { diagnostics } = load({ 'a.yaml': 'audio:\n  rate: 1\n', 'b.yaml': 'x: 1\naudio: 5\n' }, ['a.yaml', 'b.yaml']);
    expect(diagnostics.map((d) => `${d.file}:${d.line}:${d.column}: ${d.message}`)).toEqual(["b.yaml:2:1: params key 'audio' is also defined in a.yaml:1"]);
  });

  it('a params file must be a mapping', () => {
    const { diagnostics } = load({ 'params.yaml': '- 1\n- 2\n' }, ['params.yaml']);
    expect(diagnostics.map((d) => `${d.file}:${d.line}:${d.column}: ${d.message}`)).toEqual(['params.yaml:1:1: a params file must be a mapping of keys to values']);
  });

  it('a YAML error is reported in the params file, at its line', () => {
    const { diagnostics } = load({ 'params.yaml': 'audio:\n  rate: 16000\n  rate: 8000\n' }, ['params.yaml']);
    expect(diagnostics.map((d) => `${d.file}:${d.line}:${d.column}: ${d.message}`)).toEqual(["params.yaml:3:3: duplicate key 'rate' (first set on line 2)"]);
  });

  it('a missing file is placed with `where` when given, else in the file itself', () => {
    const where = (i: number, message: string): Diagnostic => ({ file: 'pipeline.yaml', line: 1, column: 10 + i, length: 1, message });
    let r = load({ 'a.yaml': 'x: 1\n' }, ['a.yaml', 'b.yaml'], where);
    expect(r.diagnostics).toEqual([{ file: 'pipeline.yaml', line: 1, column: 11, length: 1, message: "params file 'b.yaml' not found" }]);
    expect(r.params.values).toEqual({ x: 1 });
    p!.remove();
    r = load({}, ['b.yaml']);
    expect(r.diagnostics).toEqual([{ file: 'b.yaml', line: 1, column: 1, length: 1, message: 'file not found' }]);
  });
});

describe('lookupParam', () => {
  const values = { audio: { rate: 16000, tones: [220, 440], seconds: 2, name: null }, grid: [[1, 2], 3], features: { n_mels: 64 } };

  it('reads dotted keys, whole subtrees and list items by index', () => {
    expect(lookupParam(values, 'audio.rate')).toEqual({ ok: true, value: 16000 });
    expect(lookupParam(values, 'audio.tones')).toEqual({ ok: true, value: [220, 440] });
    expect(lookupParam(values, 'audio.tones.1')).toEqual({ ok: true, value: 440 });
    expect(lookupParam(values, 'grid.0.1')).toEqual({ ok: true, value: 2 });
    expect(lookupParam(values, 'features')).toEqual({ ok: true, value: { n_mels: 64 } });
    expect(lookupParam(values, 'audio.name')).toEqual({ ok: true, value: null });
  });

  it('suggests the closest key at the level that failed', () => {
    expect(lookupParam(values, 'audio.rat')).toEqual({ ok: false, message: "unknown params key 'audio.rat'; did you mean 'audio.rate'?" });
    expect(lookupParam(values, 'feature.n_mels')).toEqual({ ok: false, message: "unknown params key 'feature.n_mels'; did you mean 'features.n_mels'?" });
    expect(lookupParam(values, 'feature.n_mel')).toEqual({ ok: false, message: "unknown params key 'feature.n_mel'; did you mean 'features'?" });
    expect(lookupParam(values, 'features.n_mel')).toEqual({ ok: false, message: "unknown params key 'features.n_mel'; did you mean 'features.n_mels'?" });
  });

  it('lists the known keys when nothing is close', () => {
    expect(lookupParam(values, 'audio.bitdepth')).toEqual({ ok: false, message: "unknown params key 'audio.bitdepth'; known keys (under 'audio'): rate, tones, seconds, name" });
    expect(lookupParam(values, 'zzz')).toEqual({ ok: false, message: "unknown params key 'zzz'; known keys: audio, grid, features" });
  });

  it('misses below a value, past the end of a list, and on inherited properties', () => {
    expect(lookupParam(values, 'audio.rate.x')).toEqual({ ok: false, message: "unknown params key 'audio.rate.x'" });
    expect(lookupParam(values, 'audio.tones.2').ok).toBe(false);
    expect(lookupParam(values, 'toString').ok).toBe(false);
    expect(lookupParam(values, 'audio.constructor').ok).toBe(false);
  });
});

describe('closest', () => {
  it('accepts typos within a third of the word (at least one edit)', () => {
    expect(closest('dep', ['cmd', 'deps', 'outs'])).toBe('deps');
    expect(closest('prepair', ['prepare', 'train'])).toBe('prepare');
    expect(closest('a', ['b'])).toBe('b');
    expect(closest('abcdef', ['abcxyz'])).toBeUndefined();
    expect(closest('x', [])).toBeUndefined();
  });

  it('picks the nearest, the first of equals', () => {
    expect(closest('seet', ['seed', 'sees', 'set'])).toBe('seed');
    expect(closest('rate', ['rats', 'rate'])).toBe('rate');
  });
});
