// Next-frame prediction speed at 320x240 (30x40 cells of 8x8): frames/s from the model's state to rendered pixels
// (one recurrent step, the output distribution, top-M candidates, the decoder and the overlap-average to pixels),
// the path RCNN.predictFrames takes, for every decoder, with and without the motion search, at K = 1024 (full
// softmax) and K = 10,000 (factored), on the wasm backend. Model of the main bench's size (bench/common.mjs
// benchConfig(...).model, copy-aware output) with random weights; a codebook of K random patches. Per
// configuration: the median wall and CPU seconds of `--frames` frames after `--warmup` frames (default 3), and a per-stage
// breakdown (the recurrent step; the output layer with the top-M search; decoding and rendering). `--dense` also
// times the dense path (all K probabilities materialised, then decodeDistribution) in the same run and reports
// the ratio and the largest pixel difference of the two frames.
// `--workers N` instead runs the plans in 1 worker thread and then in N at once (each its own tfjs engine and
// model; independent next-frame predictions, `--warmup` frames per plan, then a barrier) and reports their frames/s
// (all timed frames over the span, so every frame counts: with one warm-up frame the first plan's were still
// running while V8 optimised the code, 1.25x slower on 2 workers) and the ratio, with every timed frame's
// milliseconds per worker (`frameMs`).
// `--models DIR,...` times trained models instead (RCNN.load, K and softmax from each), each with the codebook at
// the same place in `--codecs FILE.vqcb,...` (the one it was trained with: models check it) and driven by the last
// frame of `--codes FILE.vqc,...` (e.g. the codes a bench trained it on): a trained output's sharper class
// distribution lets the exact top-M search of the factored softmax stop earlier than random weights do.
// `--floor-ablation` (factored mixtures) also times every plan with the mixture's search floor switched off (the
// inner class search then proves its own top 2M instead of stopping where no code left can enter the mixture's
// top M), in the same run, and reports both, the classes the search visited per cell, and the largest pixel
// difference of the two frames (0: both are exact).
// `--onnx` also times every plan (but the class beam's: the ONNX lists are always exact) with the output layer's
// top-M search and the recurrent steps in onnxruntime-node (RCNN.predictFramesAsync with an OnnxOutput and an
// OnnxStep, one intra-op thread each per worker),
// in the same run, and reports it beside the tfjs figures (`onnx`, `onnxOverTfjs`, and in one thread the largest
// pixel difference of the two frames).
// Usage: node bench/predict.mjs [--quick] [--frames N] [--warmup N] [--dense] [--floor-ablation] [--onnx] [--workers N] [--models DIR,... --codecs FILE,... --codes FILE,...] [--out FILE]
//   (needs `npm run build` first)
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { RCNN, initBackend } from '../dist/index.mjs';
import { MixtureOutput, partsOf } from '../dist/internals.mjs';
import { readCodes } from '@vqvid/core';
import { PatchCodec, Quantizer } from '@vqvid/quantize';
import { benchConfig } from '../../../bench/common.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const withOld = args.includes('--dense');
const floorAblation = args.includes('--floor-ablation');
const onnx = args.includes('--onnx');
// the ONNX path (optional peer onnxruntime-node): loaded only when asked for
const { OnnxOutput, OnnxStep } = onnx ? await import('../dist/onnx.mjs') : { OnnxOutput: null, OnnxStep: null };
const arg = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const framesTimed = Number(arg('--frames', quick ? 2 : 7));
const warmup = Number(arg('--warmup', quick ? 1 : 3));
if (!Number.isInteger(warmup) || warmup < 1) throw new Error('--warmup takes a positive integer');
const outFile = arg('--out', null);
const workers = Number(arg('--workers', 1));
const W = 320;
const H = 240;
const PATCH = 8;
const rows = H / PATCH;
const cols = W / PATCH;
const cells = rows * cols;
const model = benchConfig({ quick: false, seed: 1, W, H }).model;
const topM = benchConfig({ quick: false, seed: 1, W, H }).decoderTopM;
const trainedDirs = arg('--models', null)?.split(',') ?? null;
const codesFiles = arg('--codes', null)?.split(',') ?? null;
const codecFiles = arg('--codecs', null)?.split(',') ?? null;
if (trainedDirs && [codesFiles, codecFiles].some((list) => list?.length !== trainedDirs.length)) {
  process.stderr.write('predict: --models wants --codecs and --codes with one file each per model\n');
  process.exit(2);
}
/** What each run at K times: { k, softmax } (random weights), or a trained model and the codes that drive it. */
async function runsOf() {
  if (!trainedDirs) return (quick ? [[1024, 'full']] : [[1024, 'full'], [10000, 'factored']]).map(([k, softmax]) => ({ k, softmax }));
  await initBackend(['wasm']);
  return Promise.all(trainedDirs.map(async (dir, i) => {
    const m = await RCNN.load(dir);
    const { k, softmax } = m.config;
    m.dispose();
    return { k, softmax, modelDir: dir, codesFile: codesFiles[i], codecFile: codecFiles[i] };
  }));
}
const plans = [
  ...['centroid', 'skip', 'mbr', 'mean'].map((decoder) => ({ decoder, search: 0 })),
  ...(quick ? ['mbr'] : ['skip', 'mbr', 'mean']).map((decoder) => ({ decoder, search: 2 })),
];

/** Seeded xorshift32 in [0, 1). */
function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

/** A codec whose K centroids are random 8x8 patches (speed does not depend on how they were fitted). */
function randomCodec(k, std) {
  const r = rng(k);
  const dim = PATCH * PATCH;
  const centroids = Array.from({ length: k * dim }, () => (r() * 255) / std);
  const q = Quantizer.fromJSON({
    format: 'vqvid-quantizer', version: 1,
    options: { k, seed: 1, init: 'random', maxIter: 1, tol: 0 },
    codebook: { k, dim, centroids, meta: { patch: { size: PATCH, stride: PATCH }, normalization: 'per-video-std', std } },
    stats: { inertia: 0, iterations: 0, inertiaHistory: [], clusterSizes: Array(k).fill(1) },
  });
  return PatchCodec.fromQuantizer(q, { patch: { size: PATCH, stride: PATCH }, normalization: 'per-video-std', std });
}

/**
 * A smooth random frame (0..255) and the codes of its cells: random (the model's weights are random too), or the
 * last frame of the run's codes file for a trained model.
 */
async function inputs(run, seed) {
  const r = rng(seed);
  const frame = { width: W, height: H, frames: 1, data: Float32Array.from({ length: W * H }, (_, i) => 128 + 60 * Math.sin((i % W) / 9) * Math.cos(Math.floor(i / W) / 7) + 20 * r()) };
  if (!run.codesFile) return { frame, codes: Int32Array.from({ length: cells }, () => Math.floor(r() * run.k)) };
  const { codes: v } = await readCodes(run.codesFile);
  if (v.rows !== rows || v.cols !== cols || v.k !== run.k) throw new Error(`${run.codesFile}: ${v.rows}x${v.cols} cells of K = ${v.k}, expected ${rows}x${cols} of K = ${run.k}`);
  return { frame, codes: Int32Array.from(v.codes.subarray((v.frames - 1) * cells)), geometry: v.geometry };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * A renderer that forwards to `codec` and adds the time of each decode call to `spent.decode` (ms), so one
 * predictFrames call yields its decoding time too.
 */
function timedRenderer(codec, spent) {
  const timed = (fn) => (dist, o) => {
    const t0 = performance.now();
    const frame = fn(dist, o);
    spent.decode += performance.now() - t0;
    return frame;
  };
  return { decodeDistribution: timed((d, o) => codec.decodeDistribution(d, o)), decodeCandidates: timed((d, o) => codec.decodeCandidates(d, o)) };
}

/**
 * One frame from a one-frame context by RCNN.predictFrames (one recurrent step, the output, the decoder), the
 * median of `framesTimed` after `warmup` frames; stages: the recurrent step timed alone (ModelParts.step), decoding
 * and rendering (the renderer's calls) and the output layer (the rest: the distribution or the top-M search).
 */
/** One next frame: by predictFrames, or with `onnx` ({ source, stepper }) by predictFramesAsync. */
const predictOne = (m, context, render, onnx) => (onnx ? m.predictFramesAsync(context, 1, { ...render, ...onnx }) : m.predictFrames(context, 1, render));

/** The ONNX output and step of `m` (the step only where the model allows it: single scale, codes only). */
async function onnxOf(m) {
  const source = await OnnxOutput.create(m);
  const stepper = OnnxStep.supports(m) ? await OnnxStep.create(m) : undefined;
  return { source, ...(stepper ? { stepper } : {}) };
}

async function timeConfig(m, codec, k, plan, std, extra, input, source = null) {
  // `source`: null (tfjs), or the ONNX { source, stepper } of onnxOf
  const parts = partsOf(m);
  const { frame, codes } = input;
  const geometry = input.geometry ?? { patch: PATCH, stride: PATCH, width: W, height: H, std, codebook: codec.checksum };
  const context = { rows, cols, frames: 1, k, codes, geometry };
  const spent = { decode: 0 };
  const render = { codec: timedRenderer(codec, spent), reference: frame, decoder: plan.decoder, topM, search: plan.search, ...extra };
  const rowsOf = { total: [], cpu: [], step: [], output: [], decode: [] };
  let out = null;
  for (let f = 1 - warmup; f <= framesTimed; f++) {
    spent.decode = 0;
    const cpu0 = process.cpuUsage();
    let t0 = performance.now();
    out = await predictOne(m, context, render, source);
    const total = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const decode = spent.decode;
    t0 = performance.now();
    if (source?.stepper) await source.stepper.stepAsync(new Float32Array(cells * m.config.hidden), codes, rows, cols);
    else parts.step(null, codes, rows, cols, true).dispose();
    const step = performance.now() - t0;
    if (f <= 0) continue; // warm-up
    rowsOf.total.push(total);
    rowsOf.cpu.push((cpu.user + cpu.system) / 1000);
    rowsOf.step.push(step);
    rowsOf.decode.push(decode);
    rowsOf.output.push(Math.max(0, total - step - decode));
  }
  const sec = median(rowsOf.total) / 1000;
  const cpuSec = median(rowsOf.cpu) / 1000;
  return {
    result: {
      framesPerSecond: +(1 / sec).toFixed(2),
      msPerFrame: +(sec * 1000).toFixed(1),
      // this process's CPU time per frame (one thread: tfjs-wasm has none in Node): what a quiet core would take
      framesPerCpuSecond: +(1 / cpuSec).toFixed(2),
      cpuMsPerFrame: +(cpuSec * 1000).toFixed(1),
      stagesMs: { step: +median(rowsOf.step).toFixed(1), output: +median(rowsOf.output).toFixed(1), decode: +median(rowsOf.decode).toFixed(1) },
    },
    frame: out,
  };
}

/** Largest |a − b| over two frames' pixels. */
function maxAbsDiff(a, b) {
  let d = 0;
  for (let i = 0; i < a.data.length; i++) d = Math.max(d, Math.abs(a.data[i] - b.data[i]));
  return d;
}

/** The model and codec every run at K builds alike (same seeds; or the run's trained model), in the main thread or a worker. */
async function setup({ k, softmax, modelDir, codecFile }) {
  if (modelDir) return { m: await RCNN.load(modelDir), codec: await PatchCodec.load(codecFile) };
  const m = new RCNN({ k, softmax, seed: 1, ...model });
  partsOf(m).buildOutput(); // the factored layer is otherwise built by fit (equal-size classes here)
  return { m, codec: randomCodec(k, STD) };
}
const STD = 50;

/** Every plan at K, with the factored softmax's opt-in approximation (each cell's top M in its 4 best classes). */
const plansOf = (softmax, exactOnly = false) => [...plans, ...(softmax === 'factored' && !exactOnly ? [{ decoder: 'mbr', search: 0, classBeam: 4 }] : [])];

/**
 * In a worker: after `warmup` frames per plan, waits for every worker (a barrier on shared memory), then
 * predicts `framesTimed` frames; posts each plan's start and end (ms since the epoch) and CPU ms per frame.
 */
async function workerMain({ run, barrier, count, useOnnx }) {
  await initBackend(['wasm']);
  const { k, softmax } = run;
  const { m, codec } = await setup(run);
  const gate = new Int32Array(barrier);
  const input = await inputs(run, 7);
  const { frame, codes } = input;
  const geometry = input.geometry ?? { patch: PATCH, stride: PATCH, width: W, height: H, std: STD, codebook: codec.checksum };
  const context = { rows, cols, frames: 1, k, codes, geometry };
  const out = [];
  const source = useOnnx ? await onnxOf(m) : null;
  for (const [i, plan] of plansOf(softmax, useOnnx).entries()) {
    const render = { codec, reference: frame, decoder: plan.decoder, topM, search: plan.search, ...(plan.classBeam ? { classBeam: plan.classBeam } : {}) };
    for (let f = 0; f < warmup; f++) await predictOne(m, context, render, source);
    Atomics.add(gate, 0, 1);
    Atomics.notify(gate, 0);
    for (let v; (v = Atomics.load(gate, 0)) < count * (i + 1); ) Atomics.wait(gate, 0, v, 100);
    const start = performance.timeOrigin + performance.now();
    // process.cpuUsage() counts every thread of the process (Node 20 has no per-thread figure): with N workers
    // busy at once this is about N times one worker's CPU per frame, so `cpuMsPerFramePerWorker` is the process's
    // CPU over this worker's frames
    const cpu0 = process.cpuUsage();
    const frameMs = [];
    for (let f = 0, t = performance.now(); f < framesTimed; f++) {
      await predictOne(m, context, render, source);
      frameMs.push(+(performance.now() - t).toFixed(1));
      t = performance.now();
    }
    const cpu = process.cpuUsage(cpu0);
    out.push({ start, end: performance.timeOrigin + performance.now(), cpuMsPerFrame: (cpu.user + cpu.system) / 1000 / framesTimed, frameMs });
  }
  await source?.source.release();
  await source?.stepper?.release();
  m.dispose();
  codec.dispose();
  parentPort.postMessage(out);
}

/** `count` workers predicting at once: per plan, frames/s of all of them together (frames ÷ the span from first start to last end). */
async function parallel(run, count, useOnnx = false) {
  const { softmax } = run;
  const barrier = new SharedArrayBuffer(4);
  const runs = await Promise.all(
    Array.from({ length: count }, () => new Promise((done, failed) => {
      const w = new Worker(new URL(import.meta.url), { workerData: { run, barrier, count, useOnnx }, argv: process.argv.slice(2) });
      w.once('message', done);
      w.once('error', failed);
    })),
  );
  return plansOf(softmax, useOnnx).map((_, i) => {
    const start = Math.min(...runs.map((r) => r[i].start));
    const end = Math.max(...runs.map((r) => r[i].end));
    return { framesPerSecond: +((count * framesTimed) / ((end - start) / 1000)).toFixed(2), cpuMsPerFramePerWorker: runs.map((r) => +r[i].cpuMsPerFrame.toFixed(1)), frameMs: runs.map((r) => r[i].frameMs) };
  });
}

/** The whole run in the main thread: every K and plan, in this thread (and dense) or in workers. */
async function main() {
  const load0 = loadavg();
  const backend = (await initBackend(['wasm'])).backend;
  const results = [];
  for (const run of await runsOf()) {
    const { k, softmax } = run;
    const trained = run.modelDir ? { trained: { model: run.modelDir, codes: run.codesFile } } : {};
    if (workers > 1) {
      // the same plans in 1 worker, then in `workers` at once: throughput of independent next-frame predictions
      const one = await parallel(run, 1);
      const many = await parallel(run, workers);
      const oneOnnx = onnx ? await parallel(run, 1, true) : null;
      const manyOnnx = onnx ? await parallel(run, workers, true) : null;
      plansOf(softmax).forEach((plan, i) => {
        const row = { k, softmax, ...trained, decoder: plan.decoder, search: plan.search, topM, ...(plan.classBeam ? { classBeam: plan.classBeam } : {}), oneWorker: one[i], workers: { count: workers, ...many[i] }, speedup: +(many[i].framesPerSecond / one[i].framesPerSecond).toFixed(2) };
        if (onnx && !plan.classBeam) {
          const [o1, on] = [oneOnnx[i], manyOnnx[i]];
          row.onnx = { oneWorker: o1, workers: { count: workers, ...on }, speedup: +(on.framesPerSecond / o1.framesPerSecond).toFixed(2) };
          row.onnxOverTfjs = { oneWorker: +(o1.framesPerSecond / one[i].framesPerSecond).toFixed(2), workers: +(on.framesPerSecond / many[i].framesPerSecond).toFixed(2) };
          process.stderr.write(`predict: K=${k} ${plan.decoder} search ${plan.search} onnx: 1 worker ${o1.framesPerSecond} frames/s, ${workers} workers ${on.framesPerSecond}\n`);
        }
        results.push(row);
        process.stderr.write(`predict: K=${k} ${plan.decoder} search ${plan.search}${plan.classBeam ? ` classBeam ${plan.classBeam}` : ''}: 1 worker ${one[i].framesPerSecond} frames/s, ${workers} workers ${many[i].framesPerSecond}\n`);
      });
      continue;
    }
    const { m, codec } = await setup(run);
    const source = onnx ? await onnxOf(m) : null;
    const std = STD;
    const input = await inputs(run, 7);
    for (const plan of plansOf(softmax)) {
      const row = { k, softmax, ...trained, decoder: plan.decoder, search: plan.search, topM, ...(plan.classBeam ? { classBeam: plan.classBeam } : {}) };
      const now = await timeConfig(m, codec, k, plan, std, plan.classBeam ? { classBeam: plan.classBeam } : {}, input);
      row.now = now.result;
      if (source && !plan.classBeam) {
        const viaOnnx = await timeConfig(m, codec, k, plan, std, {}, input, source);
        row.onnx = viaOnnx.result;
        row.onnxOverTfjs = +(row.onnx.framesPerSecond / row.now.framesPerSecond).toFixed(2);
        // the same frame up to float rounding (codes of equal probability but for rounding may swap)
        row.maxAbsPixelDiffOnnx = +maxAbsDiff(now.frame, viaOnnx.frame).toPrecision(3);
        process.stderr.write(`predict: K=${k} ${plan.decoder} search ${plan.search} onnx: ${row.onnx.framesPerSecond} frames/s (tfjs ${row.now.framesPerSecond}), max pixel diff ${row.maxAbsPixelDiffOnnx}\n`);
      }
      const output = partsOf(m).output;
      if (floorAblation && output instanceof MixtureOutput && output.inner.kind === 'factored') {
        // the inner layer's classes visited per cell, counted over the timed frames, with and without the floor
        const inner = output.inner;
        const counted = { visits: 0, cells: 0 };
        // Both timings below run with the counting wrapper (so they are like for like); `now` above runs without it.
        const search = inner.logCandidates;
        const perCell = () => +(counted.visits / Math.max(1, counted.cells)).toFixed(2);
        const floorOf = MixtureOutput.prototype.searchFloor;
        let floored, withFloor, bare;
        try {
          inner.logCandidates = (...a) => {
            const found = search.apply(inner, a);
            if (found?.classesVisited) for (const v of found.classesVisited) (counted.visits += v), counted.cells++;
            return found;
          };
          floored = await timeConfig(m, codec, k, plan, std, plan.classBeam ? { classBeam: plan.classBeam } : {}, input);
          withFloor = perCell();
          Object.assign(counted, { visits: 0, cells: 0 });
          MixtureOutput.prototype.searchFloor = () => undefined;
          bare = await timeConfig(m, codec, k, plan, std, plan.classBeam ? { classBeam: plan.classBeam } : {}, input);
        } finally {
          MixtureOutput.prototype.searchFloor = floorOf;
          delete inner.logCandidates;
        }
        row.floor = floored.result;
        row.noFloor = bare.result;
        row.classesPerCell = { floor: withFloor, noFloor: perCell(), of: inner.toJSON().classes ?? null };
        row.floorCpuSpeedup = +(row.floor.framesPerCpuSecond / row.noFloor.framesPerCpuSecond).toFixed(2);
        row.maxAbsPixelDiffFloor = +maxAbsDiff(floored.frame, bare.frame).toPrecision(3);
        process.stderr.write(`predict: K=${k} ${plan.decoder} search ${plan.search}: floor ${row.floor.framesPerCpuSecond} vs none ${row.noFloor.framesPerCpuSecond} frames/CPU-s, classes/cell ${withFloor} vs ${row.classesPerCell.noFloor}, max diff ${row.maxAbsPixelDiffFloor}\n`);
      }
      if (withOld) {
        const old = await timeConfig(m, codec, k, plan, std, { dense: true }, input);
        row.old = old.result;
        row.speedup = +(row.now.framesPerSecond / row.old.framesPerSecond).toFixed(2);
        row.cpuSpeedup = +(row.now.framesPerCpuSecond / row.old.framesPerCpuSecond).toFixed(2);
        // the same frame either way (up to float rounding of the probabilities)
        row.maxAbsPixelDiffVsOld = +maxAbsDiff(now.frame, old.frame).toPrecision(3);
      }
      process.stderr.write(`predict: K=${k} ${plan.decoder} search ${plan.search}${plan.classBeam ? ` classBeam ${plan.classBeam}` : ''}: ${row.now.framesPerCpuSecond} frames/CPU-s${withOld ? ` (dense ${row.old.framesPerCpuSecond})` : ''}\n`);
      results.push(row);
    }
    await source?.source.release();
    await source?.stepper?.release();
    m.dispose();
    codec.dispose();
  }
  const out = {
    bench: 'model/predict',
    quick,
    backend,
    tfjs: tf.version_core,
    size: [W, H],
    grid: { rows, cols, patch: PATCH },
    model,
    framesTimed,
    warmupFrames: warmup,
    loadavgAtStart: load0.map((v) => +v.toFixed(2)),
    loadavgAtEnd: loadavg().map((v) => +v.toFixed(2)),
    results,
  };
  const text = JSON.stringify(out, null, 2) + '\n';
  if (outFile) writeFileSync(outFile, text);
  process.stdout.write(text);
}

if (isMainThread) await main();
else await workerMain(workerData);
