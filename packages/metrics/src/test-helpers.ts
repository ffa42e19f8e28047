/* Shared builders for this package's tests (not exported from index). */
import { Rng } from '@vqvid/core';
import type { Video } from '@vqvid/core';

/** A gray video from pixel values, frame-major then row-major. */
export function videoOf(width: number, height: number, values: ArrayLike<number>): Video {
  const frames = values.length / (width * height);
  return { width, height, frames, data: Float32Array.from(values) };
}

/** Integer pixel values in [0, 255] from a seeded Rng. */
export function randomVideo(width: number, height: number, frames: number, seed: number): Video {
  const rng = new Rng(seed);
  return videoOf(width, height, Array.from({ length: width * height * frames }, () => rng.int(256)));
}

/** A smooth, edged scene: a ramp with a bright square, so blur changes it measurably. */
export function sceneVideo(width: number, height: number, frames = 1): Video {
  const data = new Float32Array(width * height * frames);
  for (let t = 0; t < frames; t++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const inSquare = x >= width / 4 + t && x < width / 2 + t && y >= height / 4 && y < (3 * height) / 4;
        data[(t * height + y) * width + x] = inSquare ? 230 : 20 + (150 * x) / width;
      }
    }
  }
  return { width, height, frames, data };
}

/** 3x3 box blur with clamped borders, frame by frame. */
export function boxBlur(v: Video): Video {
  const { width: w, height: h } = v;
  const out = new Float32Array(v.data.length);
  const at = (t: number, y: number, x: number): number =>
    v.data[(t * h + Math.min(h - 1, Math.max(0, y))) * w + Math.min(w - 1, Math.max(0, x))];
  for (let t = 0; t < v.frames; t++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let s = 0;
        for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) s += at(t, y + dy, x + dx);
        out[(t * h + y) * w + x] = s / 9;
      }
    }
  }
  return { ...v, data: out };
}
