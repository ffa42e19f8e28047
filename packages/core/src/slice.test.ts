import type { Video } from './types';
import { sliceVideo, sliceCodes, stackFrames, transitionCells } from './slice';

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

test('stackFrames stacks the first frame of each video and slicing gives them back', () => {
  const one = (v: number, frames = 1): Video => ({ width: 2, height: 1, frames, data: Float32Array.from({ length: 2 * frames }, (_, i) => v + i) });
  const s = stackFrames([one(1), one(10, 2), one(20)]);
  expect(s).toEqual({ width: 2, height: 1, frames: 3, data: Float32Array.from([1, 2, 10, 11, 20, 21]) });
  expect(sliceVideo(s, 1).data).toEqual(Float32Array.from([10, 11]));
  expect(() => stackFrames([])).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
  expect(() => stackFrames([one(1), { width: 1, height: 2, frames: 1, data: new Float32Array(2) }])).toThrow(/frames\[1\]/);
});

test('transitionCells counts each cell of every frame after a volume\'s first, by enumeration', () => {
  const vols = [
    { rows: 2, cols: 3, frames: 4 },
    { rows: 1, cols: 5, frames: 1 },
    { rows: 3, cols: 1, frames: 2 },
  ];
  let pairs = 0;
  for (const v of vols) for (let t = 1; t < v.frames; t++) for (let r = 0; r < v.rows; r++) for (let c = 0; c < v.cols; c++) pairs++;
  expect(pairs).toBe(21);
  expect(transitionCells(vols)).toBe(pairs);
  expect(transitionCells([])).toBe(0);
  expect(transitionCells([{ rows: 4, cols: 4, frames: 0 }])).toBe(0);
});
