import { assertNumber, fail } from '@vqvid/core';
import type { Video } from '@vqvid/core';
import { framePair, mapFrames, meanOverFrames } from './frames';
import type { PixelMetricOptions } from './frames';

/** Mean squared difference over the (masked) pixels of one frame; NaN when the mask is empty. */
function frameMse(p: Float32Array, y: Float32Array, mask: Uint8Array | undefined): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < p.length; i++) {
    if (mask !== undefined && mask[i] === 0) continue;
    const d = p[i] - y[i];
    sum += d * d;
    count++;
  }
  return count === 0 ? NaN : sum / count;
}

/**
 * Mean squared error of each frame, in squared pixel units (Float64Array of length `frames`).
 * With `mask`, only masked pixels count; a frame whose mask is empty gives NaN (no moving pixel to judge).
 * @example
 * ```ts
 * const perFrame = msePerFrame(pred, truth); // Float64Array(pred.frames)
 * ```
 */
export function msePerFrame(pred: Video, truth: Video, options: PixelMetricOptions = {}): Float64Array {
  return mapFrames(framePair(pred, truth, options), frameMse);
}

/**
 * Mean squared error of two same-shaped gray videos: the mean over frames of each frame's MSE
 * (squared pixel units). With `mask`, frames whose mask is empty are skipped; NaN if every one is.
 * @example
 * ```ts
 * mse(pred, truth);                 // e.g. 143.85
 * mse(pred, truth, { mask });       // only where `mask` is nonzero
 * ```
 */
export function mse(pred: Video, truth: Video, options: PixelMetricOptions = {}): number {
  return meanOverFrames(msePerFrame(pred, truth, options));
}

/**
 * PSNR in dB of a given mean squared error: `10 log10(peak² / mse)`. `mse = 0` gives Infinity,
 * NaN (an empty mask) stays NaN. Use it to get the PSNR of an MSE pooled your own way, e.g. over a whole clip.
 * @example
 * ```ts
 * psnrFromMse(mse(pred, truth));     // PSNR of the frame-averaged MSE, finite unless every frame is exact
 * psnrFromMse(0.01, 1);              // 20 dB for values in [0, 1]
 * ```
 */
export function psnrFromMse(meanSquaredError: number, peak = 255): number {
  if (typeof meanSquaredError !== 'number' || meanSquaredError < 0 || meanSquaredError === Infinity) {
    fail('E_RANGE', 'meanSquaredError', 'a finite number >= 0 (or NaN)', meanSquaredError);
  }
  assertNumber(peak, 'peak', Number.MIN_VALUE);
  return 10 * Math.log10((peak * peak) / meanSquaredError);
}

/**
 * Peak signal-to-noise ratio of each frame in dB (Float64Array of length `frames`); Infinity for an
 * identical frame, NaN for a frame whose mask is empty. `peak` defaults to 255.
 * @example
 * ```ts
 * psnrPerFrame(pred, truth, { peak: 1 });
 * ```
 */
export function psnrPerFrame(pred: Video, truth: Video, options: PixelMetricOptions = {}): Float64Array {
  const pair = framePair(pred, truth, options);
  return mapFrames(pair, (p, y, mask) => psnrFromMse(frameMse(p, y, mask), pair.peak));
}

/**
 * Peak signal-to-noise ratio in dB, the mean over frames of each frame's PSNR (the usual video-prediction
 * convention). Matches `skimage.metrics.peak_signal_noise_ratio(truth, pred, data_range=peak)` per frame.
 * If any frame is identical its PSNR is Infinity and so is the mean; use {@link psnrFromMse} of
 * {@link mse} for a finite clip-level figure. With `mask`, frames with an empty mask are skipped
 * (NaN if all are).
 * @example
 * ```ts
 * psnr(pred, truth);                  // e.g. 26.55
 * psnr(truth, truth);                 // Infinity
 * ```
 */
export function psnr(pred: Video, truth: Video, options: PixelMetricOptions = {}): number {
  return meanOverFrames(psnrPerFrame(pred, truth, options));
}
