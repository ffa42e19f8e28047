import { Rng, VqvidError } from '@vqvid/core';
import { dilateMask, flowMagnitudeMask, motionMask } from './index';
import { randomVideo, videoOf } from './test-helpers';

/** Square dilation by direct neighbourhood search. */
function naiveDilate(mask: Uint8Array, w: number, h: number, r: number): Uint8Array {
  const out = new Uint8Array(mask.length);
  for (let f = 0; f < mask.length / (w * h); f++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let on = 0;
        for (let yy = Math.max(0, y - r); yy <= Math.min(h - 1, y + r); yy++) {
          for (let xx = Math.max(0, x - r); xx <= Math.min(w - 1, x + r); xx++) on |= mask[(f * h + yy) * w + xx] ? 1 : 0;
        }
        out[(f * h + y) * w + x] = on;
      }
    }
  }
  return out;
}

describe('motion masks', () => {
  test('motionMask thresholds |cur - prev| strictly', () => {
    const prev = videoOf(3, 1, [0, 0, 0]);
    const cur = videoOf(3, 1, [10, -11, 30]);
    expect(Array.from(motionMask(prev, cur, { threshold: 10, dilate: 0 }))).toEqual([0, 1, 1]);
    expect(Array.from(motionMask(prev, cur, { threshold: 20, dilate: 0 }))).toEqual([0, 0, 1]);
  });

  test('a single moving pixel dilates to a (2r+1)^2 square, per frame', () => {
    const prev = videoOf(7, 5, new Array(70).fill(0));
    const cur = videoOf(7, 5, new Array(70).fill(0));
    cur.data[2 * 7 + 3] = 100; // frame 0, (y=2, x=3)
    const mask = motionMask(prev, cur); // defaults: threshold 10, dilate 1
    const on = Array.from(mask.keys()).filter((i) => mask[i]);
    expect(on).toEqual([1 * 7 + 2, 1 * 7 + 3, 1 * 7 + 4, 2 * 7 + 2, 2 * 7 + 3, 2 * 7 + 4, 3 * 7 + 2, 3 * 7 + 3, 3 * 7 + 4]);
  });

  test('dilateMask equals a direct neighbourhood search', () => {
    const rng = new Rng(5);
    const mask = new Uint8Array(2 * 9 * 6).map(() => (rng.next() < 0.08 ? 1 : 0));
    for (const r of [0, 1, 2, 4]) expect(Array.from(dilateMask(mask, 9, 6, r))).toEqual(Array.from(naiveDilate(mask, 9, 6, r)));
  });

  test('flowMagnitudeMask thresholds and optionally dilates', () => {
    const mag = Float32Array.of(0, 0.2, 0.9, 0, 0, 0);
    expect(Array.from(flowMagnitudeMask(mag, 0.5))).toEqual([0, 0, 1, 0, 0, 0]);
    expect(Array.from(flowMagnitudeMask(mag, 0.5, { width: 3, height: 2, dilate: 1 }))).toEqual([0, 1, 1, 0, 1, 1]);
    expect(() => flowMagnitudeMask(mag, 0.5, { dilate: 1 })).toThrow(VqvidError);
    expect(() => flowMagnitudeMask([Number.NaN], 0.5)).toThrow(VqvidError);
  });

  test('validation', () => {
    const a = randomVideo(4, 4, 2, 1);
    expect(() => motionMask(a, randomVideo(4, 4, 1, 2))).toThrow(VqvidError);
    expect(() => motionMask(a, a, { threshold: -1 })).toThrow(VqvidError);
    expect(() => motionMask(a, a, { dilate: 1.5 })).toThrow(VqvidError);
    expect(() => dilateMask(new Uint8Array(5), 2, 2, 1)).toThrow(VqvidError);
  });
});
