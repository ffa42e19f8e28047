import { Rng, VqvidError } from '@vqvid/core';
import type { Video } from '@vqvid/core';
import { resizeVideo } from './resize';

/** Slow reference: each output pixel integrates the source over its footprint, rectangle by rectangle. */
function referenceResize(v: Video, tw: number, th: number): Float64Array {
  const out = new Float64Array(tw * th * v.frames);
  const sx = v.width / tw;
  const sy = v.height / th;
  for (let t = 0; t < v.frames; t++) {
    for (let j = 0; j < th; j++) {
      for (let i = 0; i < tw; i++) {
        let acc = 0;
        for (let y = 0; y < v.height; y++) {
          const oy = Math.max(0, Math.min(y + 1, (j + 1) * sy) - Math.max(y, j * sy));
          if (oy === 0) continue;
          for (let x = 0; x < v.width; x++) {
            const ox = Math.max(0, Math.min(x + 1, (i + 1) * sx) - Math.max(x, i * sx));
            acc += ox * oy * v.data[(t * v.height + y) * v.width + x];
          }
        }
        out[(t * th + j) * tw + i] = acc / (sx * sy);
      }
    }
  }
  return out;
}

function randomVideo(w: number, h: number, frames: number, seed: number): Video {
  const rng = new Rng(seed);
  return { width: w, height: h, frames, data: Float32Array.from({ length: w * h * frames }, () => rng.int(256)) };
}

describe('resizeVideo (area averaging)', () => {
  test.each([
    [12, 9, 4, 3],
    [10, 7, 3, 4],
    [7, 5, 3, 2],
    [5, 4, 8, 6],
    [48, 36, 20, 15], // the 768x576 → 320x240 ratio (2.4) on a smaller frame
    [9, 9, 9, 9],
  ])('%ix%i → %ix%i matches the integral reference', (w, h, tw, th) => {
    const v = randomVideo(w, h, 2, w * 100 + tw);
    const got = resizeVideo(v, tw, th);
    const ref = referenceResize(v, tw, th);
    expect(got).toMatchObject({ width: tw, height: th, frames: 2 });
    let maxErr = 0;
    for (let i = 0; i < ref.length; i++) maxErr = Math.max(maxErr, Math.abs(got.data[i] - ref[i]));
    expect(maxErr).toBeLessThan(1e-3);
  });

  test('integer factors are plain block means', () => {
    const v: Video = { width: 4, height: 2, frames: 1, fps: 7, data: new Float32Array([0, 2, 10, 20, 4, 6, 30, 40]) };
    const r = resizeVideo(v, 2, 1);
    expect(Array.from(r.data)).toEqual([3, 25]);
    expect(r.fps).toBe(7);
  });

  test('preserves the mean for any ratio', () => {
    const v = randomVideo(13, 11, 1, 3);
    const r = resizeVideo(v, 5, 4);
    const mean = (a: Float32Array) => a.reduce((s, x) => s + x, 0) / a.length;
    expect(mean(r.data)).toBeCloseTo(mean(v.data), 3);
  });

  test('rejects bad sizes', () => {
    expect(() => resizeVideo(randomVideo(4, 4, 1, 1), 0, 2)).toThrow(VqvidError);
    expect(() => resizeVideo(randomVideo(4, 4, 1, 1), 2.5, 2)).toThrow(/width/);
  });
});
