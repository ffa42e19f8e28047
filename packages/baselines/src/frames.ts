import { assertFinite, assertNumber, assertVideo, fail } from '@vqvid/core';
import type { Video } from '@vqvid/core';

/** Pixels of frame `t` (a view, not a copy). */
export function frameData(video: Video, t: number): Float32Array {
  const n = video.width * video.height;
  return video.data.subarray(t * n, (t + 1) * n);
}

/** A Video of the same width/height/fps as `like`, holding `frames` frames of `data`. */
export function videoLike(like: Video, data: Float32Array, frames = 1): Video {
  const out: Video = { width: like.width, height: like.height, frames, data };
  if (like.fps !== undefined) out.fps = like.fps;
  return out;
}

/** Validates two videos that are combined frame by frame: same width, height and frame count, finite pixels. */
export function assertFramePair(a: Video, b: Video, nameA: string, nameB: string): void {
  assertVideo(a, nameA);
  assertVideo(b, nameB);
  if (a.width !== b.width || a.height !== b.height) {
    fail('E_SHAPE', nameB, `${a.width}x${a.height} frames like ${nameA}`, `${b.width}x${b.height}`);
  }
  if (a.frames !== b.frames) fail('E_SHAPE', `${nameB}.frames`, `${a.frames} (as ${nameA}.frames)`, b.frames);
  // One NaN would spread through every blur and warp of the flow code.
  assertFinite(a.data, `${nameA}.data`);
  assertFinite(b.data, `${nameB}.data`);
}

/**
 * Applies `combine` to every frame pair (a[t], b[t]) and stacks the resulting frames into one Video.
 * Two-input baselines take equal-length videos so a whole test set is one call.
 */
export function mapFramePairs(
  a: Video,
  b: Video,
  combine: (fa: Float32Array, fb: Float32Array, out: Float32Array) => void,
): Video {
  const n = a.width * a.height;
  const data = new Float32Array(n * a.frames);
  for (let t = 0; t < a.frames; t++) combine(frameData(a, t), frameData(b, t), data.subarray(t * n, (t + 1) * n));
  return videoLike(a, data, a.frames);
}

/**
 * Copy-last prediction: the next frame equals the last frame of `prev`.
 * @param prev any Video (1 or more frames); only its last frame is used.
 * @returns a single-frame Video (a copy).
 * @example
 * ```ts
 * const guess = copyLast(sliceVideo(video, 0, 10)); // predicts frame 10
 * ```
 */
export function copyLast(prev: Video): Video {
  assertVideo(prev, 'prev');
  return videoLike(prev, frameData(prev, prev.frames - 1).slice());
}

/**
 * Pixel-wise linear interpolation `(1 - t)·a + t·b` between frames.
 * @param a earlier frame(s); @param b later frame(s), same size and frame count as `a` (frame pairs are
 * interpolated independently).
 * @param t position between a (0) and b (1); 0.5 is the midpoint.
 * @example
 * ```ts
 * const mid = linearInterpolate(sliceVideo(v, 0), sliceVideo(v, 2)); // guess of frame 1
 * ```
 */
export function linearInterpolate(a: Video, b: Video, t = 0.5): Video {
  assertFramePair(a, b, 'a', 'b');
  assertNumber(t, 't', 0, 1);
  return mapFramePairs(a, b, (fa, fb, out) => {
    for (let i = 0; i < out.length; i++) out[i] = (1 - t) * fa[i] + t * fb[i];
  });
}

/**
 * Pixel-wise linear extrapolation `2·cur − prev`, clamped to the [min, max] range of the two input frames
 * so the guess never leaves the value range the inputs live in (0..255 or std units alike).
 * @param prev frame(s) at time t−1; @param cur frame(s) at time t (same size and frame count).
 * @returns the guess for time t+1, one frame per input pair.
 * @example
 * ```ts
 * const next = linearExtrapolate(sliceVideo(v, 8), sliceVideo(v, 9)); // guess of frame 10
 * ```
 */
export function linearExtrapolate(prev: Video, cur: Video): Video {
  assertFramePair(prev, cur, 'prev', 'cur');
  return mapFramePairs(prev, cur, (fp, fc, out) => {
    const [lo, hi] = valueRange(fp, fc);
    for (let i = 0; i < out.length; i++) out[i] = Math.min(hi, Math.max(lo, 2 * fc[i] - fp[i]));
  });
}

/** Joint [min, max] of two frames. */
export function valueRange(a: Float32Array, b: Float32Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const f of [a, b]) {
    for (let i = 0; i < f.length; i++) {
      if (f[i] < lo) lo = f[i];
      if (f[i] > hi) hi = f[i];
    }
  }
  return [lo, hi];
}
