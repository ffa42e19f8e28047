import type { Video } from '@vqvid/core';
import { meanOverFrames } from './frames';
import type { PixelMetricOptions } from './frames';
import { msePerFrame, psnrPerFrame } from './pixel';
import { sharpnessPerFrame } from './sharpness';
import { ssimPerFrame } from './ssim';

/**
 * One value per frame of each metric (Float64Array of length `frames`).
 * @example
 * ```ts
 * const worst = Math.min(...evaluateFrames(pred, truth).perFrame.psnr);
 * ```
 */
export interface PerFrameMetrics {
  /** Mean squared error of each frame in squared pixel units, as {@link msePerFrame}. */
  mse: Float64Array;
  /** PSNR of each frame in dB (Infinity for an identical frame), as {@link psnrPerFrame}. */
  psnr: Float64Array;
  /** Mean SSIM of each frame in [-1, 1], as {@link ssimPerFrame}. */
  ssim: Float64Array;
  /** Sharpness difference of each frame in dB, as {@link sharpnessPerFrame}. */
  sharpness: Float64Array;
}

/**
 * What {@link evaluateFrames} returns: frame means, and the per-frame values they come from.
 * @example
 * ```ts
 * const m: FrameMetrics = evaluateFrames(pred, truth);
 * console.log(`PSNR ${m.psnr.toFixed(2)} dB over ${m.frames} frames`);
 * ```
 */
export interface FrameMetrics {
  /** Mean squared error, squared pixel units. */
  mse: number;
  /** PSNR in dB (Infinity if any frame is exact; see {@link psnr}). */
  psnr: number;
  /** Mean SSIM in [-1, 1]. */
  ssim: number;
  /** Sharpness difference in dB (Mathieu et al. 2016). */
  sharpness: number;
  /** Number of frames compared. */
  frames: number;
  /** The per-frame values the means above are taken over, each of length `frames`. */
  perFrame: PerFrameMetrics;
}

/**
 * MSE, PSNR, SSIM and sharpness of predicted frames against the truth in one call (what benches
 * report): each is the mean over frames, with the same `peak` and optional `mask` as the single
 * metrics ({@link mse}, {@link psnr}, {@link ssim}, {@link sharpness}). Frames must be at least 11x11.
 * @example
 * ```ts
 * const m = evaluateFrames(pred, truth, { peak: 255, mask: motionMask(prev, truth) });
 * console.log(m.psnr.toFixed(2), m.ssim.toFixed(3), m.perFrame.psnr);
 * ```
 */
export function evaluateFrames(pred: Video, truth: Video, options: PixelMetricOptions = {}): FrameMetrics {
  const perFrame: PerFrameMetrics = {
    mse: msePerFrame(pred, truth, options),
    psnr: psnrPerFrame(pred, truth, options),
    ssim: ssimPerFrame(pred, truth, options),
    sharpness: sharpnessPerFrame(pred, truth, options),
  };
  return {
    mse: meanOverFrames(perFrame.mse),
    psnr: meanOverFrames(perFrame.psnr),
    ssim: meanOverFrames(perFrame.ssim),
    sharpness: meanOverFrames(perFrame.sharpness),
    frames: pred.frames,
    perFrame,
  };
}
