// @vqvid/metrics on its own: score a blurred and a noisy copy of a frame, and a code model's predictions.
//   npm start   (in examples/metrics-only)   or   node examples/metrics-only/index.mjs
import { bitsPerCode, codeAccuracy, evaluateFrames, motionMask, perplexity } from '@vqvid/metrics';

const W = 64;
const H = 48;
// A Video is plain data: { width, height, frames, data: Float32Array } with gray values 0..255.
const frame = (f) => {
  const data = new Float32Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) data[y * W + x] = f(x, y);
  return { width: W, height: H, frames: 1, data };
};
const truth = frame((x, y) => 128 + 90 * Math.sin(x / 4) * Math.cos(y / 5));
const box = (x, y) => {
  let s = 0;
  for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
    s += truth.data[Math.min(H - 1, Math.max(0, y + dy)) * W + Math.min(W - 1, Math.max(0, x + dx))];
  }
  return s / 9;
};
let seed = 7;
const noise = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5) * 40;
const blurred = frame(box);
const noisy = frame((x, y) => truth.data[y * W + x] + noise());
const shifted = frame((x, y) => truth.data[y * W + Math.max(0, x - 2)]);

console.log('frame          PSNR dB    SSIM  sharpness dB');
for (const [name, guess] of Object.entries({ blurred, noisy, shifted })) {
  const m = evaluateFrames(guess, truth);
  console.log(`${name.padEnd(12)} ${m.psnr.toFixed(2).padStart(8)}  ${m.ssim.toFixed(3).padStart(6)}  ${m.sharpness.toFixed(2).padStart(12)}`);
}
// Metrics restricted to where the frame changed (a motion mask between the truth and its shifted copy).
const moving = motionMask(shifted, truth);
const onMotion = evaluateFrames(blurred, truth, { mask: moving });
console.log(`blurred, moving pixels only: PSNR ${onMotion.psnr.toFixed(2)} dB (${moving.reduce((s, v) => s + (v ? 1 : 0), 0)} pixels)`);

// Code models: natural-log probabilities a model gave the true codes, and its argmax guesses.
const logProbs = [0.5, 0.25, 0.9, 0.6].map(Math.log);
const predicted = Int32Array.from([3, 1, 4, 1]);
const actual = Int32Array.from([3, 1, 4, 2]);
console.log(`codes: ${bitsPerCode(logProbs).toFixed(3)} bits/code, perplexity ${perplexity(logProbs).toFixed(3)}, accuracy ${codeAccuracy(predicted, actual)}`);
