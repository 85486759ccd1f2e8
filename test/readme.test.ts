/**
 * README.md is what a newcomer follows: its code fences must close (an unclosed one swallows the
 * rest of the page on GitHub), and its first lines give the two commands a newcomer needs.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { REPO } from './helpers.js';

const README = readFileSync(path.join(REPO, 'README.md'), 'utf8');

it('every code fence closes, and every opening fence names its language', () => {
  let open: { line: number; lang: string } | undefined;
  README.split('\n').forEach((line, i) => {
    const m = /^```(\S*)\s*$/.exec(line);
    if (!m) {
      // A heading inside a fence is the sign of a fence that never closed.
      if (open && /^#{2,3} [A-Z`]/.test(line)) throw new Error(`README.md:${i + 1}: heading inside the \`\`\`${open.lang} fence opened at line ${open.line}`);
      return;
    }
    if (open) {
      expect(m[1], `README.md:${i + 1} closes the fence of line ${open.line}`).toBe('');
      open = undefined;
    } else {
      expect(m[1], `README.md:${i + 1}: fence without a language`).not.toBe('');
      open = { line: i + 1, lang: m[1]! };
    }
  });
  expect(open, 'a fence is still open at the end').toBeUndefined();
});

it('begins with the two commands a newcomer needs', () => {
  const head = README.split('\n').slice(0, 8).join('\n');
  expect(head).toContain('npx conno repro');
  expect(head).toContain('npm test');
});
