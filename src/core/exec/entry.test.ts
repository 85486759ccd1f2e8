import { afterEach, describe, expect, it } from 'vitest';
import { describeFailure } from './entry.js';

afterEach(() => {
  delete process.env['CONNO_DEBUG'];
});

describe('describeFailure', () => {
  it("prints a stage's own Error as one line, a bug with its stack", () => {
    expect(describeFailure(new Error("init_from: no upstream instance of 'x'"))).toBe("error: init_from: no upstream instance of 'x'");
    expect(describeFailure(new TypeError('x is undefined'))).toMatch(/^TypeError: x is undefined\n\s+at /);
    process.env['CONNO_DEBUG'] = '1';
    expect(describeFailure(new Error('boom'))).toMatch(/^Error: boom\n\s+at /);
    expect(describeFailure('text')).toBe('text');
  });
});
