import { assertCodebook, fail } from '@vqvid/core';
import type { Codebook, Video } from '@vqvid/core';

/**
 * All centroids of a codebook of square patches laid out as tiles on a grid with a 1-pixel gap, as a
 * one-frame Video in 0..255 (one linear scale over the whole codebook, so tiles compare by brightness).
 * Needs square patches (dim = size*size); `columns` defaults to ceil(sqrt(k)), `gap` (pixels) to 1.
 * @example
 * ```ts
 * await writePng('codebook.png', frameStrip([codebookAtlas(codec.codebook)], { scale: 4, gap: 0 }));
 * ```
 */
export function codebookAtlas(codebook: Codebook, opts: { columns?: number; gap?: number } = {}): Video {
  assertCodebook(codebook, 'codebook');
  const size = Math.round(Math.sqrt(codebook.dim));
  if (size * size !== codebook.dim) fail('E_SHAPE', 'codebook.dim', 'a square patch size (size*size)', codebook.dim);
  const gap = opts.gap ?? 1;
  const cols = opts.columns ?? Math.ceil(Math.sqrt(codebook.k));
  const rows = Math.ceil(codebook.k / cols);
  const width = cols * (size + gap) + gap;
  const height = rows * (size + gap) + gap;
  const c = codebook.centroids;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < c.length; i++) [lo, hi] = [Math.min(lo, c[i]), Math.max(hi, c[i])];
  const scale = hi > lo ? 255 / (hi - lo) : 0;
  const data = new Float32Array(width * height).fill(255);
  for (let j = 0; j < codebook.k; j++) {
    const x0 = gap + (j % cols) * (size + gap);
    const y0 = gap + Math.floor(j / cols) * (size + gap);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) data[(y0 + y) * width + x0 + x] = (c[j * codebook.dim + y * size + x] - lo) * scale;
    }
  }
  return { width, height, frames: 1, data };
}
