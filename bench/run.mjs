#!/usr/bin/env node
// The paper's experiments and the speed figures on one video, with one command:
//   npm run bench -- [--video PATH] [--quick] [--out DIR] [--seed N] [--width W --height H] [--max-frames N] [--keep DIR] [--reuse DIR] [--adapt]
// Without --video it runs on the embedded synthetic clip. Documented runs use ../shared/data/vtest.avi at
// 320x240 (first 80% of frames train, last 20% test). Writes DIR/results.json, DIR/report.md and PNG strips.
// Needs the built packages (npm run build). Every network trains for a fixed number of steps (no wall-clock
// budget), so every bit and dB figure is the same on a busy and on an idle machine.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { sliceCodes, sliceVideo, writeCodes } from '@vqvid/core';
import { encodePng, frameStrip } from '@vqvid/video';
import { codebookAtlas, PatchCodec } from '@vqvid/quantize';
import { initBackend } from '@vqvid/model';
import { evaluateFrames } from '@vqvid/metrics';
import { BigramModel, CopyPreviousModel, SpatialNgramModel, UnigramModel } from '@vqvid/baselines';
import {
  benchConfig, keepName, clamp, parseBenchArgs, r4, readBenchVideo, resultsHeader, splitCodes, stageTimer, table, trainAll, writeResults,
} from './common.mjs';
import { runPixelJobs } from './pixels.mjs';

const { args, root, quick, seed, W, H, out } = parseBenchArgs(
  'npm run bench --',
  'full',
  { keep: { type: 'string' }, reuse: { type: 'string' }, adapt: { type: 'boolean', default: false } },
  '[--keep DIR] [--reuse DIR] [--adapt]\n  --reuse DIR      load each network from DIR (as --keep saved it) instead of training it, where DIR has it\n  --adapt          train and run every network with online gate adaptation on (the model option adapt: true)\n  --keep DIR       also save every codebook (codebook-<K>-s<stride>.vqcb), the codes of the clip (codes-<K>-s<stride>.vqc)\n                   and every trained network (<name>-<K>-s<stride>/) there, for later benches (e.g. packages/model/bench/predict.mjs --models)',
);
const keep = args.keep ? resolve(args.keep) : null;
if (keep) mkdirSync(keep, { recursive: true });
const config = benchConfig({ quick, seed, video: args.video ?? 'synthetic:bouncing', W, H });
if (args.adapt) config.model.adapt = true;
const { stage, stages, loadAtStart } = stageTimer();

// ---- data ----
const raw = await stage('read', () => readBenchVideo(args, { quick, seed, W, H }));
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
    if (keep) await codec.save(join(keep, `codebook-${keepName(`${k}/${stride}`)}.vqcb`));
  }
  return { sample: config.quantizeSample, rows };
});

// ---- 2. code modelling ----
await initBackend();
/** Codes of the whole clip for one codec, and its splits. */
async function codesOf(key) {
  return splitCodes(await codecs.get(key).encode(raw), nFit, nTrain);
}
const coded = new Map();
for (const key of codecs.keys()) {
  const [k] = key.split('/').map(Number);
  if (config.modelKs.includes(k)) coded.set(key, await codesOf(key));
  if (keep && coded.has(key)) await writeCodes(join(keep, `codes-${keepName(key)}.vqc`), coded.get(key).all, { nFit, nTrain });
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
  for (const r of await trainAll(networkJobs(), { coded, config, seed, root, reuse: args.reuse ? resolve(args.reuse) : null })) {
    scored.push({ key: r.key, name: r.name, model: r.model, extra: { training: r.train } });
    models.set(`${r.name}@${r.key}`, r.model);
    if (keep) await r.model.save(join(keep, keepName(r.name, r.key)));
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

const pixelKeys = [...config.modelKs.map((k) => `${k}/${config.patch}`), ...(config.stride4 ? [`${config.modelKs[0]}/${config.patch / 2}`] : [])];
const modelOf = (key) => (key.endsWith(`/${config.patch}`) ? 'rcnn' : 'rcnn (stride 4)');
// next-frame prediction with every model (key), and filling with the stride-8 ones: in child processes, two at a
// time (bench/pixels.mjs), longest first so the lanes end together (the stride-4 grid has 4x the cells, K = 10,000
// the costlier output)
const strips = {};
const pixelJobs = [
  ...pixelKeys.filter((key) => !key.endsWith(`/${config.patch}`)).map((key) => ({ kind: 'predict', key })),
  ...[...pixelKeys].reverse().filter((key) => key.endsWith(`/${config.patch}`)).flatMap((key) => [{ kind: 'fill', key }, { kind: 'predict', key }]),
].map((j) => ({ ...j, name: modelOf(j.key) }));
const pixelResults = await stage('pixels', () =>
  runPixelJobs(pixelJobs, { root, video: { args: { video: args.video, 'max-frames': args['max-frames'] }, opts: { quick, seed, W, H } }, codecs, coded, models, config, nFit, nTrain }),
);
pixelJobs.forEach((j, i) => {
  stages[`${j.kind} ${j.name} (${j.key})`] = { seconds: pixelResults[i].seconds };
  if (pixelResults[i].strip) strips[`${j.kind}-${j.key}`] = pixelResults[i].strip;
});
const tablesOf = (kind) => pixelKeys.flatMap((key) => pixelJobs.flatMap((j, i) => (j.kind === kind && j.key === key ? [pixelResults[i].table] : [])));
const prediction = tablesOf('predict');
const filling = tablesOf('fill');

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
const results = {
  ...resultsHeader('vqvid/paper-experiments', 'npm run bench --', root, loadAtStart),
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
writeResults(out, results, markdown(results));
console.log(JSON.stringify(results));
process.exit(0);

function pixelSection(title, t, picture) {
  const s = t.summary;
  const line = (what, g) => (g ? `${what}: **${g.method}**, ${g.psnrOverBase >= 0 ? '+' : ''}${g.psnrOverBase} dB over ${s.baseline} (moving pixels ${g.movingPsnrOverBase >= 0 ? '+' : ''}${g.movingPsnrOverBase} dB, SSIM ${g.ssimOverBase >= 0 ? '+' : ''}${g.ssimOverBase}), ${g.psnrBelowFlow >= 0 ? `${g.psnrBelowFlow} dB below` : `${-g.psnrBelowFlow} dB above`} flow.` : `${what}: none.`);
  return `### ${title}: ${t.model}, K = ${t.k}, stride ${t.stride} (${t.targets} test targets; alphas fitted on ${t.alphaTargets} validation targets: ${JSON.stringify(t.alphas)})
${table(t.rows, ['method', 'psnr', 'relMse', 'ssim', 'sharpness', 'movingPsnr', 'movingSsim', 'movingSharpness', 'sharp'])}
${line('Best decoder', s.best)}
${line('Best sharp decoder (one candidate per cell, sharpness ≥ ' + s.baseline + ')', s.bestSharp)}
${line('Best sharp decoder with PSNR and SSIM both ≥ ' + s.baseline + '\'s', s.bestSharpAtLeastBaseOnPsnrAndSsim)}
mbr change ratio chosen on validation: ${t.changeRatio.changeRatio} (validation ${s.baseline}: PSNR ${t.changeRatio.baseline.psnr}, SSIM ${t.changeRatio.baseline.ssim}; tried ${t.changeRatio.tried.map((r) => `${r.changeRatio}: ${r.psnr}/${r.ssim}`).join(', ')})${t.search ? `
With the motion search (${t.search.radius} pixels): alphas ${JSON.stringify(t.search.alphas)}; mbr change ratio ${t.search.changeRatio.changeRatio} (tried ${t.search.changeRatio.tried.map((r) => `${r.changeRatio}: ${r.psnr}/${r.ssim}`).join(', ')})` : ''}
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
Decoders (\`PatchCodec.decodeDistribution\`): *centroid* renders the argmax code; *skip* keeps the last frame's patch where the argmax is the present code; *mbr* picks, per cell, the candidate (last patch or a top-${r.config.decoderTopM} stand-in) with the least expected squared error; *mean* averages the stand-ins by probability. With alpha < 1 a code c ≠ present stands for P + alpha·(centroid − P); with ratio r < 1, mbr changes a cell only where the change's expected error is below r × keeping P. With "search s" a code c ≠ present stands for the patch of the frame before (when filling: of either known frame) moved by up to s pixels that is nearest to centroid c, instead of the centroid (still shrunk by alpha towards P). "sharp": one candidate per cell and sharpness ≥ copy-last's.

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
