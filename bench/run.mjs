#!/usr/bin/env node
// The paper's experiments and the speed figures on one video, with one command:
//   npm run bench -- [--video PATH] [--quick] [--out DIR] [--seed N]
// Without --video it runs on the embedded synthetic clip. Documented runs use ../shared/data/vtest.avi at
// 320x240 (first 80% of frames train, last 20% test). Writes DIR/results.json, DIR/report.md and PNG strips.
// Needs the built packages (npm run build).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sliceCodes, sliceVideo } from '@vqvid/core';
import { denormalize, encodePng, frameStrip, normalize, readVideo, syntheticVideo } from '@vqvid/video';
import { extractPatches, reassemble, samplePatches } from '@vqvid/patches';
import { Quantizer } from '@vqvid/quantize';
import { initBackend, RCNN } from '@vqvid/model';
import { evaluateFrames, motionMask } from '@vqvid/metrics';
import { BigramModel, copyLast, flowExtrapolate, flowInterpolate, linearInterpolate, SpatialNgramModel, UnigramModel } from '@vqvid/baselines';
import { codebookAtlas } from '@vqvid/cli';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    video: { type: 'string' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    seed: { type: 'string', default: '1' },
    width: { type: 'string', default: '320' },
    height: { type: 'string', default: '240' },
    'max-frames': { type: 'string' },
  },
});
const quick = args.quick;
const seed = Number(args.seed);
const W = Number(args.width);
const H = Number(args.height);

// Every knob of the run, recorded in the JSON. Training budgets are wall-clock caps per model.
const config = {
  video: args.video ?? 'synthetic:bouncing',
  size: [W, H],
  patch: 8,
  split: 'first 80% of frames train (last eighth of those validate), last 20% test',
  quantizeKs: quick ? [64, 256] : [256, 1024, 4096, 10000],
  quantizeSample: quick ? 20000 : 100000,
  quantizeMaxIter: quick ? 10 : 12,
  modelKs: quick ? [256] : [1024, 10000],
  // dropout 0.25 and lr 1e-2 were chosen on the validation frames of vtest (RCNN full, 10 minutes): without
  // dropout the RCNN reached 0.29 bits/code on its training crops and 0.73 on validation
  model: quick ? { embedDim: 32, hidden: 64, kernel: 3, layers: 2, dropout: 0.25 } : { embedDim: 64, hidden: 96, kernel: 3, layers: 2, dropout: 0.25 },
  fit: { bptt: 6, batch: 4, crop: 16, epochs: 1000, stepsPerEpoch: quick ? 10 : 25, lr: 1e-2, lrDecay: 0.97, patience: 4 },
  // wall-clock seconds per model, by K (index as modelKs); models train `trainProcesses` at a time
  trainSeconds: quick ? { 'rcnn full': [40], 'rcnn factored': [40], rnn: [30] } : { 'rcnn full': [600], 'rcnn factored': [450, 330], rnn: [450, 240] },
  trainProcesses: 2,
  contextFrames: 8,
  evalStride: quick ? 2 : 3,
  // filling runs (2R+1)^2 * candidates * sweeps network steps per frame: score it on an evenly spaced subset
  fillTargets: quick ? 4 : 16,
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

// ---- data ----
const raw = await stage('read', async () =>
  args.video
    ? readVideo(args.video, { width: W, height: H, ...(args['max-frames'] ? { maxFrames: Number(args['max-frames']) } : {}) })
    : syntheticVideo({ kind: 'bouncing', width: W, height: H, frames: quick ? 40 : 120, seed }),
);
const { video: norm, std } = normalize(raw);
const nTrain = Math.floor(raw.frames * 0.8);
const nFit = Math.floor(nTrain * 0.875);
const trainVideo = sliceVideo(norm, 0, nTrain);
const testStart = nTrain;
const grid = extractPatches(norm, { size: config.patch });

/** Pixels (0..255) of codes decoded by a quantizer. */
function pixelsOf(q, codes) {
  return denormalize(reassemble(q.decode(codes), { width: W, height: H }), std);
}
const clamp = (v) => ({ ...v, data: v.data.map((x) => Math.min(255, Math.max(0, x))) });

// ---- 1. quantization error versus K ----
const quantizers = new Map();
const quantization = await stage('quantize', async () => {
  const rows = [];
  const sample = samplePatches(trainVideo, { count: config.quantizeSample, seed, size: config.patch });
  const testGrid = extractPatches(sliceVideo(norm, testStart, raw.frames), { size: config.patch });
  const testTruth = sliceVideo(raw, testStart, raw.frames);
  for (const k of [...new Set([...config.quantizeKs, ...config.modelKs])]) {
    const q = new Quantizer({ k, seed, maxIter: config.quantizeMaxIter });
    const t = performance.now();
    await q.fit(sample);
    const fitSeconds = (performance.now() - t) / 1000;
    const recon = clamp(pixelsOf(q, await q.encode(testGrid)));
    const m = evaluateFrames(recon, testTruth);
    if (config.quantizeKs.includes(k)) {
      rows.push({ k, fitSeconds: r4(fitSeconds), iterations: q.iterations, inertia: r4(q.inertia), backend: q.backend, testPsnr: r4(m.psnr), testSsim: r4(m.ssim) });
    }
    quantizers.set(k, q);
  }
  return { sample: sample.count, rows };
});

// ---- 2. code modelling ----
await initBackend();
const coded = new Map();
for (const k of config.modelKs) {
  const codes = await quantizers.get(k).encode(grid);
  coded.set(k, { all: codes, fit: sliceCodes(codes, 0, nFit), val: sliceCodes(codes, nFit, nTrain), train: sliceCodes(codes, 0, nTrain), test: sliceCodes(codes, nTrain, codes.frames) });
}

/** Writes a code volume for a training process: its codes as a raw file, the rest as JSON. */
function writeVolume(dir, name, v) {
  const path = join(dir, `${name}.bin`);
  writeFileSync(path, Buffer.from(v.codes.buffer, v.codes.byteOffset, v.codes.byteLength));
  return { path, meta: { rows: v.rows, cols: v.cols, frames: v.frames, k: v.k } };
}

/**
 * Trains every job in child processes (bench/train-one.mjs), `config.trainProcesses` at a time, in the order
 * given; each job gets its wall-clock budget, early stopping on the validation codes, and is saved to disk.
 */
async function trainAll(jobs) {
  const work = mkdtempSync(join(os.tmpdir(), 'vqvid-bench-'));
  const volumes = new Map();
  const results = new Array(jobs.length);
  let next = 0;
  const lane = async () => {
    while (next < jobs.length) {
      const i = next++;
      const { name, k, model, softmax, seconds } = jobs[i];
      if (!volumes.has(k)) volumes.set(k, { fit: writeVolume(work, `fit${k}`, coded.get(k).fit), val: writeVolume(work, `val${k}`, coded.get(k).val) });
      const { kernel, ...shared } = config.model;
      const job = {
        model,
        options: { k, seed, softmax, ...shared, ...(model === 'rnn' ? {} : { kernel }) },
        seconds,
        fit_options: config.fit,
        modelDir: join(work, `model${i}`),
        ...volumes.get(k),
      };
      const jobFile = join(work, `job${i}.json`);
      writeFileSync(jobFile, JSON.stringify(job));
      process.stderr.write(`bench: training ${name} at K = ${k} for up to ${seconds} s\n`);
      const stdout = await new Promise((done, failed) => {
        const child = spawn(process.execPath, [join(root, 'bench', 'train-one.mjs'), jobFile], { stdio: ['ignore', 'pipe', 'inherit'] });
        let text = '';
        child.stdout.on('data', (d) => (text += d));
        child.on('error', failed);
        child.on('close', (code) => (code === 0 ? done(text) : failed(new Error(`training ${name} at K = ${k} exited with ${code}`))));
      });
      results[i] = { ...jobs[i], train: JSON.parse(stdout.trim().split('\n').pop()), model: await RCNN.load(job.modelDir) };
    }
  };
  await Promise.all(Array.from({ length: Math.min(config.trainProcesses, jobs.length) }, lane));
  rmSync(work, { recursive: true, force: true });
  return results;
}

const models = new Map(); // name@k -> model
const codeModelling = await stage('code-models', async () => {
  const rows = [];
  const jobs = [];
  for (const k of config.modelKs) {
    const { train, test } = coded.get(k);
    for (const [name, M] of [['unigram', UnigramModel], ['bigram (same cell)', BigramModel], ['spatial n-gram', SpatialNgramModel]]) {
      const e = new M().fit(train).evaluate(test);
      rows.push({ k, model: name, bitsPerCode: r4(e.bitsPerCode), perplexity: r4(e.perplexity) });
    }
    // full softmax at K = 10,000 is the slow case the factored one exists for: train it only at the smaller K
    const nets = k <= 1024 ? [['rcnn full', 'rcnn', 'full'], ['rnn', 'rnn', 'factored'], ['rcnn factored', 'rcnn', 'factored']] : [['rcnn factored', 'rcnn', 'factored'], ['rnn', 'rnn', 'factored']];
    for (const [name, model, softmax] of nets) jobs.push({ name, k, model, softmax, seconds: config.trainSeconds[name][config.modelKs.indexOf(k)] });
  }
  for (const r of await trainAll(jobs)) {
    const e = r.model.evaluate(coded.get(r.k).test);
    rows.push({ k: r.k, model: r.name, bitsPerCode: r4(e.bitsPerCode), perplexity: r4(e.perplexity), training: r.train });
    models.set(`${r.name}@${r.k}`, r.model);
  }
  for (const k of config.modelKs) rows.push({ k, model: 'uniform', bitsPerCode: r4(Math.log2(k)), perplexity: k });
  return rows;
});

// ---- 3 & 4. next-frame prediction and filling, pixels, whole frame and moving regions ----
const kPix = config.modelKs[0];
const qPix = quantizers.get(kPix);
const codesPix = coded.get(kPix).all;
const rcnn = models.get(`rcnn ${kPix <= 1024 ? 'full' : 'factored'}@${kPix}`) ?? models.get(`rcnn factored@${kPix}`);
const frame = (t) => sliceVideo(raw, t);
const context = (t) => sliceCodes(codesPix, Math.max(0, t - config.contextFrames), t);

function scoreAll(preds, truth, mask) {
  const whole = evaluateFrames(clamp(preds), truth);
  const moving = evaluateFrames(clamp(preds), truth, { mask });
  return { psnr: r4(whole.psnr), ssim: r4(whole.ssim), sharpness: r4(whole.sharpness), movingPsnr: r4(moving.psnr), movingSsim: r4(moving.ssim), movingSharpness: r4(moving.sharpness) };
}

/** Mean of per-target metric objects, per key (ignoring NaN: targets with no moving pixel). */
function meanRows(list) {
  const keys = Object.keys(list[0]);
  return Object.fromEntries(keys.map((key) => {
    const vals = list.map((o) => (o[key] === 'Infinity' ? Infinity : o[key])).filter((v) => v !== null && !Number.isNaN(v));
    return [key, vals.length ? r4(vals.reduce((s, v) => s + v, 0) / vals.length) : null];
  }));
}

const strips = {};
/** Short row labels for the picture strips (the strip font is small). */
const LABELS = {
  'copy-last': 'COPY', copy: 'COPY', linear: 'LINEAR', 'flow extrapolation': 'FLOW', 'flow interpolation': 'FLOW',
  'rcnn argmax': 'RCNN MAX', 'rcnn sampled': 'RCNN SAMPLE', 'rcnn fill': 'RCNN FILL', 'codebook ceiling (true codes)': 'TRUE CODES',
};
const prediction = await stage('predict', async () => {
  const targets = [];
  for (let t = testStart + 2; t + 1 < raw.frames; t += config.evalStride) targets.push(t);
  const methods = {};
  const add = (name, step, metrics) => ((methods[`${name}|${step}`] ??= []).push(metrics));
  let genFrames = 0;
  let genSeconds = 0;
  for (const t of targets) {
    // step 1 predicts frame t from frames < t; step 2 predicts frame t+1 from frames < t (no peeking at t)
    const truth = [frame(t), frame(t + 1)];
    const masks = [motionMask(frame(t - 1), frame(t), { threshold: config.motionThreshold }), motionMask(frame(t), frame(t + 1), { threshold: config.motionThreshold })];
    const last = frame(t - 1);
    const prev = frame(t - 2);
    const flow1 = flowExtrapolate(prev, last);
    const flow2 = flowExtrapolate(last, flow1);
    const tg = performance.now();
    const argmax = rcnn.generate(context(t), 2, { mode: 'argmax' });
    genSeconds += (performance.now() - tg) / 1000;
    genFrames += 2;
    const sampled = rcnn.generate(context(t), 2, { mode: 'sample', temperature: 1, seed: seed + t });
    const argPix = pixelsOf(qPix, argmax);
    const smpPix = pixelsOf(qPix, sampled);
    const oracle = pixelsOf(qPix, sliceCodes(codesPix, t, t + 2));
    for (const s of [0, 1]) {
      const guesses = {
        'copy-last': last,
        'flow extrapolation': s === 0 ? flow1 : flow2,
        'rcnn argmax': sliceVideo(argPix, s),
        'rcnn sampled': sliceVideo(smpPix, s),
        'codebook ceiling (true codes)': sliceVideo(oracle, s),
      };
      for (const [name, v] of Object.entries(guesses)) add(name, s + 1, scoreAll(v, truth[s], masks[s]));
      if (t === targets[Math.floor(targets.length / 2)] && s === 0) {
        strips.predict = [
          { label: 'TRUTH', video: truth[0] },
          ...Object.entries(guesses).map(([name, v]) => ({ label: LABELS[name], video: clamp(v) })),
          ...Object.entries(guesses).map(([name, v]) => ({ label: 'ERR ' + LABELS[name], video: absDiff(v, truth[0]), range: [0, 64], colormap: 'heat' })),
        ];
      }
    }
  }
  const rows = Object.entries(methods).map(([key, list]) => {
    const [method, step] = key.split('|');
    return { method, step: Number(step), ...meanRows(list) };
  });
  return { k: kPix, targets: targets.length, rows, generation: { framesPerSecond: +(genFrames / genSeconds).toFixed(2) } };
});

const filling = await stage('fill', async () => {
  const targets = [];
  const span = raw.frames - 2 - (testStart + 1);
  const count = Math.min(config.fillTargets, span + 1);
  for (let i = 0; i < count; i++) targets.push(testStart + 1 + Math.round((i * span) / Math.max(1, count - 1)));
  const methods = {};
  for (const t of targets) {
    const a = frame(t - 1), b = frame(t + 1), truth = frame(t);
    const mask = motionMask(a, truth, { threshold: config.motionThreshold });
    const filled = rcnn.fill(context(t), sliceCodes(codesPix, t + 1, t + 2));
    const guesses = {
      copy: copyLast(a),
      linear: linearInterpolate(a, b),
      'flow interpolation': flowInterpolate(a, b),
      'rcnn fill': pixelsOf(qPix, filled),
      'codebook ceiling (true codes)': pixelsOf(qPix, sliceCodes(codesPix, t, t + 1)),
    };
    for (const [name, v] of Object.entries(guesses)) (methods[name] ??= []).push(scoreAll(v, truth, mask));
    if (t === targets[Math.floor(targets.length / 2)]) {
      strips.fill = [{ label: 'TRUTH', video: truth }, ...Object.entries(guesses).map(([name, v]) => ({ label: LABELS[name], video: clamp(v) }))];
    }
  }
  return { k: kPix, targets: targets.length, rows: Object.entries(methods).map(([method, list]) => ({ method, ...meanRows(list) })) };
});

function absDiff(a, b) {
  return { ...b, data: b.data.map((x, i) => Math.abs(x - a.data[i])) };
}

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
  kmeansFit: quantization.rows.map((r) => ({ k: r.k, seconds: r.fitSeconds, points: quantization.sample })),
  generation: prediction.generation,
}));

// ---- 6. pictures ----
const pictures = {};
function png(name, rows, opts) {
  writeFileSync(join(out, name), encodePng(frameStrip(rows, opts)));
  pictures[name.replace('.png', '')] = name;
}
png('predict-strip.png', strips.predict, { scale: 1 });
png('fill-strip.png', strips.fill, { scale: 1 });
png('codebook-atlas.png', [codebookAtlas(qPix.codebook)], { scale: 3, gap: 0 });
png('test-frames.png', [{ label: 'TEST', video: sliceVideo(raw, testStart, Math.min(raw.frames, testStart + 6)) }, { label: `K${kPix}`, video: clamp(pixelsOf(qPix, sliceCodes(codesPix, testStart, Math.min(raw.frames, testStart + 6)))) }], {});

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
  data: { frames: raw.frames, width: raw.width, height: raw.height, std: r4(std), grid: { rows: grid.rows, cols: grid.cols }, trainFrames: nTrain, testFrames: raw.frames - nTrain },
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
function markdown(r) {
  return `# vqvid benchmark: ${r.config.video}

Command: \`${r.command}\` · commit ${r.commit} · ${r.date}
Machine: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGB} GB, Node ${r.machine.node}
Data: ${r.data.frames} frames at ${r.data.width}x${r.data.height}, ${r.data.grid.cols}x${r.data.grid.rows} cells of 8x8; ${r.data.trainFrames} train / ${r.data.testFrames} test frames.

## 1. Quantization error versus K (test frames: encode → decode → reassemble)
${table(r.quantization.rows, ['k', 'testPsnr', 'testSsim', 'fitSeconds', 'iterations', 'backend'])}
## 2. Code modelling (test bits/code over frames 1..T-1 of the test codes)
${table(r.codeModelling, ['k', 'model', 'bitsPerCode', 'perplexity', 'training.seconds', 'training.steps', 'training.bestValBits', 'training.cellsPerSecond'])}
## 3. Next-frame prediction (K = ${r.prediction.k}, ${r.prediction.targets} targets; moving = pixels whose value changed by > ${r.config.motionThreshold})
${table(r.prediction.rows, ['method', 'step', 'psnr', 'ssim', 'sharpness', 'movingPsnr', 'movingSsim', 'movingSharpness'])}
![prediction](${r.pictures['predict-strip']})

## 4. Filling the middle frame of each triple (K = ${r.filling.k}, ${r.filling.targets} triples)
${table(r.filling.rows, ['method', 'psnr', 'ssim', 'sharpness', 'movingPsnr', 'movingSsim', 'movingSharpness'])}
![fill](${r.pictures['fill-strip']})

## 5. Speed
Assignment (distance evaluations per second, N·K/s, D = 64):
${r.speed.assign.results ? table(r.speed.assign.results, ['k', 'backend', 'evalsPerSec', 'ratioToNaive']) : '`' + JSON.stringify(r.speed.assign) + '`\n'}
Training throughput: \`${JSON.stringify(r.speed.training.results ?? r.speed.training)}\`

Generation: ${r.speed.generation.framesPerSecond} frames/s. Stages (wall seconds, peak RSS MB):
${table(Object.entries(r.stages).map(([name, s]) => ({ name, ...s })), ['name', 'seconds', 'peakRssMB'])}
## 6. Pictures
![codebook](${r.pictures['codebook-atlas']}) ![test frames](${r.pictures['test-frames']})
`;
}
