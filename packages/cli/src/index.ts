/**
 * @vqvid/cli — the `vqvid` command, and the same as a function: {@link main} runs a command line and
 * resolves to its exit code, so the CLI can be embedded or tested without spawning a process.
 * @packageDocumentation
 */
export { main, EXIT_INTERRUPTED } from './main';
export type { CliIO } from './main';
export { COMMANDS } from './commands/index';
export type { Command, CommandContext, CommandResult } from './command';
export { UsageError } from './args';
export type { OptionSpec, ParsedArgs } from './args';
export { lineChartSvg } from './plot';
export type { Series } from './plot';
