import type { Command } from '../command';
import { benchCommand } from './bench';
import { encodeCommand } from './encode';
import { quantizeCommand } from './quantize';

/** Every subcommand, in the order `vqvid --help` lists them. */
export const COMMANDS: Command[] = [quantizeCommand, encodeCommand, benchCommand];
