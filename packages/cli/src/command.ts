import type { OnProgress } from '@vqvid/core';
import type { OptionSpec, ParsedArgs } from './args';

/** What a running subcommand gets: its arguments, the common switches and where to report. */
export interface CommandContext {
  /** The command's positionals and option values (common options included), defaults filled in. */
  args: ParsedArgs;
  /** Value of `--seed` (default 1), for every random choice of the command. */
  seed: number;
  /** True with `--json`: the result's `data` is printed as JSON instead of its `text`. */
  json: boolean;
  /** True with `--quiet`: no progress and no log lines. */
  quiet: boolean;
  /** True with `--verbose`: debug lines, and stack traces on errors. */
  verbose: boolean;
  /** Progress of long steps (bars on a TTY, plain lines otherwise, nothing with --quiet). */
  onProgress: OnProgress;
  /** Aborted on Ctrl-C in commands marked `interruptible`; training then saves a checkpoint and stops. */
  signal: AbortSignal;
  /** An informational line on stderr (suppressed by --quiet). */
  log(message: string): void;
  /** A detail line on stderr shown only with --verbose. */
  debug(message: string): void;
  /** Registers the release of a resource (backend workers, tensors) for when the command ends, however it ends. */
  cleanup(release: () => void): void;
}

/** What a subcommand produces: machine-readable data (printed with --json) and the human summary. */
export interface CommandResult {
  /** JSON-serialisable result, printed on stdout with `--json`. */
  data: Record<string, unknown>;
  /** Human-readable summary, printed on stdout without `--json` (nothing when empty). */
  text: string;
}

/** A `vqvid` subcommand. */
export interface Command {
  /** The subcommand word on the command line, e.g. 'encode'. */
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The usage line after "Usage: ", e.g. "vqvid encode <video> --codebook <file> -o <file>". */
  usage: string;
  /** The paragraph `--help` shows under the usage line. */
  description: string;
  /** The command's own options by long name (the common options are added by {@link main}). */
  options: Record<string, OptionSpec>;
  /** How many positional arguments the command takes; outside the range is a usage error. */
  positionals: {
    /** Fewest positional arguments accepted. */
    min: number;
    /** Most positional arguments accepted. */
    max: number;
  };
  /**
   * Names the libraries give option values in their errors, mapped to the flag the user typed, where the
   * flag's name in camelCase is not the name (e.g. `{ sample: '--samples' }`): "sample: expected ..." becomes
   * "--samples: expected ...". Options whose camelCase name is the library's (`--max-iter`, maxIter) need no entry.
   */
  libraryArguments?: Record<string, string>;
  /** Ctrl-C aborts `ctx.signal` instead of ending the process (the command saves its work first). */
  interruptible?: boolean;
  /** Runs the command with parsed arguments; a thrown error becomes exit code 1 (2 for a {@link UsageError}). */
  run(ctx: CommandContext): Promise<CommandResult>;
}
