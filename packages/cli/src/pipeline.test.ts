import type { Video } from '@vqvid/core';
import { absDiff, concatCodes } from './evaluation';
import { stackFrames } from '@vqvid/core';
import { PatchCodec } from '@vqvid/quantize';
import { checkCodebookK } from './pipeline';

/** A clip tiled with two 4x4 patterns (a gradient and its mirror), placed differently in each frame. */
function twoPatternClip(): Video {
  const w = 8;
  const h = 8;
  const frames = 3;
  const data = new Float32Array(w * h * frames);
  for (let t = 0; t < frames; t++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const tile = ((x >> 2) + (y >> 2) + t) % 2;
        const v = (x % 4) * 16 + (y % 4) * 40 + 10;
        data[(t * h + y) * w + x] = tile ? v : 250 - v;
      }
    }
  }
  return { width: w, height: h, frames, data };
}

describe('the codec behind the pipeline helpers', () => {
  it('rebuilds a clip made of k distinct patches exactly, and records the geometry and std in the codes', async () => {
    const clip = twoPatternClip();
    const codec = await PatchCodec.fit(clip, { k: 2, patch: 4, seed: 1, sample: 1000, backend: 'cpu' });
    expect(codec.meta).toMatchObject({ patch: { size: 4, stride: 4 }, normalization: 'per-video-std' });
    const codes = await codec.encode(clip);
    expect([codes.rows, codes.cols, codes.frames, codes.k]).toEqual([2, 2, 3, 2]);
    // the two tiles alternate like a checkerboard that flips every frame
    expect(codes.codes[0]).not.toBe(codes.codes[1]);
    expect(codes.codes[0]).not.toBe(codes.codes[4]);
    let mean = 0;
    clip.data.forEach((v) => (mean += v / clip.data.length));
    let ss = 0;
    clip.data.forEach((v) => (ss += (v - mean) ** 2 / clip.data.length));
    expect(codes.geometry).toEqual({ patch: 4, stride: 4, width: 8, height: 8, std: expect.closeTo(Math.sqrt(ss), 4), codebook: codec.checksum });
    const back = codec.decode(codes);
    for (let i = 0; i < clip.data.length; i++) expect(back.data[i]).toBeCloseTo(clip.data[i], 3);
    // codes without their geometry cannot be decoded silently
    const { geometry: _, ...bare } = codes;
    expect(() => codec.decode(bare)).toThrow(/codes\.geometry: expected/);
    codec.dispose();
  });

  it('names both sizes when K does not match', () => {
    const book = { codebook: { k: 2 } };
    expect(() => checkCodebookK(book, 3, 'model')).toThrow("model k: expected the codebook's K = 2, got 3");
    expect(() => checkCodebookK(book, 2)).not.toThrow();
  });
});

describe('frame and code helpers', () => {
  const frame = (vals: number[]): Video => ({ width: 2, height: 1, frames: 1, data: Float32Array.from(vals) });
  it('stacks frames, subtracts them and concatenates code volumes', () => {
    const v = stackFrames([frame([1, 2]), frame([3, 4])]);
    expect(v).toEqual({ width: 2, height: 1, frames: 2, data: Float32Array.from([1, 2, 3, 4]) });
    expect(absDiff(v, stackFrames([frame([4, 0]), frame([3, 9])])).data).toEqual(Float32Array.from([3, 2, 0, 5]));
    const c = concatCodes([
      { rows: 1, cols: 2, frames: 1, k: 5, codes: Uint16Array.from([1, 2]) },
      { rows: 1, cols: 2, frames: 2, k: 5, codes: Uint16Array.from([3, 4, 0, 1]) },
    ]);
    expect(c).toEqual({ rows: 1, cols: 2, frames: 3, k: 5, codes: Int32Array.from([1, 2, 3, 4, 0, 1]) });
  });
});
