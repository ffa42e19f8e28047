import { fail } from './errors';
import type { CodeVolume, Video } from './types';
import { assertCodeVolume, assertInt, assertVideo } from './validate';

function checkRange(frames: number, start: number, end: number, arg: string): void {
  assertInt(start, `${arg} start`, 0, frames - 1);
  assertInt(end, `${arg} end`, start + 1, frames);
  if (end <= start) fail('E_RANGE', `${arg} end`, `> start (${start})`, end);
}

/**
 * Frames [start, end) of a video as a new Video sharing no memory with the input.
 * @example
 * ```ts
 * const last = sliceVideo(video, video.frames - 1, video.frames); // one frame
 * ```
 */
export function sliceVideo(video: Video, start: number, end = start + 1): Video {
  assertVideo(video, 'video');
  checkRange(video.frames, start, end, 'sliceVideo');
  const n = video.width * video.height;
  const out: Video = { width: video.width, height: video.height, frames: end - start, data: video.data.slice(start * n, end * n) };
  if (video.fps !== undefined) out.fps = video.fps;
  return out;
}

/**
 * Frames [start, end) of a code volume as a new CodeVolume (same dtype, copied), keeping its geometry.
 * @example
 * ```ts
 * const train = sliceCodes(codes, 0, Math.floor(codes.frames * 0.8));
 * ```
 */
export function sliceCodes(codes: CodeVolume, start: number, end = start + 1): CodeVolume {
  assertCodeVolume(codes, 'codes');
  checkRange(codes.frames, start, end, 'sliceCodes');
  const n = codes.rows * codes.cols;
  const out: CodeVolume = { rows: codes.rows, cols: codes.cols, frames: end - start, k: codes.k, codes: codes.codes.slice(start * n, end * n) };
  if (codes.geometry) out.geometry = { ...codes.geometry };
  return out;
}

/**
 * The number of (cell, next frame) transitions in `volumes`: Σ (frames − 1)·rows·cols, the cells a next-frame code
 * model is trained or scored on (a one-frame volume has none). Reads only the sizes (no validation of the codes).
 * @example
 * ```ts
 * const bitsPerCode = totalBits / transitionCells([test]);
 * ```
 */
export function transitionCells(volumes: readonly Pick<CodeVolume, 'rows' | 'cols' | 'frames'>[]): number {
  let cells = 0;
  for (const v of volumes) cells += Math.max(0, v.frames - 1) * v.rows * v.cols;
  return cells;
}

/**
 * The first frame of each video, stacked along time into one Video (the inverse of slicing frame by frame);
 * all videos must share one frame size. E_SHAPE on an empty list or a size mismatch.
 * @example
 * ```ts
 * const guesses = stackFrames(times.map((t) => predictOne(t))); // one frame per target time
 * ```
 */
export function stackFrames(frames: Video[]): Video {
  if (!Array.isArray(frames) || frames.length === 0) fail('E_SHAPE', 'frames', 'a non-empty array of videos', frames);
  frames.forEach((f, i) => assertVideo(f, `frames[${i}]`));
  const { width, height } = frames[0];
  const n = width * height;
  const data = new Float32Array(frames.length * n);
  frames.forEach((f, i) => {
    if (f.width !== width || f.height !== height) fail('E_SHAPE', `frames[${i}]`, `a ${width}x${height} frame`, `${f.width}x${f.height}`);
    data.set(f.data.subarray(0, n), i * n);
  });
  return { width, height, frames: frames.length, data };
}
