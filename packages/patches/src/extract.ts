import { assertPatchGrid, assertInt, assertVideo, type PatchGrid, type Video } from '@vqvid/core';
import { gridShape, resolvePatchOptions, type EdgeMode, type PatchOptions } from './grid';

/**
 * Copies one size x size patch whose top-left pixel is (y0, x0) in frame `t` into `out` at `offset`,
 * applying the edge rule to pixels outside the frame.
 */
export function copyPatch(video: Video, t: number, y0: number, x0: number, size: number, edge: EdgeMode, out: Float32Array, offset: number): void {
  const { width: w, height: h, data } = video;
  const base = t * w * h;
  let o = offset;
  for (let dy = 0; dy < size; dy++) {
    const y = y0 + dy;
    const inY = y < h;
    const row = base + Math.min(y, h - 1) * w;
    if (x0 + size <= w && inY) {
      // a loop, not set(subarray): a view object per row was most of what cutting a frame allocated
      for (let dx = 0; dx < size; dx++) out[o++] = data[row + x0 + dx];
      continue;
    }
    for (let dx = 0; dx < size; dx++) {
      const x = x0 + dx;
      out[o++] = (x < w && inY) || edge === 'replicate' ? data[row + Math.min(x, w - 1)] : 0;
    }
  }
}

/**
 * Cuts every frame of a video into size x size patches on a grid with the given stride.
 * Cell (t, r, c) is the patch with top-left pixel (r*stride, c*stride) of frame t.
 * @param video gray video (any value range)
 * @param opts size (default 8), stride (default size), edge handling (default 'replicate': the grid covers the frame)
 * @returns the patch grid; `data` holds frames*rows*cols vectors of size*size values
 * @example
 * ```ts
 * const grid = extractPatches(video, { size: 8 });          // non-overlapping 8x8
 * const dense = extractPatches(video, { size: 8, stride: 4 }); // 50% overlap
 * ```
 */
export function extractPatches(video: Video, opts: PatchOptions = {}): PatchGrid {
  assertVideo(video, 'video');
  const { size, stride, edge } = resolvePatchOptions(opts);
  const { rows, cols } = gridShape(video.width, video.height, { size, stride, edge });
  const dim = size * size;
  const data = new Float32Array(video.frames * rows * cols * dim);
  let offset = 0;
  for (let t = 0; t < video.frames; t++) {
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        copyPatch(video, t, r * stride, c * stride, size, edge, data, offset);
        offset += dim;
      }
    }
  }
  return { size, stride, rows, cols, frames: video.frames, data };
}

/** Options of {@link reassemble}. */
export interface ReassembleOptions {
  /** Output frame width in pixels. */
  width: number;
  /** Output frame height in pixels. */
  height: number;
  /** Value of pixels no patch covers (only with edge 'crop'); default 0. */
  fill?: number;
}

/**
 * Rebuilds frames from a patch grid, averaging the patches that overlap each pixel; parts of patches
 * outside the frame are dropped. For any stride ≤ size on a grid that covers the frame,
 * `reassemble(extractPatches(v, o), v)` equals `v` exactly.
 * @param grid patches (e.g. decoded centroids)
 * @param opts the frame size to rebuild
 * @example
 * ```ts
 * const frames = reassemble(quantizer.decode(codes), { width: 320, height: 240 });
 * ```
 */
export function reassemble(grid: PatchGrid, opts: ReassembleOptions): Video {
  assertPatchGrid(grid, 'grid');
  const { width, height } = opts;
  assertInt(width, 'width', 1);
  assertInt(height, 'height', 1);
  const { size, stride, rows, cols, frames } = grid;
  const n = width * height;
  const out = new Float32Array(frames * n);
  const count = new Float32Array(n);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      for (let dy = 0; dy < size && r * stride + dy < height; dy++) {
        const row = (r * stride + dy) * width;
        for (let dx = 0; dx < size && c * stride + dx < width; dx++) count[row + c * stride + dx]++;
      }
    }
  }
  const dim = size * size;
  for (let t = 0; t < frames; t++) {
    const frame = out.subarray(t * n, (t + 1) * n);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const p = ((t * rows + r) * cols + c) * dim;
        for (let dy = 0; dy < size && r * stride + dy < height; dy++) {
          const row = (r * stride + dy) * width + c * stride;
          const src = p + dy * size;
          const lim = Math.min(size, width - c * stride);
          for (let dx = 0; dx < lim; dx++) frame[row + dx] += grid.data[src + dx];
        }
      }
    }
    for (let i = 0; i < n; i++) frame[i] = count[i] > 0 ? frame[i] / count[i] : (opts.fill ?? 0);
  }
  return { width, height, frames, data: out };
}
