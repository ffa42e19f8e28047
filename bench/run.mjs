#!/usr/bin/env node
// The paper's experiments and the speed figures on one video, with one command:
//   npm run bench -- [--video PATH] [--quick] [--out DIR] [--seed N] [--width W --height H] [--max-frames N]
// Without --video it runs on the embedded synthetic clip. Documented runs use ../shared/data/vtest.avi at
// 320x240 (first 80% of frames train, last 20% test). Writes DIR/results.json, DIR/report.md and PNG strips.
// Needs the built packages (npm run build). Every network trains for a fixed number of steps (no wall-clock
// budget), so every bit and dB figure is the same on a busy and on an idle machine.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sliceCodes, sliceVideo, writeCodes } from '@vqvid/core';
import { encodePng, frameStrip, readVideo, syntheticVideo } from '@vqvid/video';
import { codebookAtlas, fitDecoderAlpha, PatchCodec } from '@vqvid/quantize';
import { initBackend, RCNN } from '@vqvid/model';
import { evaluateFrames, motionMask } from '@vqvid/metrics';
import {
  BigramModel, CopyPreviousModel, copyLast, flowExtrapolate, flowInterpolate, linearInterpolate, SpatialNgramModel, UnigramModel,
} from '@vqvid/baselines';

const USAGE = `usage: npm run bench -- [--video PATH] [--quick] [--out DIR] [--seed N] [--width W --height H] [--max-frames N]
  --video PATH     a video file (any container ffmpeg reads; Y4M natively); default: the built-in synthetic clip
  --quick          small sizes and step budgets (a few minutes), for a smoke test
  --out DIR        where results.json, report.md and the PNG pictures go (default bench/out/full or bench/out/quick)
  --seed N         seed of every random choice (default 1)
  --width/--height frame size the video is resized to (default 320x240)
  --max-frames N   read at most N frames`;
let parsed;
try {
  parsed = parseArgs({
    options: {
      video: { type: 'string' },
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      seed: { type: 'string', default: '1' },
      width: { type: 'string', default: '320' },
      height: { type: 'string', default: '240' },
      'max-frames': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
} catch (e) {
  process.stderr.write(`bench: ${e.message}\n${USAGE}\n`);
  process.exit(2);
}
const args = parsed.values;
if (args.help) {
  process.stdout.write(USAGE + '\n');
  process.exit(0);
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const quick = args.quick;
const seed = Number(args.seed);
const W = Number(args.width);
const H = Number(args.height);

// Every knob of the run, recorded in the JSON.
const config = {
  video: args.video ?? 'synthetic:bouncing',
  size: [W, H],
  patch: 8,
  split:
    'first 80% of frames train, last 20% test. Networks: phase 1 on the first 7/8 of the training frames, the last 1/8 ' +
    'validating (early stopping and lr on plateau choose the step count; best weights kept), then phase 2: refitSteps more ' +
    'steps on all training frames. Counted models (n-grams, copy-previous) count all training frames; copy-previous fits ' +
    'its epsilon on the validation frames; the tuned n-grams count the fit frames, choose their Witten-Bell strengths on the ' +
    'validation frames, then count all training frames with those strengths. Decoder alphas and mbr change ratios are fitted on validation frames.',
  quantizeKs: quick ? [64, 256] : [256, 1024, 4096, 10000],
  quantizeSample: quick ? 20000 : 100000,
  quantizeMaxIter: quick ? 10 : 12,
  modelKs: quick ? [256] : [1024, 10000],
  // the overlapping grid (8x8 patches every 4 pixels) is run at the first model K
  stride4: true,
  // dropout 0.25 and lr 1e-2 were chosen on the validation frames of vtest (RCNN full): without dropout the
  // RCNN reached 0.29 bits/code on its training crops and 0.73 on validation
  model: quick ? { embedDim: 32, hidden: 64, kernel: 3, layers: 2, dropout: 0.25 } : { embedDim: 64, hidden: 96, kernel: 3, layers: 2, dropout: 0.25 },
  fit: { bptt: 6, batch: 4, crop: 16, epochs: quick ? 5 : 10, stepsPerEpoch: quick ? 10 : 25, lr: 1e-2, lrDecay: 0.97, lrPlateau: 0.5, patience: 3 },
  refitSteps: quick ? 10 : 50,
  trainProcesses: 2,
  contextFrames: 8,
  evalStride: quick ? 2 : 3,
  alphaTargets: quick ? 3 : 8,
  // mbr's changeRatio grid, chosen on the validation targets (see fitChangeRatio)
  changeRatios: [1, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1],
  decoderTopM: 16,
  fillAlphaTargets: quick ? 2 : 6,
  fillTargets: quick ? 3 : 8,
  fill: { candidates: 6, sweeps: 1 },
  motionThreshold: 10,
  seed,
};

const out = resolve(args.out ?? join(root, 'bench', 'out', quick ? 'quick' : 'full'));
mkdirSync(out, { recursive: true });

// ---- peak memory per stage: sample RSS on a timer, reset at each stage ----
let peak = 0;
const loadAtStart = os.loadavg();
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
sampler.unref();
const stages = {};
async function stage(name, fn) {
  peak = process.memoryUsage().rss;
  const t = performance.now();
  process.stderr.write(`bench: ${name}...\n`);
  const result = await fn();
  stages[name] = { seconds: +((performance.now() - t) / 1000).toFixed(2), peakRssMB: +(Math.max(peak, process.memoryUsage().rss) / 2 ** 20).toFixed(1) };
  process.stderr.write(`bench: ${name} done in ${stages[name].seconds} s\n`);
  return result;
}

const r4 = (x) => (Number.isFinite(x) ? +x.toFixed(4) : x === Infinity ? 'Infinity' : null);
const clamp = (v) => ({ ...v, data: v.data.map((x) => Math.min(255, Math.max(0, x))) });

// ---- data ----
const raw = await stage('read', async () =>
  args.video
    ? readVideo(args.video, { width: W, height: H, ...(args['max-frames'] ? { maxFrames: Number(args['max-frames']) } : {}) })
    : syntheticVideo({ kind: 'bouncing', width: W, height: H, frames: quick ? 40 : 120, seed }),
);
const nTrain = Math.floor(raw.frames * 0.8);
const nFit = Math.floor(nTrain * 0.875);
const trainVideo = sliceVideo(raw, 0, nTrain);
const testStart = nTrain;
const frame = (t) => sliceVideo(raw, t);

// ---- 1. quantization error versus K (and the stride-4 codebook) ----
const codecs = new Map(); // `${k}/${stride}` -> PatchCodec
const quantization = await stage('quantize', async () => {
  const rows = [];
  const testTruth = sliceVideo(raw, testStart, raw.frames);
  const grids = [...new Set([...config.quantizeKs, ...config.modelKs])].map((k) => [k, config.patch]);
  if (config.stride4) grids.push([config.modelKs[0], config.patch / 2]);
  for (const [k, stride] of grids) {
    const t = performance.now();
    const codec = await PatchCodec.fit(trainVideo, { k, stride, seed, maxIter: config.quantizeMaxIter, sample: config.quantizeSample });
    const fitSeconds = (performance.now() - t) / 1000;
    const m = evaluateFrames(clamp(codec.decode(await codec.encode(testTruth))), testTruth);
    if (config.quantizeKs.includes(k) || stride !== config.patch) {
      const q = codec.quantizer;
      rows.push({ k, stride, fitSeconds: r4(fitSeconds), iterations: q.iterations, inertia: r4(q.inertia), backend: q.backend, testPsnr: r4(m.psnr), testSsim: r4(m.ssim) });
    }
    codecs.set(`${k}/${stride}`, codec);
  }
  return { sample: config.quantizeSample, rows };
});

// ---- 2. code modelling ----
await initBackend();
/** Codes of the whole clip for one codec, and its splits. */
async function codesOf(key) {
  const all = await codecs.get(key).encode(raw);
  return { all, fit: sliceCodes(all, 0, nFit), val: sliceCodes(all, nFit, nTrain), train: sliceCodes(all, 0, nTrain), test: sliceCodes(all, nTrain, all.frames) };
}
const coded = new Map();
for (const key of codecs.keys()) {
  const [k] = key.split('/').map(Number);
  if (config.modelKs.includes(k)) coded.set(key, await codesOf(key));
}

/**
 * Trains every job in child processes (bench/train-one.mjs), `config.trainProcesses` at a time, in the order
 * given; each job has a fixed step budget, and is saved to disk and loaded back here.
 */
async function trainAll(jobs) {
  const work = mkdtempSync(join(os.tmpdir(), 'vqvid-bench-'));
  const files = new Map();
  const results = new Array(jobs.length);
  let next = 0;
  const lane = async () => {
    while (next < jobs.length) {
      const i = next++;
      const { name, key, model, options } = jobs[i];
      if (!files.has(key)) {
        const paths = Object.fromEntries(['fit', 'val', 'train'].map((part) => [part, join(work, `${key.replace('/', 's')}-${part}.vqc`)]));
        for (const part of ['fit', 'val', 'train']) await writeCodes(paths[part], coded.get(key)[part]);
        files.set(key, paths);
      }
      const job = { model, options: { seed, ...options }, fitOptions: config.fit, refitSteps: config.refitSteps, modelDir: join(work, `model${i}`), ...files.get(key) };
      const jobFile = join(work, `job${i}.json`);
      writeFileSync(jobFile, JSON.stringify(job));
      process.stderr.write(`bench: training ${name} (${key})\n`);
      const stdout = await new Promise((done, failed) => {
        const child = spawn(process.execPath, [join(root, 'bench', 'train-one.mjs'), jobFile], { stdio: ['ignore', 'pipe', 'inherit'] });
        let text = '';
        child.stdout.on('data', (d) => (text += d));
        child.on('error', failed);
        child.on('close', (code) => (code === 0 ? done(text) : failed(new Error(`training ${name} (${key}) exited with ${code}`))));
      });
      results[i] = { ...jobs[i], train: JSON.parse(stdout.trim().split('\n').pop()), model: await RCNN.load(job.modelDir) };
      process.stderr.write(`bench: trained ${name} (${key}) in ${results[i].train.seconds} s\n`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(config.trainProcesses, jobs.length) }, lane));
  rmSync(work, { recursive: true, force: true });
  return results;
}

/** The networks of the run, longest first so the two lanes end together. */
function networkJobs() {
  const { kernel, ...shared } = config.model;
  const [k1, k2] = config.modelKs;
  const s8 = (k) => `${k}/${config.patch}`;
  const softmax = (k) => (k <= 1024 ? 'full' : 'factored');
  const jobs = [];
  const add = (name, k, key, model, extra = {}) =>
    jobs.push({ name, k, key, model, options: { k, softmax: softmax(k), ...shared, ...(model === 'rnn' ? {} : { kernel }), ...extra } });
  // longest first (seconds of the last full run: 845, 696, 641, 554, 438, 140, 140), so the two lanes end together
  if (config.stride4) add('rcnn (stride 4)', k1, `${k1}/${config.patch / 2}`, 'rcnn');
  add('rcnn plain output', k1, s8(k1), 'rcnn', { copy: false, prior: 'none' });
  add('rcnn', k1, s8(k1), 'rcnn');
  if (k2) add('rcnn', k2, s8(k2), 'rcnn');
  if (k2) add('rcnn plain output', k2, s8(k2), 'rcnn', { copy: false, prior: 'none' });
  add('rnn', k1, s8(k1), 'rnn');
  if (k2) add('rnn', k2, s8(k2), 'rnn');
  return jobs;
}

const models = new Map(); // `${name}@${key}` -> model
const codeModelling = await stage('code-models', async () => {
  // every scorer is a CodeModel (@vqvid/core): counted ones first, then the trained networks, scored in one loop
  const scored = []; // { key, name, model, extra }
  for (const [key, { train, val, fit }] of coded) {
    const copy = new CopyPreviousModel().fit(fit, { validation: val });
    // Witten-Bell strengths chosen on validation (counts of the fit frames), then all training frames counted
    const tuned = (Model) => new Model({ strength: new Model().fit(fit, { validation: val }).strength_ }).fit(train);
    for (const [name, model] of [
      ['unigram', new UnigramModel().fit(train)],
      ['bigram (same cell), plain Witten-Bell', new BigramModel().fit(train)],
      ['spatial n-gram, plain Witten-Bell', new SpatialNgramModel().fit(train)],
      ['bigram (same cell)', tuned(BigramModel)],
      ['spatial n-gram', tuned(SpatialNgramModel)],
      ['copy-previous (smoothed)', copy],
    ]) {
      const extra = model === copy ? { epsilon: r4(copy.epsilon_) } : name.includes('Witten') || name === 'unigram' ? {} : { strength: model.strength_.map(r4) };
      scored.push({ key, name, model, extra });
    }
  }
  for (const r of await trainAll(networkJobs())) {
    scored.push({ key: r.key, name: r.name, model: r.model, extra: { training: r.train } });
    models.set(`${r.name}@${r.key}`, r.model);
  }
  const rows = [];
  for (const { key, name, model, extra } of scored) {
    const [k, stride] = key.split('/').map(Number);
    const e = model.evaluate(coded.get(key).test);
    rows.push({ k, stride, model: name, bitsPerCode: r4(e.bitsPerCode), perplexity: r4(e.perplexity), ...extra });
  }
  for (const key of coded.keys()) {
    const [k, stride] = key.split('/').map(Number);
    rows.push({ k, stride, model: 'uniform', bitsPerCode: r4(Math.log2(k)), perplexity: k });
  }
  return rows;
});

// ---- 3 & 4. next-frame prediction and filling, pixels: whole frame and moving regions ----
function scoreAll(pred, truth, mask) {
  const whole = evaluateFrames(clamp(pred), truth);
  const moving = evaluateFrames(clamp(pred), truth, { mask });
  return { psnr: r4(whole.psnr), ssim: r4(whole.ssim), sharpness: r4(whole.sharpness), mse: r4(whole.mse), movingPsnr: r4(moving.psnr), movingSsim: r4(moving.ssim), movingSharpness: r4(moving.sharpness) };
}

/** Mean of per-target metric objects, per key (ignoring NaN: targets with no moving pixel). */
function meanRows(list) {
  const keys = Object.keys(list[0]);
  return Object.fromEntries(keys.map((key) => {
    const vals = list.map((o) => (o[key] === 'Infinity' ? Infinity : o[key])).filter((v) => v !== null && !Number.isNaN(v));
    return [key, vals.length ? r4(vals.reduce((s, v) => s + v, 0) / vals.length) : null];
  }));
}

function absDiff(a, b) {
  return { ...b, data: b.data.map((x, i) => Math.abs(x - a.data[i])) };
}

/** Decoders scored: the four of @vqvid/quantize at alpha 1 (plain stand-ins), and the three that use alpha at their fitted value. */
const SHARP = new Set(['centroid', 'skip', 'mbr']);
function decoderPlan(alphas, changeRatio) {
  return [
    ...['centroid', 'skip', 'mbr', 'mean'].map((decoder) => ({ name: `rcnn ${decoder}`, decoder, alpha: 1 })),
    // a fitted alpha of 1 is the plain row already
    ...['skip', 'mbr', 'mean'].filter((decoder) => alphas[decoder] !== 1).map((decoder) => ({ name: `rcnn ${decoder} (alpha ${alphas[decoder]})`, decoder, alpha: alphas[decoder] })),
    // mbr at its fitted alpha, changing a cell only where that pays by the fitted ratio (1 is the row above)
    ...(changeRatio !== 1 ? [{ name: `rcnn mbr (alpha ${alphas.mbr}, ratio ${changeRatio})`, decoder: 'mbr', alpha: alphas.mbr, changeRatio }] : []),
  ];
}

/**
 * mbr's changeRatio from the validation samples: every ratio of config.changeRatios renders them with mbr at its
 * fitted alpha. Among the ratios whose mean PSNR is at least the baseline's (the reference frame: copy-last when
 * predicting, the linear interpolation when filling), the one with the highest mean SSIM; when none is, the one
 * with the highest SSIM (ties → the larger ratio). Ratio 1 is plain mbr, the row with the best expected squared
 * error; this row is the structure-safe sharp decoder: it changes a cell only where that pays on validation.
 */
function fitChangeRatio(codec, geometry, samples, alpha) {
  const mean = (list, key) => list.reduce((a, m) => a + m[key], 0) / list.length;
  const base = samples.map((s) => evaluateFrames(clamp(s.reference), s.truth));
  const baseline = { psnr: r4(mean(base, 'psnr')), ssim: r4(mean(base, 'ssim')) };
  const tried = config.changeRatios.map((changeRatio) => {
    const m = samples.map((s) => evaluateFrames(clamp(codec.decodeDistribution(s.dist, { geometry, reference: s.reference, present: s.present, decoder: 'mbr', alpha, topM: config.decoderTopM, changeRatio })), s.truth));
    return { changeRatio, psnr: r4(mean(m, 'psnr')), ssim: r4(mean(m, 'ssim')) };
  });
  const ok = tried.filter((r) => r.psnr >= baseline.psnr);
  const pick = (ok.length ? ok : tried).reduce((a, b) => (b.ssim > a.ssim ? b : a));
  return { changeRatio: pick.changeRatio, baseline, tried };
}

/**
 * Fits each decoder's alpha on validation targets: `sampleAt(t)` gives the model's distribution, the present
 * codes, the reference frame (pixels) and the true frame of target t.
 */
function fitAlphas(codec, geometry, samples) {
  const { k, dim, centroids } = codec.codebook;
  const fitted = {};
  const mse = {};
  for (const decoder of ['skip', 'mbr', 'mean']) {
    const r = fitDecoderAlpha(samples.map((s) => ({
      probs: s.dist.probs, k, present: s.present, reference: codec.referencePatches(s.reference, geometry), centroids, dim, decoder, topM: config.decoderTopM,
      truth: codec.referencePatches(s.truth, geometry),
    })));
    fitted[decoder] = r.alpha;
    mse[decoder] = r.mse.map(r4);
  }
  return { alphas: fitted, mse };
}

/** Adds the summary a reader wants per table: best decoder vs copy/linear, best sharp decoder, distance to flow. */
function summarise(rows, base, flow) {
  const baseRow = rows.find((r) => r.method === base);
  const flowRow = rows.find((r) => r.method === flow);
  const rcnn = rows.filter((r) => r.method.startsWith('rcnn '));
  for (const r of rcnn) r.sharp = SHARP.has(r.decoder) && r.sharpness >= baseRow.sharpness;
  const best = rcnn.reduce((a, b) => (b.psnr > a.psnr ? b : a));
  const sharp = rcnn.filter((r) => r.sharp);
  const bestSharp = sharp.length ? sharp.reduce((a, b) => (b.psnr > a.psnr ? b : a)) : null;
  // the issue's bar for sharp decoders: PSNR and SSIM both at least the baseline's
  const both = sharp.filter((r) => r.psnr >= baseRow.psnr && r.ssim >= baseRow.ssim);
  const bestSharpBoth = both.length ? both.reduce((a, b) => (b.psnr > a.psnr ? b : a)) : null;
  const gap = (r) => (r ? { method: r.method, psnrOverBase: r4(r.psnr - baseRow.psnr), movingPsnrOverBase: r4(r.movingPsnr - baseRow.movingPsnr), ssimOverBase: r4(r.ssim - baseRow.ssim), psnrBelowFlow: r4(flowRow.psnr - r.psnr) } : null);
  return { baseline: base, best: gap(best), bestSharp: gap(bestSharp), bestSharpAtLeastBaseOnPsnrAndSsim: gap(bestSharpBoth) };
}

const strips = {};
const LABELS = { 'copy-last': 'COPY', copy: 'COPY', linear: 'LINEAR', 'flow extrapolation': 'FLOW', 'flow interpolation': 'FLOW', 'codebook ceiling (true codes)': 'TRUE CODES' };
const label = (name) => LABELS[name] ?? name.replace(/^rcnn /, 'RCNN ').replace(/ \(alpha ([0-9.]+)\)/, ' A$1').replace(/ \(alpha ([0-9.]+), ratio ([0-9.]+)\)/, ' A$1 R$2').toUpperCase();

/**
 * What prediction and filling share for one model (key = codec): its codec, codes and geometry, the context
 * before frame t, the codes of frame t − 1 ("present"), every decoder of `plan` applied to a distribution, and
 * the table of per-target metrics with the decoder of each row and a summary against `base` and `flow`.
 */
function pixelSetup(name, key) {
  const codec = codecs.get(key);
  const { all: codes } = coded.get(key);
  const geometry = codes.geometry;
  const n = codes.rows * codes.cols;
  const present = (t) => codes.codes.subarray((t - 1) * n, t * n);
  return {
    codec,
    codes,
    geometry,
    model: models.get(`${name}@${key}`),
    context: (t) => sliceCodes(codes, Math.max(0, t - config.contextFrames), t),
    present,
    /** Every decoder of `plan` on `dist`, `reference` standing for "same code as frame t − 1". */
    render: (plan, dist, reference, t, into) => {
      for (const p of plan) into[p.name] = codec.decodeDistribution(dist, { geometry, reference, present: present(t), decoder: p.decoder, alpha: p.alpha, topM: config.decoderTopM, changeRatio: p.changeRatio });
    },
    table: (plan, methods, info, base, flow) => {
      const decoderOf = Object.fromEntries(plan.map((p) => [p.name, p]));
      const rows = Object.entries(methods).map(([method, list]) => {
        const d = decoderOf[method];
        return { method, ...(d ? { decoder: d.decoder, alpha: d.alpha, ...(d.changeRatio !== undefined ? { changeRatio: d.changeRatio } : {}) } : {}), ...meanRows(list) };
      });
      return { model: name, k: codes.k, stride: geometry.stride, ...info, rows, summary: summarise(rows, base, flow) };
    },
  };
}

/** Next-frame prediction with every decoder for one model (key = codec), test targets every evalStride frames. */
async function predictWith(name, key) {
  const { codec, codes, geometry, model, context, present, render, table } = pixelSetup(name, key);
  const valTargets = spread(nFit + 2, nTrain - 1, config.alphaTargets);
  const samples = valTargets.map((t) => ({ dist: model.predictDistribution(context(t)), present: present(t), reference: frame(t - 1), truth: frame(t) }));
  const { alphas, mse } = fitAlphas(codec, geometry, samples);
  const ratio = fitChangeRatio(codec, geometry, samples, alphas.mbr);
  const plan = decoderPlan(alphas, ratio.changeRatio);
  const targets = [];
  for (let t = testStart + 2; t < raw.frames; t += config.evalStride) targets.push(t);
  const methods = {};
  const add = (method, metrics) => (methods[method] ??= []).push(metrics);
  for (const t of targets) {
    const truth = frame(t);
    const last = frame(t - 1);
    const mask = motionMask(last, truth, { threshold: config.motionThreshold });
    const dist = model.predictDistribution(context(t));
    const guesses = {
      'copy-last': last,
      'flow extrapolation': flowExtrapolate(frame(t - 2), last),
      'codebook ceiling (true codes)': codec.decode(sliceCodes(codes, t, t + 1)),
    };
    render(plan, dist, last, t, guesses);
    for (const [method, v] of Object.entries(guesses)) add(method, scoreAll(v, truth, mask));
    if (t === targets[Math.floor(targets.length / 2)] && !strips[`predict-${key}`]) {
      const shown = ['copy-last', 'flow extrapolation', 'rcnn centroid', ...plan.filter((p) => p.alpha !== 1).map((p) => p.name), 'rcnn mbr', 'rcnn mean', 'codebook ceiling (true codes)'];
      strips[`predict-${key}`] = [
        { label: 'TRUTH', video: truth },
        ...shown.map((m) => ({ label: label(m), video: clamp(guesses[m]) })),
        ...shown.map((m) => ({ label: 'ERR ' + label(m), video: absDiff(guesses[m], truth), range: [0, 64], colormap: 'heat' })),
      ];
    }
  }
  return table(plan, methods, { targets: targets.length, alphaTargets: valTargets.length, alphas, alphaMse: mse, changeRatio: ratio }, 'copy-last', 'flow extrapolation');
}

/** `count` frame indices evenly spread over [lo, hi]. */
function spread(lo, hi, count) {
  const n = Math.max(1, Math.min(count, hi - lo + 1));
  return Array.from({ length: n }, (_, i) => lo + Math.round((i * (hi - lo)) / Math.max(1, n - 1)));
}

/** The middle frame of triples: the model's fill posterior through every decoder, the reference being the linear interpolation. */
async function fillWith(name, key) {
  const { codec, codes, geometry, model, context, present, render, table } = pixelSetup(name, key);
  const posterior = (t) => model.fillDistribution(context(t), sliceCodes(codes, t + 1, t + 2), config.fill);
  const valTargets = spread(nFit + 1, nTrain - 2, config.fillAlphaTargets);
  const samples = valTargets.map((t) => ({ dist: posterior(t), present: present(t), reference: linearInterpolate(frame(t - 1), frame(t + 1)), truth: frame(t) }));
  const { alphas, mse } = fitAlphas(codec, geometry, samples);
  const ratio = fitChangeRatio(codec, geometry, samples, alphas.mbr);
  const plan = decoderPlan(alphas, ratio.changeRatio);
  const targets = spread(testStart + 1, raw.frames - 2, config.fillTargets);
  const methods = {};
  for (const t of targets) {
    const a = frame(t - 1), b = frame(t + 1), truth = frame(t);
    const mask = motionMask(a, truth, { threshold: config.motionThreshold });
    const lin = linearInterpolate(a, b);
    const dist = posterior(t);
    const guesses = {
      copy: copyLast(a),
      linear: lin,
      'flow interpolation': flowInterpolate(a, b),
      'codebook ceiling (true codes)': codec.decode(sliceCodes(codes, t, t + 1)),
    };
    render(plan, dist, lin, t, guesses);
    for (const [method, v] of Object.entries(guesses)) (methods[method] ??= []).push(scoreAll(v, truth, mask));
    if (t === targets[Math.floor(targets.length / 2)] && !strips[`fill-${key}`]) {
      const shown = ['linear', 'flow interpolation', 'rcnn centroid', ...plan.filter((p) => p.alpha !== 1).map((p) => p.name), 'rcnn mbr', 'rcnn mean'];
      strips[`fill-${key}`] = [{ label: 'TRUTH', video: truth }, ...shown.map((m) => ({ label: label(m), video: clamp(guesses[m]) }))];
    }
  }
  return table(plan, methods, { targets: targets.length, alphaTargets: valTargets.length, alphas, alphaMse: mse, changeRatio: ratio }, 'linear', 'flow interpolation');
}

const pixelKeys = [...config.modelKs.map((k) => `${k}/${config.patch}`), ...(config.stride4 ? [`${config.modelKs[0]}/${config.patch / 2}`] : [])];
const modelOf = (key) => (key.endsWith(`/${config.patch}`) ? 'rcnn' : 'rcnn (stride 4)');
const prediction = await stage('predict', async () => {
  const tables = [];
  for (const key of pixelKeys) tables.push(await predictWith(modelOf(key), key));
  return tables;
});
const filling = await stage('fill', async () => {
  const tables = [];
  for (const key of pixelKeys.filter((k) => k.endsWith(`/${config.patch}`))) tables.push(await fillWith(modelOf(key), key));
  return tables;
});

// ---- 5. speed: the packages' own benchmarks, run here so the figures come from the same machine and run ----
function packageBench(script, argv) {
  const r = spawnSync(process.execPath, [script, ...argv], { cwd: dirname(dirname(script)), encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) return { error: (r.stderr || '').trim().split('\n').slice(-3).join(' ') };
  return JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
}
const speed = await stage('speed', async () => ({
  assign: packageBench(join(root, 'packages/quantize/bench/assign.mjs'), quick ? ['--quick', '--k', '1024'] : ['--k', '1024,10000']),
  // the cpu backend's full softmax at K = 10,000 alone takes minutes: the root run measures wasm (the default);
  // `npm run bench -w @vqvid/model` compares it with cpu
  training: packageBench(join(root, 'packages/model/bench/throughput.mjs'), [...(quick ? ['--quick'] : []), '--backends', 'wasm']),
  kmeansFit: quantization.rows.map((r) => ({ k: r.k, stride: r.stride, seconds: r.fitSeconds, points: quantization.sample })),
}));

// ---- 6. pictures ----
const pictures = {};
function png(name, rows, opts) {
  writeFileSync(join(out, name), encodePng(frameStrip(rows, opts)));
  pictures[name.replace('.png', '')] = name;
}
for (const [key, rows] of Object.entries(strips)) png(`${key.replace('/', '-s')}-strip.png`, rows, { scale: 1 });
const firstKey = pixelKeys[0];
png('codebook-atlas.png', [codebookAtlas(codecs.get(firstKey).codebook)], { scale: 3, gap: 0 });
const testSpan = Math.min(raw.frames, testStart + 6);
png('test-frames.png', [
  { label: 'TEST', video: sliceVideo(raw, testStart, testSpan) },
  { label: `K${firstKey.split('/')[0]}`, video: clamp(codecs.get(firstKey).decode(sliceCodes(coded.get(firstKey).all, testStart, testSpan))) },
], {});

// ---- report ----
let commit = 'unknown';
try { commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root }).toString().trim(); } catch { /* not a git checkout */ }
const results = {
  bench: 'vqvid/paper-experiments',
  command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
  date: new Date().toISOString(),
  commit,
  machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, memoryGB: +(os.totalmem() / 2 ** 30).toFixed(1), loadavgAtStart: loadAtStart.map((v) => +v.toFixed(2)), loadavgAtEnd: os.loadavg().map((v) => +v.toFixed(2)), node: process.version, platform: `${os.platform()}-${os.arch()}` },
  config,
  data: { frames: raw.frames, width: raw.width, height: raw.height, trainFrames: nTrain, fitFrames: nFit, testFrames: raw.frames - nTrain, grids: Object.fromEntries([...coded].map(([key, c]) => [key, { rows: c.all.rows, cols: c.all.cols, std: r4(c.all.geometry.std) }])) },
  quantization,
  codeModelling,
  prediction,
  filling,
  speed,
  stages,
  pictures,
};
writeFileSync(join(out, 'results.json'), JSON.stringify(results, null, 2) + '\n');
writeFileSync(join(out, 'report.md'), markdown(results));
console.log(JSON.stringify(results));
process.exit(0);

function table(rows, cols) {
  const head = `| ${cols.join(' | ')} |\n| ${cols.map(() => '---').join(' | ')} |\n`;
  return head + rows.map((r) => `| ${cols.map((c) => fmt(c.split('.').reduce((o, k) => o?.[k], r))).join(' | ')} |`).join('\n') + '\n';
}
function fmt(v) {
  if (typeof v === 'number') return Math.abs(v) >= 1000 ? Math.round(v).toString() : +v.toFixed(3) + '';
  return v === undefined || v === null ? '–' : String(v);
}
function pixelSection(title, t, picture) {
  const s = t.summary;
  const line = (what, g) => (g ? `${what}: **${g.method}**, ${g.psnrOverBase >= 0 ? '+' : ''}${g.psnrOverBase} dB over ${s.baseline} (moving pixels ${g.movingPsnrOverBase >= 0 ? '+' : ''}${g.movingPsnrOverBase} dB, SSIM ${g.ssimOverBase >= 0 ? '+' : ''}${g.ssimOverBase}), ${g.psnrBelowFlow >= 0 ? `${g.psnrBelowFlow} dB below` : `${-g.psnrBelowFlow} dB above`} flow.` : `${what}: none.`);
  return `### ${title}: ${t.model}, K = ${t.k}, stride ${t.stride} (${t.targets} test targets; alphas fitted on ${t.alphaTargets} validation targets: ${JSON.stringify(t.alphas)})
${table(t.rows, ['method', 'psnr', 'ssim', 'sharpness', 'movingPsnr', 'movingSsim', 'movingSharpness', 'sharp'])}
${line('Best decoder', s.best)}
${line('Best sharp decoder (one candidate per cell, sharpness ≥ ' + s.baseline + ')', s.bestSharp)}
${line('Best sharp decoder with PSNR and SSIM both ≥ ' + s.baseline + '\'s', s.bestSharpAtLeastBaseOnPsnrAndSsim)}
mbr change ratio chosen on validation: ${t.changeRatio.changeRatio} (validation ${s.baseline}: PSNR ${t.changeRatio.baseline.psnr}, SSIM ${t.changeRatio.baseline.ssim}; tried ${t.changeRatio.tried.map((r) => `${r.changeRatio}: ${r.psnr}/${r.ssim}`).join(', ')})
${picture ? `\n![${title}](${picture})\n` : ''}`;
}
function markdown(r) {
  return `# vqvid benchmark: ${r.config.video}

Command: \`${r.command}\` · commit ${r.commit} · ${r.date}
Machine: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGB} GB, Node ${r.machine.node}; load average at start ${r.machine.loadavgAtStart.join(' ')}
Data: ${r.data.frames} frames at ${r.data.width}x${r.data.height}; ${r.data.trainFrames} train (${r.data.fitFrames} fit + ${r.data.trainFrames - r.data.fitFrames} validation) / ${r.data.testFrames} test frames.
Split: ${r.config.split}

## 1. Quantization error versus K (test frames: encode → decode)
${table(r.quantization.rows, ['k', 'stride', 'testPsnr', 'testSsim', 'fitSeconds', 'iterations', 'backend'])}
## 2. Code modelling (test bits/code over frames 1..T-1 of the test codes)
Networks train for a fixed step budget (phase 1 at most ${r.config.fit.epochs} x ${r.config.fit.stepsPerEpoch} steps, then ${r.config.refitSteps} on all training frames).
${table(r.codeModelling, ['k', 'stride', 'model', 'bitsPerCode', 'perplexity', 'epsilon', 'strength', 'training.steps', 'training.refitSteps', 'training.bestValBits', 'training.seconds'])}
## 3. Next-frame prediction (moving = pixels whose value changed by > ${r.config.motionThreshold} from the previous frame)
Decoders (\`PatchCodec.decodeDistribution\`): *centroid* renders the argmax code; *skip* keeps the last frame's patch where the argmax is the present code; *mbr* picks, per cell, the candidate (last patch or a top-${r.config.decoderTopM} stand-in) with the least expected squared error; *mean* averages the stand-ins by probability. With alpha < 1 a code c ≠ present stands for P + alpha·(centroid − P); with ratio r < 1, mbr changes a cell only where the change's expected error is below r × keeping P. "sharp": one candidate per cell and sharpness ≥ copy-last's.

${r.prediction.map((t) => pixelSection('Next frame', t, r.pictures[`predict-${t.k}-s${t.stride}-strip`])).join('\n')}
## 4. Filling the middle frame of each triple (reference: the linear interpolation; the posterior over ${r.config.fill.candidates} candidates per cell from the fill search)
${r.filling.map((t) => pixelSection('Fill', t, r.pictures[`fill-${t.k}-s${t.stride}-strip`])).join('\n')}
## 5. Speed
Assignment (distance evaluations per second, N·K/s, D = 64):
${r.speed.assign.results ? table(r.speed.assign.results, ['k', 'backend', 'evalsPerSec', 'ratioToNaive']) : '`' + JSON.stringify(r.speed.assign) + '`\n'}
Training throughput: \`${JSON.stringify(r.speed.training.results ?? r.speed.training)}\`

Stages (wall seconds, peak RSS MB):
${table(Object.entries(r.stages).map(([name, s]) => ({ name, ...s })), ['name', 'seconds', 'peakRssMB'])}
## 6. Pictures
![codebook](${r.pictures['codebook-atlas']}) ![test frames](${r.pictures['test-frames']})
`;
}
