import { VqvidError } from '@vqvid/core';
import type { Video } from '@vqvid/core';
import { copyLast, linearExtrapolate, linearInterpolate } from './frames';

const vid = (width: number, height: number, frames: number, values: number[]): Video => ({
  width, height, frames, fps: 25, data: Float32Array.from(values),
});

describe('copyLast', () => {
  test('returns a copy of the last frame of a multi-frame video', () => {
    const v = vid(2, 1, 3, [1, 2, 3, 4, 5, 6]);
    const out = copyLast(v);
    expect(out).toMatchObject({ width: 2, height: 1, frames: 1, fps: 25 });
    expect(Array.from(out.data)).toEqual([5, 6]);
    out.data[0] = 99;
    expect(v.data[4]).toBe(5);
  });
  test('rejects a malformed video', () => {
    expect(() => copyLast({ width: 2, height: 2, frames: 1, data: new Float32Array(3) })).toThrow(VqvidError);
  });
});

describe('linearInterpolate', () => {
  test('blends (1-t)a + tb frame by frame', () => {
    const a = vid(2, 1, 2, [0, 10, 100, 200]);
    const b = vid(2, 1, 2, [4, 30, 0, 0]);
    expect(Array.from(linearInterpolate(a, b).data)).toEqual([2, 20, 50, 100]);
    expect(Array.from(linearInterpolate(a, b, 0.25).data)).toEqual([1, 15, 75, 150]);
  });
  test('rejects mismatched sizes and t outside [0, 1]', () => {
    const a = vid(2, 1, 1, [0, 1]);
    expect(() => linearInterpolate(a, vid(1, 2, 1, [0, 1]))).toThrow(/b: expected 2x1/);
    expect(() => linearInterpolate(a, vid(2, 1, 2, [0, 1, 2, 3]))).toThrow(/b.frames/);
    expect(() => linearInterpolate(a, a, 1.5)).toThrow(VqvidError);
  });
});

describe('linearExtrapolate', () => {
  test('computes 2·cur − prev clamped to the joint range of the inputs', () => {
    const prev = vid(4, 1, 1, [10, 20, 30, 40]);
    const cur = vid(4, 1, 1, [12, 20, 60, 5]);
    // 2·cur − prev = [14, 20, 90, −30]; range of inputs is [5, 60].
    expect(Array.from(linearExtrapolate(prev, cur).data)).toEqual([14, 20, 60, 5]);
  });
  test('clamps each frame pair to its own range', () => {
    const prev = vid(1, 1, 2, [0, -1]);
    const cur = vid(1, 1, 2, [1, -3]);
    expect(Array.from(linearExtrapolate(prev, cur).data)).toEqual([1, -3]);
  });
});
