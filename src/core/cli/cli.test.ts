import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exitsPromptly, main } from './main.js';
import { COMMANDS } from './table.js';

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (t) => void out.push(t), err: (t) => void err.push(t), isTTY: false });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('the CLI, from its table', () => {
  it('--help lists every command with every option of the table (help cannot drift from parsing)', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    for (const c of COMMANDS) {
      expect(r.out).toContain(`  ${c.name}`);
      for (const o of c.options) expect(r.out, `${c.name} --${o.name}`).toContain(`${o.short ? `-${o.short}, ` : ''}--${o.name}`);
    }
    expect(r.out).toContain('--keep-scratch'); // once undocumented
  });

  it('COMMAND --help shows that command', async () => {
    const r = await run(['repro', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('usage: conno [-C DIR] repro [TARGET…] [options]');
    expect(r.out).toContain('-j, --jobs N');
    expect(r.out).toContain('-k, --keep-going');
    expect(r.out).not.toContain('--keep-runs');
  });

  it('a misspelt option or command is a usage error (exit 2) naming it', async () => {
    let r = await run(['repro', '--jbos', '2']);
    expect(r.code).toBe(2);
    expect(r.err).toContain("repro: Unknown option '--jbos' (see conno repro --help)");
    r = await run(['stauts']);
    expect(r.code).toBe(2);
    expect(r.err).toContain("unknown command 'stauts'");
    r = await run(['-C', '/nonexistent-dir-for-conno', 'dag', '--format', 'svg']);
    expect(r.code).toBe(2);
    expect(r.err).toContain("dag: --format is text, mermaid or dot, not 'svg'");
    r = await run(['gc', '--keep-runs', 'some']);
    expect(r.err).toContain("gc: --keep-runs is all or lock, not 'some'");
  });

  it('every option of the table parses', async () => {
    for (const c of COMMANDS) {
      for (const o of c.options) {
        // Parsing must accept it: any error after that is about the (absent) project, not the option.
        const r = await run(['-C', '/nonexistent-dir-for-conno', c.name, `--${o.name}`, ...(o.type === 'string' ? ['1'] : []), ...(c.name === 'show' ? ['x'] : c.name === 'run-stage' ? ['/nonexistent.json'] : [])]);
        expect(r.err, `${c.name} --${o.name}`).not.toContain('Unknown option');
      }
    }
  });

  it('an unknown target is a usage error with a short list and a "did you mean"; status alone may end the process at once', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'conno-cli-'));
    try {
      const stages = Array.from({ length: 30 }, (_, i) => `  stage${i}:\n    cmd: echo ${i}\n`).join('');
      writeFileSync(path.join(dir, 'pipeline.yaml'), `stages:\n${stages}`);
      let r = await run(['-C', dir, 'status', 'stage29x']);
      expect(r.code).toBe(2);
      expect(r.err).toContain("unknown target 'stage29x'; did you mean 'stage29'? (stages: stage0, stage1, stage2, stage3, stage4, stage5, stage6, stage7, stage8, stage9, … 30 in all; `conno dag` lists them)");
      r = await run(['-C', dir, 'status']);
      expect(r.code).toBe(0);
      expect(exitsPromptly()).toBe(true);
      r = await run(['-C', dir, 'dag']);
      expect(r.code).toBe(0);
      expect(exitsPromptly()).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
