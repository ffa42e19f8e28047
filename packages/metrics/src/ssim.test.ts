import { VqvidError } from '@vqvid/core';
import type { Video } from '@vqvid/core';
import { casePair, reference } from './fixtures/reference';
import { ssim, ssimMap, ssimPerFrame } from './index';
import { reflectIndex, SSIM_KERNEL } from './ssim';
import { randomVideo, sceneVideo, videoOf } from './test-helpers';

/** scipy 'reflect' by its definition: mirror about the edge (edge sample repeated) until inside. */
function reflectByMirroring(i: number, n: number): number {
  while (i < 0 || i >= n) i = i < 0 ? -i - 1 : 2 * n - 1 - i;
  return i;
}

/** Slow SSIM map of frame t: direct 11x11 weighted sums, no separability. */
function naiveSsimMap(a: Video, b: Video, t: number, peak: number): Float64Array {
  const { width: w, height: h } = a;
  const g = Array.from({ length: 11 }, (_, i) => Math.exp(-((i - 5) ** 2) / (2 * 1.5 ** 2)));
  const gs = g.reduce((s, v) => s + v, 0);
  const out = new Float64Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let [mx, my, mxx, myy, mxy] = [0, 0, 0, 0, 0];
      for (let dy = -5; dy <= 5; dy++) {
        for (let dx = -5; dx <= 5; dx++) {
          const weight = (g[dy + 5] * g[dx + 5]) / (gs * gs);
          const i = (t * h + reflectByMirroring(y + dy, h)) * w + reflectByMirroring(x + dx, w);
          const p = a.data[i];
          const q = b.data[i];
          mx += weight * p;
          my += weight * q;
          mxx += weight * p * p;
          myy += weight * q * q;
          mxy += weight * p * q;
        }
      }
      const [c1, c2] = [(0.01 * peak) ** 2, (0.03 * peak) ** 2];
      const [vx, vy, vxy] = [mxx - mx * mx, myy - my * my, mxy - mx * my];
      out[y * w + x] = ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
    }
  }
  return out;
}

/** Mean of a map over the crop region (5 px from each side) and an optional mask. */
function croppedMean(map: Float64Array, w: number, h: number, mask?: Uint8Array): number {
  let [s, n] = [0, 0];
  for (let y = 5; y < h - 5; y++) {
    for (let x = 5; x < w - 5; x++) {
      if (mask && !mask[y * w + x]) continue;
      s += map[y * w + x];
      n++;
    }
  }
  return s / n;
}

describe('SSIM building blocks', () => {
  test('reflectIndex follows scipy mode "reflect", also for axes shorter than the window', () => {
    for (const n of [1, 2, 3, 11, 12]) {
      for (let i = -17; i < n + 17; i++) expect(reflectIndex(i, n)).toBe(reflectByMirroring(i, n));
    }
    expect([-3, -2, -1, 4, 5, 6].map((i) => reflectIndex(i, 4))).toEqual([2, 1, 0, 3, 2, 1]);
  });

  test('the kernel is the normalised 11-tap Gaussian with sigma 1.5', () => {
    expect(SSIM_KERNEL.length).toBe(11);
    expect(SSIM_KERNEL.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 15);
    expect(SSIM_KERNEL[5] / SSIM_KERNEL[6]).toBeCloseTo(Math.exp(1 / 4.5), 14);
  });
});

describe('ssim', () => {
  test('fast separable map equals the naive 2-D windowed sums (incl. reflect borders)', () => {
    for (const [w, h, seed] of [[11, 11, 1], [17, 12, 2], [24, 13, 3]]) {
      const a = randomVideo(w, h, 2, seed);
      const b = randomVideo(w, h, 2, seed + 100);
      const fast = ssimMap(a, b);
      for (let t = 0; t < 2; t++) {
        const slow = naiveSsimMap(a, b, t, 255);
        const maxErr = slow.reduce((m, v, i) => Math.max(m, Math.abs(v - fast[t * w * h + i])), 0);
        expect(maxErr).toBeLessThan(1e-12);
        expect(ssimPerFrame(a, b)[t]).toBeCloseTo(croppedMean(slow, w, h), 12);
      }
    }
  });

  test.each(reference.cases.map((c) => [c.name, c] as const))('matches scikit-image on %s', (_, c) => {
    const { pred, truth } = casePair(c);
    expect(Math.abs(ssim(pred, truth, { peak: c.peak }) - c.ssim)).toBeLessThan(1e-9);
    if (c.ssimMap) {
      const map = ssimMap(pred, truth, { peak: c.peak });
      const maxErr = c.ssimMap.reduce((m, v, i) => Math.max(m, Math.abs(v - map[i])), 0);
      expect(maxErr).toBeLessThan(1e-9);
    }
  });

  test('is exactly 1 for identical frames and symmetric', () => {
    const a = sceneVideo(20, 16, 2);
    const b = randomVideo(20, 16, 2, 9);
    expect(ssim(a, a)).toBe(1);
    expect(ssim(b, b)).toBe(1);
    expect(ssim(a, b)).toBe(ssim(b, a));
    expect(ssim(a, b)).toBeLessThan(0.2);
  });

  test('constant frames: only the luminance term remains', () => {
    const a = videoOf(12, 12, new Array(144).fill(100));
    const b = videoOf(12, 12, new Array(144).fill(150));
    const c1 = (0.01 * 255) ** 2;
    expect(ssim(a, b)).toBeCloseTo((2 * 100 * 150 + c1) / (100 ** 2 + 150 ** 2 + c1), 12);
  });

  test('masks: all-ones equals unmasked; a subset averages the map over masked cropped pixels', () => {
    const a = randomVideo(16, 14, 1, 11);
    const b = randomVideo(16, 14, 1, 12);
    expect(ssim(a, b, { mask: new Uint8Array(16 * 14).fill(1) })).toBe(ssim(a, b));
    const mask = new Uint8Array(16 * 14).map((_, i) => (i % 5 < 2 ? 1 : 0));
    expect(ssim(a, b, { mask })).toBeCloseTo(croppedMean(naiveSsimMap(a, b, 0, 255), 16, 14, mask), 12);
    const borderOnly = new Uint8Array(16 * 14);
    borderOnly.fill(1, 0, 16 * 5); // top 5 rows are cropped away
    expect(ssim(a, b, { mask: borderOnly })).toBeNaN();
  });

  test('rejects frames smaller than the window', () => {
    const a = randomVideo(10, 20, 1, 1);
    expect(() => ssim(a, a)).toThrow(VqvidError);
    expect(() => ssimMap(a, a)).toThrow(VqvidError);
  });
});
