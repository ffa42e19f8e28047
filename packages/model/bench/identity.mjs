// The zero-copy wasm Identity kernel (src/kernels, registered by initBackend) against a copying one like
// tfjs-backend-wasm's own, alternated in one process on the same model: a training step's wall ms at K = 1024 (full
// softmax) and K = 10,000 (factored), the settings of bench/throughput.mjs, one thread (workers: 1). Prints JSON:
// per configuration the median ms per step of 4 alternating fits of 5 timed steps each, and the ratio.
// Usage: node bench/identity.mjs   (needs `npm run build` first)
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { RCNN, initBackend } from '../dist/index.mjs';
import { benchSettings, randomCodes } from './settings.mjs';
await initBackend(['wasm']);
const ours = tf.getKernel('Identity', 'wasm');
const copying = { ...ours, kernelFunc: ({ inputs, backend }) => { const x = inputs.x; const out = backend.makeOutput(x.shape, x.dtype); backend.typedArrayFromHeap(out).set(backend.typedArrayFromHeap(x)); return out; } };
const use = (k) => { tf.unregisterKernel('Identity', 'wasm'); tf.registerKernel(k); };
const { fit, model, grid } = benchSettings(false);
const res = {};
for (const [k, softmax] of [[1024, 'full'], [10000, 'factored']]) {
  const codes = randomCodes(grid, fit.bptt + 1, k, k);
  const m = new RCNN({ k, softmax, seed: 1, ...model });
  await m.fit(codes, { ...fit, epochs: 1, stepsPerEpoch: 2, workers: 1 });
  const t = { ours: [], copying: [] };
  for (let rep = 0; rep < 4; rep++) for (const [name, kern] of [['copying', copying], ['ours', ours]]) {
    use(kern);
    const ends = [];
    await m.fit(codes, { ...fit, epochs: 1, stepsPerEpoch: 6, workers: 1, onProgress: (e) => e.stage === 'train' && ends.push(performance.now()) });
    t[name].push((ends[5] - ends[0]) / 5);
  }
  use(ours);
  const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  res[`${softmax}@${k}`] = { copyingMs: +med(t.copying).toFixed(1), oursMs: +med(t.ours).toFixed(1), ratio: +(med(t.copying) / med(t.ours)).toFixed(3), all: t };
  m.dispose();
}
console.log(JSON.stringify({ bench: 'model/identity', tfjs: tf.version_core, loadavg: os.loadavg().map((v) => +v.toFixed(2)), fit, model, grid, results: res }, null, 2));
