import { describe, expect, it } from 'vitest';
import { hasInterpolation, parseTemplate, resolveTemplate, spliceText, type Lookup } from './interpolate.js';

const values: Record<string, unknown> = {
  'audio.rate': 16000,
  'audio.tones': [220, 440, 880],
  'audio.name': 'tones',
  'audio.mono': true,
  'audio.nested': [
    [1, 2],
    [3, 4],
  ],
  'audio.opts': { a: 1, b: 'x' },
  'item.seed': 7,
};
const lookup: Lookup = (ref) => (ref in values ? { ok: true, value: values[ref] } : { ok: false, message: `unknown '${ref}'` });

describe('parseTemplate', () => {
  it('splits text and references, with the offset and length of each `${…}`', () => {
    const s = '--rate ${audio.rate} --seed ${item.seed}';
    expect(parseTemplate(s)).toEqual({
      pieces: [{ text: '--rate ' }, { ref: 'audio.rate', offset: 7, length: 13 }, { text: ' --seed ' }, { ref: 'item.seed', offset: 28, length: 12 }],
      problems: [],
    });
    expect(s.slice(7, 7 + 13)).toBe('${audio.rate}');
  });

  it('trims spaces inside the braces', () => {
    expect(parseTemplate('${ audio.rate }').pieces).toEqual([{ ref: 'audio.rate', offset: 0, length: 15 }]);
  });

  it('turns `\\${` into a literal `${` and no reference', () => {
    expect(parseTemplate('echo \\${HOME} ${audio.name}')).toEqual({
      pieces: [{ text: 'echo ${HOME} ' }, { ref: 'audio.name', offset: 14, length: 13 }],
      problems: [],
    });
  });

  it('reports an unterminated `${` from its start to the end of the string', () => {
    const s = 'a ${audio.rate b';
    expect(parseTemplate(s).problems).toEqual([{ message: 'unterminated `${`: missing `}` (write `\\${` for a literal `${`)', offset: 2, length: s.length - 2 }]);
  });

  it('reports a reference that is not a dotted key, with its offset, and goes on', () => {
    const { pieces, problems } = parseTemplate('x ${a b} ${} ${audio.rate}');
    expect(problems).toEqual([
      { message: 'bad interpolation `${a b}`: expected a dotted key like ${audio.rate} or ${item.seed}', offset: 2, length: 6 },
      { message: 'bad interpolation `${}`: expected a dotted key like ${audio.rate} or ${item.seed}', offset: 9, length: 3 },
    ]);
    expect(pieces.filter((p) => 'ref' in p)).toEqual([{ ref: 'audio.rate', offset: 13, length: 13 }]);
  });

  it('hasInterpolation sees any `${`', () => {
    expect(hasInterpolation('a ${b}')).toBe(true);
    expect(hasInterpolation('a $b {c}')).toBe(false);
  });
});

describe('resolveTemplate', () => {
  it('keeps the type of a value when the string is exactly one reference', () => {
    expect(resolveTemplate('${audio.rate}', lookup)).toEqual({ value: 16000, problems: [], refs: ['audio.rate'] });
    expect(resolveTemplate('${audio.tones}', lookup).value).toEqual([220, 440, 880]);
    expect(resolveTemplate('${audio.mono}', lookup).value).toBe(true);
    expect(resolveTemplate('${audio.opts}', lookup).value).toEqual({ a: 1, b: 'x' });
  });

  it('splices values into text as text', () => {
    const r = resolveTemplate('--rate ${audio.rate} --name=${audio.name} --mono ${audio.mono}', lookup);
    expect(r.value).toBe('--rate 16000 --name=tones --mono true');
    expect(r.refs).toEqual(['audio.rate', 'audio.name', 'audio.mono']);
  });

  it('any text around a single reference makes it a string', () => {
    expect(resolveTemplate(' ${audio.rate}', lookup).value).toBe(' 16000');
    expect(resolveTemplate('${audio.rate}Hz', lookup).value).toBe('16000Hz');
  });

  it('splices lists as space-separated words (nested lists flattened), mappings as JSON', () => {
    expect(resolveTemplate('make ${audio.tones} done', lookup).value).toBe('make 220 440 880 done');
    expect(resolveTemplate('x ${audio.nested}', lookup).value).toBe('x 1 2 3 4');
    expect(resolveTemplate('x ${audio.opts}', lookup).value).toBe('x {"a":1,"b":"x"}');
    expect(spliceText(['a', 1, true])).toBe('a 1 true');
  });

  it('leaves `\\${…}` as literal text for the shell', () => {
    const r = resolveTemplate('echo \\${HOME}/x ${audio.rate}', lookup);
    expect(r).toEqual({ value: 'echo ${HOME}/x 16000', problems: [], refs: ['audio.rate'] });
    expect(resolveTemplate('\\${HOME}', lookup).value).toBe('${HOME}');
  });

  it('a string without references comes back unchanged', () => {
    expect(resolveTemplate('plain $text {x}', lookup)).toEqual({ value: 'plain $text {x}', problems: [], refs: [] });
    expect(resolveTemplate('', lookup).value).toBe('');
  });

  it('reports every unresolved reference with the offset and length of its `${…}`', () => {
    const s = 'a ${nope.one} b ${audio.rate} c ${nope.two}';
    const r = resolveTemplate(s, lookup);
    expect(r.problems).toEqual([
      { message: "unknown 'nope.one'", offset: 2, length: 11 },
      { message: "unknown 'nope.two'", offset: 32, length: 11 },
    ]);
    expect(s.slice(32, 32 + 11)).toBe('${nope.two}');
    expect(r.refs).toEqual(['audio.rate']);
    expect(r.value).toBe('a  b 16000 c ');
  });

  it('reports syntax problems and lookup problems together', () => {
    const r = resolveTemplate('${nope} ${audio.rate', lookup);
    expect(r.problems.map((p) => [p.offset, p.length])).toEqual([
      [8, 12],
      [0, 7],
    ]);
  });
});

describe('resolveTemplate in a command (shell: true)', () => {
  const hostile: Record<string, unknown> = {
    'p.name': 'x; touch /tmp/pwned',
    'p.sub': '$(touch /tmp/pwned)',
    'p.tick': '`touch /tmp/pwned`',
    'p.file': "it's a file.wav",
    'p.files': ['a b.wav', 'c.wav', ''],
    'p.flags': '--fast --verbose',
    'p.rate': 16000,
    'p.opts': { a: 1 },
  };
  const look: Lookup = (ref) => (ref in hostile ? { ok: true, value: hostile[ref] } : { ok: false, message: `unknown '${ref}'` });
  const cmd = (s: string) => resolveTemplate(s, look, { shell: true });

  it('splices every value as shell-quoted words; plain words stay as they are', () => {
    expect(cmd('run ${p.name}').value).toBe("run 'x; touch /tmp/pwned'");
    expect(cmd('run ${p.sub}').value).toBe("run '$(touch /tmp/pwned)'");
    expect(cmd('run ${p.tick}').value).toBe("run '`touch /tmp/pwned`'");
    expect(cmd('run ${p.file}').value).toBe("run 'it'\\''s a file.wav'");
    expect(cmd('run ${p.files}').value).toBe("run 'a b.wav' c.wav ''");
    expect(cmd('run --rate ${p.rate}').value).toBe('run --rate 16000');
    expect(cmd('${p.rate}').value).toBe('16000'); // text, whatever the template
    expect(cmd('run ${p.opts}').value).toBe('run \'{"a":1}\'');
  });

  it('splices ${raw:…} as shell text, and only in a command', () => {
    expect(cmd('run ${raw:p.flags} ${p.flags}').value).toBe("run --fast --verbose '--fast --verbose'");
    const r = resolveTemplate('x ${raw:p.flags}', look);
    expect(r.problems).toEqual([{ message: '`${raw:p.flags}` is for `cmd:` only (it splices a value into a command unquoted); write `${p.flags}`', offset: 2, length: 14 }]);
  });
});
