// Training throughput (grid cells per second: forward + backward + Adam step) of the full and the
// class-factored softmax at K = 1024 and K = 10,000, on the wasm and cpu backends, in one run.
// Usage: node bench/throughput.mjs [--quick] [--backends wasm,cpu]   (needs `npm run build` first)
import * as tf from '@tensorflow/tfjs-core';
import { RCNN, initBackend } from '../dist/index.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const bi = args.indexOf('--backends');
const backends = bi >= 0 ? args[bi + 1].split(',') : ['wasm', 'cpu'];
const ks = [1024, 10000];
const grid = quick ? { rows: 8, cols: 8 } : { rows: 16, cols: 16 };
const fit = { bptt: 4, batch: quick ? 2 : 4, crop: 16 };
const steps = quick ? 2 : 5;
const model = { embedDim: quick ? 32 : 64, hidden: quick ? 32 : 64, kernel: 3, layers: 2 };

function randomCodes(frames, k, seed) {
  let s = seed >>> 0 || 1;
  const codes = new Int32Array(frames * grid.rows * grid.cols);
  for (let i = 0; i < codes.length; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    codes[i] = (s >>> 0) % k;
  }
  return { ...grid, frames, k, codes };
}

async function measure(k, softmax) {
  const codes = randomCodes(fit.bptt + 1, k, k);
  const m = new RCNN({ k, softmax, seed: 1, ...model });
  const cells = fit.bptt * fit.batch * grid.rows * grid.cols;
  await m.fit(codes, { ...fit, epochs: 1, stepsPerEpoch: 1 }); // warm-up: kernels compiled, output built
  // the faster of two timed runs: the machine is shared, and interference only ever adds time
  let seconds = Infinity;
  for (let rep = 0; rep < 2; rep++) {
    const t0 = performance.now();
    await m.fit(codes, { ...fit, epochs: 1, stepsPerEpoch: steps });
    seconds = Math.min(seconds, (performance.now() - t0) / 1000);
  }
  m.dispose();
  return { cellsPerSecond: Math.round((cells * steps) / seconds), secondsPerStep: +(seconds / steps).toFixed(3) };
}

const results = {};
for (const backend of backends) {
  const choice = await initBackend([backend]);
  if (choice.backend !== backend) continue;
  const perK = {};
  for (const k of ks) {
    const full = await measure(k, 'full');
    const factored = await measure(k, 'factored');
    perK[k] = { full, factored, factoredOverFull: +(factored.cellsPerSecond / full.cellsPerSecond).toFixed(2) };
  }
  results[backend] = perK;
}
if (results.wasm && results.cpu) {
  results.wasmOverCpu = Object.fromEntries(
    ks.flatMap((k) => ['full', 'factored'].map((s) => [`${s}@${k}`, +(results.wasm[k][s].cellsPerSecond / results.cpu[k][s].cellsPerSecond).toFixed(2)])),
  );
}
console.log(JSON.stringify({ bench: 'model/throughput', quick, grid, fit, model, steps, tfjs: tf.version_core, results }, null, 2));
