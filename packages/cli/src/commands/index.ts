import type { Command } from '../command';
import { compressCommand, decompressCommand } from './compress';
import { demoCommand } from './demo';
import { encodeCommand } from './encode';
import { evalCommand } from './eval';
import { fillCommand } from './fill';
import { generateCommand, predictCommand } from './predict';
import { quantizeCommand } from './quantize';
import { trainCommand } from './train';

/**
 * Every subcommand, in the order `vqvid --help` lists them.
 * @example
 * ```ts
 * console.log(COMMANDS.map((c) => `${c.name}: ${c.summary}`).join('\n'));
 * ```
 */
export const COMMANDS: Command[] = [
  demoCommand,
  quantizeCommand,
  encodeCommand,
  trainCommand,
  predictCommand,
  fillCommand,
  generateCommand,
  evalCommand,
  compressCommand,
  decompressCommand,
];
