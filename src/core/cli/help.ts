/** `conno --help` and `conno COMMAND --help`, generated from the command table. */
import { COMMANDS, type CommandSpec, type OptionSpec } from './table.js';

const TARGETS = `TARGET: a stage name (all its instances), an instance id such as
'train@noise=0.2,seed=1', or part of one such as 'train@seed=1'.`;
const EXIT = 'Exit codes: 0 success, 1 a stage failed or verify found a mismatch, 2 usage or pipeline error.';

function optionLine(o: OptionSpec): string {
  const flag = `${o.short ? `-${o.short}, ` : ''}--${o.name}${o.arg ? ` ${o.arg}` : ''}`;
  return `      ${flag.padEnd(24)}${o.help}`;
}

function usage(c: CommandSpec): string {
  return `${c.name}${c.args ? ` ${c.args}` : ''}`;
}

export function mainHelp(): string {
  const lines = [
    'conno: reproducible, content-addressed pipelines for audio ML research',
    '',
    'usage: conno [-C DIR] COMMAND [options] [TARGET…]',
    '       conno COMMAND --help      the options of one command',
    '',
    'commands:',
  ];
  for (const c of COMMANDS) {
    lines.push(`  ${usage(c).padEnd(22)}${c.summary}`);
    for (const o of c.options) lines.push(optionLine(o));
  }
  lines.push('', 'global options: -C DIR (the project folder), -h/--help, -V/--version', '', TARGETS, '', EXIT, '');
  return lines.join('\n');
}

export function commandHelp(c: CommandSpec): string {
  const lines = [`usage: conno [-C DIR] ${usage(c)}${c.options.length ? ' [options]' : ''}`, '', c.summary];
  if (c.options.length) lines.push('', 'options:', ...c.options.map(optionLine));
  if (c.args.includes('TARGET')) lines.push('', TARGETS);
  lines.push('', EXIT, '');
  return lines.join('\n');
}
