// SSIM speed on 320x240 gray frames: the separable implementation against a direct 11x11 windowed sum
// (what a naive port does), with MSE as the cost floor. Prints one JSON object; ratios come from this run.
// Usage: npm run bench -w @vqvid/metrics [-- frames]
import { Rng } from '@vqvid/core';
import { mse, ssimMap, ssimPerFrame } from '../dist/index.mjs';

const width = 320;
const height = 240;
const frames = Number(process.argv[2] ?? 8);

function frameOfNoise(seed) {
  const rng = new Rng(seed);
  const data = new Float32Array(width * height * frames);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
  return { width, height, frames, data };
}

/** SSIM map of frame 0 by direct 2-D weighted sums over the 11x11 window (scipy 'reflect' borders). */
function directSsimMap(a, b) {
  const g = Array.from({ length: 11 }, (_, i) => Math.exp(-((i - 5) ** 2) / 4.5));
  const total = g.reduce((s, v) => s + v, 0);
  const refl = (i, n) => (i < 0 ? -i - 1 : i >= n ? 2 * n - 1 - i : i);
  const [c1, c2] = [(0.01 * 255) ** 2, (0.03 * 255) ** 2];
  const out = new Float64Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let mx = 0, my = 0, mxx = 0, myy = 0, mxy = 0;
      for (let dy = -5; dy <= 5; dy++) {
        const row = refl(y + dy, height) * width;
        for (let dx = -5; dx <= 5; dx++) {
          const w = (g[dy + 5] * g[dx + 5]) / (total * total);
          const p = a.data[row + refl(x + dx, width)];
          const q = b.data[row + refl(x + dx, width)];
          mx += w * p; my += w * q; mxx += w * p * p; myy += w * q * q; mxy += w * p * q;
        }
      }
      const num = (2 * mx * my + c1) * (2 * (mxy - mx * my) + c2);
      out[y * width + x] = num / ((mx * mx + my * my + c1) * (mxx - mx * mx + myy - my * my + c2));
    }
  }
  return out;
}

function msPerCall(fn, repeats) {
  fn();
  const t0 = performance.now();
  for (let r = 0; r < repeats; r++) fn();
  return (performance.now() - t0) / repeats;
}

const a = frameOfNoise(1);
const b = frameOfNoise(2);
const one = { width, height, frames: 1 };
const a0 = { ...one, data: a.data.subarray(0, width * height) };
const b0 = { ...one, data: b.data.subarray(0, width * height) };

const ssimMs = msPerCall(() => ssimPerFrame(a, b), 3) / frames;
const mseMs = msPerCall(() => mse(a, b), 3) / frames;
const directMs = msPerCall(() => directSsimMap(a0, b0), 1);
const fast = ssimMap(a0, b0);
const direct = directSsimMap(a0, b0);
let maxAbsDiff = 0;
for (let i = 0; i < fast.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(fast[i] - direct[i]));

console.log(JSON.stringify({
  bench: 'metrics/ssim',
  node: process.version,
  width,
  height,
  frames,
  ssimMsPerFrame: +ssimMs.toFixed(3),
  directSsimMsPerFrame: +directMs.toFixed(3),
  speedupVsDirect: +(directMs / ssimMs).toFixed(2),
  mseMsPerFrame: +mseMs.toFixed(3),
  ssimCostInMse: +(ssimMs / mseMs).toFixed(1),
  maxAbsDiffVsDirect: maxAbsDiff,
}));
