import { VqvidError, assertInt } from '@vqvid/core';
import type { CodeGeometry, CodeVolume } from '@vqvid/core';
import type { OptionSpec, ParsedArgs } from './args';

/** Default of `--max-memory`, in MB: what a command may plan to hold before it refuses to start. */
export const DEFAULT_MAX_MEMORY_MB = 2048;

/**
 * A resize that makes frames of more pixels than the source's is refused, unless `--allow-upscale` is given,
 * when they have more than `factor` times the source's pixels or more than `pixels` pixels.
 */
export const UPSCALE_LIMIT = { factor: 4, pixels: 4096 * 4096 } as const;

/** `--max-memory`: the estimate every command that reads a video or decodes codes checks before it allocates. */
export const MAX_MEMORY_OPTION: Record<string, OptionSpec> = {
  'max-memory': {
    kind: 'int',
    default: DEFAULT_MAX_MEMORY_MB,
    value: 'MB',
    help: 'refuse, before starting, work estimated to need more memory than this',
  },
};

/** `--allow-upscale`: lets `--width/--height` enlarge frames beyond {@link UPSCALE_LIMIT}. */
export const UPSCALE_OPTION: Record<string, OptionSpec> = {
  'allow-upscale': {
    kind: 'flag',
    help: `let --width/--height make frames of more than ${UPSCALE_LIMIT.factor}x the source's pixels or more than 4096x4096`,
  },
};

/** The memory options of a command that reads videos. */
export const MEMORY_OPTIONS: Record<string, OptionSpec> = { ...MAX_MEMORY_OPTION, ...UPSCALE_OPTION };

/** The parsed memory options: the budget in bytes, and whether an upscale beyond the limit was asked for. */
export interface MemoryOptions {
  /** Bytes a command may plan to hold (`--max-memory` MB). */
  maxMemory: number;
  /** `--allow-upscale` given. */
  allowUpscale: boolean;
}

/** {@link MemoryOptions} of parsed arguments; E_RANGE naming `--max-memory` for a budget below 1 MB. */
export function memoryOptions(args: ParsedArgs): MemoryOptions {
  const mb = args.num('max-memory') ?? DEFAULT_MAX_MEMORY_MB;
  assertInt(mb, '--max-memory', 1);
  return { maxMemory: mb * MB, allowUpscale: args.flag('allow-upscale') };
}

const MB = 2 ** 20;
const FLOAT = 4;

function inMB(bytes: number): string {
  return bytes < 10 * MB ? `${(bytes / MB).toFixed(2)} MB` : `${Math.ceil(bytes / MB)} MB`;
}

/**
 * Refuses, with an E_RANGE naming `--max-memory`, work whose estimate `bytes` is above the budget; `what`
 * says what needs it (e.g. "holding 795 frames of 768x576"), `remedy` how to need less.
 */
export function checkMemory(bytes: number, maxMemory: number | undefined, what: string, remedy = 'read fewer frames (--max-frames) or smaller ones (--width/--height)'): void {
  if (maxMemory === undefined || !(bytes > maxMemory)) return;
  throw new VqvidError('E_RANGE', `--max-memory: ${what} needs about ${inMB(bytes)}, more than the ${inMB(maxMemory)} allowed; raise --max-memory or ${remedy}`, {
    argument: '--max-memory',
    expected: `at least ${inMB(bytes)}`,
    received: inMB(maxMemory),
  });
}

/** A frame size in pixels. */
export interface FrameSize {
  width: number;
  height: number;
}

/**
 * The size frames come out at for a source of `from` pixels with `--width`/`--height` `to`: as readVideo of
 * @vqvid/video resizes (one side given keeps the aspect ratio, rounded, at least 1).
 */
export function resizedSize(from: FrameSize, to: { width?: number; height?: number }): FrameSize {
  if (to.width === undefined && to.height === undefined) return { ...from };
  return {
    width: to.width ?? Math.max(1, Math.round((from.width * to.height!) / from.height)),
    height: to.height ?? Math.max(1, Math.round((from.height * to.width!) / from.width)),
  };
}

/**
 * Refuses (E_RANGE naming `--width/--height`) a resize from `from` to `to` that enlarges frames beyond
 * {@link UPSCALE_LIMIT}, unless `allow`.
 */
export function checkUpscale(from: FrameSize, to: FrameSize, allow: boolean): void {
  const source = from.width * from.height;
  const target = to.width * to.height;
  if (allow || target <= source || (target <= UPSCALE_LIMIT.factor * source && target <= UPSCALE_LIMIT.pixels)) return;
  throw new VqvidError(
    'E_RANGE',
    `--width/--height: ${to.width}x${to.height} enlarges the ${from.width}x${from.height} frames ${(target / source).toFixed(1)} times; ` +
      `more than ${UPSCALE_LIMIT.factor}x the source's pixels or more than 4096x4096 needs --allow-upscale`,
    { argument: '--width/--height', expected: `at most ${UPSCALE_LIMIT.factor}x ${from.width}x${from.height} and 4096x4096 pixels`, received: `${to.width}x${to.height}` },
  );
}

/** Bytes of `frames` gray frames as the libraries hold them (float32 per pixel). */
export function framesBytes(size: FrameSize, frames: number): number {
  return frames * size.width * size.height * FLOAT;
}

/**
 * Bytes to encode `frames` frames at once: the frames, their scaled copy and their patch grid (patch² values per
 * cell, (patch / stride)² times the pixels).
 */
export function encodeBytes(size: FrameSize, frames: number, patch: number, stride: number): number {
  return framesBytes(size, frames) * (2 + (patch / stride) ** 2);
}

/**
 * Bytes to render `frames` frames from codes with geometry `g` on a `rows` x `cols` grid and K = `k`: per frame
 * a distribution over the K codes per cell, two patch grids (the chosen patches and the reference's) and three
 * frame-sized arrays (overlap sums, pixels, the scaled result).
 */
export function decodeBytes(g: CodeGeometry, rows: number, cols: number, k: number, frames: number): number {
  const cells = rows * cols;
  return frames * FLOAT * (cells * (k + 2 * g.patch * g.patch) + 3 * g.width * g.height);
}

/** The sizes of a network that set its memory per predicted frame. */
export interface NetworkSize {
  k: number;
  embedDim: number;
  hidden: number;
  layers: number;
}

/**
 * Bytes a network holds to predict one frame of `cells` cells: per cell its embedding, its hidden state in every
 * layer and its K logits, twice (inputs and outputs of a step live together).
 */
export function networkBytes(cells: number, net: NetworkSize): number {
  return 2 * FLOAT * cells * (net.embedDim + net.hidden * net.layers + net.k);
}

/**
 * Refuses (E_RANGE naming --max-memory) to render `frames` frames on the grid of `codes` when the network's step
 * and the decoded frames would need more than `maxMemory`: a codes file can state frames far larger than its
 * codes, so this runs before anything is decoded. Codes without geometry are left to the codec to refuse.
 */
export function checkRenderMemory(codes: CodeVolume, frames: number, net: NetworkSize, maxMemory: number | undefined, remedy: string): void {
  const g = codes.geometry;
  if (!g) return;
  const { rows, cols, k } = codes;
  const bytes = decodeBytes(g, rows, cols, k, frames) + networkBytes(rows * cols, net);
  checkMemory(bytes, maxMemory, `rendering ${frames} frames of ${g.width}x${g.height} (${rows} x ${cols} cells, K = ${k})`, remedy);
}
