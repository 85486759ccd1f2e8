/**
 * conno.lock travels: it holds no absolute path, so a clone at another path (here: the project
 * folder moved) sees every stage up to date and `verify` passes. Data outside the project enters
 * the fingerprint by its content, and a change to it is still seen.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, expect, it } from 'vitest';
import { BIN, tempProject, ZOD_MODULE } from './helpers.js';
import { synthStage } from './support/pipelines.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

it('a moved project is up to date and verifies; outside data is keyed by content', async () => {
  const outside = mkdtempSync(path.join(os.tmpdir(), 'conno-outside-'));
  dirs.push(outside);
  const ext = path.join(outside, 'labels.txt');
  writeFileSync(ext, 'a\nb\n');
  const p = tempProject({
    'pipeline.yaml': `stages:
  prep:
    cmd: mkdir -p out && cat in.txt "\$LABELS" > out/all.txt
    deps: [in.txt, ${ext}]
    outs: [out/all.txt]
${synthStage('classes: 2, clips_per_class: 3, seconds: 0.25, sample_rate: 8000')}  mine:
    uses: ./stages/mine.mjs
    deps: [out/all.txt]
`,
    'in.txt': 'x\n',
    'stages/mine.mjs': `import { z } from ${ZOD_MODULE};\nimport { writeFileSync, readFileSync } from 'node:fs';\nexport const stage = { version: 1, description: 'count lines', params: z.object({}), outputs: ['n'], async run(ctx) { writeFileSync(ctx.outPath('n'), String(readFileSync(ctx.deps[0], 'utf8').split('\\n').length)); } };\n`,
  });
  dirs.push(p.dir);
  let r = await p.conno(['repro'], { env: { LABELS: ext } });
  expect(r.exitCode, r.all).toBe(0);
  const lock = p.read('conno.lock');
  expect(lock).not.toContain(p.dir);
  expect(lock).not.toContain(outside);
  expect(lock).not.toMatch(/^\s+\/[^\s]*:/m); // no absolute path as a key
  expect(lock).toMatch(/external:[0-9a-f]{16}:/);

  const moved = `${p.dir}-moved`;
  renameSync(p.dir, moved);
  dirs.push(moved);
  const run = (args: string[]) => execa(process.execPath, [BIN, ...args], { cwd: moved, reject: false, all: true, env: { CI: '1', CONNO_GPUS: '', LABELS: ext } });
  r = await run(['status']);
  expect(r.exitCode, r.all).toBe(0);
  expect(r.stdout).toContain('Everything is up to date (3 stage instances).');
  r = await run(['verify']);
  expect(r.exitCode, r.all).toBe(0);

  writeFileSync(ext, 'a\nb\nc\n');
  r = await run(['status']);
  expect(r.stdout).toContain(`input changed: ${ext} (outside the project)`);
  r = await run(['repro']);
  expect(r.exitCode, r.all).toBe(0);
  expect(r.all).toContain('done prep');
});
