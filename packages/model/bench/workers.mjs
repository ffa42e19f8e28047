// Data-parallel training over worker threads (FitOptions.workers), wasm backend: cells/s per worker count at
// K = 1024 full softmax and K = 10,000 factored, with the settings of bench/throughput.mjs, and `speedup` =
// cells/s of the most workers over the fewest, measured in the same run (a ratio: the machine may be shared;
// the load average before and after is printed with it).
// Usage: node bench/workers.mjs [--quick] [--workers 1,2]   (needs `npm run build` first)
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { RCNN, initBackend } from '../dist/index.mjs';
import { benchSettings, randomCodes } from './settings.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const wi = args.indexOf('--workers');
const counts = wi >= 0 ? args[wi + 1].split(',').map(Number) : [1, 2];
const { grid, fit, steps, model } = benchSettings(quick);
const codesFor = (k) => randomCodes(grid, fit.bptt + 1, k, k);

/**
 * Cells/s with `workers` threads, timed from the end of a fit's first step to the end of its last (`steps`
 * more), so starting the workers (each loads tfjs and builds the model) is left out and reported apart; the
 * faster of two fits (interference only ever adds time).
 */
async function measure(k, softmax, workers) {
  const codes = codesFor(k);
  const m = new RCNN({ k, softmax, seed: 1, ...model });
  const cells = fit.bptt * fit.batch * grid.rows * grid.cols;
  await m.fit(codes, { ...fit, epochs: 1, stepsPerEpoch: 1, workers: 1 }); // output built, kernels compiled
  let seconds = Infinity;
  let startSeconds = Infinity;
  for (let rep = 0; rep < 2; rep++) {
    const ends = [];
    const t0 = performance.now();
    await m.fit(codes, { ...fit, epochs: 1, stepsPerEpoch: steps + 1, workers, onProgress: (e) => e.stage === 'train' && ends.push(performance.now()) });
    const perStep = (ends[steps] - ends[0]) / 1000 / steps;
    seconds = Math.min(seconds, perStep * steps);
    startSeconds = Math.min(startSeconds, (ends[0] - t0) / 1000 - perStep);
  }
  m.dispose();
  return { cellsPerSecond: Math.round((cells * steps) / seconds), secondsPerStep: +(seconds / steps).toFixed(3), startSeconds: +Math.max(0, startSeconds).toFixed(2) };
}

const choice = await initBackend(['wasm']);
const loadBefore = os.loadavg().map((v) => +v.toFixed(2));
const results = {};
for (const [k, softmax] of [[1024, 'full'], [10000, 'factored']]) {
  const per = {};
  for (const n of counts) per[n] = await measure(k, softmax, n);
  const speedup = +(per[Math.max(...counts)].cellsPerSecond / per[Math.min(...counts)].cellsPerSecond).toFixed(2);
  results[`${softmax}@${k}`] = { ...per, speedup };
}
const loadAfter = os.loadavg().map((v) => +v.toFixed(2));
console.log(JSON.stringify({
  bench: 'model/workers', quick, backend: choice.backend, cores: os.availableParallelism(), loadBefore, loadAfter,
  grid, fit, model, steps, tfjs: tf.version_core, results,
}, null, 2));
