import { UsageError, formatHelp, parseCommandArgs } from './args';
import type { OptionSpec } from './args';

const specs: Record<string, OptionSpec> = {
  k: { kind: 'int', default: 64, help: 'codes' },
  lr: { kind: 'number', help: 'rate' },
  out: { kind: 'string', short: 'o', help: 'output' },
  mode: { kind: 'choice', choices: ['a', 'b'], default: 'a', help: 'mode' },
  fast: { kind: 'flag', help: 'go' },
  tiny: { kind: 'flag' },
};

describe('parseCommandArgs', () => {
  it('converts numbers, fills defaults and keeps positionals', () => {
    const a = parseCommandArgs(['in.y4m', '--lr', '0.5', '-o', 'x.vqc', '--fast'], specs, { min: 1, max: 1 });
    expect(a.positionals).toEqual(['in.y4m']);
    expect(a.num('k')).toBe(64);
    expect(a.num('lr')).toBe(0.5);
    expect(a.str('out')).toBe('x.vqc');
    expect(a.str('mode')).toBe('a');
    expect(a.flag('fast')).toBe(true);
    expect(a.flag('tiny')).toBe(false);
    expect(a.has('lr')).toBe(true);
  });

  it.each([
    [['--k', 'abc'], /--k: expected an integer, got "abc"/],
    [['--k', '1.5'], /--k: expected an integer/],
    [['--lr', ''], /--lr: expected a number/],
    [['--mode', 'c'], /--mode: expected one of a, b/],
    [['--nope'], /Unknown option '--nope'/],
    [['a', 'b'], /unexpected argument "b"/],
  ])('rejects %j as a usage error', (argv, message) => {
    expect(() => parseCommandArgs(argv, specs, { min: 0, max: 1 })).toThrow(UsageError);
    expect(() => parseCommandArgs(argv, specs, { min: 0, max: 1 })).toThrow(message);
  });

  it('requires the positional count and required options', () => {
    expect(() => parseCommandArgs([], specs, { min: 1, max: 1 })).toThrow('expected 1 argument(s), got 0');
    expect(() => parseCommandArgs([], specs, { min: 0, max: 0 }).required('out')).toThrow('missing required option --out');
  });
});

describe('formatHelp', () => {
  it('lists visible options with their defaults and hides the undocumented ones', () => {
    const text = formatHelp('vqvid x <in>', 'Does x.', specs);
    expect(text).toMatch(/^Usage: vqvid x <in>\n\nDoes x\.\n\nOptions:\n/);
    expect(text).toMatch(/--k <int> +codes \(default 64\)/);
    expect(text).toMatch(/-o, --out <string> +output/);
    expect(text).toMatch(/--mode <a\|b> +mode \(default a\)/);
    expect(text).toMatch(/Common options:[\s\S]*--json/);
    expect(text).not.toMatch(/--tiny/);
  });
});
