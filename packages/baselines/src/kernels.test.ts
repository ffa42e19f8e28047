import { Rng } from '@vqvid/core';
import { invert, polyExpand } from './polyexp';
import { boxBlur, downsample, gaussianBlur, sampleBilinear, upsampleFlow } from './pyramid';

const clampi = (i: number, n: number): number => Math.min(n - 1, Math.max(0, i));

function randomPlane(seed: number, w: number, h: number, channels = 1): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: w * h * channels }, () => rng.next() * 100 - 50);
}

/** Naive separable-free 2-D filter with replicate border: Σ weight(dx, dy)·src(clamp(x+dx), clamp(y+dy)). */
function naiveFilter(src: Float32Array, w: number, h: number, ch: number, r: number, weight: (dx: number, dy: number) => number): Float32Array {
  const out = new Float32Array(src.length);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < ch; c++) {
    let s = 0;
    for (let dy = -r; dy <= r; dy++) for (let dx = -r; dx <= r; dx++) {
      s += weight(dx, dy) * src[(clampi(y + dy, h) * w + clampi(x + dx, w)) * ch + c];
    }
    out[(y * w + x) * ch + c] = s;
  }
  return out;
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  expect(worst).toBeLessThan(tol);
}

test('boxBlur equals the naive clamped window mean (3 channels, window wider than the plane)', () => {
  const [w, h, ch] = [7, 5, 3];
  const src = randomPlane(1, w, h, ch);
  for (const r of [1, 2, 4]) {
    expectClose(boxBlur(src, w, h, ch, r), naiveFilter(src, w, h, ch, r, () => 1 / (2 * r + 1) ** 2), 1e-4);
  }
});

test('gaussianBlur equals the naive 2-D Gaussian', () => {
  const [w, h, ch] = [9, 6, 2];
  const src = randomPlane(2, w, h, ch);
  const sigma = 1.3;
  const r = Math.ceil(3 * sigma);
  let z = 0;
  for (let dy = -r; dy <= r; dy++) for (let dx = -r; dx <= r; dx++) z += Math.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma));
  const want = naiveFilter(src, w, h, ch, r, (dx, dy) => Math.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)) / z);
  expectClose(gaussianBlur(src, w, h, ch, sigma), want, 1e-4);
});

test('downsample is the binomial blur sampled at even pixels', () => {
  const [w, h] = [7, 6];
  const src = randomPlane(3, w, h);
  const b = [1, 4, 6, 4, 1].map((x) => x / 16);
  const blurred = naiveFilter(src, w, h, 1, 2, (dx, dy) => b[dx + 2] * b[dy + 2]);
  const d = downsample({ width: w, height: h, data: src });
  expect([d.width, d.height]).toEqual([4, 3]);
  const want = Array.from({ length: 12 }, (_, i) => blurred[2 * Math.floor(i / 4) * w + 2 * (i % 4)]);
  expectClose(d.data, want, 1e-4);
});

test('sampleBilinear and upsampleFlow (hand values)', () => {
  const p = Float32Array.from([0, 10, 20, 30]); // 2x2
  expect(sampleBilinear(p, 2, 2, 0.5, 0.5)).toBeCloseTo(15, 6);
  expect(sampleBilinear(p, 2, 2, 1, 0.25)).toBeCloseTo(15, 6);
  expect(sampleBilinear(p, 2, 2, -3, 9)).toBe(20);
  // 2x1 coarse flow [1, 3] to a 3x1 fine grid: samples at x/2 = 0, 0.5, 1, doubled.
  expect(Array.from(upsampleFlow(Float32Array.from([1, 3]), 2, 1, 3, 1, 2))).toEqual([2, 4, 6]);
});

test('invert gives the inverse of a random well-conditioned matrix', () => {
  const rng = new Rng(4);
  const n = 6;
  const m = Float64Array.from({ length: n * n }, (_, i) => rng.next() + (i % (n + 1) === 0 ? n : 0));
  const inv = invert(m, n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += m[i * n + k] * inv[k * n + j];
    expect(s).toBeCloseTo(i === j ? 1 : 0, 10);
  }
});

test('polyExpand equals a per-pixel weighted least-squares quadratic fit (replicate border)', () => {
  const [w, h] = [8, 7];
  const src = randomPlane(5, w, h);
  const [radius, sigma] = [2, 1.1];
  const got = polyExpand({ width: w, height: h, data: src }, radius, sigma);
  let z = 0;
  for (let k = -radius; k <= radius; k++) z += Math.exp(-(k * k) / (2 * sigma * sigma));
  const g = (k: number): number => Math.exp(-(k * k) / (2 * sigma * sigma)) / z;
  for (const [x, y] of [[0, 0], [3, 3], [7, 2], [4, 6], [1, 5]]) {
    // Normal equations of min Σ g(dx)g(dy)·(f − basis·r)², solved directly.
    const ata = new Float64Array(36);
    const atb = new Float64Array(6);
    for (let dy = -radius; dy <= radius; dy++) for (let dx = -radius; dx <= radius; dx++) {
      const wt = g(dx) * g(dy);
      const basis = [1, dx, dy, dx * dx, dy * dy, dx * dy];
      const f = src[clampi(y + dy, h) * w + clampi(x + dx, w)];
      for (let i = 0; i < 6; i++) {
        atb[i] += wt * basis[i] * f;
        for (let j = 0; j < 6; j++) ata[i * 6 + j] += wt * basis[i] * basis[j];
      }
    }
    const inv = invert(ata, 6);
    const coef = Array.from({ length: 6 }, (_, i) => atb.reduce((s, b, j) => s + inv[i * 6 + j] * b, 0));
    const o = (y * w + x) * 5;
    expectClose(got.subarray(o, o + 5), coef.slice(1), 1e-3);
  }
});
