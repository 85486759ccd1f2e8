/**
 * A params value is data, never shell code: spliced into `cmd:` it arrives as one argument,
 * verbatim, however hostile (`;`, `$(…)`, backticks, quotes, spaces), and nothing it spells out
 * runs. `${raw:key}` is the explicit way to splice shell text.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { tempProject, type TempProject } from './helpers.js';

let p: TempProject | undefined;
const dirs: string[] = [];
afterEach(() => {
  p?.remove();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

it('params with shell syntax reach the command verbatim as single arguments, and run nothing', async () => {
  const trap = mkdtempSync(path.join(os.tmpdir(), 'conno-trap-'));
  dirs.push(trap);
  const values = {
    semicolon: `x; touch ${trap}/semicolon`,
    subst: `$(touch ${trap}/subst)`,
    backticks: `\`touch ${trap}/backticks\``,
    quote: "it's a \"file\".wav",
    spaces: 'two  spaces and a\ttab',
    newline: `a\ntouch ${trap}/newline`,
    files: ['a b.wav', `c;touch ${trap}/list`],
    flags: '--alpha --beta',
  };
  p = tempProject({
    'params.yaml': stringify({ p: values }),
    'args.mjs': "import { writeFileSync } from 'node:fs';\nwriteFileSync('out/args.json', JSON.stringify(process.argv.slice(2)));\n",
    'pipeline.yaml': `params: [params.yaml]
stages:
  echo:
    cmd: mkdir -p out && node args.mjs \${p.semicolon} \${p.subst} \${p.backticks} \${p.quote} \${p.spaces} \${p.newline} \${p.files} \${raw:p.flags}
    deps: [args.mjs]
    outs: [out/args.json]
`,
  });
  const r = await p.conno(['repro']);
  expect(r.exitCode, r.all).toBe(0);
  expect(JSON.parse(p.read('out/args.json'))).toEqual([
    values.semicolon,
    values.subst,
    values.backticks,
    values.quote,
    values.spaces,
    values.newline,
    ...values.files,
    '--alpha',
    '--beta',
  ]);
  for (const f of ['semicolon', 'subst', 'backticks', 'newline', 'list']) expect(existsSync(path.join(trap, f)), f).toBe(false);
  // A changed value is a changed command: the stage is stale and says so.
  p.write('params.yaml', stringify({ p: { ...values, quote: 'other.wav' } }));
  const st = await p.conno(['status']);
  expect(st.stdout).toContain('params changed: p.quote');
});

it('${raw:…} outside cmd, and matrix values that would break instance ids, are pipeline errors', async () => {
  p = tempProject({
    'pipeline.yaml': `params: [params.yaml]
stages:
  a:
    cmd: echo \${item.x} > a-\${item.x}.txt
    matrix: { x: ["ok", "b,c", "line\\nbreak"] }
    outs: ["a-\${item.x}.txt"]
    env: { FLAGS: "\${raw:p.flags}" }
`,
    'params.yaml': 'p: { flags: --x }\n',
  });
  const r = await p.conno(['status']);
  expect(r.exitCode).toBe(2);
  expect(r.stderr).toContain("matrix value \"b,c\" of axis 'x' holds a character instance ids cannot");
  expect(r.stderr).toContain('`${raw:p.flags}` is for `cmd:` only');
  expect(r.stderr).not.toMatch(/\n\s+at /);
});
