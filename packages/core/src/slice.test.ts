import { sliceVideo, sliceCodes } from './slice';

describe('slicing', () => {
  it('copies the right frames of a video', () => {
    const v = { width: 2, height: 1, frames: 3, fps: 5, data: Float32Array.from([0, 1, 2, 3, 4, 5]) };
    const s = sliceVideo(v, 1, 3);
    expect(s).toEqual({ width: 2, height: 1, frames: 2, fps: 5, data: Float32Array.from([2, 3, 4, 5]) });
    s.data[0] = 99;
    expect(v.data[2]).toBe(2);
  });
  it('copies the right frames of codes and rejects bad ranges', () => {
    const c = { rows: 1, cols: 1, frames: 3, k: 9, codes: Uint16Array.from([7, 8, 1]) };
    expect(sliceCodes(c, 2)).toEqual({ rows: 1, cols: 1, frames: 1, k: 9, codes: Uint16Array.from([1]) });
    expect(() => sliceCodes(c, 2, 2)).toThrow(/end/);
    expect(() => sliceCodes(c, 3)).toThrow(/start/);
  });
  it('keeps the geometry of codes, as a copy', () => {
    const geometry = { patch: 8, stride: 8, width: 8, height: 8, std: 2.5 };
    const c = { rows: 1, cols: 1, frames: 2, k: 9, codes: Uint16Array.from([7, 8]), geometry };
    const s = sliceCodes(c, 1);
    expect(s).toEqual({ rows: 1, cols: 1, frames: 1, k: 9, codes: Uint16Array.from([8]), geometry });
    expect(s.geometry).not.toBe(geometry);
  });
});
