import { VqvidError } from '@vqvid/core';
import { COMMON_OPTIONS, UsageError, formatHelp, parseCommandArgs } from './args';
import type { Command, CommandContext } from './command';
import { COMMANDS } from './commands/index';
import { ProgressReporter } from './progress';
import type { ProgressMode } from './progress';

/** Where `main` reads and writes: process streams in the binary, buffers in embedders. */
export interface CliIO {
  /** Where results go: command output, `--json` data and asked-for help. */
  stdout: {
    /** Writes `text` as is (callers include the newlines). */
    write(text: string): void;
  };
  /** Where diagnostics go: progress, log lines, warnings and errors. */
  stderr: {
    /** Writes `text` as is (callers include the newlines). */
    write(text: string): void;
    /** True for a terminal: progress is then drawn as redrawn bars instead of plain lines. */
    isTTY: boolean;
    /** Terminal width in characters, used to size progress bars (default 80). */
    columns?: number;
  };
  /**
   * Called before an interruptible command (train) runs: from then on Ctrl-C aborts the returned signal
   * instead of ending the process. Without it such commands cannot be interrupted cleanly.
   */
  catchInterrupt?: () => AbortSignal;
}

/**
 * Exit code of a run cut short by Ctrl-C (128 + SIGINT), as shells report it.
 * @example
 * ```ts
 * if ((await main(argv, io)) === EXIT_INTERRUPTED) console.error('stopped; rerun with --resume');
 * ```
 */
export const EXIT_INTERRUPTED = 130;

function globalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 4;
  return [
    'Usage: vqvid <command> [options]',
    'Video language modelling: patches -> k-means codes -> recurrent conv net.',
    'Commands:\n' + COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join('\n'),
    "Run 'vqvid <command> --help' for the options of a command; 'vqvid demo' runs everything on a built-in clip.",
  ].join('\n\n') + '\n';
}

function progressMode(quiet: boolean, isTTY: boolean): ProgressMode {
  if (quiet) return 'off';
  return isTTY ? 'bar' : 'lines';
}

function errorExit(io: CliIO, e: unknown, verbose: boolean, command?: Command): number {
  const err = e instanceof Error ? e : new Error(String(e));
  const aborted = err instanceof VqvidError && err.code === 'E_ABORTED';
  const hint = err instanceof UsageError ? ` (see 'vqvid ${command ? command.name + ' ' : ''}--help')` : '';
  // One line even when a tool (ffmpeg) put several into the message.
  const message = err.message.split('\n').map((l) => l.trim()).filter(Boolean).join(' | ');
  io.stderr.write(`vqvid: ${aborted ? 'interrupted' : 'error'}: ${message}${hint}\n`);
  if (verbose && err.stack && !(err instanceof UsageError)) io.stderr.write(err.stack + '\n');
  if (aborted) return EXIT_INTERRUPTED;
  return err instanceof UsageError ? 2 : 1;
}

const camelCase = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * `e` with the library's name of an option value ("embedDim: expected ...") replaced by the flag the user
 * typed ("--embed: expected ..."): from the command's table, else the option whose camelCase name it is.
 */
function withFlagNames(e: unknown, command: Command): unknown {
  if (!(e instanceof VqvidError)) return e;
  const name = /^([A-Za-z]\w*): /.exec(e.message)?.[1];
  if (name === undefined) return e;
  const table = command.libraryArguments ?? {};
  const options = { ...command.options, ...COMMON_OPTIONS };
  const option = Object.keys(options).find((o) => camelCase(o) === name);
  const flag = Object.hasOwn(table, name) ? table[name] : option === undefined ? undefined : `--${option}`;
  if (flag === undefined) return e;
  const renamed = new VqvidError(e.code, flag + e.message.slice(name.length), { ...e.details, argument: flag });
  renamed.stack = e.stack;
  return renamed;
}

async function runCommand(command: Command, argv: string[], io: CliIO): Promise<number> {
  const verboseGuess = argv.includes('--verbose') || argv.includes('-v');
  let ctx: CommandContext | undefined;
  let reporter: ProgressReporter | undefined;
  const releases: Array<() => void> = [];
  try {
    const args = parseCommandArgs(argv, { ...command.options, ...COMMON_OPTIONS }, command.positionals);
    if (args.flag('help')) {
      io.stdout.write(formatHelp(command.usage, command.description, { ...command.options, ...COMMON_OPTIONS }));
      return 0;
    }
    const quiet = args.flag('quiet');
    const verbose = args.flag('verbose');
    reporter = new ProgressReporter(io.stderr, progressMode(quiet, io.stderr.isTTY));
    const r = reporter;
    const say = (m: string) => {
      r.finishLine();
      io.stderr.write(m + '\n');
    };
    ctx = {
      args,
      seed: args.num('seed')!,
      json: args.flag('json'),
      quiet,
      verbose,
      onProgress: r.onProgress,
      signal: (command.interruptible && io.catchInterrupt?.()) || new AbortController().signal,
      log: (m) => (quiet ? undefined : say(m)),
      debug: (m) => (verbose ? say(m) : undefined),
      cleanup: (release) => void releases.push(release),
    };
    const result = await command.run(ctx);
    reporter.finishLine();
    if (ctx.json) io.stdout.write(JSON.stringify(result.data, null, 2) + '\n');
    else if (result.text) io.stdout.write(result.text.replace(/\n?$/, '\n'));
    return 0;
  } catch (e) {
    reporter?.finishLine();
    return errorExit(io, withFlagNames(e, command), ctx?.verbose ?? verboseGuess, command);
  } finally {
    // Quantizer backends hold worker threads that would keep the process (or an embedder) busy.
    for (const release of releases.reverse()) {
      try {
        release();
      } catch (e) {
        io.stderr.write(`vqvid: warning: cleanup failed: ${(e as Error).message}\n`);
      }
    }
  }
}

/**
 * Runs the `vqvid` command line `argv` (without "node" and the script) and resolves to the exit code:
 * 0 success, 1 failure (one line "vqvid: error: ..." on stderr), 2 usage error, 130 interrupted.
 * @example
 * ```ts
 * const io = { stdout: process.stdout, stderr: process.stderr };
 * const code = await main(['quantize', 'clip.y4m', '--k', '64', '-o', 'clip.vqcb'], io);
 * ```
 */
export async function main(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  // Asked-for help goes to stdout; help shown because no command was given is a usage error.
  if (name === undefined) {
    io.stderr.write(globalHelp());
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(globalHelp());
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) return errorExit(io, new UsageError(`unknown command ${JSON.stringify(name)}`), false);
  return runCommand(command, rest, io);
}
