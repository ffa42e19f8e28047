import { assertFinite, assertVideo, fail } from '@vqvid/core';
import type { Video } from '@vqvid/core';
import { framePair, frameOf, mapFrames, meanOverFrames, resolveMask } from './frames';
import type { PixelMetricOptions } from './frames';

/**
 * Mean of `valueAt(i)` over the (masked) pixels that have an upper and a left neighbour (y >= 1, x >= 1),
 * the only ones where the backward differences of Mathieu et al. are defined. NaN when none is selected.
 */
function interiorMean(width: number, height: number, mask: Uint8Array | undefined, valueAt: (i: number) => number): number {
  let sum = 0;
  let count = 0;
  for (let y = 1; y < height; y++) {
    for (let x = 1; x < width; x++) {
      const i = y * width + x;
      if (mask !== undefined && mask[i] === 0) continue;
      sum += valueAt(i);
      count++;
    }
  }
  return count === 0 ? NaN : sum / count;
}

/** ∇_i + ∇_j at pixel i: |f(y,x) − f(y−1,x)| + |f(y,x) − f(y,x−1)|. */
function gradientSum(f: Float32Array, i: number, width: number): number {
  return Math.abs(f[i] - f[i - width]) + Math.abs(f[i] - f[i - 1]);
}

function assertGradientSize(width: number, height: number, arg: string): void {
  if (width < 2 || height < 2) fail('E_SHAPE', arg, 'frames at least 2x2 for gradients', `${height}x${width}`);
}

/**
 * Sharpness difference of each frame in dB (Float64Array of length `frames`); see {@link sharpness}.
 * Infinity when the gradients match exactly, NaN when the mask selects no interior pixel.
 * @example
 * ```ts
 * sharpnessPerFrame(pred, truth); // one value per frame
 * ```
 */
export function sharpnessPerFrame(pred: Video, truth: Video, options: PixelMetricOptions = {}): Float64Array {
  const pair = framePair(pred, truth, options);
  const { width, height, peak } = pair;
  assertGradientSize(width, height, 'pred');
  return mapFrames(pair, (p, y, mask) => {
    const meanDiff = interiorMean(width, height, mask, (i) => Math.abs(gradientSum(y, i, width) - gradientSum(p, i, width)));
    return 10 * Math.log10((peak * peak) / meanDiff);
  });
}

/**
 * Gradient-difference sharpness of Mathieu et al. 2016 ("Deep multi-scale video prediction beyond mean
 * square error", Sharp. diff.), in dB, averaged over frames; higher means the prediction's edges match
 * the truth's better. Per frame, exactly as the paper writes it (note: peak squared over a mean
 * absolute difference, not a mean squared one):
 * `10 log10( peak² / ((1/N) Σ_ij |(∇_i Y + ∇_j Y) − (∇_i Ŷ + ∇_j Ŷ)|) )`, with Y = truth, Ŷ = pred,
 * `∇_i Y = |Y(i,j) − Y(i−1,j)|` (row above), `∇_j Y = |Y(i,j) − Y(i,j−1)|` (column to the left), the sum
 * over the N pixels with i >= 1 and j >= 1 (no padding), and `max_Ŷ` = `peak` (default 255, the largest
 * possible intensity). Because the unit of the denominator is pixels, not pixels², values depend on
 * `peak` (e.g. use peak 1 for frames in [0, 1]). Identical gradients give Infinity; with `mask`, only
 * masked interior pixels count and frames with none are skipped (NaN if all are).
 * @example
 * ```ts
 * sharpness(pred, truth);            // e.g. 24.3 dB
 * sharpness(blurredPred, truth);     // lower
 * ```
 */
export function sharpness(pred: Video, truth: Video, options: PixelMetricOptions = {}): number {
  return meanOverFrames(sharpnessPerFrame(pred, truth, options));
}

/**
 * Mean gradient magnitude of each frame (Float64Array of length `frames`), in pixel units per pixel:
 * the mean of `sqrt(dy² + dx²)` with the same backward differences and interior pixels as
 * {@link sharpness}. NaN for a frame whose mask selects no interior pixel.
 * @example
 * ```ts
 * gradientEnergyPerFrame(video, { mask });
 * ```
 */
export function gradientEnergyPerFrame(video: Video, options: Pick<PixelMetricOptions, 'mask'> = {}): Float64Array {
  assertVideo(video, 'video');
  assertFinite(video.data, 'video.data');
  const { width, height, frames } = video;
  assertGradientSize(width, height, 'video');
  const maskOf = resolveMask(options.mask, width, height, frames);
  const out = new Float64Array(frames);
  for (let t = 0; t < frames; t++) {
    const f = frameOf(video, t);
    out[t] = interiorMean(width, height, maskOf(t), (i) => Math.hypot(f[i] - f[i - width], f[i] - f[i - 1]));
  }
  return out;
}

/**
 * Mean gradient magnitude of a video (mean over frames of {@link gradientEnergyPerFrame}): a
 * reference-free blur gauge; a blurred prediction has less gradient energy than the truth.
 * @example
 * ```ts
 * gradientEnergy(pred) < gradientEnergy(truth); // typical of mean-square-trained predictors
 * ```
 */
export function gradientEnergy(video: Video, options: Pick<PixelMetricOptions, 'mask'> = {}): number {
  return meanOverFrames(gradientEnergyPerFrame(video, options));
}
