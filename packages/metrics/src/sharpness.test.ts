import { VqvidError } from '@vqvid/core';
import type { Video } from '@vqvid/core';
import { gradientEnergy, gradientEnergyPerFrame, sharpness, sharpnessPerFrame } from './index';
import { boxBlur, randomVideo, sceneVideo, videoOf } from './test-helpers';

/** Mathieu et al.'s Sharp. diff. of frame t written out literally, with 2-D (i, j) indexing. */
function naiveSharpDiff(pred: Video, truth: Video, t: number, peak: number, mask?: Uint8Array): number {
  const { width: w, height: h } = pred;
  const Y = (i: number, j: number): number => truth.data[(t * h + i) * w + j];
  const P = (i: number, j: number): number => pred.data[(t * h + i) * w + j];
  let [sum, n] = [0, 0];
  for (let i = 1; i < h; i++) {
    for (let j = 1; j < w; j++) {
      if (mask && !mask[i * w + j]) continue;
      const gy = Math.abs(Y(i, j) - Y(i - 1, j)) + Math.abs(Y(i, j) - Y(i, j - 1));
      const gp = Math.abs(P(i, j) - P(i - 1, j)) + Math.abs(P(i, j) - P(i, j - 1));
      sum += Math.abs(gy - gp);
      n++;
    }
  }
  return 10 * Math.log10(peak ** 2 / (sum / n));
}

describe('sharpness (Mathieu et al. 2016 Sharp. diff.)', () => {
  test('equals the literal formula per frame and on average', () => {
    const pred = randomVideo(9, 7, 3, 1);
    const truth = randomVideo(9, 7, 3, 2);
    const perFrame = sharpnessPerFrame(pred, truth, { peak: 255 });
    for (let t = 0; t < 3; t++) expect(perFrame[t]).toBeCloseTo(naiveSharpDiff(pred, truth, t, 255), 10);
    expect(sharpness(pred, truth)).toBeCloseTo((perFrame[0] + perFrame[1] + perFrame[2]) / 3, 12);
    expect(sharpness(pred, truth, { peak: 1 })).toBeCloseTo(sharpness(pred, truth) - 20 * Math.log10(255), 10);
  });

  test('a hand-computed 2x2 case', () => {
    // truth: only pixel (1,1) has both neighbours: gradients |4-2| + |4-3| = 3; pred is flat: 0
    const truth = videoOf(2, 2, [0, 3, 2, 4]);
    const pred = videoOf(2, 2, [5, 5, 5, 5]);
    expect(sharpness(pred, truth, { peak: 30 })).toBeCloseTo(10 * Math.log10(900 / 3), 12);
  });

  test('a blurred prediction scores lower than a sharp one; exact gradients give Infinity', () => {
    const truth = sceneVideo(32, 24, 2);
    const noisyButSharp = { ...truth, data: truth.data.map((v, i) => v + (i % 2)) };
    expect(sharpness(truth, truth)).toBe(Infinity);
    expect(sharpness(boxBlur(truth), truth)).toBeLessThan(sharpness(noisyButSharp, truth));
    // Repeated blur of a monotone edge keeps its total variation, so the measure saturates; a lighter
    // blur (half sharp, half blurred) must still score higher than the full blur.
    const blurred = boxBlur(truth);
    const halfBlurred = { ...truth, data: truth.data.map((v, i) => (v + blurred.data[i]) / 2) };
    expect(sharpness(blurred, truth)).toBeLessThan(sharpness(halfBlurred, truth));
  });

  test('masked: only masked interior pixels count', () => {
    const pred = randomVideo(8, 6, 2, 3);
    const truth = randomVideo(8, 6, 2, 4);
    const mask = new Uint8Array(48).map((_, i) => (i % 4 === 1 ? 1 : 0));
    const perFrame = sharpnessPerFrame(pred, truth, { mask });
    expect(perFrame[1]).toBeCloseTo(naiveSharpDiff(pred, truth, 1, 255, mask), 10);
    const firstRowOnly = new Uint8Array(48).fill(1, 0, 8);
    expect(sharpness(pred, truth, { mask: firstRowOnly })).toBeNaN();
  });

  test('rejects frames without interior pixels', () => {
    const a = videoOf(1, 4, [1, 2, 3, 4]);
    expect(() => sharpness(a, a)).toThrow(VqvidError);
    expect(() => gradientEnergy(a)).toThrow(VqvidError);
  });
});

describe('gradientEnergy', () => {
  test('mean backward-difference gradient magnitude over interior pixels', () => {
    // pixel (1,1) only: dy = 4 - 7 (row above), dx = 4 - 1 (column to the left)
    const v = videoOf(2, 2, [0, 7, 1, 4]);
    expect(gradientEnergy(v)).toBeCloseTo(Math.hypot(4 - 7, 4 - 1), 12);
    const ramp = videoOf(4, 3, [0, 2, 4, 6, 0, 2, 4, 6, 0, 2, 4, 6]);
    expect(gradientEnergy(ramp)).toBeCloseTo(2, 12);
  });

  test('blur lowers it; per-frame and masked variants', () => {
    const v = sceneVideo(24, 18, 2);
    expect(gradientEnergy(boxBlur(v))).toBeLessThan(gradientEnergy(v));
    const flat = new Uint8Array(24 * 18);
    flat[5 * 24 + 2] = 1; // inside the flat ramp, left of the square: gradient 150/24 along x
    const perFrame = gradientEnergyPerFrame(v, { mask: flat });
    expect(perFrame.length).toBe(2);
    for (const g of perFrame) expect(g).toBeCloseTo(150 / 24, 12);
  });
});
