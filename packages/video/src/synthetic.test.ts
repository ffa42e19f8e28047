import { VqvidError, assertVideo } from '@vqvid/core';
import type { Video } from '@vqvid/core';
import { syntheticVideo } from './synthetic';

const frame = (v: Video, t: number) => v.data.subarray(t * v.width * v.height, (t + 1) * v.width * v.height);

function inByteRange(v: Video): boolean {
  return v.data.every((x) => x >= 0 && x <= 255);
}

describe('syntheticVideo', () => {
  test.each(['bouncing', 'pan', 'translate'] as const)('%s: valid, 0..255, deterministic per seed, seed matters', (kind) => {
    const a = syntheticVideo({ kind, width: 32, height: 24, frames: 6, seed: 3 });
    assertVideo(a);
    expect(a).toMatchObject({ width: 32, height: 24, frames: 6, fps: 25 });
    expect(inByteRange(a)).toBe(true);
    expect(syntheticVideo({ kind, width: 32, height: 24, frames: 6, seed: 3 }).data).toEqual(a.data);
    expect(syntheticVideo({ kind, width: 32, height: 24, frames: 6, seed: 4 }).data).not.toEqual(a.data);
    // Something moves: consecutive frames differ.
    expect(frame(a, 1)).not.toEqual(frame(a, 0));
  });

  test('translate moves the shape by exactly `step` pixels per frame, wrapping', () => {
    const v = syntheticVideo({ kind: 'translate', width: 32, height: 16, frames: 5, seed: 9, step: 8 });
    const { width: w, height: h } = v;
    for (let t = 1; t < v.frames; t++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          expect(v.data[(t * h + y) * w + ((x + 8) % w)]).toBe(v.data[((t - 1) * h + y) * w + x]);
        }
      }
    }
    // Background flat at 32, shape 16x16 bright texture, aligned to the 8-pixel grid.
    const f0 = frame(v, 0);
    const shape = [...f0.keys()].filter((i) => f0[i] !== 32);
    expect(shape.length).toBe(256);
    expect(Math.min(...shape.map((i) => i % w)) % 8).toBe(0);
    expect(Math.min(...shape.map((i) => Math.floor(i / w))) % 8).toBe(0);
  });

  test('translate downwards with a custom size', () => {
    const v = syntheticVideo({ kind: 'translate', width: 16, height: 16, frames: 3, step: 4, size: 4, direction: 'down', seed: 1 });
    const f0 = frame(v, 0);
    const f1 = frame(v, 1);
    for (let i = 0; i < 256; i++) expect(f1[(i + 4 * 16) % 256]).toBe(f0[i]);
  });

  test('pan with an integer velocity is an exact shift of the texture', () => {
    const v = syntheticVideo({ kind: 'pan', width: 20, height: 10, frames: 3, seed: 2, velocity: [2, 1] });
    const { width: w, height: h } = v;
    for (let y = 0; y < h - 1; y++) {
      for (let x = 0; x < w - 2; x++) expect(v.data[(h + y) * w + x]).toBeCloseTo(v.data[(y + 1) * w + x + 2], 4);
    }
  });

  test('pan with a sub-pixel velocity interpolates bilinearly between integer shifts', () => {
    const half = syntheticVideo({ kind: 'pan', width: 12, height: 6, frames: 3, seed: 5, velocity: [0.5, 0] });
    const { width: w } = half;
    for (let x = 0; x < w - 1; x++) {
      const mid = half.data[w * 6 + x]; // frame 1, row 0: the camera is half a pixel right of frame 0
      expect(mid).toBeCloseTo((half.data[x] + half.data[x + 1]) / 2, 4);
    }
  });

  test('bouncing shapes stay textured and occlude a textured background', () => {
    const v = syntheticVideo({ kind: 'bouncing', width: 48, height: 48, frames: 40, seed: 11, shapes: 4 });
    expect(inByteRange(v)).toBe(true);
    const f = frame(v, 0);
    const distinct = new Set(Array.from(f, (x) => Math.round(x))).size;
    expect(distinct).toBeGreaterThan(40);
    const none = syntheticVideo({ kind: 'bouncing', width: 48, height: 48, frames: 2, seed: 11, shapes: 0 });
    expect(frame(none, 1)).toEqual(frame(none, 0)); // without shapes only the static background remains
  });

  test('bad options', () => {
    expect(() => syntheticVideo({ kind: 'spin' as 'pan', width: 8, height: 8, frames: 2 })).toThrow(/kind/);
    expect(() => syntheticVideo({ kind: 'pan', width: 0, height: 8, frames: 2 })).toThrow(VqvidError);
    expect(() => syntheticVideo({ kind: 'translate', width: 8, height: 8, frames: 2, size: 9 })).toThrow(/size/);
    expect(() => syntheticVideo({ kind: 'pan', width: 8, height: 8, frames: 2, velocity: [1] as never })).toThrow(/velocity/);
  });
});
