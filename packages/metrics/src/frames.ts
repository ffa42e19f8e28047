import { assertFinite, assertNumber, assertVideo, fail } from '@vqvid/core';
import type { Video } from '@vqvid/core';

/**
 * Which pixels a masked metric looks at: nonzero bytes are "in". Either one frame (`width*height`,
 * applied to every frame) or one mask per frame (`frames*width*height`).
 * @example
 * ```ts
 * const centre: PixelMask = new Uint8Array(w * h);
 * centre.fill(1, (h / 2) * w, (h / 2 + 1) * w); // the middle row of every frame
 * ```
 */
export type PixelMask = Uint8Array;

/**
 * Options shared by the pixel-level metrics.
 * @example
 * ```ts
 * const options: PixelMetricOptions = { peak: 1, mask: motionMask(prev, truth) };
 * ```
 */
export interface PixelMetricOptions {
  /** Largest possible pixel value (data range), used by PSNR, SSIM and sharpness. Default 255. */
  peak?: number;
  /** Restrict the metric to these pixels; see {@link PixelMask}. */
  mask?: PixelMask;
}

/** A validated prediction/truth pair with its per-frame mask resolved. */
export interface FramePair {
  pred: Video;
  truth: Video;
  width: number;
  height: number;
  frames: number;
  peak: number;
  /** Mask of frame t, or undefined when unmasked. */
  maskOf: (t: number) => Uint8Array | undefined;
}

/** Validates a pair of same-shaped finite videos and the common options. */
export function framePair(pred: Video, truth: Video, options: PixelMetricOptions = {}): FramePair {
  assertVideo(pred, 'pred');
  assertVideo(truth, 'truth');
  const { width, height, frames } = pred;
  if (truth.width !== width || truth.height !== height || truth.frames !== frames) {
    fail('E_SHAPE', 'truth', `a ${frames}x${height}x${width} video like pred`, `${truth.frames}x${truth.height}x${truth.width}`);
  }
  assertFinite(pred.data, 'pred.data');
  assertFinite(truth.data, 'truth.data');
  const peak = options.peak ?? 255;
  assertNumber(peak, 'peak', Number.MIN_VALUE);
  return { pred, truth, width, height, frames, peak, maskOf: resolveMask(options.mask, width, height, frames) };
}

/** Checks a {@link PixelMask} and returns a per-frame accessor (views, no copies). */
export function resolveMask(
  mask: PixelMask | undefined,
  width: number,
  height: number,
  frames: number,
): (t: number) => Uint8Array | undefined {
  if (mask === undefined) return () => undefined;
  if (!(mask instanceof Uint8Array)) fail('E_DTYPE', 'mask', 'a Uint8Array', mask);
  const n = width * height;
  if (mask.length === n) return () => mask;
  if (mask.length !== n * frames) fail('E_SHAPE', 'mask.length', `${n} (one frame) or ${n * frames} (every frame)`, mask.length);
  return (t) => mask.subarray(t * n, (t + 1) * n);
}

/** The pixels of frame t of a video, as a view. */
export function frameOf(video: Video, t: number): Float32Array {
  const n = video.width * video.height;
  return video.data.subarray(t * n, (t + 1) * n);
}

/** Applies `perFrame` to every frame of the pair; NaN marks a frame whose mask selects no pixel. */
export function mapFrames(pair: FramePair, perFrame: (p: Float32Array, y: Float32Array, mask: Uint8Array | undefined) => number): Float64Array {
  const out = new Float64Array(pair.frames);
  for (let t = 0; t < pair.frames; t++) out[t] = perFrame(frameOf(pair.pred, t), frameOf(pair.truth, t), pair.maskOf(t));
  return out;
}

/**
 * Mean of per-frame values, skipping NaN (frames with an empty mask: no pixel to judge). All NaN → NaN.
 * An Infinity (e.g. the PSNR of an identical frame) makes the mean Infinity.
 */
export function meanOverFrames(values: Float64Array): number {
  let sum = 0;
  let count = 0;
  for (const v of values) {
    if (Number.isNaN(v)) continue;
    sum += v;
    count++;
  }
  return count === 0 ? NaN : sum / count;
}
