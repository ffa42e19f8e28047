import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { OptionSpec, ParsedArgs } from '../args';
import type { CommandContext } from '../command';
import type { ReadOptions } from '../pipeline';
import type { RenderChoice } from '../evaluation';
import { assertNumber } from '@vqvid/core';
import { DECODERS, DEFAULT_DECODER } from '@vqvid/quantize';
import type { DecoderName } from '@vqvid/quantize';

/** Options of every command that reads a video. */
export const READ_OPTIONS: Record<string, OptionSpec> = {
  'max-frames': { kind: 'int', value: 'n', help: 'read at most this many frames' },
  width: { kind: 'int', value: 'px', help: 'resize frames to this width (keeps aspect if --height is absent)' },
  height: { kind: 'int', value: 'px', help: 'resize frames to this height' },
};

/** The output path option. */
export const OUTPUT_OPTION = (what: string): Record<string, OptionSpec> => ({
  output: { kind: 'string', short: 'o', value: 'path', help: what },
});

/** Where the codebook of a command comes from. */
export const CODEBOOK_OPTION: Record<string, OptionSpec> = {
  codebook: { kind: 'string', short: 'c', value: 'file', help: 'codebook written by vqvid quantize (required)' },
};

/** Where the model of a command comes from. */
export const MODEL_OPTION: Record<string, OptionSpec> = {
  model: { kind: 'string', short: 'm', value: 'dir', help: 'model folder written by vqvid train (required)' },
};

/** How a model's distributions become pixels: a decoder of @vqvid/quantize and its stand-in alpha. */
export const DECODER_OPTIONS: Record<string, OptionSpec> = {
  decoder: {
    kind: 'choice',
    choices: DECODERS,
    default: DEFAULT_DECODER,
    help: 'centroid: argmax code; skip: keep the last frame where the code stays; mbr: least expected error, sharp; mean: expected patch, blurrier',
  },
  alpha: { kind: 'number', default: 1, value: 'a', help: 'a code that changes stands for last + alpha*(centroid - last), in [0, 1]' },
};

/** The decoder choice of the parsed `--decoder/--alpha`. */
export function renderChoice(args: ParsedArgs): RenderChoice {
  const alpha = args.num('alpha')!;
  assertNumber(alpha, '--alpha', 0, 1);
  return { decoder: args.str('decoder') as DecoderName, alpha };
}

/** {@link ReadOptions} from the parsed `--max-frames/--width/--height`, with read progress. */
export function readOptions(args: ParsedArgs, ctx: CommandContext): ReadOptions {
  const out: ReadOptions = { onProgress: ctx.onProgress };
  const map = { 'max-frames': 'maxFrames', width: 'width', height: 'height' } as const;
  for (const [flag, key] of Object.entries(map)) {
    const v = args.num(flag);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/** Creates the folder an output file goes in. */
export async function ensureParent(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
}

/** Seconds since `t0` (ms), rounded to 0.01 s, for result records. */
export function secondsSince(t0: number): number {
  return Math.round((Date.now() - t0) / 10) / 100;
}

/** "key  value" lines, aligned, for human summaries. */
export function table(rows: Array<[string, string | number]>): string {
  const w = Math.max(...rows.map(([k]) => k.length)) + 2;
  return rows.map(([k, v]) => k.padEnd(w) + String(v)).join('\n');
}
