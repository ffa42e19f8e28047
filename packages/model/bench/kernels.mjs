// The wasm kernels this package replaces or wraps (src/kernels: GatherV2, SplitV, Slice, BatchMatMul with
// transposed operands, Transpose), each timed against the backend's own kernel on the same inputs in the same run, at the
// shapes of one training step (bench/throughput.mjs's settings: 16x16 crops, batch 4, bptt 4, embed = hidden
// = 64, K = 1024 and 10,000). Both kernels are called directly (kernelFunc) on the same tensors, alternating, and
// each keeps its fastest of `reps` calls; `ratio` = the original's time / ours, so it holds under a shared load.
// Outputs are checked equal before timing (bit for bit; the products within 1e-3 of max(1, |value|): sums of up to 4096 float32 terms in another order).
// The products take fresh copies of their operands before every call (copied outside the timing): the backend keeps
// an operand's XNNPACK packing per tensor, and in training every gradient operand is a new tensor.
// Usage: node bench/kernels.mjs [--reps n]   (needs `npm run build` first)
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '../dist/index.mjs';

const args = process.argv.slice(2);
const ri = args.indexOf('--reps');
const reps = ri >= 0 ? Number(args[ri + 1]) : 15;
if (!Number.isInteger(reps) || reps < 1) throw new Error('--reps takes a positive integer');

// the backend's own kernels, captured before initBackend wraps them
const NAMES = [tf.GatherV2, tf.SplitV, tf.Slice, tf.BatchMatMul, tf.Transpose];
const originals = Object.fromEntries(NAMES.map((n) => [n, tf.getKernel(n, 'wasm')]));
const choice = await initBackend(['wasm']);
if (choice.backend !== 'wasm') throw new Error('the wasm backend did not initialise');
const backend = tf.backend();

const run = (fn, inputs, attrs) => {
  const out = fn({ inputs, attrs, backend });
  const outs = Array.isArray(out) ? out : [out];
  return outs;
};
const read = (outs) => outs.map((o) => Array.from(backend.readSync(o.dataId)));
const free = (outs) => outs.forEach((o) => backend.disposeData(o.dataId));

/** Largest |a − b| / max(1, |b|) over all outputs (0 when bit for bit equal), Infinity when the shapes differ. */
function difference(a, b) {
  if (JSON.stringify(a.map((o) => o.shape)) !== JSON.stringify(b.map((o) => o.shape))) return Infinity;
  const va = read(a).flat();
  const vb = read(b).flat();
  let worst = 0;
  for (let i = 0; i < va.length; i++) worst = Math.max(worst, Math.abs(va[i] - vb[i]) / Math.max(1, Math.abs(vb[i])));
  return worst;
}

/** Copies of the inputs with new data (a backend id of their own), for calls that must not find a cached packing. */
const copies = (inputs) => Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, tf.mul(t, 1)]));

function compare(name, label, inputs, attrs, tolerance = 0, fresh = false) {
  const ours = tf.getKernel(name, 'wasm').kernelFunc;
  const theirs = originals[name].kernelFunc;
  const a = run(ours, inputs, attrs);
  const b = run(theirs, inputs, attrs);
  const diff = difference(a, b);
  free(a);
  free(b);
  if (!(diff <= tolerance)) throw new Error(`${name} ${label}: our kernel's output differs from the backend's by ${diff}`);
  let oursMs = Infinity;
  let theirsMs = Infinity;
  for (let r = 0; r < reps; r++) {
    for (const [fn, set] of [[ours, (ms) => (oursMs = Math.min(oursMs, ms))], [theirs, (ms) => (theirsMs = Math.min(theirsMs, ms))]]) {
      const given = fresh ? copies(inputs) : inputs;
      const t0 = performance.now();
      const outs = run(fn, given, attrs);
      set(performance.now() - t0);
      free(outs);
      if (fresh) tf.dispose(Object.values(given));
    }
  }
  return { kernel: name, shape: label, oursMs: +oursMs.toFixed(3), backendMs: +theirsMs.toFixed(3), ratio: +(theirsMs / oursMs).toFixed(2), maxRelDiff: diff };
}

const rnd = (shape, seed) => tf.randomUniform(shape, -1, 1, 'float32', seed);
const ids = (n, k, seed) => {
  let s = seed;
  return tf.tensor1d(Int32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) >>> 0) % k)), 'int32');
};
// one step: 6 frames (2 warm-up + 4) x 4 windows x 20x20 (crop + margins) input cells; 4 x 4 x 16x16 predicted
const inCells = 6 * 4 * 20 * 20;
const cells = 4 * 4 * 16 * 16;
const results = [];
{
  const emb = rnd([10000, 64], 1);
  const codes = ids(inCells, 10000, 2);
  results.push(compare(tf.GatherV2, `embedding [10000, 64] by ${inCells} codes`, { x: emb, indices: codes }, { axis: 0, batchDims: 0 }));
  const w = rnd([64, 10000], 3);
  const cols = ids(cells, 10000, 4);
  results.push(compare(tf.GatherV2, `output columns [64, 10000] by ${cells}, axis 1`, { x: w, indices: cols }, { axis: 1, batchDims: 0 }));
  const h = rnd([cells, 64], 5);
  const order = ids(cells, cells, 6);
  results.push(compare(tf.GatherV2, `states [${cells}, 64] by ${cells} rows`, { x: h, indices: order }, { axis: 0, batchDims: 0 }));
  results.push(compare(tf.SplitV, 'output weights [64, 10000] into 100 classes, axis 1', { x: w }, { numOrSizeSplits: Array(100).fill(100), axis: 1 }));
  const patches = rnd([inCells, 9 * 64], 7);
  results.push(compare(tf.SplitV, `im2col gradient [${inCells}, 576] into 9, axis 1`, { x: patches }, { numOrSizeSplits: 9, axis: 1 }));
  const gates = rnd([cells, 3], 8);
  results.push(compare(tf.SplitV, `gate logits [${cells}, 3] into 3, axis 1`, { x: gates }, { numOrSizeSplits: 3, axis: 1 }));
  const seq = rnd([6, 4, 20, 20, 64], 9);
  results.push(compare(tf.Slice, 'a time step of [6, 4, 20, 20, 64]', { x: seq }, { begin: [2, 0, 0, 0, 0], size: [1, 4, 20, 20, 64] }));
  results.push(compare(tf.Slice, 'a 16x16 crop of [6, 4, 20, 20, 64]', { x: seq }, { begin: [0, 0, 2, 2, 0], size: [6, 4, 16, 16, 64] }));
  const a = rnd([cells, 64], 10);
  const b = rnd([1024, 64], 11);
  results.push(compare(tf.BatchMatMul, `[${cells}, 64] x [1024, 64]^T (logits gradient)`, { a: tf.reshape(a, [1, cells, 64]), b: tf.reshape(b, [1, 1024, 64]) }, { transposeA: false, transposeB: true }, 1e-3, true));
  const dy = rnd([cells, 1024], 12);
  results.push(compare(tf.BatchMatMul, `[${cells}, 64]^T x [${cells}, 1024] (logits' weight gradient)`, { a, b: dy }, { transposeA: true, transposeB: false }, 1e-3, true));
  const dy10k = rnd([cells, 10000], 13);
  results.push(compare(tf.BatchMatMul, `[${cells}, 64]^T x [${cells}, 10000] (logits' weight gradient, K = 10,000)`, { a, b: dy10k }, { transposeA: true, transposeB: false }, 1e-3, true));
  const im = rnd([cells, 9 * 64], 14);
  const dconv = rnd([cells, 64], 15);
  results.push(compare(tf.BatchMatMul, `[${cells}, 576]^T x [${cells}, 64] (a convolution's weight gradient)`, { a: im, b: dconv }, { transposeA: true, transposeB: false }, 1e-3, true));
  results.push(compare(tf.Transpose, `[${cells}, 1024] (the logits' gradient)`, { x: dy }, { perm: [1, 0] }));
  results.push(compare(tf.Transpose, `[${cells}, 576] (an im2col matrix)`, { x: im }, { perm: [1, 0] }));
  results.push(compare(tf.Transpose, `[${cells}, 64] (states)`, { x: a }, { perm: [1, 0] }));
}
console.log(JSON.stringify({ bench: 'model/kernels', backend: choice.backend, tfjs: tf.version_core, reps, loadavg: os.loadavg().map((v) => +v.toFixed(2)), results }, null, 2));
