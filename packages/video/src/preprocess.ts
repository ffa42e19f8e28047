import { assertFinite, assertInt, assertNumber, assertVideo, fail } from '@vqvid/core';
import type { Video } from '@vqvid/core';

/**
 * ITU-R BT.601 luma weights for R, G, B, as used by {@link rgbToGray}.
 * @example
 * ```ts
 * const y = BT601[0] * r + BT601[1] * g + BT601[2] * b;
 * ```
 */
export const BT601 = [0.299, 0.587, 0.114] as const;

/**
 * Converts interleaved RGB or RGBA pixels (any number of frames) to a gray Video with ITU-R BT.601
 * luma, Y = 0.299 R + 0.587 G + 0.114 B; alpha is ignored. Values keep their scale (0..255 in, 0..255 out).
 * @param rgb frames*height*width*channels values, frame-major, row-major, channels interleaved.
 * @example
 * ```ts
 * const gray = rgbToGray(new Uint8Array([255, 0, 0]), 1, 1); // gray.data[0] ≈ 76.245
 * ```
 */
export function rgbToGray(rgb: Uint8Array | Float32Array, width: number, height: number, channels: 3 | 4 = 3): Video {
  if (!(rgb instanceof Uint8Array || rgb instanceof Float32Array)) fail('E_DTYPE', 'rgb', 'a Uint8Array or Float32Array', rgb);
  assertInt(width, 'width', 1);
  assertInt(height, 'height', 1);
  if (channels !== 3 && channels !== 4) fail('E_RANGE', 'channels', '3 or 4', channels);
  const per = width * height * channels;
  if (rgb.length === 0 || rgb.length % per !== 0) fail('E_SHAPE', 'rgb.length', `a positive multiple of width*height*channels = ${per}`, rgb.length);
  const n = rgb.length / channels;
  const data = new Float32Array(n);
  for (let i = 0, j = 0; i < n; i++, j += channels) {
    data[i] = BT601[0] * rgb[j] + BT601[1] * rgb[j + 1] + BT601[2] * rgb[j + 2];
  }
  return { width, height, frames: n / (width * height), data };
}

/** A normalized video and the factor that undoes it. */
export interface Normalized {
  /** The input divided by `std`. */
  video: Video;
  /** Population standard deviation of the input's pixels. */
  std: number;
}

/**
 * Divides a video by the standard deviation of all its pixels (population std, no mean removal), as the
 * paper preprocesses; returns the scaled copy and the std to undo it. Constant video → E_RANGE.
 * @example
 * ```ts
 * const { video: z, std } = normalize(video);
 * const back = denormalize(z, std);
 * ```
 */
export function normalize(video: Video): Normalized {
  assertVideo(video, 'video');
  assertFinite(video.data, 'video.data');
  const d = video.data;
  let mean = 0;
  for (let i = 0; i < d.length; i++) mean += d[i];
  mean /= d.length;
  let ss = 0;
  for (let i = 0; i < d.length; i++) ss += (d[i] - mean) ** 2;
  const std = Math.sqrt(ss / d.length);
  if (!(std > 0)) fail('E_RANGE', 'video', 'pixels that are not all equal (standard deviation > 0)', std);
  return { video: scaled(video, 1 / std), std };
}

/**
 * Undoes {@link normalize}: multiplies every pixel by `std`.
 * @example
 * ```ts
 * const pixels = denormalize(prediction, std); // back to 0..255
 * ```
 */
export function denormalize(video: Video, std: number): Video {
  assertVideo(video, 'video');
  assertNumber(std, 'std', Number.MIN_VALUE);
  return scaled(video, std);
}

function scaled(video: Video, k: number): Video {
  const data = new Float32Array(video.data.length);
  for (let i = 0; i < data.length; i++) data[i] = video.data[i] * k;
  const out: Video = { width: video.width, height: video.height, frames: video.frames, data };
  if (video.fps !== undefined) out.fps = video.fps;
  return out;
}
