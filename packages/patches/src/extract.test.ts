import { Rng, VqvidError, type Video } from '@vqvid/core';
import { extractPatches, reassemble } from './extract';
import { gridShape } from './grid';
import { patchView } from './view';

function randomVideo(width: number, height: number, frames: number, seed: number): Video {
  const rng = new Rng(seed);
  const data = new Float32Array(width * height * frames);
  for (let i = 0; i < data.length; i++) data[i] = Math.round(rng.next() * 255);
  return { width, height, frames, data };
}

/** Obviously-correct reference: one pixel at a time with the edge rule spelled out. */
function pixelRef(v: Video, t: number, y: number, x: number, edge: string): number {
  if (x < v.width && y < v.height) return v.data[(t * v.height + y) * v.width + x];
  if (edge === 'zero') return 0;
  return v.data[(t * v.height + Math.min(y, v.height - 1)) * v.width + Math.min(x, v.width - 1)];
}

describe('extractPatches', () => {
  it.each([
    [8, 8, 'replicate'], [8, 4, 'replicate'], [5, 3, 'zero'], [4, 4, 'crop'], [3, 2, 'crop'], [6, 1, 'replicate'],
  ] as const)('size %i stride %i edge %s matches the per-pixel reference', (size, stride, edge) => {
    const v = randomVideo(19, 13, 2, size * 10 + stride);
    const g = extractPatches(v, { size, stride, edge });
    const view = patchView(g);
    for (let t = 0; t < g.frames; t++)
      for (let r = 0; r < g.rows; r++)
        for (let c = 0; c < g.cols; c++)
          for (let y = 0; y < size; y++)
            for (let x = 0; x < size; x++)
              expect(view.get(t, r, c, y, x)).toBe(pixelRef(v, t, r * stride + y, c * stride + x, edge));
  });

  it('covers the frame by default and crops when asked', () => {
    expect(gridShape(320, 240)).toEqual({ rows: 30, cols: 40 });
    expect(gridShape(21, 10, { size: 8 })).toEqual({ rows: 2, cols: 3 });
    expect(gridShape(21, 10, { size: 8, edge: 'crop' })).toEqual({ rows: 1, cols: 2 });
    expect(gridShape(21, 10, { size: 8, stride: 4 })).toEqual({ rows: 2, cols: 5 });
  });

  it('rejects bad options with VqvidError naming the argument', () => {
    const v = randomVideo(8, 8, 1, 1);
    expect(() => extractPatches(v, { size: 4, stride: 5 })).toThrow(/^stride: expected an integer in \[1, 4\]/);
    expect(() => extractPatches(v, { size: 0 })).toThrow(VqvidError);
    expect(() => extractPatches(v, { edge: 'wrap' as never })).toThrow(/edge/);
    expect(() => extractPatches({ ...v, data: new Float32Array(3) })).toThrow(/video.data.length/);
    expect(() => extractPatches(randomVideo(4, 4, 1, 1), { size: 8, edge: 'crop' })).toThrow(VqvidError);
  });
});

describe('reassemble', () => {
  it('inverts extractPatches exactly for every stride <= size when patches cover the frame', () => {
    for (const [w, h, size] of [[17, 11, 4], [16, 16, 8], [23, 9, 5], [8, 8, 8]]) {
      const v = randomVideo(w, h, 2, w * h);
      for (let stride = 1; stride <= size; stride++) {
        for (const edge of ['replicate', 'zero'] as const) {
          const back = reassemble(extractPatches(v, { size, stride, edge }), v);
          expect(back.frames).toBe(2);
          expect(Array.from(back.data)).toEqual(Array.from(v.data));
        }
      }
    }
  });

  it('averages overlapping patches (reference: explicit sums and counts)', () => {
    const g = { size: 2, stride: 1, rows: 1, cols: 2, frames: 1, data: Float32Array.from([1, 2, 3, 4, 10, 20, 30, 40]) };
    // patch 0 covers x=0..1, patch 1 covers x=1..2 of a 3x2 frame
    const out = reassemble(g, { width: 3, height: 2 });
    expect(Array.from(out.data)).toEqual([1, (2 + 10) / 2, 20, 3, (4 + 30) / 2, 40]);
  });

  it('fills uncovered pixels in crop mode', () => {
    const v = randomVideo(10, 9, 1, 3);
    const back = reassemble(extractPatches(v, { size: 4, edge: 'crop' }), { width: 10, height: 9, fill: -1 });
    expect(back.data[8]).toBe(-1); // x = 8 is outside the two 4-wide columns
    expect(back.data[0]).toBe(v.data[0]);
  });
});
