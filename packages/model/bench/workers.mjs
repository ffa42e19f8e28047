// Data-parallel training over worker threads (FitOptions.workers), wasm backend: cells/s per worker count at
// K = 1024 full softmax and K = 10,000 factored, with the settings of bench/throughput.mjs (batch 4) and with a
// batch of 8 windows, and `speedup` = cells/s of the most workers over the fewest, measured in the same run (a
// ratio: the machine may be shared; the load average before and after is printed with it). Also the platform's
// limit: the wasm backend's matMul peak on one thread (the best of a few shapes), and each configuration's
// effective GFLOP/s per core (analytic FLOPs of a step / seconds per step / threads computing).
// `--crops 16,32` also times larger square crops (the grid grows with the crop: a crop covers the grid), where the
// per-step work that does not shrink with the batch slice (the factored softmax's per-class ops, the weight copies,
// the Adam step) is spread over more cells.
// `--codes FILE.vqc,...` trains on real codes instead (e.g. the vtest bench's, kept with its --keep): a file of K
// codes replaces the random codes of the configuration at that K (K = 1024 full, K = 10,000 factored), crops of its
// grid. Uniform random codes on a small grid leave most of K = 10,000 codes unseen, so the factored softmax's
// frequency classes put them all in one class (8,818 of 10,000 codes); real codes give it classes as in use.
// `independent` (unless --no-independent): the same number of threads each training its own model alone, started
// together, as a ceiling for `speedup` on this machine (see independentCellsPerSecond). `independentShares`: the
// same, each thread training on its share of the batch (batch / threads windows, as a worker of the pool does): the
// ceiling of a pool that lost nothing to waiting, sharing or the Adam step, so `speedup` against it tells the pool's
// own cost from what a step of half the windows costs.
// Usage: node bench/workers.mjs [--quick] [--workers 1,2] [--batches 4,8] [--crops 16,32] [--warmup 30] [--steps 10] [--codes FILE,...] [--no-independent]   (needs `npm run build` first)
import * as os from 'node:os';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { RCNN, initBackend } from '../dist/index.mjs';
import { readCodes } from '@vqvid/core';
import { benchSettings, poolWarmup, randomCodes, steadyFit } from './settings.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const wi = args.indexOf('--workers');
const counts = wi >= 0 ? args[wi + 1].split(',').map(Number) : [1, 2];
const bti = args.indexOf('--batches');
const { grid: baseGrid, fit: baseFit, steps: baseSteps, model } = benchSettings(quick);
const ci = args.indexOf('--crops');
const crops = ci >= 0 ? args[ci + 1].split(',').map(Number) : [baseFit.crop];
const batches = bti >= 0 ? args[bti + 1].split(',').map(Number) : quick ? [baseFit.batch] : [baseFit.batch, 2 * baseFit.batch];
if ([...counts, ...batches, ...crops].some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--workers, --batches and --crops take positive integers, comma-separated');
const wui = args.indexOf('--warmup');
// steps of each fit left out of the timing: a fresh pool's workers reach their steady speed after some 30 (see
// poolWarmup in settings.mjs); one thread is timed the same way
const warmup = wui >= 0 ? Number(args[wui + 1]) : poolWarmup(quick);
if (!Number.isInteger(warmup) || warmup < 1) throw new Error('--warmup takes a positive integer');
const sti = args.indexOf('--steps');
// timed steps of each fit: a worker's step varies by ±10% from one batch to the next
const steps = sti >= 0 ? Number(args[sti + 1]) : quick ? baseSteps : 2 * baseSteps;
if (!Number.isInteger(steps) || steps < 1) throw new Error('--steps takes a positive integer');
const codesArg = args.indexOf('--codes');
/** Real code volumes by K (`--codes`), and where each came from. */
const realCodes = new Map();
if (codesArg >= 0) {
  for (const file of args[codesArg + 1].split(',')) {
    const { codes } = await readCodes(file);
    if (codes.k !== 1024 && codes.k !== 10000) throw new Error(`${file}: K = ${codes.k}; --codes takes volumes of K = 1024 or 10,000`);
    realCodes.set(codes.k, { file, codes });
  }
}
const codesFor = (k, grid) => realCodes.get(k)?.codes ?? randomCodes(grid, baseFit.bptt + 1, k, k);
const independent = !args.includes('--no-independent');

/**
 * The ceiling of any data-parallel speedup here: `threads` worker threads each train their own model alone (workers:
 * 1, the same configuration and codes, no shared memory, no synchronisation), started together at a barrier. Each
 * thread's `steps` steps after `warmup` are timed by their absolute end times, and the cells of all of them are
 * divided by the span from the first thread's start of its timed steps to the last thread's end (the better of two
 * such runs). Divided by one thread's cells/s (measured alone, as in `measure`), this is how much two busy cores
 * give on this machine with no synchronous step to wait for: what is left for 2 workers to lose is the wait for the
 * slower worker, the work that does not shrink with the batch slice, and the Adam step.
 */
async function independentCellsPerSecond(k, softmax, threads, fit, grid, cells) {
  const barrier = new SharedArrayBuffer(4);
  const reps = 2;
  const spec = { k, softmax, model, fit, grid, codesFile: realCodes.get(k)?.file ?? null, warmup, steps, reps, threads, barrier };
  const url = new URL('./independent-worker.mjs', import.meta.url);
  const runs = await Promise.all(Array.from({ length: threads }, () => new Promise((resolve, reject) => {
    const w = new Worker(url, { workerData: spec });
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => code !== 0 && reject(new Error(`independent worker exited with ${code}`)));
  })));
  let best = 0;
  for (let rep = 0; rep < reps; rep++) {
    const from = Math.min(...runs.map((r) => r[rep].from));
    const to = Math.max(...runs.map((r) => r[rep].to));
    best = Math.max(best, (threads * cells * steps) / ((to - from) / 1000));
  }
  return Math.round(best);
}

/**
 * Cells/s with `workers` threads in the steady state: timed from the end of a fit's `warmup`-th step to the end of
 * its last (`steps` more), the faster of two fits (interference only ever adds time). The warm-up steps are left
 * out and reported apart: starting the workers (each loads tfjs and builds the model) and their first steps, which
 * run slower while each thread's wasm heap grows, its kernels are first set up and V8 optimises the hot code
 * (poolWarmup in settings.mjs; `startSeconds` = the time to the end of the warm-up less `warmup` steady steps;
 * `warmupSecondsPerStep` = that time over `warmup`, the workers' start included; `stepSeconds` = every step of the
 * faster fit, its warm-up first).
 */
async function measure(k, softmax, workers, fit, grid, cells) {
  const codes = codesFor(k, grid);
  const m = new RCNN({ k, softmax, seed: 1, ...model });
  await m.fit(codes, { ...fit, epochs: 1, stepsPerEpoch: 1, workers: 1 }); // output built, kernels compiled
  const { seconds, startSeconds, warmupSecondsPerStep, stepSeconds } = await steadyFit(m, codes, fit, workers, warmup, steps);
  m.dispose();
  return {
    cellsPerSecond: Math.round((cells * steps) / seconds),
    secondsPerStep: +(seconds / steps).toFixed(3),
    startSeconds: +startSeconds.toFixed(2),
    warmupSecondsPerStep: +warmupSecondsPerStep.toFixed(3),
    stepSeconds,
  };
}

/**
 * Analytic FLOPs of one training step per cell (forward + backward = 3 × forward, 2 per multiply-add): the
 * input and hidden convolutions, the 1x1 state transition and the output layer; the full softmax scores all K
 * codes, the factored one its classes and the target class's members (the twin's formula for the full one).
 */
function flopsPerCell(k, softmax) {
  const { embedDim: e, hidden: h, kernel: q, layers } = model;
  const classes = Math.max(1, Math.round(Math.sqrt(k)));
  const out = softmax === 'full' ? h * k : h * (classes + Math.ceil(k / classes));
  return 3 * 2 * (q * q * (e * h + (layers - 1) * h * h) + h * h + out);
}

/** The wasm backend's matMul rate on this thread (GFLOP/s): the best of a few square and step-like shapes. */
function matMulPeak() {
  let best = 0;
  const shapes = [[512, 512, 512], [1024, 1024, 1024], [4096, 576, 64], [4096, 64, 1024]];
  for (const [m, n, p] of shapes) {
    const a = tf.randomUniform([m, n], -1, 1, 'float32', 1);
    const b = tf.randomUniform([n, p], -1, 1, 'float32', 2);
    tf.matMul(a, b).dispose(); // warm-up
    let seconds = Infinity;
    for (let rep = 0; rep < 5; rep++) {
      const t0 = performance.now();
      const c = tf.matMul(a, b);
      c.dataSync();
      seconds = Math.min(seconds, (performance.now() - t0) / 1000);
      c.dispose();
    }
    a.dispose();
    b.dispose();
    best = Math.max(best, (2 * m * n * p) / seconds / 1e9);
  }
  return +best.toFixed(2);
}

const choice = await initBackend(['wasm']);
const loadBefore = os.loadavg().map((v) => +v.toFixed(2));
const peak = matMulPeak();
const results = {};
for (const crop of crops) for (const batch of batches) {
  const fit = { ...baseFit, batch, crop };
  const grid = crop === baseFit.crop ? baseGrid : { rows: crop, cols: crop };
  for (const [k, softmax] of [[1024, 'full'], [10000, 'factored']]) {
    // a window of real codes is a crop of their grid
    const real = realCodes.get(k)?.codes;
    const cells = fit.bptt * batch * (real ? Math.min(crop, real.rows) * Math.min(crop, real.cols) : grid.rows * grid.cols);
    const per = {};
    for (const n of counts) {
      const r = await measure(k, softmax, n, fit, grid, cells);
      const threads = Math.min(n, batch);
      const gflops = (flopsPerCell(k, softmax) * cells) / r.secondsPerStep / 1e9;
      per[n] = { ...r, gflopsPerCore: +(gflops / threads).toFixed(2), ofPeak: +(gflops / threads / peak).toFixed(3) };
    }
    const most = Math.max(...counts);
    const fewest = Math.min(...counts);
    const speedup = +(per[most].cellsPerSecond / per[fewest].cellsPerSecond).toFixed(2);
    const entry = { ...per, speedup, codes: realCodes.get(k)?.file ?? 'random' };
    if (independent && fewest === 1 && most > 1) {
      const t = Math.min(most, batch);
      const cellsPerSecond = await independentCellsPerSecond(k, softmax, t, fit, grid, cells);
      entry.independent = { threads: t, cellsPerSecond, speedup: +(cellsPerSecond / per[1].cellsPerSecond).toFixed(2) };
      if (batch % t === 0) {
        const shares = await independentCellsPerSecond(k, softmax, t, { ...fit, batch: batch / t }, grid, cells / t);
        entry.independentShares = { threads: t, batchEach: batch / t, cellsPerSecond: shares, speedup: +(shares / per[1].cellsPerSecond).toFixed(2) };
      }
    }
    results[`${softmax}@${k}/batch${batch}${crop === baseFit.crop ? '' : `/crop${crop}`}`] = entry;
  }
}
const loadAfter = os.loadavg().map((v) => +v.toFixed(2));
console.log(JSON.stringify({
  bench: 'model/workers', quick, backend: choice.backend, cores: os.availableParallelism(), loadBefore, loadAfter,
  grid: baseGrid, fit: baseFit, batches, crops, model, warmup, steps, tfjs: tf.version_core,
  matMulPeakGflops: peak, flopsFormula: '3 * 2 * (kernel^2 * (embed*hidden + (layers-1)*hidden^2) + hidden^2 + hidden*out), out = K (full) or classes + ceil(K/classes) (factored)',
  results,
}, null, 2));
