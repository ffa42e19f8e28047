import { parseArgs } from 'node:util';

/** One option of a subcommand: how it is parsed, checked and described in `--help`. */
export interface OptionSpec {
  /** 'flag' is a boolean switch; the others take a value. */
  kind: 'flag' | 'string' | 'int' | 'number' | 'choice';
  /** One-letter alias without the dash, e.g. 'o' for `-o`. */
  short?: string;
  /** What `--help` shows; hidden options (test knobs) have none. */
  help?: string;
  /** Placeholder of the value in `--help`, e.g. 'file'. */
  value?: string;
  /** The allowed values of a 'choice' option; any other value is a usage error. */
  choices?: readonly string[];
  /** Value used when the option is not given (shown in `--help` for non-flags); none by default. */
  default?: string | number | boolean;
  /** Smallest value of an 'int' or 'number' option; a smaller one is a usage error. */
  min?: number;
  /** With `min`: the value must be greater than `min`, not equal to it (a time budget of 0 s is none). */
  minExclusive?: boolean;
}

/** The options every subcommand accepts. */
export const COMMON_OPTIONS: Record<string, OptionSpec> = {
  help: { kind: 'flag', short: 'h', help: 'show this help and exit' },
  json: { kind: 'flag', help: 'print the result as JSON on stdout' },
  seed: { kind: 'int', value: 'int', default: 1, help: 'seed of every random choice' },
  quiet: { kind: 'flag', short: 'q', help: 'no progress output' },
  verbose: { kind: 'flag', short: 'v', help: 'more detail, and stack traces on errors' },
};

/**
 * A command-line mistake (unknown option, missing argument, malformed number): exit code 2.
 * @example
 * ```ts
 * throw new UsageError('missing required option --codebook');
 * ```
 */
export class UsageError extends Error {
  /**
   * Creates a usage error; {@link main} prints it as one "vqvid: error: ..." line and exits with code 2.
   * @param message what was wrong, e.g. 'missing required option --codebook'.
   */
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Parsed values of a subcommand's options, with typed getters that know the defaults. */
export class ParsedArgs {
  /**
   * Wraps already converted values; commands receive instances built by the argument parser, not their own.
   * @param positionals the non-option arguments, in order.
   * @param values option values by long name: numbers for 'int'/'number' options, true for given flags,
   *   the spec default (or undefined) for options not given.
   */
  constructor(
    readonly positionals: string[],
    private readonly values: Record<string, string | number | boolean | undefined>,
  ) {}

  /** Whether option `name` has a value, given on the command line or from its default. */
  has(name: string): boolean {
    return this.values[name] !== undefined;
  }
  /** Whether flag `name` was given (false when absent, unless its default is true). */
  flag(name: string): boolean {
    return this.values[name] === true;
  }
  /** Value of option `name` as a string (numbers converted back), or undefined when it has none. */
  str(name: string): string | undefined {
    const v = this.values[name];
    return v === undefined ? undefined : String(v);
  }
  /** Value of a numeric ('int' or 'number') option `name`, or undefined when it has no numeric value. */
  num(name: string): number | undefined {
    const v = this.values[name];
    return typeof v === 'number' ? v : undefined;
  }
  /** A value the command cannot run without; a usage error when absent. */
  required(name: string): string {
    const v = this.str(name);
    if (v === undefined) throw new UsageError(`missing required option --${name}`);
    return v;
  }
}

function convert(name: string, spec: OptionSpec, raw: string): string | number {
  if (spec.kind === 'int' || spec.kind === 'number') {
    const n = raw.trim() === '' ? NaN : Number(raw);
    const ok = spec.kind === 'int' ? Number.isInteger(n) : Number.isFinite(n);
    const what = spec.kind === 'int' ? 'an integer' : 'a number';
    if (!ok) throw new UsageError(`--${name}: expected ${what}, got ${JSON.stringify(raw)}`);
    if (spec.min !== undefined && (spec.minExclusive ? n <= spec.min : n < spec.min)) {
      throw new UsageError(`--${name}: expected ${what} ${spec.minExclusive ? '>' : '>='} ${spec.min}, got ${raw}`);
    }
    return n;
  }
  if (spec.kind === 'choice' && !spec.choices!.includes(raw)) {
    throw new UsageError(`--${name}: expected one of ${spec.choices!.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return raw;
}

/** A value that reads as a negative number, e.g. "-5", "-0.5", "-.5", "-1e3". */
const NEGATIVE_NUMBER = /^-(\d|\.\d)/;

/**
 * `argv` with a numeric option's negative value attached as `--name=-5`: node's parser would otherwise take
 * "-5" for an option and call the argument ambiguous, hiding the real mistake (a value out of range).
 */
function attachNegativeValues(argv: string[], specs: Record<string, OptionSpec>): string[] {
  const numericOption = (token: string): string | undefined => {
    const name = token.startsWith('--') ? token.slice(2) : Object.keys(specs).find((n) => specs[n].short && token === `-${specs[n].short}`);
    const kind = name !== undefined && Object.hasOwn(specs, name) ? specs[name].kind : undefined;
    return kind === 'int' || kind === 'number' ? name : undefined;
  };
  const end = argv.indexOf('--'); // after "--" everything is a positional
  const options = end < 0 ? argv : argv.slice(0, end);
  const out: string[] = [];
  for (let i = 0; i < options.length; i++) {
    const name = numericOption(options[i]);
    if (name !== undefined && NEGATIVE_NUMBER.test(options[i + 1] ?? '')) out.push(`--${name}=${options[++i]}`);
    else out.push(options[i]);
  }
  return end < 0 ? out : [...out, ...argv.slice(end)];
}

/**
 * Parses `argv` against `specs` (strictly: unknown options and malformed numbers are usage errors),
 * fills defaults and checks the positional count.
 */
export function parseCommandArgs(
  argv: string[],
  specs: Record<string, OptionSpec>,
  positionals: { min: number; max: number },
): ParsedArgs {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, spec] of Object.entries(specs)) {
    options[name] = { type: spec.kind === 'flag' ? 'boolean' : 'string', ...(spec.short ? { short: spec.short } : {}) };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: attachNegativeValues(argv, specs), options, strict: true, allowPositionals: true });
  } catch (e) {
    throw new UsageError((e as Error).message.split('. ')[0].replace(/\.$/, ''));
  }
  const values: Record<string, string | number | boolean | undefined> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const raw = parsed.values[name];
    if (typeof raw === 'string') values[name] = convert(name, spec, raw);
    else if (raw === true) values[name] = true;
    else values[name] = spec.default;
  }
  const pos = parsed.positionals;
  if (!values.help) {
    if (pos.length < positionals.min) throw new UsageError(`expected ${positionals.min} argument(s), got ${pos.length}`);
    if (pos.length > positionals.max) throw new UsageError(`unexpected argument ${JSON.stringify(pos[positionals.max])}`);
  }
  return new ParsedArgs(pos, values);
}

function optionLine(name: string, spec: OptionSpec): [string, string] {
  const short = spec.short ? `-${spec.short}, ` : '    ';
  const value = spec.kind === 'flag' ? '' : ` <${spec.value ?? (spec.kind === 'choice' ? spec.choices!.join('|') : spec.kind)}>`;
  const dflt = spec.default !== undefined && spec.kind !== 'flag' ? ` (default ${spec.default})` : '';
  return [`  ${short}--${name}${value}`, `${spec.help}${dflt}`];
}

/** The `--help` text of a subcommand: usage line, description, its options, then the common ones. */
export function formatHelp(usage: string, description: string, specs: Record<string, OptionSpec>): string {
  const section = (title: string, entries: [string, OptionSpec][]) => {
    const lines = entries.filter(([, s]) => s.help).map(([n, s]) => optionLine(n, s));
    const width = Math.max(...lines.map(([l]) => l.length)) + 2;
    return `${title}:\n${lines.map(([l, r]) => l.padEnd(width) + r).join('\n')}`;
  };
  const own = Object.entries(specs).filter(([n]) => !(n in COMMON_OPTIONS));
  const parts = [`Usage: ${usage}`, description];
  if (own.some(([, s]) => s.help)) parts.push(section('Options', own));
  parts.push(section('Common options', Object.entries(COMMON_OPTIONS)));
  return parts.join('\n\n') + '\n';
}
