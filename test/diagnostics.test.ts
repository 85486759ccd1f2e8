/**
 * The malformed-pipeline corpus: every folder under test/fixtures/bad/ holds a pipeline.yaml
 * (plus any params files) and `expected.txt`, the exact diagnostics as `conno` prints them
 * (file:line:column, message, the source line and its underline, and the summary line).
 *
 * Regenerate the expected files with `UPDATE_FIXTURES=1 npx vitest run test/diagnostics.test.ts`
 * and read every changed one by eye before committing it.
 */
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { loadPipeline } from '../src/core/pipeline/load.js';
import { formatDiagnostics } from '../src/core/util/diagnostics.js';
import { BIN, REPO, tempProject } from './helpers.js';

const CORPUS = path.join(REPO, 'test', 'fixtures', 'bad');
const UPDATE = process.env.UPDATE_FIXTURES === '1';
const cases = readdirSync(CORPUS, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();

function relTo(dir: string) {
  return (abs: string) => path.relative(dir, abs).split(path.sep).join('/');
}

async function diagnose(name: string) {
  const dir = path.join(CORPUS, name);
  const r = await loadPipeline(path.join(dir, 'pipeline.yaml'), { display: relTo(dir) });
  return r;
}

/** The positions and messages alone: `file:line:column: error: message`, one per problem. */
function heads(text: string): string[] {
  return text.split('\n').filter((l) => /^\S+:\d+:\d+: error: /.test(l));
}

describe('the malformed-pipeline corpus', () => {
  it('covers every required kind of mistake', () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
    for (const c of cases) expect(existsSync(path.join(CORPUS, c, 'pipeline.yaml')), c).toBe(true);
  });

  it.each(cases)('%s', async (name) => {
    const r = await diagnose(name);
    expect(r.ok, `${name} must not load`).toBe(false);
    if (r.ok) return;
    expect(r.diagnostics.length).toBeGreaterThan(0);
    for (const d of r.diagnostics) {
      expect(d.line).toBeGreaterThanOrEqual(1);
      expect(d.column).toBeGreaterThanOrEqual(1);
      expect(d.length).toBeGreaterThanOrEqual(1);
      expect(path.isAbsolute(d.file)).toBe(false);
      expect(d.message).not.toMatch(/\bundefined\b|\[object Object\]|^Invalid input$/);
    }
    const actual = formatDiagnostics(r.diagnostics) + '\n';
    const expectedFile = path.join(CORPUS, name, 'expected.txt');
    if (UPDATE) {
      writeFileSync(expectedFile, actual);
      return;
    }
    expect(existsSync(expectedFile), `${name}/expected.txt is missing: run with UPDATE_FIXTURES=1`).toBe(true);
    const expected = readFileSync(expectedFile, 'utf8');
    // Positions and messages first, for a readable failure; then the whole text with underlines.
    expect(heads(actual)).toEqual(heads(expected));
    expect(actual).toBe(expected);
  });
});

// A few spot checks that pin the important facts independently of expected.txt, so that
// regenerating the corpus cannot silently accept a regression in them.
describe('diagnostics in detail', () => {
  const only = async (name: string) => {
    const r = await diagnose(name);
    if (r.ok) throw new Error(`${name} loaded`);
    return r.diagnostics;
  };

  it('points an unknown params key inside ${…} at the ${ of that reference', async () => {
    const [d, ...rest] = await only('unknown-param-in-cmd');
    expect(rest).toEqual([]);
    const line = readFileSync(path.join(CORPUS, 'unknown-param-in-cmd', 'pipeline.yaml'), 'utf8').split('\n')[3]!;
    expect(d).toMatchObject({ file: 'pipeline.yaml', line: 4, column: line.indexOf('${features.n_mel}') + 1, length: '${features.n_mel}'.length });
    expect(d!.message).toBe("unknown params key 'features.n_mel'; did you mean 'features.n_mels'?");
  });

  it('names the params file and its line for a YAML error inside it', async () => {
    const ds = await only('malformed-params-file');
    expect(ds.map((d) => d.file)).toEqual(ds.map(() => 'params.yaml'));
    expect(ds[0]!.line).toBeGreaterThanOrEqual(3);
    expect(ds[0]!.line).toBeLessThanOrEqual(4);
  });

  it('prints the path of a cycle, from the stage declared first, at the edge that closes it', async () => {
    const [d, ...more] = await only('needs-cycle');
    expect(more).toEqual([]);
    expect(d).toMatchObject({ line: 6, column: 13, message: 'dependency cycle: a → b → a' });
    const [e] = await only('deps-cycle');
    expect(e).toMatchObject({ line: 8, column: 12, message: "dependency cycle: features → train → features ('train' reads 'data/features/train.npy', which 'features' writes)" });
  });

  it('reports every problem of a file at once', async () => {
    const ds = await only('several-problems');
    const msgs = ds.map((d) => `${d.line}: ${d.message}`);
    expect(msgs).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^4: unknown params key 'audio\.rat'; did you mean 'audio\.rate'\?$/),
        expect.stringMatching(/^5: unknown field 'dep'; did you mean 'deps'\?$/),
        expect.stringMatching(/^8: unknown stage 'prepar' in needs; did you mean 'prepare'\?$/),
        expect.stringMatching(/^11: unknown matrix key 'sed'/),
        expect.stringMatching(/^14: /),
        expect.stringMatching(/^17: /),
      ]),
    );
  });

  it('says which output the two instances of a matrix share', async () => {
    const [d, ...rest] = await only('matrix-same-output');
    expect(rest).toEqual([]);
    expect(d).toMatchObject({ line: 6, column: 12 });
    expect(d!.message).toContain('${item.<key>}');
  });
});

// The same mistakes through the real command line: exit code 2, the positioned message on
// stderr, no stack trace, and nothing written to the project.
describe('the CLI on a bad pipeline', () => {
  const cliCases = ['yaml-syntax', 'unknown-param-in-cmd', 'malformed-params-file', 'needs-cycle', 'several-problems', 'matrix-same-output'];

  function listing(dir: string): string[] {
    return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => f.split(path.sep).join('/')).sort();
  }

  for (const name of cliCases) {
    for (const command of ['status', 'repro']) {
      it(`${name}: conno ${command} exits 2 with the diagnostics and writes nothing`, async () => {
        const p = tempProject();
        try {
          cpSync(path.join(CORPUS, name), p.dir, { recursive: true });
          const before = listing(p.dir);
          const r = await p.conno(['-C', p.dir, command]);
          const stderr = String(r.stderr);
          const expected = readFileSync(path.join(CORPUS, name, 'expected.txt'), 'utf8');
          expect(r.exitCode, stderr).toBe(2);
          expect(stderr.trimEnd()).toBe(expected.trimEnd());
          expect(heads(stderr).length).toBeGreaterThan(0);
          expect(stderr).not.toMatch(/^\s+at /m);
          expect(stderr).not.toMatch(/\bError:/);
          expect(String(r.stdout)).toBe('');
          expect(p.exists('conno.lock')).toBe(false);
          expect(p.exists('cache')).toBe(false);
          expect(listing(p.dir)).toEqual(before);
        } finally {
          p.remove();
        }
      });
    }
  }

  it('conno repro on a bad pipeline does not create cache/', async () => {
    const p = tempProject();
    try {
      cpSync(path.join(CORPUS, 'needs-cycle'), p.dir, { recursive: true });
      const r = await p.conno(['-C', p.dir, 'repro']);
      expect(r.exitCode).toBe(2);
      expect(p.exists('cache')).toBe(false);
    } finally {
      p.remove();
    }
  });

  it('shows the file relative to the working directory when run from elsewhere', async () => {
    const p = tempProject();
    try {
      cpSync(path.join(CORPUS, 'unknown-need'), p.dir, { recursive: true });
      const r = await execa(process.execPath, [BIN, '-C', path.basename(p.dir), 'status'], {
        cwd: path.dirname(p.dir),
        reject: false,
        env: { CI: '1', CONNO_GPUS: '' },
      });
      expect(r.exitCode).toBe(2);
      expect(String(r.stderr)).toContain(`${path.basename(p.dir)}/pipeline.yaml:6:13: error: unknown stage 'prepair' in needs; did you mean 'prepare'?`);
      expect(p.exists('cache')).toBe(false);
    } finally {
      p.remove();
    }
  });
});
