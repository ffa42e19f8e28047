import { VqvidError } from '@vqvid/core';
import type { Video } from '@vqvid/core';
import { denormalize, normalize, rgbToGray } from './preprocess';

describe('rgbToGray', () => {
  test('BT.601 weights on hand values', () => {
    const g = rgbToGray(new Uint8Array([255, 0, 0, 0, 255, 0, 0, 0, 255, 100, 150, 200]), 2, 2);
    expect(g).toMatchObject({ width: 2, height: 2, frames: 1 });
    const want = [76.245, 149.685, 29.07, 0.299 * 100 + 0.587 * 150 + 0.114 * 200];
    want.forEach((w, i) => expect(g.data[i]).toBeCloseTo(w, 3));
  });
  test('RGBA ignores alpha and handles several frames', () => {
    const g = rgbToGray(new Float32Array([10, 10, 10, 0, 20, 20, 20, 255]), 1, 1, 4);
    expect(g.frames).toBe(2);
    expect(g.data[0]).toBeCloseTo(10, 5);
    expect(g.data[1]).toBeCloseTo(20, 5);
  });
  test('bad input', () => {
    expect(() => rgbToGray(new Uint8Array(5), 1, 2)).toThrow(/rgb.length/);
    expect(() => rgbToGray(new Uint8Array(6), 1, 2, 2 as 3)).toThrow(/channels/);
    expect(() => rgbToGray([1, 2, 3] as unknown as Uint8Array, 1, 1)).toThrow(VqvidError);
  });
});

describe('normalize / denormalize', () => {
  const v: Video = { width: 2, height: 1, frames: 2, fps: 5, data: new Float32Array([10, 20, 30, 40]) };
  test('divides by the population std, without removing the mean', () => {
    const std = Math.sqrt((15 ** 2 + 5 ** 2 + 5 ** 2 + 15 ** 2) / 4);
    const { video, std: s } = normalize(v);
    expect(s).toBeCloseTo(std, 10);
    Array.from(v.data).forEach((x, i) => expect(video.data[i]).toBeCloseTo(x / std, 5));
    expect(video.fps).toBe(5);
    expect(v.data[0]).toBe(10); // input untouched
  });
  test('denormalize undoes it', () => {
    const { video, std } = normalize(v);
    const back = denormalize(video, std);
    Array.from(v.data).forEach((x, i) => expect(back.data[i]).toBeCloseTo(x, 4));
  });
  test('zero std and bad std are E_RANGE', () => {
    const flat: Video = { width: 2, height: 2, frames: 1, data: new Float32Array(4).fill(7) };
    expect(() => normalize(flat)).toThrow(expect.objectContaining({ code: 'E_RANGE' }));
    expect(() => denormalize(v, 0)).toThrow(expect.objectContaining({ code: 'E_RANGE' }));
    expect(() => denormalize(v, NaN)).toThrow(expect.objectContaining({ code: 'E_RANGE' }));
  });
});
