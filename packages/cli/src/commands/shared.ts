import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { OptionSpec, ParsedArgs } from '../args';
import type { CommandContext } from '../command';
import type { ReadOptions } from '../pipeline';
import { ioReason } from '../files';
import type { ContextDecoderFit, RenderChoice } from '../evaluation';
import { UsageError } from '../args';
import { VqvidError, assertInt, assertNumber } from '@vqvid/core';
import { DECODERS, DEFAULT_DECODER } from '@vqvid/quantize';
import type { DecoderName } from '@vqvid/quantize';

/** Options of every command that reads a video. */
export const READ_OPTIONS: Record<string, OptionSpec> = {
  'max-frames': { kind: 'int', value: 'n', help: 'read at most this many frames' },
  width: { kind: 'int', value: 'px', help: 'resize frames to this width (keeps aspect if --height is absent)' },
  height: { kind: 'int', value: 'px', help: 'resize frames to this height' },
  strict: { kind: 'flag', help: 'fail on a truncated or damaged video instead of warning' },
};

/** Lets an output replace an existing file of another kind (a video where a codebook goes, ...). */
export const FORCE_OPTION: Record<string, OptionSpec> = {
  force: { kind: 'flag', help: 'overwrite an existing output file of another kind (a video where a codebook goes, ...)' },
};

/** The output path option, and --force to overwrite a file of another kind there. */
export const OUTPUT_OPTION = (what: string): Record<string, OptionSpec> => ({
  output: { kind: 'string', short: 'o', value: 'path', help: what },
  ...FORCE_OPTION,
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
  search: { kind: 'number', default: 0, min: 0, value: 'px', help: 'motion search: a code that changes is drawn as the nearby moved patch (up to px pixels) nearest its centroid; 0 = off, at most 16' },
};

/**
 * {@link DECODER_OPTIONS} with `--decoder auto` (the default): the decoder and alpha fitted on the input's own
 * frames (`what` says which), and `--alpha` without a default, so that a given alpha (refused with auto) can be
 * told from none.
 */
export function autoDecoderOptions(what: string): Record<string, OptionSpec> {
  return {
    ...DECODER_OPTIONS,
    decoder: {
      ...DECODER_OPTIONS.decoder,
      choices: ['auto', ...DECODERS],
      default: 'auto',
      help: `auto: the decoder and alpha with the least squared error on ${what} (needs a video input; with codes: ${DEFAULT_DECODER}, alpha 1); ` + DECODER_OPTIONS.decoder.help,
    },
    alpha: { ...DECODER_OPTIONS.alpha, default: undefined, help: `${DECODER_OPTIONS.alpha.help} (default 1; fitted with --decoder auto)` },
  };
}

/** The decoder choice of the parsed `--decoder/--alpha`. */
export function renderChoice(args: ParsedArgs): RenderChoice {
  const alpha = args.num('alpha') ?? 1; // predict's --alpha has no default (--decoder auto fits it)
  assertNumber(alpha, '--alpha', 0, 1);
  const search = args.num('search')!;
  assertInt(search, '--search', 0, 16);
  return { decoder: args.str('decoder') as DecoderName, alpha, ...(search > 0 ? { search } : {}) };
}

/** How `--decoder auto` chose (in a command's JSON as `decoderFit`): why, on which frames, each decoder's error. */
export interface DecoderFitReport {
  chosenOn: string;
  frames: number[];
  scores: Record<string, { alpha: number; mse: number }>;
}

/**
 * The decoder of the parsed `--decoder/--alpha/--search` ({@link renderChoice}); with `--decoder auto` (where a
 * given `--alpha` is a usage error) the one `fit(search)` returns, or {@link DEFAULT_DECODER} at alpha 1 when it
 * returns null, with the report `chosenOn(fit)` describes.
 */
export function resolveDecoder(
  args: ParsedArgs,
  fit: (search: number | undefined) => ContextDecoderFit | null,
  chosenOn: (fitted: ContextDecoderFit | null) => string,
): { render: RenderChoice; decoderFit?: DecoderFitReport } {
  const render = renderChoice(args);
  if (args.str('decoder') !== 'auto') return { render };
  if (args.has('alpha')) throw new UsageError('--alpha: give it with an explicit --decoder (--decoder auto fits the alpha)');
  const fitted = fit(render.search);
  const search = render.search ? { search: render.search } : {};
  return {
    render: fitted ? { decoder: fitted.decoder, alpha: fitted.alpha, ...search } : { decoder: DEFAULT_DECODER, alpha: 1, ...search },
    decoderFit: { chosenOn: chosenOn(fitted), frames: fitted?.frames ?? [], scores: fitted?.scores ?? {} },
  };
}

/** {@link ReadOptions} from the parsed `--max-frames/--width/--height/--strict`, with read progress and warnings. */
export function readOptions(args: ParsedArgs, ctx: CommandContext): ReadOptions {
  const warned = new Set<string>();
  const onWarning = (m: string) => {
    if (warned.has(m)) return; // a video read in several passes (std, then encode) warns once
    warned.add(m);
    ctx.log(`vqvid: warning: ${m}`);
  };
  const out: ReadOptions = { onProgress: ctx.onProgress, strict: args.flag('strict'), onWarning };
  const map = { 'max-frames': 'maxFrames', width: 'width', height: 'height' } as const;
  for (const [flag, key] of Object.entries(map)) {
    const v = args.num(flag);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/** Creates folder `dir` (and its parents) for the output of option `flag`; E_IO naming both when it cannot. */
export async function ensureFolder(dir: string, flag: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw new VqvidError('E_IO', `${flag}: cannot create folder ${dir} (${ioReason(e)})`, { argument: flag, path: dir });
  }
}

/** Creates the folder an output file of option `flag` goes in. */
export async function ensureParent(path: string, flag = '--output'): Promise<void> {
  await ensureFolder(dirname(path), flag);
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
