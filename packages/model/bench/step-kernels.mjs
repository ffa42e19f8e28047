// Six of the wasm kernel changes of src/kernels, each switched back alone, alternated in one process on the same
// model: a training step's wall ms at K = 1024 (full softmax) and K = 10,000 (factored), the settings of
// bench/throughput.mjs, one thread (workers: 1). The variants: `ours` (as registered by initBackend),
// `copyingIdentity` (an Identity that copies, as tfjs-backend-wasm's own) and `transposeAFirst` (Aᵀ·B always with A
// transposed first, the wrapper's path before it learned to compute (Bᵀ·A)ᵀ when that transposes fewer values) and
// `transposingSum` (a sum over leading axes transposes its input and then sums the innermost ones, as wasm's own Sum
// does, instead of the column sums over the heap) and `im2colOps` (the convolutions' im2col matrix and its gradient
// by tfjs ops, pad, k² slices and a concat, as before the Im2Col and Col2Im kernels) and `copyingUnpack` (each part
// of an unstack copies the whole input out of the heap first, as wasm's own Unpack does through its Slice) and
// `copyingSegmentSum` (UnsortedSegmentSum reads its inputs out of the heap and writes its sums back in, as before it
// worked in place).
// Prints JSON: per configuration the median ms per step of `--reps` rounds (each variant once per round, 5 timed
// steps each) and each variant's median over ours.
// Usage: node bench/step-kernels.mjs [--reps 4]   (needs `npm run build` first)
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { RCNN, initBackend } from '../dist/index.mjs';
import { benchSettings, randomCodes } from './settings.mjs';

const args = process.argv.slice(2);
const reps = args.includes('--reps') ? Number(args[args.indexOf('--reps') + 1]) : 4;
await initBackend(['wasm']);
const identity = tf.getKernel('Identity', 'wasm');
const matMul = tf.getKernel('BatchMatMul', 'wasm');
const copyingIdentity = {
  ...identity,
  kernelFunc: ({ inputs, backend }) => {
    const x = inputs.x;
    const out = backend.makeOutput(x.shape, x.dtype);
    backend.typedArrayFromHeap(out).set(backend.typedArrayFromHeap(x));
    return out;
  },
};
const transposeAFirst = {
  ...matMul,
  kernelFunc: (a) => {
    if (!a.attrs.transposeA || a.attrs.transposeB || a.inputs.a.shape.length !== 2) return matMul.kernelFunc(a);
    const at = tf.getKernel('Transpose', 'wasm').kernelFunc({ inputs: { x: a.inputs.a }, backend: a.backend, attrs: { perm: [1, 0] } });
    try {
      return matMul.kernelFunc({ ...a, inputs: { a: at, b: a.inputs.b }, attrs: { ...a.attrs, transposeA: false } });
    } finally {
      a.backend.disposeData(at.dataId);
    }
  },
};
const sum = tf.getKernel('Sum', 'wasm');
const transposingSum = {
  ...sum,
  kernelFunc: (a) => {
    const x = a.inputs.x;
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(a.attrs.axis, x.shape).slice().sort((p, q) => p - q);
    if (x.dtype !== 'float32' || axes.length === 0 || axes.length >= rank || !axes.every((v, i) => v === i)) return sum.kernelFunc(a);
    // wasm's own path: the reduced axes moved innermost by a transpose, then its Sum over them
    const perm = [...x.shape.keys()].slice(axes.length).concat(axes);
    const xt = tf.getKernel('Transpose', 'wasm').kernelFunc({ inputs: { x }, backend: a.backend, attrs: { perm } });
    try {
      const inner = axes.map((_, i) => rank - axes.length + i);
      const out = sum.kernelFunc({ ...a, inputs: { x: xt }, attrs: { axis: inner, keepDims: false } });
      if (a.attrs.keepDims) out.shape = [...axes.map(() => 1), ...out.shape];
      return out;
    } finally {
      a.backend.disposeData(xt.dataId);
    }
  },
};
const unpack = tf.getKernel('Unpack', 'wasm');
const copyingUnpack = {
  ...unpack,
  kernelFunc: ({ inputs, backend, attrs }) => {
    const x = inputs.value;
    const ax = tf.util.parseAxisParam(attrs.axis, x.shape)[0];
    const shape = x.shape.filter((_, d) => d !== ax);
    const outer = x.shape.slice(0, ax).reduce((a, b) => a * b, 1);
    const inner = shape.slice(ax).reduce((a, b) => a * b, 1);
    return Array.from({ length: x.shape[ax] }, (_, p) => {
      const all = backend.readSync(x.dataId); // the copy wasm's Slice makes of its whole input, per part
      const part = new all.constructor(outer * inner);
      for (let o = 0; o < outer; o++) part.set(all.subarray((o * x.shape[ax] + p) * inner, (o * x.shape[ax] + p + 1) * inner), o * inner);
      return backend.makeOutput(shape, x.dtype, undefined, part);
    });
  },
};
const segmentSum = tf.getKernel('UnsortedSegmentSum', 'wasm');
const copyingSegmentSum = {
  ...segmentSum,
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { x, segmentIds } = inputs;
    const rows = segmentIds.shape.reduce((a, b) => a * b, 1);
    const inner = x.shape.slice(segmentIds.shape.length).reduce((a, b) => a * b, 1);
    const xv = backend.readSync(x.dataId);
    const ids = backend.readSync(segmentIds.dataId);
    const ov = x.dtype === 'int32' ? new Int32Array(attrs.numSegments * inner) : new Float32Array(attrs.numSegments * inner);
    for (let i = 0; i < rows; i++) {
      const s = ids[i];
      if (s < 0 || s >= attrs.numSegments) continue;
      for (let j = 0; j < inner; j++) ov[s * inner + j] += xv[i * inner + j];
    }
    return backend.makeOutput([attrs.numSegments, ...x.shape.slice(segmentIds.shape.length)], x.dtype, undefined, ov);
  },
};
// without these two kernels the model's convolution takes the pad/slice/concat path (src/im2col.ts)
const im2col = [tf.getKernel('VqvidIm2Col', 'wasm'), tf.getKernel('VqvidCol2Im', 'wasm')];
const absent = im2col.map((k) => ({ kernelName: k.kernelName, absent: true }));
const rest = [unpack, segmentSum];
const variants = {
  ours: [identity, matMul, sum, ...im2col, ...rest],
  copyingIdentity: [copyingIdentity, matMul, sum, ...im2col, ...rest],
  transposeAFirst: [identity, transposeAFirst, sum, ...im2col, ...rest],
  transposingSum: [identity, matMul, transposingSum, ...im2col, ...rest],
  im2colOps: [identity, matMul, sum, ...absent, ...rest],
  copyingUnpack: [identity, matMul, sum, ...im2col, copyingUnpack, segmentSum],
  copyingSegmentSum: [identity, matMul, sum, ...im2col, unpack, copyingSegmentSum],
};
const use = (kernels) => {
  for (const k of kernels) {
    if (tf.getKernel(k.kernelName, 'wasm')) tf.unregisterKernel(k.kernelName, 'wasm');
    if (!k.absent) tf.registerKernel(k);
  }
};
const { fit, model, grid } = benchSettings(false);
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const loadBefore = os.loadavg().map((v) => +v.toFixed(2));
const results = {};
for (const [k, softmax] of [[1024, 'full'], [10000, 'factored']]) {
  const codes = randomCodes(grid, fit.bptt + 1, k, k);
  const m = new RCNN({ k, softmax, seed: 1, ...model });
  await m.fit(codes, { ...fit, epochs: 1, stepsPerEpoch: 2, workers: 1 });
  const times = Object.fromEntries(Object.keys(variants).map((v) => [v, []]));
  for (let rep = 0; rep < reps; rep++) {
    for (const [name, kernels] of Object.entries(variants)) {
      use(kernels);
      const ends = [];
      await m.fit(codes, { ...fit, epochs: 1, stepsPerEpoch: 6, workers: 1, onProgress: (e) => e.stage === 'train' && ends.push(performance.now()) });
      times[name].push((ends[5] - ends[0]) / 5);
    }
  }
  use(variants.ours);
  const ours = median(times.ours);
  results[`${softmax}@${k}`] = Object.fromEntries(
    Object.entries(times).map(([name, t]) => [name, { msPerStep: +median(t).toFixed(1), overOurs: +(median(t) / ours).toFixed(3), all: t.map((x) => +x.toFixed(1)) }]),
  );
  m.dispose();
}
const loadAfter = os.loadavg().map((v) => +v.toFixed(2));
console.log(JSON.stringify({ bench: 'model/step-kernels', tfjs: tf.version_core, loadBefore, loadAfter, reps, fit, model, grid, results }, null, 2));
