import { VqvidError } from '@vqvid/core';
import { casePair, reference } from './fixtures/reference';
import { mse, msePerFrame, psnr, psnrFromMse, psnrPerFrame } from './index';
import { randomVideo, videoOf } from './test-helpers';

describe('mse', () => {
  test('matches a hand computation, averaged over frames', () => {
    const a = videoOf(2, 2, [0, 1, 2, 3, 10, 10, 10, 10]);
    const b = videoOf(2, 2, [1, 1, 0, 3, 10, 10, 10, 6]);
    // frame 0: (1 + 0 + 4 + 0) / 4; frame 1: 16 / 4
    expect(Array.from(msePerFrame(a, b))).toEqual([1.25, 4]);
    expect(mse(a, b)).toBe(2.625);
  });

  test('masked MSE equals the MSE of the masked subset', () => {
    const a = randomVideo(7, 5, 1, 1);
    const b = randomVideo(7, 5, 1, 2);
    const mask = new Uint8Array(35).map((_, i) => (i % 3 === 0 ? 1 : 0));
    const pick = (v: Float32Array): number[] => Array.from(v).filter((_, i) => mask[i] !== 0);
    const subset = mse(videoOf(pick(a.data).length, 1, pick(a.data)), videoOf(pick(b.data).length, 1, pick(b.data)));
    expect(mse(a, b, { mask })).toBeCloseTo(subset, 10);
  });

  test('per-frame masks; an empty frame mask gives NaN and is skipped in the mean', () => {
    const a = randomVideo(4, 3, 2, 3);
    const b = randomVideo(4, 3, 2, 4);
    const mask = new Uint8Array(24);
    mask.fill(1, 0, 12);
    const perFrame = msePerFrame(a, b, { mask });
    expect(perFrame[0]).toBeCloseTo(msePerFrame(a, b)[0], 12);
    expect(perFrame[1]).toBeNaN();
    expect(mse(a, b, { mask })).toBeCloseTo(perFrame[0], 12);
    expect(mse(a, b, { mask: new Uint8Array(12) })).toBeNaN();
  });

  test('validates shapes, masks and values', () => {
    const a = randomVideo(4, 3, 2, 5);
    expect(() => mse(a, randomVideo(4, 3, 1, 6))).toThrow(VqvidError);
    expect(() => mse(a, a, { mask: new Uint8Array(5) })).toThrow(VqvidError);
    expect(() => mse(a, a, { mask: [1] as unknown as Uint8Array })).toThrow(VqvidError);
    const bad = { ...a, data: a.data.slice() };
    bad.data[3] = Number.NaN;
    expect(() => mse(bad, a)).toThrow(VqvidError);
    expect(() => psnr(a, a, { peak: 0 })).toThrow(VqvidError);
  });
});

describe('psnr', () => {
  test('identical frames give Infinity, and a mean including them is Infinity', () => {
    const a = randomVideo(5, 4, 2, 7);
    expect(psnr(a, a)).toBe(Infinity);
    const b = { ...a, data: a.data.slice() };
    b.data[0] += 3; // only frame 0 differs
    const perFrame = psnrPerFrame(b, a);
    expect(perFrame[0]).toBeCloseTo(10 * Math.log10((255 * 255 * 20) / 9), 10);
    expect(perFrame[1]).toBe(Infinity);
    expect(psnr(b, a)).toBe(Infinity);
    expect(psnrFromMse(mse(b, a))).toBeCloseTo(10 * Math.log10((255 * 255 * 40) / 9), 10);
  });

  test('constant frames: PSNR from the constant offset', () => {
    const a = videoOf(3, 3, new Array(9).fill(100));
    const b = videoOf(3, 3, new Array(9).fill(110));
    expect(psnr(a, b)).toBeCloseTo(10 * Math.log10(255 ** 2 / 100), 12);
    expect(psnr(a, b, { peak: 1 })).toBeCloseTo(-20, 12);
  });

  test('psnrFromMse', () => {
    expect(psnrFromMse(0.01, 1)).toBeCloseTo(20, 12);
    expect(psnrFromMse(0)).toBe(Infinity);
    expect(psnrFromMse(Number.NaN)).toBeNaN();
    expect(() => psnrFromMse(-1)).toThrow(VqvidError);
  });

  test.each(reference.cases.map((c) => [c.name, c] as const))('matches scikit-image on %s', (_, c) => {
    const { pred, truth } = casePair(c);
    expect(Math.abs(mse(pred, truth) - c.mse)).toBeLessThan(1e-9 * Math.max(1, c.mse));
    expect(Math.abs(psnr(pred, truth, { peak: c.peak }) - c.psnr)).toBeLessThan(1e-9);
  });
});
