#!/usr/bin/env node
// The paper's experiments and the speed figures on one video, with one command:
//   npm run bench -- [--video PATH] [--quick] [--out DIR] [--seed N] [--width W --height H] [--max-frames N] [--keep DIR] [--reuse DIR] [--adapt]
// Without --video it runs on the embedded synthetic clip. Documented runs use ../shared/data/vtest.avi at
// 320x240 (first 80% of frames train, last 20% test). Writes DIR/results.json, DIR/report.md and PNG strips.
// Needs the built packages (npm run build). Every network trains for a fixed number of steps (no wall-clock
// budget), so every bit and dB figure is the same on a busy and on an idle machine.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { readCodes, sliceCodes, sliceVideo, writeCodes } from '@vqvid/core';
import { encodePng, frameStrip } from '@vqvid/video';
import { codebookAtlas, PatchCodec } from '@vqvid/quantize';
import { initBackend, RCNN } from '@vqvid/model';
import { BigramModel, CopyPreviousModel, SpatialNgramModel, UnigramModel } from '@vqvid/baselines';
import {
  benchConfig, keepName, clamp, parseBenchArgs, r4, readBenchVideo, resultsHeader, splitCodes, inLanes, runChild, stageTimer, table, trainingTasks, writeResults,
} from './common.mjs';
import { pixelLaneTasks } from './pixels.mjs';

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
const testStart = nTrain;

// ---- 1-4: codebooks, code models, next frames and fills, in one schedule ----
/** The networks of the run (the schedule below orders their training with the pixel tasks). */
function networkJobs() {
  const { kernel, ...shared } = config.model;
  const [k1, k2] = config.modelKs;
  const s8 = (k) => `${k}/${config.patch}`;
  const softmax = (k) => (k <= 1024 ? 'full' : 'factored');
  const jobs = [];
  const add = (name, k, key, model, extra = {}) =>
    jobs.push({ name, k, key, model, options: { k, softmax: softmax(k), ...shared, ...(model === 'rnn' ? {} : { kernel }), ...extra } });
  if (config.stride4) add('rcnn (stride 4)', k1, `${k1}/${config.patch / 2}`, 'rcnn');
  add('rcnn plain output', k1, s8(k1), 'rcnn', { copy: false, prior: 'none' });
  add('rcnn', k1, s8(k1), 'rcnn');
  if (k2) add('rcnn', k2, s8(k2), 'rcnn');
  if (k2) add('rcnn plain output', k2, s8(k2), 'rcnn', { copy: false, prior: 'none' });
  add('rnn', k1, s8(k1), 'rnn');
  if (k2) add('rnn', k2, s8(k2), 'rnn');
  return jobs;
}

const pixelKeys = [...config.modelKs.map((k) => `${k}/${config.patch}`), ...(config.stride4 ? [`${config.modelKs[0]}/${config.patch / 2}`] : [])];
const modelOf = (key) => (key.endsWith(`/${config.patch}`) ? 'rcnn' : 'rcnn (stride 4)');
// every codebook: the quantization table's Ks and the modelled Ks at stride 8, and the stride-4 one
const grids = [...new Set([...config.quantizeKs, ...config.modelKs])].map((k) => [k, config.patch]);
if (config.stride4) grids.push([config.modelKs[0], config.patch / 2]);
const gridKey = ([k, stride]) => `${k}/${stride}`;
const modelled = (key) => config.modelKs.includes(Number(key.split('/')[0]));
const codecs = new Map(); // `${k}/${stride}` -> PatchCodec
const coded = new Map(); // modelled keys -> splitCodes of the clip's codes
const strips = {};
let quantization, prediction, filling;
/**
 * Sections 1-4 in config.trainProcesses lanes of child processes (tfjs's wasm backend runs one thread). Each
 * codebook fits in its own process (bench/codec-one.mjs), which also scores the test frames through it and, for a
 * modelled K, encodes the clip. Each network trains (and scores the test codes) in its own process as soon as its
 * codes exist, and a model's next-frame and fill tasks (bench/pixels.mjs) start as soon as it is saved. A free lane
 * takes the first task that may start, in this order: the modelled codebooks (stride 4 first), the networks that
 * predict pixels (longest first), the fills (the long pixel tasks; K = 10,000 first), the predictions (stride 4
 * first), the other networks, then the other codebooks (short tasks, for the lanes to end together). The counted
 * models are fitted and scored here while the lanes run.
 */
const codeModelling = await stage('lanes', async () => {
  // the parent loads models too (--keep, --reuse)
  await initBackend();
  const work = mkdtempSync(join(os.tmpdir(), 'vqvid-run-'));
  try {
    const tasks = [];
    const started = performance.now();
    /** Adds a task (timed into `stages` under `label`); returns its index. */
    const add = (label, task) => {
      tasks.push({
        ...task,
        run: (results) => {
          const t = performance.now();
          return Promise.resolve(task.run(results)).then((r) => {
            stages[label] = { seconds: r4((performance.now() - t) / 1000), startedAt: r4((t - started) / 1000) };
            return r;
          });
        },
      });
      return tasks.length - 1;
    };
    const video = { args: { video: args.video, 'max-frames': args['max-frames'] }, opts: { quick, seed, W, H } };
    const files = new Map(); // key -> { codecFile, codesFile, nFit, nTrain }
    const codecAt = new Map(); // key -> task index
    const codecDone = new Map(); // key -> promise of its task's result
    const addCodec = ([k, stride]) => {
      const key = gridKey([k, stride]);
      const base = join(work, keepName(key));
      files.set(key, { codecFile: `${base}.vqcb`, ...(modelled(key) ? { codesFile: `${base}.vqc`, nFit, nTrain } : {}) });
      let finish;
      codecDone.set(key, new Promise((r) => (finish = r)));
      codecAt.set(key, add(`codebook ${key}`, {
        run: () => {
          const jobFile = join(work, `codec-${keepName(key)}.json`);
          writeFileSync(jobFile, JSON.stringify({ k, stride, seed, maxIter: config.quantizeMaxIter, sample: config.quantizeSample, nTrain, video, ...files.get(key) }));
          process.stderr.write(`bench: codebook ${key}\n`);
          return runChild(join(root, 'bench', 'codec-one.mjs'), jobFile, `codebook ${key}`, { capture: true }).then((stdout) => {
            const row = JSON.parse(stdout.trim().split('\n').pop());
            process.stderr.write(`bench: codebook ${key} done in ${row.seconds} s\n`);
            finish(row);
            return row;
          });
        },
      }));
    };
    // the modelled codebooks first (stride 4, whose network trains longest, first of all); the others last
    const byStride = (a, b) => a[1] - b[1];
    grids.filter((g) => modelled(gridKey(g))).sort(byStride).forEach(addCodec);
    const networks = networkJobs().map((j) => ({ ...j, after: codecAt.get(j.key) }));
    const training = trainingTasks(networks, { codes: files, config, seed, root, work, reuse: args.reuse ? resolve(args.reuse) : null, test: true });
    const at = new Map(); // network index -> task index
    const trainLabel = (j) => `train ${j.name} (${j.key})`;
    const drawsPixels = (j) => pixelKeys.includes(j.key) && j.name === modelOf(j.key);
    networks.forEach((j, ni) => drawsPixels(j) && at.set(ni, add(trainLabel(j), training[ni])));
    const s8 = pixelKeys.filter((key) => key.endsWith(`/${config.patch}`));
    const pixelJobs = [
      ...[...s8].reverse().map((key) => ({ kind: 'fill', key })),
      ...[...pixelKeys].reverse().map((key) => ({ kind: 'predict', key })),
    ].map((j) => ({ ...j, name: modelOf(j.key), after: at.get(networks.findIndex((n) => n.name === modelOf(j.key) && n.key === j.key)) }));
    const pixel = pixelLaneTasks(pixelJobs, { root, work, video, files, config, nFit, nTrain });
    const pixelAt = pixelJobs.map((j, i) => add(`${j.kind} ${j.name} (${j.key})`, pixel[i]));
    networks.forEach((j, ni) => !at.has(ni) && at.set(ni, add(trainLabel(j), training[ni])));
    grids.filter((g) => !modelled(gridKey(g))).forEach(addCodec);
    const lanes = inLanes(config.trainProcesses, tasks);
    lanes.catch(() => {}); // awaited below; a failure must not go unhandled while the codebooks are awaited
    // the modelled codes, in the order of the grids, as soon as their codebooks exist
    for (const g of grids) {
      const key = gridKey(g);
      if (!modelled(key)) continue;
      await Promise.race([codecDone.get(key), lanes]);
      coded.set(key, splitCodes((await readCodes(files.get(key).codesFile)).codes, nFit, nTrain));
    }
    // every scorer is a CodeModel (@vqvid/core): counted ones first, then the trained networks
    const rows = [];
    const row = (key, name, e, extra) => {
      const [k, stride] = key.split('/').map(Number);
      rows.push({ k, stride, model: name, bitsPerCode: r4(e.bitsPerCode), perplexity: r4(e.perplexity), ...extra });
    };
    for (const [key, { train, val, fit, test }] of coded) {
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
        row(key, name, model.evaluate(test), extra);
      }
    }
    const done = await lanes;
    const quantizationRows = [];
    for (const g of grids) {
      const key = gridKey(g);
      const { seconds, ...r } = done[codecAt.get(key)];
      if (config.quantizeKs.includes(g[0]) || g[1] !== config.patch) quantizationRows.push(r);
      codecs.set(key, await PatchCodec.load(files.get(key).codecFile));
      if (keep) await codecs.get(key).save(join(keep, `codebook-${keepName(key)}.vqcb`));
      if (keep && coded.has(key)) await writeCodes(join(keep, `codes-${keepName(key)}.vqc`), coded.get(key).all, { nFit, nTrain });
    }
    quantization = { sample: config.quantizeSample, rows: quantizationRows };
    for (const [ni, j] of networks.entries()) {
      const r = done[at.get(ni)];
      // a reused model was not scored by a child: score it here
      const model = keep || !r.evaluation ? await RCNN.load(r.modelDir) : null;
      if (keep) await model.save(join(keep, keepName(j.name, j.key)));
      row(j.key, j.name, r.evaluation ?? model.evaluate(coded.get(j.key).test), { training: r.train });
    }
    for (const key of coded.keys()) {
      const [k, stride] = key.split('/').map(Number);
      rows.push({ k, stride, model: 'uniform', bitsPerCode: r4(Math.log2(k)), perplexity: k });
    }
    pixelJobs.forEach((j, i) => {
      if (done[pixelAt[i]].strip) strips[`${j.kind}-${j.key}`] = done[pixelAt[i]].strip;
    });
    // tables in the order of pixelKeys
    const tablesOf = (kind) => pixelKeys.flatMap((key) => pixelJobs.flatMap((j, i) => (j.kind === kind && j.key === key ? [done[pixelAt[i]].table] : [])));
    prediction = tablesOf('predict');
    filling = tablesOf('fill');
    return rows;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
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
