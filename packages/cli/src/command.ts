import type { OnProgress } from '@vqvid/core';
import type { OptionSpec, ParsedArgs } from './args';

/** What a running subcommand gets: its arguments, the common switches and where to report. */
export interface CommandContext {
  args: ParsedArgs;
  seed: number;
  json: boolean;
  quiet: boolean;
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
  data: Record<string, unknown>;
  text: string;
}

/** A `vqvid` subcommand. */
export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The usage line after "Usage: ", e.g. "vqvid encode <video> --codebook <file> -o <file>". */
  usage: string;
  description: string;
  options: Record<string, OptionSpec>;
  positionals: { min: number; max: number };
  /** Ctrl-C aborts `ctx.signal` instead of ending the process (the command saves its work first). */
  interruptible?: boolean;
  run(ctx: CommandContext): Promise<CommandResult>;
}
