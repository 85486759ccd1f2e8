/**
 * YAML that the loader refuses is a user error with a position and no stack trace: past the size
 * limit, aliases that expand without end, bytes that are not UTF-8 (pipeline.yaml and params
 * files are in the bad-pipeline corpus; here through the CLI, and conno.lock).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { tempProject, type TempProject } from './helpers.js';

let p: TempProject | undefined;
afterEach(() => p?.remove());

const bomb = (indent = ''): string => {
  const lines = [`${indent}a0: &a0 [x, x, x, x, x, x, x, x, x]`];
  for (let i = 1; i < 8; i++) lines.push(`${indent}a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]`);
  return lines.join('\n') + '\n';
};

it('a pipeline.yaml past the size limit is refused before it is parsed', async () => {
  p = tempProject({});
  writeFileSync(path.join(p.dir, 'pipeline.yaml'), `stages:\n  a:\n    cmd: echo a\n# ${'x'.repeat(17 * 1024 * 1024)}\n`);
  const r = await p.conno(['status']);
  expect(r.exitCode).toBe(2);
  expect(r.stderr).toContain('pipeline.yaml:1:1: error: the file is 17.0 MiB; conno reads YAML files of at most 16 MiB');
});

it('an alias bomb in pipeline.yaml is a positioned error, exit 2, fast, without a stack', async () => {
  p = tempProject({ 'pipeline.yaml': `x:\n${bomb('  ')}stages:\n  a:\n    cmd: echo a\n` });
  const t0 = Date.now();
  const r = await p.conno(['status']);
  expect(Date.now() - t0).toBeLessThan(20_000);
  expect(r.exitCode).toBe(2);
  expect(r.stderr).toMatch(/pipeline\.yaml:3:\d+: error: cannot read this YAML: expanding its aliases/);
  expect(r.stderr).not.toMatch(/\n\s+at /);
});

it('a damaged conno.lock (an alias bomb, bytes that are not UTF-8) is named, without a stack', async () => {
  p = tempProject({ 'pipeline.yaml': 'stages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n' });
  p.write('conno.lock', `version: 1\n${bomb()}stages: {}\n`);
  let r = await p.conno(['status']);
  expect(r.exitCode).toBe(1);
  expect(r.stderr).toContain('conno.lock is not valid YAML');
  expect(r.stderr).not.toMatch(/\n\s+at /);
  writeFileSync(path.join(p.dir, 'conno.lock'), Buffer.from([0x76, 0x65, 0x72, 0xff, 0xfe, 0x0a]));
  r = await p.conno(['status']);
  expect(r.exitCode).toBe(1);
  expect(r.stderr).toContain('conno.lock');
  expect(r.stderr).not.toMatch(/\n\s+at /);
});
