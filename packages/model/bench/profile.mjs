// Where one training step's time goes, by tfjs op (kernel): tf.profile times every kernel of one fit step
// (forward, backward, clipping and the Adam update, in this thread: workers: 1) at K = 1024 full softmax and
// K = 10,000 factored, with the settings of bench/throughput.mjs. Prints JSON: per configuration the step's
// wall time without the profiler, the profiled kernels' total, and the top ops with their share of that total
// (scopes of custom-gradient ops, which wrap kernels counted on their own, are listed apart in scopesMs).
// Usage: node bench/profile.mjs [--quick] [--top n] [--backend wasm]   (needs `npm run build` first)
import * as tf from '@tensorflow/tfjs-core';
import { RCNN, initBackend } from '../dist/index.mjs';
import { benchSettings, randomCodes } from './settings.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const ti = args.indexOf('--top');
const top = ti >= 0 ? Number(args[ti + 1]) : 12;
const bi = args.indexOf('--backend');
const backend = bi >= 0 ? args[bi + 1] : 'wasm';
const settings = benchSettings(quick);
const { grid, model } = settings;
const fit = { ...settings.fit, workers: 1 };
const codesFor = (k) => randomCodes(grid, fit.bptt + 1, k, k);

async function profileStep(k, softmax) {
  const codes = codesFor(k);
  const m = new RCNN({ k, softmax, seed: 1, ...model });
  const step = { ...fit, epochs: 1, stepsPerEpoch: 1 };
  await m.fit(codes, step); // warm-up: output built, kernels compiled
  // the faster of two unprofiled steps (the machine may be shared: interference only adds time)
  let wall = Infinity;
  for (let rep = 0; rep < 2; rep++) {
    const t0 = performance.now();
    await m.fit(codes, step);
    wall = Math.min(wall, performance.now() - t0);
  }
  const info = await tf.profile(() => m.fit(codes, step).then(() => tf.scalar(0)));
  m.dispose();
  const byOp = new Map();
  const scopes = new Map();
  for (const kern of info.kernels) {
    // a custom-gradient op is profiled as a scope around kernels that are profiled too: kept apart, not summed
    if (!tf.getKernel(kern.name, tf.getBackend())) {
      scopes.set(kern.name, (scopes.get(kern.name) ?? 0) + kern.kernelTimeMs);
      continue;
    }
    const e = byOp.get(kern.name) ?? { op: kern.name, ms: 0, calls: 0 };
    e.ms += kern.kernelTimeMs;
    e.calls++;
    byOp.set(kern.name, e);
  }
  const total = [...byOp.values()].reduce((s, e) => s + e.ms, 0);
  const ops = [...byOp.values()].sort((a, b) => b.ms - a.ms);
  const share = (ms) => +(ms / total).toFixed(3);
  return {
    k,
    softmax,
    cells: fit.bptt * fit.batch * grid.rows * grid.cols,
    stepWallMs: +wall.toFixed(1),
    kernelMs: +total.toFixed(1),
    kernels: info.kernels.length,
    top: ops.slice(0, top).map((e) => ({ op: e.op, ms: +e.ms.toFixed(1), share: share(e.ms), calls: e.calls })),
    rest: { ops: Math.max(0, ops.length - top), share: share(ops.slice(top).reduce((s, e) => s + e.ms, 0)) },
    scopesMs: Object.fromEntries([...scopes].map(([name, ms]) => [name, +ms.toFixed(1)])),
  };
}

const choice = await initBackend([backend]);
const results = [];
for (const [k, softmax] of [[1024, 'full'], [10000, 'factored']]) results.push(await profileStep(k, softmax));
console.log(JSON.stringify({ bench: 'model/profile', quick, backend: choice.backend, grid, fit, model, tfjs: tf.version_core, results }, null, 2));
