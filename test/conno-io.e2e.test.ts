/**
 * End-to-end: python/conno_io.py, the numpy-only reader and writer of conno's Arrow tables for
 * Python command stages, against conno's own Arrow layer. Every case runs under every Python
 * with numpy found (CONNO_PYTHON, python3, /usr/bin/python3; one per interpreter). With none,
 * the cases are skipped, or fail when CONNO_REQUIRE_PYTHON=1.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as arrow from 'apache-arrow';
import { execa, execaSync } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flatFloat32, makeTable, readTableFile, writeTableFileSync, type Columns } from '../src/core/arrow/io.js';
import { typeName } from '../src/core/arrow/format.js';
import { epochDynamics } from '../src/lab/ml/dynamics.js';
import { REPO } from './helpers.js';
import { PYTHON_CANDIDATES } from './support/python.js';

const SCRIPT = path.join(REPO, 'test', 'fixtures', 'python', 'conno_io_case.py');
const CANDIDATES = PYTHON_CANDIDATES;

interface Python {
  cmd: string;
  /** realpath of sys.executable (and sys.prefix, for a virtual environment): one interpreter counts once. */
  exe: string;
  numpy: string;
}

function findPythons(): Python[] {
  const found = new Map<string, Python>();
  for (const cmd of CANDIDATES) {
    const probe = 'import os, sys, numpy; print(os.path.realpath(sys.executable)); print(sys.prefix); print(numpy.__version__)';
    const r = execaSync(cmd, ['-c', probe], { reject: false, timeout: 30_000 });
    if (r.exitCode !== 0) continue;
    const [exe = cmd, prefix = '', numpy = '?'] = String(r.stdout).trim().split('\n');
    // A virtual environment shares its interpreter's realpath but has packages of its own.
    const key = `${exe} ${prefix}`;
    if (!found.has(key)) found.set(key, { cmd, exe: prefix === path.dirname(path.dirname(exe)) ? exe : `${exe} (${prefix})`, numpy });
  }
  return [...found.values()];
}

const PYTHONS = findPythons();
const NONE = `no Python with numpy among ${CANDIDATES.join(', ')}`;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'conno-io-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function py(p: Python, args: string[], env: Record<string, string> = {}): Promise<any> {
  const r = await execa(p.cmd, [SCRIPT, ...args], { reject: false, env, timeout: 60_000 });
  expect(r.exitCode, `${p.cmd} ${args.join(' ')}\n${r.stderr}`).toBe(0);
  return JSON.parse(String(r.stdout));
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** A number as the Python side prints it (JSON has no NaN or infinities). */
const num = (x: number): number | string => (Number.isNaN(x) ? 'NaN' : x === Infinity ? 'Infinity' : x === -Infinity ? '-Infinity' : x);

/** Every row of every column as plain JSON values: nulls null, list cells flat arrays. */
function rowsOf(t: arrow.Table): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const f of t.schema.fields) {
    const c = t.getChild(f.name)!;
    out[f.name] = Array.from({ length: t.numRows }, (_, i) => {
      const v: unknown = c.get(i);
      if (v instanceof arrow.Vector) return Array.from(v.toArray() as Float32Array, num);
      return typeof v === 'number' ? num(v) : v;
    });
  }
  return out;
}

function typesOf(t: arrow.Table): Record<string, string> {
  return Object.fromEntries(t.schema.fields.map((f) => [f.name, typeName(f.type)]));
}

// ---- (a) tables written by conno's JS writer

const N = 2500;
const gen = <T,>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));
const SPECIAL = [NaN, Infinity, -Infinity, -0, 1e-45, 3.4e38];
const NAMES = ['', 'héllo', '日本語 ✓', 'x'];

function jsColumns(n: number): Columns {
  const features = Float32Array.from({ length: n * 6 }, (_, i) => i / 7); // [n × 2 × 3]
  const waveLen = (i: number) => i % 5;
  const offsets = Int32Array.from({ length: n + 1 }, (_, i) => gen(i, waveLen).reduce((a, b) => a + b, 0));
  const wave = Float32Array.from(gen(n, (i) => gen(waveLen(i), (j) => i + j / 4)).flat());
  return {
    id: { type: 'int32', values: Int32Array.from(gen(n, (i) => i * 7 - 3)) },
    count: { type: 'int32', nullable: true, values: gen(n, (i) => (i % 5 === 0 ? null : -i)), metadata: { unit: 'clips', 'a.first': 'yes' } },
    gain: { type: 'float32', values: Float32Array.from(gen(n, (i) => (i % 10 < 6 ? SPECIAL[i % 10]! : i / 3))) },
    score: { type: 'float64', nullable: true, values: gen(n, (i) => (i % 7 === 3 ? null : Math.sqrt(i) - 10)) },
    name: { type: 'utf8', nullable: true, values: gen(n, (i) => (i % 11 === 0 ? null : NAMES[i % 4]! + (i % 4 === 0 ? '' : String(i)))) },
    flag: { type: 'bool', nullable: true, values: gen(n, (i) => (i % 13 === 0 ? null : i % 3 === 0)) },
    ok: { type: 'bool', values: gen(n, (i) => i % 2 === 0) },
    features: { type: 'fixedSizeList', values: features, shape: [2, 3] },
    wave: { type: 'listFloat32', values: wave, offsets },
  };
}

/** What the Python reader must return for jsColumns(n): NaN for float nulls, nested shape [2, 3]. */
function pythonView(n: number): Record<string, unknown[]> {
  const t = makeTable(jsColumns(n));
  const rows = rowsOf(t);
  rows.score = rows.score!.map((v) => (v === null ? 'NaN' : v));
  rows.features = rows.features!.map((r) => {
    const a = r as number[];
    return [a.slice(0, 3), a.slice(3, 6)];
  });
  return rows;
}

// ---- the cases, under each interpreter

/** sha256 of each file of each interpreter's first write, by interpreter (for the cross-interpreter case). */
const writtenBy = new Map<string, Record<string, string>>();

if (PYTHONS.length === 0 && process.env.CONNO_REQUIRE_PYTHON === '1') {
  describe('conno_io', () => {
    it('finds a Python with numpy (CONNO_REQUIRE_PYTHON=1)', () => expect.fail(NONE));
  });
}
describe.skipIf(PYTHONS.length === 0)(`conno_io${PYTHONS.length ? '' : ` (skipped: ${NONE})`}`, () => {
  for (const p of PYTHONS) describe(`under ${p.exe} (numpy ${p.numpy})`, () => {
    let out: string;
    let expected: any;
    beforeAll(async () => {
      out = path.join(dir, createHash('sha256').update(p.exe).digest('hex').slice(0, 8));
      for (const run of ['run1', 'run2', 'js']) mkdirSync(path.join(out, run), { recursive: true });
      expected = await py(p, ['write', path.join(out, 'run1')]);
      await py(p, ['write', path.join(out, 'run2')]);
      const files = readdirSync(path.join(out, 'run1')).sort();
      writtenBy.set(p.exe, Object.fromEntries(files.map((f) => [f, sha256(path.join(out, 'run1', f))])));
    });

    it('reads what conno writes: every column type, nulls, several batches, an empty table', async () => {
      const js = path.join(out, 'js');
      const meta = { zeta: 'last', 'conno.dataset': 'tones', α: 'ω' };
      writeTableFileSync(path.join(js, 'every.arrow'), makeTable(jsColumns(N), meta));
      writeTableFileSync(path.join(js, 'empty.arrow'), makeTable(jsColumns(0)));
      // apache-arrow's own file layout (no schema message up front), in uneven batches.
      const a = makeTable(jsColumns(3));
      const b = makeTable(jsColumns(5));
      writeFileSync(path.join(js, 'ragged.arrow'), arrow.tableToIPC(new arrow.Table([...a.batches, ...b.batches]), 'file'));
      writeFileSync(path.join(js, 'dict.arrow'), arrow.tableToIPC(arrow.tableFromArrays({ d: ['a', 'b', 'a'] }), 'file'));
      writeFileSync(path.join(js, 'date.arrow'), arrow.tableToIPC(arrow.tableFromArrays({ when: [new Date(0)] }), 'file'));
      writeFileSync(path.join(js, 'notes.csv'), 'clip_id,label\n');
      const names = ['every', 'empty', 'ragged', 'dict', 'date'].map((n) => path.join(js, `${n}.arrow`));
      const got = await py(p, ['read', ...names, path.join(js, 'notes.csv')]);

      const every = got['every.arrow'];
      expect(every.num_rows).toBe(N);
      expect(every.column_names).toEqual(Object.keys(jsColumns(0)));
      expect(every.types).toEqual(typesOf(readTableFile(path.join(js, 'every.arrow'))));
      expect(every.metadata).toEqual(meta);
      expect(every.field_metadata.count).toEqual({ unit: 'clips', 'a.first': 'yes' });
      expect(every.field_metadata.features).toEqual({ 'conno.shape': '[2,3]' });
      expect(every.dtypes).toEqual({
        id: 'int32 []',
        count: 'masked int32 []',
        gain: 'float32 []',
        score: 'float64 []',
        name: 'list of NoneType,str',
        flag: 'masked bool []',
        ok: 'bool []',
        features: 'float32 [2, 3]',
        wave: 'list of float32',
      });
      expect(every.columns).toEqual(pythonView(N));

      const empty = got['empty.arrow'];
      expect(empty.num_rows).toBe(0);
      expect(empty.dtypes.features).toBe('float32 [2, 3]');
      expect(Object.values(empty.columns)).toEqual(Object.keys(jsColumns(0)).map(() => []));

      const ragged = got['ragged.arrow'];
      const ab = [pythonView(3), pythonView(5)];
      expect(ragged.columns).toEqual(Object.fromEntries(Object.keys(ab[0]!).map((k) => [k, [...ab[0]![k]!, ...ab[1]![k]!]])));

      expect(got['dict.arrow']).toBe(`ValueError: ${path.join(js, 'dict.arrow')}: column 'd' is dictionary-encoded, which conno_io does not read`);
      expect(got['date.arrow']).toMatch(/^ValueError: .*date\.arrow: column 'when' has Arrow type Timestamp, which conno_io does not read/);
      expect(got['notes.csv']).toBe(`ValueError: ${path.join(js, 'notes.csv')} is not an Arrow IPC file`);
    });

    it('writes tables conno reads: every type, 1024-row batches, metadata', () => {
      const t = readTableFile(path.join(out, 'run1', 'every.arrow'));
      expect(typesOf(t)).toEqual({
        id: 'int32',
        count: 'int32',
        gain: 'float32',
        special: 'float32',
        score: 'float64',
        name: 'utf8',
        flag: 'bool',
        ok: 'bool',
        features: 'fixed_size_list<float32>[6]',
        wave: 'list<float32>',
      });
      // Nullable exactly where there are nulls.
      expect(t.schema.fields.filter((f) => f.nullable).map((f) => f.name)).toEqual(['count', 'score', 'name', 'flag', 'wave']);
      expect(t.batches.map((b) => b.numRows)).toEqual([1024, 1024, 452]);
      expect([...t.schema.metadata]).toEqual([
        ['conno.dataset', 'tones'],
        ['zeta', 'last'],
        ['α', 'ω'],
      ]);
      expect([...t.schema.fields[1]!.metadata]).toEqual([
        ['a.first', 'yes'],
        ['unit', 'clips'],
      ]);
      expect(flatFloat32(t, 'features').shape).toEqual([2, 3]);
      expect(rowsOf(t)).toEqual(expected.every);

      const empty = readTableFile(path.join(out, 'run1', 'empty.arrow'));
      expect(empty.numRows).toBe(0);
      expect(typesOf(empty)).toEqual(typesOf(t));
      expect([...empty.schema.metadata]).toEqual([['empty', 'yes']]);
    });

    it("writes conno's table kinds", () => {
      const read = (f: string) => readTableFile(path.join(out, 'run1', f));
      const classes = JSON.stringify(['cat', 'dog', 'ü']);
      const pred = read('predictions.arrow');
      expect(typesOf(pred)).toEqual({ clip_id: 'utf8', split: 'utf8', label: 'int32', label_orig: 'int32', logits: 'fixed_size_list<float32>[3]' });
      expect(Object.fromEntries(pred.schema.metadata)).toEqual({ 'conno.classes': classes, 'conno.cv': '{"k":2}' });
      expect(pred.schema.fields[4]!.metadata.get('conno.shape')).toBe('[3]');
      expect(pred.batches.map((b) => b.numRows)).toEqual([1024, 76]);
      const rows = rowsOf(pred);
      expect(rows.label_orig).toEqual(rows.label);
      expect(rows.split!.slice(0, 4)).toEqual(['train', 'test', 'test@snr=0', 'train']);

      const full = read('predictions_full.arrow');
      expect(full.schema.fields.map((f) => f.name)).toEqual(['clip_id', 'split', 'label', 'label_orig', 'patch', 'logits', 'cv_heldout']);
      expect(typesOf(full).cv_heldout).toBe('bool');

      // Dynamics from dynamics_from_logits agree with the train stage's own computation.
      const dyn = read('dynamics.arrow');
      expect(dyn.schema.fields.map((f) => f.name)).toEqual(['clip_id', 'epoch', 'loss', 'p_given', 'correct_given', 'margin', 'logits']);
      expect(dyn.schema.metadata.get('conno.classes')).toBe(classes);
      const d = rowsOf(dyn);
      expect({ epoch: d.epoch, loss: d.loss, p_given: d.p_given, correct_given: d.correct_given, margin: d.margin }).toEqual(expected.dynamics);
      const labels: number[] = expected.labels;
      const n = labels.length;
      const logits = flatFloat32(dyn, 'logits').values;
      for (let e = 0; e < 3; e++) {
        const js = epochDynamics(logits.subarray(e * n * 3, (e + 1) * n * 3), 3, labels, labels);
        const at = (name: string) => (d[name] as number[]).slice(e * n, (e + 1) * n);
        expect(at('correct_given')).toEqual(js.correctGiven);
        for (const [name, want] of [['loss', js.loss], ['p_given', js.pGiven], ['margin', js.margin]] as const) {
          at(name).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 6));
        }
        expect(new Set(d.clip_id!.slice(e * n, (e + 1) * n))).toEqual(new Set(labels.map((_, i) => `c${i}`)));
      }

      const emb = read('embeddings.arrow');
      expect(typesOf(emb)).toEqual({ clip_id: 'utf8', split: 'utf8', label: 'int32', patch: 'int32', embedding: 'fixed_size_list<float32>[5]' });
      expect(rowsOf(emb).embedding![2]).toEqual([2.5, 2.75, 3, 3.25, 3.5]);

      const curves = read('curves.arrow');
      expect(typesOf(curves)).toEqual({ epoch: 'int32', train_acc: 'float64', dev_acc: 'float64' });
      expect(Object.fromEntries(curves.schema.metadata)).toEqual({ 'conno.best_epoch': '2' });
      expect(rowsOf(curves).dev_acc).toEqual([0.4, 0.5, 0.55, 0.5]);
    });

    it('writes the same bytes every time', () => {
      const files = readdirSync(path.join(out, 'run1')).sort();
      expect(files).toEqual(readdirSync(path.join(out, 'run2')).sort()); // and no temp files left behind
      expect(files.length).toBe(7);
      for (const f of files) expect(sha256(path.join(out, 'run2', f)), f).toBe(sha256(path.join(out, 'run1', f)));
    });

    it('writes files pyarrow reads (where pyarrow is installed)', async ({ skip }) => {
      const got = await py(p, ['pyarrow', path.join(out, 'run1')]);
      if (got === null) return skip('pyarrow is not installed');
      for (const f of readdirSync(path.join(out, 'run1'))) {
        const t = readTableFile(path.join(out, 'run1', f));
        expect(got[f].batches, f).toEqual(t.batches.filter((b) => b.numRows > 0).map((b) => b.numRows));
        expect(got[f].columns, f).toEqual(rowsOf(t));
      }
    });

    it('names the file, column or row in its errors', async () => {
      const e = path.join(out, 'errors');
      mkdirSync(e, { recursive: true });
      const got = await py(p, ['errors', e]);
      expect(got.unequal).toBe(`ValueError: ${e}/unequal.arrow: column 'b' has 1 rows but column 'a' has 2`);
      expect(got.not_epoch_major).toBe(
        `ValueError: ${e}/dyn.arrow: row 4 breaks the epoch-major order (epoch 1, clip 'c'; expected epoch 1, clip 'b')`,
      );
      expect(got.not_arrow).toBe(`ValueError: ${e}/notes.txt is not an Arrow IPC file`);
      expect(got.int32_range).toBe(`ValueError: ${e}/r.arrow: column 'n': row 1 value 2147483648 is not an int32`);
      expect(got.not_str).toBe(`ValueError: ${e}/s.arrow: column 's': row 1 is int, not str`);
      expect(got.classes).toBe(`ValueError: ${e}/p.arrow: column 'logits' has shape [1, 3], not [rows, 2] for 2 classes`);
      expect(got.files).toEqual(['notes.txt']); // nothing written, no temp file left
    });

    it("reads the stage's environment", async () => {
      const inputs = [
        { from: 'train@seed=1', output: 'model', path: '/c/a/model.arrow' },
        { from: 'train@seed=2', output: 'model', path: '/c/b/model.arrow' },
        { from: 'features', output: 'clips', path: '/c/f/clips.arrow' },
      ];
      const env = { CONNO_STAGE_ID: 'eval@seed=1', CONNO_ITEM: '{"seed":1}', CONNO_INPUTS: JSON.stringify(inputs) };
      const got = await py(p, ['env'], env);
      expect(got.stage_id).toBe('eval@seed=1');
      expect(got.item).toEqual({ seed: 1 });
      expect(got.inputs).toEqual(inputs.map((i) => [i.from, i.output, i.path]));
      expect(got.train_models).toEqual(['/c/a/model.arrow', '/c/b/model.arrow']);
      expect(got.clips).toBe('/c/f/clips.arrow');
      expect(got.ambiguous).toBe(
        "ValueError: 2 inputs match output 'model'; this stage has train@seed=1:model, train@seed=2:model, features:clips",
      );
      expect(got.missing).toMatch(/^ValueError: 0 inputs match output 'weights' from 'train'; this stage has /);
    });
  });

  it.runIf(PYTHONS.length > 1)('writes the same bytes under every Python and numpy', () => {
    expect(writtenBy.size).toBe(PYTHONS.length);
    const [first, ...rest] = [...writtenBy.values()];
    for (const other of rest) expect(other).toEqual(first);
  });
});
