// Worker thread of bench/workers.mjs's `independent` figure: one model trained alone on this thread (workers: 1, its
// own tfjs engine), started together with the other threads at a barrier, with the absolute end time of every step.
import { parentPort, workerData } from 'node:worker_threads';
import { readCodes } from '@vqvid/core';
import { RCNN, initBackend } from '../dist/index.mjs';
import { randomCodes } from './settings.mjs';

const { k, softmax, model, fit, grid, codesFile, warmup, steps, reps, threads, barrier } = workerData;
await initBackend(['wasm']);
const codes = codesFile ? (await readCodes(codesFile)).codes : randomCodes(grid, fit.bptt + 1, k, k);
const m = new RCNN({ k, softmax, seed: 1, ...model });
await m.fit(codes, { ...fit, epochs: 1, stepsPerEpoch: 1, workers: 1 }); // output built, kernels compiled
const gate = new Int32Array(barrier);
const runs = [];
for (let rep = 0; rep < reps; rep++) {
  // every thread waits here until all have arrived, so their fits run at the same time
  const target = threads * (rep + 1);
  Atomics.add(gate, 0, 1);
  Atomics.notify(gate, 0);
  for (let now = Atomics.load(gate, 0); now < target; now = Atomics.load(gate, 0)) Atomics.wait(gate, 0, now);
  const ends = [];
  await m.fit(codes, { ...fit, epochs: 1, stepsPerEpoch: warmup + steps, workers: 1, onProgress: (e) => e.stage === 'train' && ends.push(performance.timeOrigin + performance.now()) });
  runs.push({ from: ends[warmup - 1], to: ends[warmup + steps - 1] });
}
m.dispose();
parentPort.postMessage(runs);
