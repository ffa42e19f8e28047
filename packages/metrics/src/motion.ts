import { assertFinite, assertInt, assertNumber, assertVideo, fail } from '@vqvid/core';
import type { Video } from '@vqvid/core';

/**
 * Options of {@link motionMask}.
 * @example
 * ```ts
 * const options: MotionMaskOptions = { threshold: 8, dilate: 2 };
 * ```
 */
export interface MotionMaskOptions {
  /** A pixel moves when |cur − prev| is strictly greater than this (pixel units). Default 10. */
  threshold?: number;
  /** Grow the mask by this many pixels in every direction (square neighbourhood). Default 1. */
  dilate?: number;
}

/**
 * Options of {@link flowMagnitudeMask}: frame size, needed only to dilate.
 * @example
 * ```ts
 * const options: FlowMaskOptions = { width: 320, height: 240, dilate: 1 };
 * ```
 */
export interface FlowMaskOptions {
  /** Frame width in pixels; required when `dilate` > 0. */
  width?: number;
  /** Frame height in pixels; required when `dilate` > 0. */
  height?: number;
  /** Grow the mask by this many pixels (needs width and height). Default 0. */
  dilate?: number;
}

/** One separable pass of a square max filter along an axis of `count` lines of `len` samples. */
function maxPass(src: Uint8Array, dst: Uint8Array, offset: number, len: number, count: number, step: number, lineStep: number, r: number): void {
  for (let line = 0; line < count; line++) {
    const base = offset + line * lineStep;
    for (let p = 0; p < len; p++) {
      let on = 0;
      const hi = Math.min(len - 1, p + r);
      for (let q = Math.max(0, p - r); q <= hi && on === 0; q++) on = src[base + q * step];
      dst[base + p * step] = on === 0 ? 0 : 1;
    }
  }
}

/**
 * Dilates a 0/1 mask of one or more `width x height` frames by `radius` pixels with a square
 * (Chebyshev) neighbourhood, frame by frame: a pixel is set when any pixel within `radius` rows and
 * columns of it is set. Returns a new Uint8Array of 0/1.
 * @example
 * ```ts
 * const grown = dilateMask(mask, 320, 240, 2);
 * ```
 */
export function dilateMask(mask: Uint8Array, width: number, height: number, radius: number): Uint8Array {
  if (!(mask instanceof Uint8Array)) fail('E_DTYPE', 'mask', 'a Uint8Array', mask);
  assertInt(width, 'width', 1);
  assertInt(height, 'height', 1);
  assertInt(radius, 'radius', 0);
  const n = width * height;
  if (mask.length % n !== 0) fail('E_SHAPE', 'mask.length', `a multiple of ${n} (width*height)`, mask.length);
  const rows = mask.length / width;
  const tmp = new Uint8Array(mask.length);
  const out = new Uint8Array(mask.length);
  maxPass(mask, tmp, 0, width, rows, 1, width, radius);
  for (let frame = 0; frame < mask.length; frame += n) maxPass(tmp, out, frame, height, width, width, 1, radius);
  return out;
}

/**
 * Mask of moving pixels (Uint8Array `frames*height*width`, 1 = moving) from the absolute frame
 * difference of two same-shaped videos: 1 where |cur − prev| > threshold, then dilated by `dilate`
 * pixels so edges of moving objects are included. Pass it as `mask` to {@link mse}, {@link psnr},
 * {@link ssim} or {@link sharpness} to judge a prediction on moving regions only.
 * @example
 * ```ts
 * // frame t of `truth` against frame t-1: what changed
 * const mask = motionMask(sliceVideo(truth, 0, n - 1), sliceVideo(truth, 1, n), { threshold: 10, dilate: 1 });
 * ```
 */
export function motionMask(prev: Video, cur: Video, options: MotionMaskOptions = {}): Uint8Array {
  assertVideo(prev, 'prev');
  assertVideo(cur, 'cur');
  if (prev.width !== cur.width || prev.height !== cur.height || prev.frames !== cur.frames) {
    fail('E_SHAPE', 'cur', `a ${prev.frames}x${prev.height}x${prev.width} video like prev`, `${cur.frames}x${cur.height}x${cur.width}`);
  }
  assertFinite(prev.data, 'prev.data');
  assertFinite(cur.data, 'cur.data');
  const { threshold = 10, dilate = 1 } = options;
  assertNumber(threshold, 'threshold', 0);
  assertInt(dilate, 'dilate', 0);
  const raw = new Uint8Array(cur.data.length);
  for (let i = 0; i < raw.length; i++) raw[i] = Math.abs(cur.data[i] - prev.data[i]) > threshold ? 1 : 0;
  return dilate === 0 ? raw : dilateMask(raw, cur.width, cur.height, dilate);
}

/**
 * Mask of moving pixels from an optical-flow magnitude array (pixels per frame, any length): 1 where
 * `mag > threshold`. With `dilate` (and the frame `width`/`height`), grown as in {@link dilateMask}.
 * @example
 * ```ts
 * const mask = flowMagnitudeMask(flowMag, 0.5, { width: 320, height: 240, dilate: 1 });
 * ```
 */
export function flowMagnitudeMask(mag: ArrayLike<number>, threshold: number, options: FlowMaskOptions = {}): Uint8Array {
  if (mag === null || typeof mag !== 'object' || typeof mag.length !== 'number') fail('E_DTYPE', 'mag', 'an array of numbers', mag);
  assertFinite(mag, 'mag');
  assertNumber(threshold, 'threshold', 0);
  const { dilate = 0 } = options;
  assertInt(dilate, 'dilate', 0);
  const raw = new Uint8Array(mag.length);
  for (let i = 0; i < raw.length; i++) raw[i] = mag[i] > threshold ? 1 : 0;
  if (dilate === 0) return raw;
  if (options.width === undefined || options.height === undefined) {
    fail('E_SHAPE', 'options', 'width and height when dilate > 0', options);
  }
  return dilateMask(raw, options.width, options.height, dilate);
}
