import { assertInt, assertVideo } from '@vqvid/core';
import type { Video } from '@vqvid/core';

/** Per output sample along one axis: first source index and the area weights of the sources it covers. */
interface AxisWeights {
  first: Int32Array;
  count: Int32Array;
  weights: Float64Array;
  offsets: Int32Array;
}

/**
 * Output sample j covers source interval [j*n/m, (j+1)*n/m); each source sample i contributes the length
 * of its overlap with that interval, divided by the interval length (so weights sum to 1).
 */
function axisWeights(n: number, m: number): AxisWeights {
  const first = new Int32Array(m);
  const count = new Int32Array(m);
  const offsets = new Int32Array(m);
  const all: number[] = [];
  for (let j = 0; j < m; j++) {
    const lo = (j * n) / m;
    const hi = ((j + 1) * n) / m;
    const i0 = Math.floor(lo);
    const i1 = Math.min(n, Math.ceil(hi));
    first[j] = i0;
    offsets[j] = all.length;
    for (let i = i0; i < i1; i++) {
      const w = (Math.min(i + 1, hi) - Math.max(i, lo)) / (hi - lo);
      all.push(w);
    }
    count[j] = i1 - i0;
  }
  return { first, count, weights: Float64Array.from(all), offsets };
}

/** A reusable resizer for frames of one size: precomputes both axes' weights once. */
export function makeFrameResizer(srcW: number, srcH: number, dstW: number, dstH: number): (src: Float32Array | Uint8Array, srcOffset?: number, out?: Float32Array) => Float32Array {
  const ax = axisWeights(srcW, dstW);
  const ay = axisWeights(srcH, dstH);
  const rows = new Float64Array(srcH * dstW);
  const { first: fx, count: cx, weights: wx, offsets: ox } = ax;
  const { first: fy, count: cy, weights: wy, offsets: oy } = ay;
  return (src, srcOffset = 0, out = new Float32Array(dstW * dstH)) => {
    for (let y = 0; y < srcH; y++) {
      const base = srcOffset + y * srcW;
      for (let j = 0; j < dstW; j++) {
        let acc = 0;
        const o = ox[j];
        const f = base + fx[j];
        for (let k = 0; k < cx[j]; k++) acc += wx[o + k] * src[f + k];
        rows[y * dstW + j] = acc;
      }
    }
    out.fill(0);
    // Row by row so the inner loop runs along contiguous memory.
    for (let i = 0; i < dstH; i++) {
      const o = oy[i];
      const dst = i * dstW;
      for (let k = 0; k < cy[i]; k++) {
        const w = wy[o + k];
        const r = (fy[i] + k) * dstW;
        for (let j = 0; j < dstW; j++) out[dst + j] += w * rows[r + j];
      }
    }
    return out;
  };
}

/**
 * Resizes every frame of a video by area averaging (an exact area-weighted box filter, also for
 * non-integer ratios): each output pixel is the mean of the source area it covers.
 * @param width target width in pixels. @param height target height in pixels.
 * @example
 * ```ts
 * const small = resizeVideo(video, 320, 240);
 * ```
 */
export function resizeVideo(video: Video, width: number, height: number): Video {
  assertVideo(video, 'video');
  assertInt(width, 'width', 1, 1 << 15);
  assertInt(height, 'height', 1, 1 << 15);
  const resize = makeFrameResizer(video.width, video.height, width, height);
  const n = width * height;
  const data = new Float32Array(n * video.frames);
  for (let t = 0; t < video.frames; t++) {
    resize(video.data, t * video.width * video.height, data.subarray(t * n, (t + 1) * n));
  }
  const out: Video = { width, height, frames: video.frames, data };
  if (video.fps !== undefined) out.fps = video.fps;
  return out;
}
