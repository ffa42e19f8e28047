#!/usr/bin/env node
// The paper's two headline protocols (Ranzato et al. 2014, section 4), one command each:
//   npm run bench:paper -- --video ../shared/data/vtest.avi --protocol fill      # 3 of 5 frames missing
//   npm run bench:paper -- --video ../shared/data/vtest.avi --protocol generate  # 10 frames from real ones
// (--protocol both, the default, runs the two on one trained model). The codebook (K = 1024, 8x8, stride 8) and
// the RCNN are made exactly as in bench/run.mjs (same configuration, seed and fixed step budget), so the
// figures sit beside that bench's; --model DIR loads a saved RCNN instead of training one. Writes
// DIR/results.json, DIR/report.md, curves (SVG) and strips (PNG). Needs the built packages (npm run build).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sliceCodes, sliceVideo } from '@vqvid/core';
import { encodePng, frameStrip } from '@vqvid/video';
import { motionMask } from '@vqvid/metrics';
import { BigramModel, CopyPreviousModel, copyLast, flowExtrapolate, flowInterpolate, linearInterpolate, UnigramModel } from '@vqvid/baselines';
import { lineChartSvg } from '@vqvid/cli';
import {
  addRelativeMse, benchConfig, clamp, decoderPlan, fitAlphas, fitChangeRatio, label, meanRows, paperSetup, parseBenchArgs, r4,
  readBenchVideo, resultsHeader, scoreAll, spread, stageTimer, table, writeResults, withFitPrior,
} from './common.mjs';

const { args, root, quick, seed, W, H, out } = parseBenchArgs(
  'npm run bench:paper --',
  'paper',
  { protocol: { type: 'string', default: 'both' }, model: { type: 'string' }, 'save-model': { type: 'string' } },
  `[--protocol fill|generate|both] [--model DIR] [--save-model DIR]
  --protocol P     fill: frames 2-4 from frames 1 and 5; generate: 10 frames from the real ones; both (default)
  --model DIR      a saved RCNN (K = 1024, trained on this video's training part) instead of training one
  --save-model DIR save the trained RCNN there (bench/probe.mjs --model DIR reuses it)`,
);
if (!['fill', 'generate', 'both'].includes(args.protocol)) {
  process.stderr.write(`bench: --protocol must be fill, generate or both, got ${args.protocol}\n`);
  process.exit(2);
}
const config = benchConfig({ quick, seed, video: args.video ?? 'synthetic:bouncing', W, H });
const paper = {
  k: config.modelKs[0],
  // the paper's filling: given frames 1 and 5, the 2nd, 3rd and 4th
  gap: 3,
  fillWindows: quick ? 2 : 6,
  fillValidationWindows: quick ? 1 : 3,
  // the paper's generation: 10 frames; the RCNN reads its usual context (contextFrames real frames), constant
  // flow the last 2 real frames
  steps: 10,
  generateStarts: quick ? 2 : 6,
};
const { stage, stages, loadAtStart } = stageTimer();

const raw = await stage('read', () => readBenchVideo(args, { quick, seed, W, H }));
const nTrain = Math.floor(raw.frames * 0.8);
const nFit = Math.floor(nTrain * 0.875);
const frame = (t) => sliceVideo(raw, t);

// ---- codebook, codes and model: as bench/run.mjs makes them at its first K ----
const { codec, coded, model, training } = await paperSetup(raw, { k: paper.k, config, seed, root, stage, nFit, nTrain, modelDir: args.model, saveDir: args['save-model'] });
const { all: codes, train, val, fit, test } = [...coded.values()][0];
const geometry = codes.geometry;
const cells = codes.rows * codes.cols;
const presentAt = (t) => codes.codes.subarray((t - 1) * cells, t * cells);
const context = (t) => sliceCodes(codes, Math.max(0, t - config.contextFrames), t);

// ---- bits/code, with the paper's Table 2 rows: perplexity and the copy of the previous frame ----
const codeModelling = await stage('code-models', async () => {
  const copy = new CopyPreviousModel().fit(fit, { validation: val });
  const rows = [
    ['unigram', new UnigramModel().fit(train)],
    ['copy-previous (smoothed)', copy],
    ['bigram (same cell)', new BigramModel().fit(train)],
    ['rcnn', model],
  ].map(([name, m]) => {
    const e = m.evaluate(test);
    return { model: name, bitsPerCode: r4(e.bitsPerCode), perplexity: r4(e.perplexity), ...(m === copy ? { epsilon: r4(copy.epsilon_) } : {}) };
  });
  return rows;
});

/** The decoders' alphas and mbr ratio from validation samples { dist, present, reference, truth }. */
function decodersFrom(samples) {
  const { alphas, mse } = fitAlphas(codec, geometry, samples, config);
  const ratio = fitChangeRatio(codec, geometry, samples, alphas.mbr, config);
  return { plan: decoderPlan(alphas, ratio.changeRatio), alphas, alphaMse: mse, changeRatio: ratio };
}
const render = (p, dist, reference, present) =>
  codec.decodeDistribution(dist, { geometry, reference, present, decoder: p.decoder, alpha: p.alpha, topM: config.decoderTopM, changeRatio: p.changeRatio });
const strips = {};
const pictures = {};

// ---- filling: frames t+1..t+3 from frame t (and the context before it) and frame t+4 ----
async function fillProtocol() {
  const n = paper.gap;
  const gapOf = (t0) => {
    const dists = model.fillDistributions(context(t0 + 1), sliceCodes(codes, t0 + n + 1, t0 + n + 2), { ...config.fill, missing: n });
    const a = frame(t0);
    const b = frame(t0 + n + 1);
    // frame j's "same code" stand-in: the linear interpolation at its position; its present codes: the filled frame before
    return dists.map((dist, j) => ({
      dist,
      present: j === 0 ? presentAt(t0 + 1) : argmax(dists[j - 1]),
      reference: linearInterpolate(a, b, (j + 1) / (n + 1)),
      truth: frame(t0 + 1 + j),
    }));
  };
  const valStarts = spread(nFit + 1, nTrain - n - 2, paper.fillValidationWindows);
  const decoders = decodersFrom(withFitPrior(model, fit, () => valStarts.flatMap(gapOf)));
  const starts = spread(nTrain + 1, raw.frames - n - 2, paper.fillWindows);
  const perPosition = Array.from({ length: n }, () => ({}));
  for (const t0 of starts) {
    const a = frame(t0);
    const b = frame(t0 + n + 1);
    const samples = gapOf(t0);
    samples.forEach((s, j) => {
      const w = (j + 1) / (n + 1);
      const guesses = { copy: copyLast(a), linear: s.reference, 'flow interpolation': flowInterpolate(a, b, { t: w }) };
      for (const p of decoders.plan) guesses[p.name] = render(p, s.dist, s.reference, s.present);
      const mask = motionMask(a, s.truth, { threshold: config.motionThreshold });
      for (const [method, v] of Object.entries(guesses)) (perPosition[j][method] ??= []).push(scoreAll(v, s.truth, mask));
      if (t0 === starts[Math.floor(starts.length / 2)]) (strips.fill ??= []).push({ j, guesses, truth: s.truth });
    });
  }
  const tables = perPosition.map((methods, j) => ({
    position: j + 2,
    rows: addRelativeMse(Object.entries(methods).map(([method, list]) => ({ method, ...meanRows(list) }))),
  }));
  return { given: 'frames 1 and 5 (and the context before frame 1)', missing: n, windows: starts.length, validationWindows: valStarts.length, ...decoders, plan: undefined, tables };
}

// ---- generation: steps 1..10 after the real frames, each step scored against the true frame ----
async function generateProtocol() {
  const valTargets = spread(nFit + 2, nTrain - 1, config.alphaTargets);
  const decoders = decodersFrom(withFitPrior(model, fit, () => valTargets.map((t) => ({ dist: model.predictDistribution(context(t)), present: presentAt(t), reference: frame(t - 1), truth: frame(t) }))));
  const shown = decoders.plan.filter((p) => p.decoder !== 'skip' && p.decoder !== 'centroid');
  // starts whose context is test frames only, where the clip is long enough (a short --quick clip borrows training frames)
  const starts = spread(Math.max(2, Math.min(nTrain + config.contextFrames, raw.frames - paper.steps)), raw.frames - paper.steps, paper.generateStarts);
  const perStep = Array.from({ length: paper.steps }, () => ({}));
  for (const t0 of starts) {
    const last = frame(t0 - 1);
    const rendered = Object.fromEntries(shown.map((p) => [p.name, model.predictFrames(context(t0), paper.steps, { codec, reference: last, decoder: p.decoder, alpha: p.alpha, topM: config.decoderTopM, changeRatio: p.changeRatio })]));
    for (let s = 0; s < paper.steps; s++) {
      const truth = frame(t0 + s);
      const guesses = { 'copy-last': copyLast(last), 'constant flow': flowExtrapolate(frame(t0 - 2), last, { steps: s + 1 }) };
      for (const [name, v] of Object.entries(rendered)) guesses[name] = sliceVideo(v, s);
      const mask = motionMask(last, truth, { threshold: config.motionThreshold });
      for (const [method, v] of Object.entries(guesses)) (perStep[s][method] ??= []).push(scoreAll(v, truth, mask));
      if (t0 === starts[Math.floor(starts.length / 2)]) (strips.generate ??= []).push({ s, guesses, truth });
    }
  }
  const tables = perStep.map((methods, s) => ({
    step: s + 1,
    rows: addRelativeMse(Object.entries(methods).map(([method, list]) => ({ method, ...meanRows(list) }))),
  }));
  // the first step at which each RCNN decoder falls below copy-last in PSNR (null: never within the steps)
  const fallsBelowCopy = Object.fromEntries(shown.map((p) => {
    const at = tables.find((t) => t.rows.find((r) => r.method === p.name).psnr < t.rows.find((r) => r.method === 'copy-last').psnr);
    return [p.name, at ? at.step : null];
  }));
  return { context: `${config.contextFrames} real frames for the RCNN, the last 2 for constant flow`, steps: paper.steps, starts: starts.length, ...decoders, plan: undefined, tables, fallsBelowCopy };
}

const filling = args.protocol !== 'generate' ? await stage('fill', fillProtocol) : null;
const generation = args.protocol !== 'fill' ? await stage('generate', generateProtocol) : null;

// ---- pictures: curves per step and strips ----
if (generation) {
  const methods = generation.tables[0].rows.map((r) => r.method);
  for (const metric of ['psnr', 'ssim', 'sharpness']) {
    const series = methods.map((m) => ({ name: m, values: generation.tables.map((t) => t.rows.find((r) => r.method === m)[metric]) }));
    const name = `generate-${metric}.svg`;
    writeFileSync(join(out, name), lineChartSvg(series, { title: `Generation: ${metric} per step`, xLabel: 'step', yLabel: metric }));
    pictures[`generate-${metric}`] = name;
  }
  const g = strips.generate;
  const names = ['copy-last', 'constant flow', ...Object.keys(g[0].guesses).filter((m) => m.startsWith('rcnn'))];
  png('generate-strip.png', [
    { label: 'TRUTH', video: stack(g.map((x) => x.truth)) },
    ...names.map((m) => ({ label: label(m), video: clamp(stack(g.map((x) => x.guesses[m]))) })),
  ]);
}
if (filling) {
  const f = strips.fill;
  const names = ['copy', 'linear', 'flow interpolation', ...Object.keys(f[0].guesses).filter((m) => m.startsWith('rcnn'))];
  png('fill-strip.png', [
    { label: 'TRUTH', video: stack(f.map((x) => x.truth)) },
    ...names.map((m) => ({ label: label(m), video: clamp(stack(f.map((x) => x.guesses[m]))) })),
  ]);
}

const results = {
  ...resultsHeader('vqvid/paper-protocols', 'npm run bench:paper --', root, loadAtStart),
  config: { ...config, paper },
  data: { frames: raw.frames, width: raw.width, height: raw.height, trainFrames: nTrain, fitFrames: nFit, testFrames: raw.frames - nTrain, rows: codes.rows, cols: codes.cols },
  training,
  codeModelling,
  filling,
  generation,
  stages,
  pictures,
};
writeResults(out, results, markdown(results));
console.log(JSON.stringify({ out, stages }));
process.exit(0);

function argmax(dist) {
  const { k, probs } = dist;
  const outCodes = new Int32Array(probs.length / k);
  for (let i = 0; i < outCodes.length; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (probs[i * k + c] > probs[i * k + best]) best = c;
    outCodes[i] = best;
  }
  return outCodes;
}
function stack(list) {
  const size = list[0].width * list[0].height;
  const data = new Float32Array(list.length * size);
  list.forEach((v, i) => data.set(v.data.subarray(0, size), i * size));
  return { width: list[0].width, height: list[0].height, frames: list.length, data };
}
function png(name, rows) {
  writeFileSync(join(out, name), encodePng(frameStrip(rows, { scale: 1 })));
  pictures[name.replace('.png', '')] = name;
}
/** PSNR of every method (columns) at every step (rows); method names hold dots, so not through table(). */
function psnrPerStep(tables) {
  const methods = tables[0].rows.map((x) => x.method);
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(['step', ...methods]), line(['---', ...methods.map(() => '---')]), ...tables.map((t) => line([t.step, ...methods.map((m) => t.rows.find((x) => x.method === m).psnr.toFixed(2))]))].join('\n') + '\n';
}
function markdown(r) {
  const cols = ['method', 'psnr', 'relMse', 'ssim', 'sharpness', 'movingPsnr'];
  const fillPart = r.filling
    ? `## Filling: frames 2, 3 and 4 given frames 1 and 5 (${r.filling.windows} test windows)
RCNN: the gap search's per-frame posteriors (${r.config.fill.candidates} candidates per cell, ${r.config.fill.sweeps} sweep), each frame's "same code" stand-in the linear interpolation at its position; decoders fitted on ${r.filling.validationWindows} validation windows: alphas ${JSON.stringify(r.filling.alphas)}, mbr change ratio ${r.filling.changeRatio.changeRatio}. relMse = MSE ÷ copy's MSE (frame 1 copied).

${r.filling.tables.map((t) => `### Frame ${t.position}\n${table(t.rows, cols)}`).join('\n')}
![fill](${r.pictures['fill-strip']})
`
    : '';
  const genPart = r.generation
    ? `## Generation: ${r.generation.steps} frames (${r.generation.starts} test starts; ${r.generation.context})
Decoders fitted on next-frame validation targets: alphas ${JSON.stringify(r.generation.alphas)}, mbr change ratio ${r.generation.changeRatio.changeRatio}. Later steps continue from the argmax codes and render with the frame rendered before as the reference. relMse = MSE ÷ copy-last's MSE at the same step.

${psnrPerStep(r.generation.tables)}
PSNR per step (dB) above; first step at which each RCNN decoder falls below copy-last: ${JSON.stringify(r.generation.fallsBelowCopy)}.

${r.generation.tables.map((t) => `### Step ${t.step}\n${table(t.rows, cols)}`).join('\n')}
![psnr](${r.pictures['generate-psnr']}) ![ssim](${r.pictures['generate-ssim']}) ![sharpness](${r.pictures['generate-sharpness']})

![generation](${r.pictures['generate-strip']})
`
    : '';
  return `# vqvid: the paper's protocols on ${r.config.video}

Command: \`${r.command}\` · commit ${r.commit} · ${r.date}
Machine: ${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}
Data: ${r.data.frames} frames at ${r.data.width}x${r.data.height}; ${r.data.trainFrames} train / ${r.data.testFrames} test; K = ${r.config.paper.k}, 8x8 patches at stride 8 (${r.data.rows}x${r.data.cols} cells).

## Code modelling (test bits/code)
${table(r.codeModelling, ['model', 'bitsPerCode', 'perplexity', 'epsilon'])}
${fillPart}
${genPart}
Stages (wall seconds): ${Object.entries(r.stages).map(([n, s]) => `${n} ${s.seconds}`).join(', ')}
`;
}
