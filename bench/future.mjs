#!/usr/bin/env node
// The paper's future work, measured (issue #16): the plain RCNN against the pixel-regression baseline
// (PatchRegressor: the same recurrent convolutional body, a linear head to the next frame's patch pixels, squared
// error), the RCNN with motion inputs (inputs: ['codes', 'motion']), the RCNN trained with scheduled sampling
// (fit rollout), the two-scale RCNN (scales: 2) and a single-scale RCNN widened to the two-scale one's parameter
// count, on the same frames and the same step budget:
//   npm run bench:future -- [--quick] [--video ../shared/data/vtest.avi] [--out DIR]
// The codebook and the RCNN are made as bench/paper.mjs makes them (paperSetup); the regressor is trained here
// with the RCNN's body options and fit options (phase 1 on the fit frames with validation, then refitSteps on
// all training frames). Next-frame PSNR, SSIM and sharpness on the test frames (copy-last and flow rows too), and
// the paper's 10-step generation: the first step at which each method falls below copy-last in PSNR. The two RCNN
// variants are trained exactly as the RCNN (same job, one option added) and their decoders fitted the same way. Writes
// DIR/results.json and DIR/report.md. Needs the built packages (npm run build).
import { sliceCodes, sliceVideo } from '@vqvid/core';
import { motionMask } from '@vqvid/metrics';
import { copyLast, flowExtrapolate } from '@vqvid/baselines';
import { PatchRegressor, RCNN } from '@vqvid/model';
import { partsOf } from '@vqvid/model/internals';
import {
  addRelativeMse, benchConfig, decoderPlan, fitAlphas, fitChangeRatio, meanRows, paperSetup, parseBenchArgs, r4, readBenchVideo, resultsHeader,
  scoreAll, SHARP, spread, stageTimer, table, trainAll, writeResults, withFitPrior,
} from './common.mjs';

const { args, root, quick, seed, W, H, out } = parseBenchArgs('npm run bench:future --', 'future');
const config = benchConfig({ quick, seed, video: args.video ?? 'synthetic:bouncing', W, H });
const steps = 10;
// frames of each scheduled-sampling rollout (half the bptt window), at the default probability 0.5 per window
const ROLLOUT = 3;
const generateStarts = quick ? 2 : 6;
const { stage, stages, loadAtStart } = stageTimer();

const raw = await stage('read', () => readBenchVideo(args, { quick, seed, W, H }));
const nTrain = Math.floor(raw.frames * 0.8);
const nFit = Math.floor(nTrain * 0.875);
const frame = (t) => sliceVideo(raw, t);

// ---- codebook, codes and the RCNN: as bench/paper.mjs makes them ----
const k = config.modelKs[0];
const { codec, coded, model, training } = await paperSetup(raw, { k, config, seed, root, stage, nFit, nTrain });
const { all: codes, fit, val, train, test } = [...coded.values()][0];
const geometry = codes.geometry;
const cells = codes.rows * codes.cols;
const presentAt = (t) => codes.codes.subarray((t - 1) * cells, t * cells);
const context = (t) => sliceCodes(codes, Math.max(0, t - config.contextFrames), t);

// ---- the regressor: the RCNN's body options, fit options and step budget, on the same frames ----
/** Patches of frames [from, to) in the codes' normalised units: the regressor's targets. */
function patchesOf(from, to) {
  const dim = geometry.patch * geometry.patch;
  const outArr = new Float32Array((to - from) * cells * dim);
  for (let t = from; t < to; t++) outArr.set(codec.referencePatches(frame(t), geometry), (t - from) * cells * dim);
  return outArr;
}
const { regressor, regressorTraining } = await stage('regressor', async () => {
  const { workers, ...fitOptions } = config.fit;
  const reg = new PatchRegressor({ k, dim: geometry.patch * geometry.patch, ...config.model, seed });
  const t = performance.now();
  const r = await reg.fit(fit, patchesOf(0, nFit), { ...fitOptions, validation: { codes: val, targets: patchesOf(nFit, nTrain) } });
  const best = r.bestEpoch >= 0 ? r.epochs[r.bestEpoch] : undefined;
  const r2 = config.refitSteps > 0
    ? await reg.fit(train, patchesOf(0, nTrain), { bptt: fitOptions.bptt, batch: fitOptions.batch, crop: fitOptions.crop, epochs: 1, stepsPerEpoch: config.refitSteps, lr: best?.lr ?? fitOptions.lr, lrDecay: 1 })
    : { steps: 0 };
  return {
    regressor: reg,
    regressorTraining: {
      seconds: r4((performance.now() - t) / 1000), steps: r.steps, refitSteps: r2.steps, epochs: r.epochs.length, bestEpoch: r.bestEpoch,
      bestValMse: r4(r.bestValMse), valMsePerEpoch: r.epochs.map((e) => r4(e.valMse)), stopped: r.stopped,
      testMse: r4(reg.evaluate(test, patchesOf(nTrain, raw.frames))),
    },
  };
});

/** Trainable parameters of a model (its output layer included). */
const parameters = (m) => partsOf(m).variables().reduce((s, v) => s + v.size, 0);
/** Trainable parameters of a model made with `options`. */
function parametersOf(options) {
  const m = new RCNN(options);
  const n = parameters(m);
  m.dispose();
  return n;
}

// ---- the RCNN variants: paperSetup's RCNN job with one option added, trained two at a time ----
const { kernel: bodyKernel, ...bodyShared } = config.model;
const bodyOptions = { k, softmax: k <= 1024 ? 'full' : 'factored', ...bodyShared, kernel: bodyKernel };
// the single-scale comparison at the two-scale model's parameter count: the width whose count is nearest
const twoScaleParameters = parametersOf({ ...bodyOptions, scales: 2 });
let wideHidden = bodyOptions.hidden;
while (parametersOf({ ...bodyOptions, hidden: wideHidden + 1 }) <= twoScaleParameters) wideHidden++;
if (Math.abs(parametersOf({ ...bodyOptions, hidden: wideHidden + 1 }) - twoScaleParameters) < Math.abs(parametersOf({ ...bodyOptions, hidden: wideHidden }) - twoScaleParameters)) wideHidden++;
const variants = await stage('variants', async () => {
  const options = bodyOptions;
  const key = [...coded.keys()][0];
  return trainAll([
    { name: 'rcnn + motion', label: 'RCNN + motion inputs', key, model: 'rcnn', options: { ...options, inputs: ['codes', 'motion'] } },
    { name: `rcnn + rollout ${ROLLOUT}`, label: `RCNN + rollout ${ROLLOUT}`, key, model: 'rcnn', options, fit: { rollout: ROLLOUT } },
    { name: 'rcnn + scales 2', label: 'RCNN + scales 2', key, model: 'rcnn', options: { ...options, scales: 2 } },
    { name: `rcnn hidden ${wideHidden}`, label: `RCNN, hidden ${wideHidden} (one scale, as many parameters)`, key, model: 'rcnn', options: { ...options, hidden: wideHidden } },
  ], { coded, config, seed, root });
});
/** Every code model of the table: its row label, the prefix of its decoder rows' names, bits/code on the test codes. */
const nets = [{ label: 'RCNN', prefix: '', model }, ...variants.map((v) => ({ label: v.label, prefix: `${v.name}: `, model: v.model }))]
  .map((n) => ({ ...n, bits: r4(n.model.evaluate(test).bitsPerCode), parameters: parameters(n.model) }));

// ---- next frame: test targets every evalStride frames, as bench/run.mjs ----
const render = (p, dist, reference, present) =>
  codec.decodeDistribution(dist, { geometry, reference, present, decoder: p.decoder, alpha: p.alpha, topM: config.decoderTopM, changeRatio: p.changeRatio });
const nextFrame = await stage('next-frame', async () => {
  const valTargets = spread(nFit + 2, nTrain - 1, config.alphaTargets);
  // each network's decoders fitted on its own validation distributions
  for (const net of nets) {
    const samples = withFitPrior(net.model, fit, () => valTargets.map((t) => ({ dist: net.model.predictDistribution(context(t)), present: presentAt(t), reference: frame(t - 1), truth: frame(t) })));
    net.alphas = fitAlphas(codec, geometry, samples, config).alphas;
    net.changeRatio = fitChangeRatio(codec, geometry, samples, net.alphas.mbr, config).changeRatio;
    net.plan = decoderPlan(net.alphas, net.changeRatio).map((p) => ({ ...p, name: net.prefix + p.name }));
  }
  const targets = [];
  for (let t = nTrain + 2; t < raw.frames; t += config.evalStride) targets.push(t);
  const methods = {};
  for (const t of targets) {
    const truth = frame(t);
    const last = frame(t - 1);
    const mask = motionMask(last, truth, { threshold: config.motionThreshold });
    const guesses = { 'copy-last': copyLast(last), 'flow extrapolation': flowExtrapolate(frame(t - 2), last), regression: codec.renderPatches(regressor.predictPatches(context(t)), geometry) };
    for (const net of nets) {
      const dist = net.model.predictDistribution(context(t));
      for (const p of net.plan) guesses[p.name] = render(p, dist, last, presentAt(t));
    }
    for (const [method, v] of Object.entries(guesses)) (methods[method] ??= []).push(scoreAll(v, truth, mask));
  }
  const all = addRelativeMse(Object.entries(methods).map(([method, list]) => ({ method, ...meanRows(list) })));
  const byName = Object.fromEntries(all.map((r) => [r.method, r]));
  // each network's two reported rows: its mean decoder (at the fitted alpha) and its best sharp decoder by PSNR
  for (const net of nets) {
    net.chosen = {
      mean: net.plan.find((p) => p.decoder === 'mean' && p.alpha === net.alphas.mean),
      sharp: net.plan.filter((p) => SHARP.has(p.decoder)).reduce((a, b) => (byName[b.name].psnr > byName[a.name].psnr ? b : a)),
    };
  }
  const [rcnn, ...others] = nets;
  return {
    targets: targets.length, alphaTargets: valTargets.length, alphas: rcnn.alphas, changeRatio: rcnn.changeRatio, chosen: rcnn.chosen,
    variants: Object.fromEntries(others.map((n) => [n.label, { alphas: n.alphas, changeRatio: n.changeRatio, chosen: n.chosen }])),
    rows: all,
  };
});

// ---- 10-step generation, paper.mjs's protocol: each step scored against the true frame ----
const generation = await stage('generate', async () => {
  const starts = spread(Math.max(2, Math.min(nTrain + config.contextFrames, raw.frames - steps)), raw.frames - steps, generateStarts);
  const perStep = Array.from({ length: steps }, () => ({}));
  for (const t0 of starts) {
    const last = frame(t0 - 1);
    const rendered = {};
    for (const net of nets) {
      for (const p of [net.chosen.mean, net.chosen.sharp]) {
        rendered[p.name] = net.model.predictFrames(context(t0), steps, { codec, reference: last, decoder: p.decoder, alpha: p.alpha, topM: config.decoderTopM, changeRatio: p.changeRatio });
      }
    }
    rendered.regression = await regressor.predictFrames(context(t0), steps, { codec });
    for (let s = 0; s < steps; s++) {
      const truth = frame(t0 + s);
      const guesses = { 'copy-last': copyLast(last), 'constant flow': flowExtrapolate(frame(t0 - 2), last, { steps: s + 1 }) };
      for (const [name, v] of Object.entries(rendered)) guesses[name] = sliceVideo(v, s);
      const mask = motionMask(last, truth, { threshold: config.motionThreshold });
      for (const [method, v] of Object.entries(guesses)) (perStep[s][method] ??= []).push(scoreAll(v, truth, mask));
    }
  }
  const tables = perStep.map((methods, s) => ({ step: s + 1, rows: addRelativeMse(Object.entries(methods).map(([method, list]) => ({ method, ...meanRows(list) }))) }));
  const psnrOf = (t, m) => t.rows.find((r) => r.method === m).psnr;
  const fallsBelowCopy = Object.fromEntries(tables[0].rows.map((r) => r.method).filter((m) => m !== 'copy-last').map((m) => {
    const at = tables.find((t) => psnrOf(t, m) < psnrOf(t, 'copy-last'));
    return [m, at ? at.step : null];
  }));
  return { starts: starts.length, steps, tables, fallsBelowCopy };
});

// ---- the future-work table: one row per method ----
const row = (method, name, bits, params = '-') => {
  const r = nextFrame.rows.find((x) => x.method === method);
  const falls = generation.fallsBelowCopy[method];
  return { row: name, method, parameters: params, bitsPerCode: bits, psnr: r.psnr, ssim: r.ssim, sharpness: r.sharpness, movingPsnr: r.movingPsnr, relMse: r.relMse, generationFallsBelowCopyAt: falls === undefined ? '-' : falls === null ? `> ${steps}` : falls };
};
const future = [
  row('copy-last', 'copy-last', '-'),
  row('flow extrapolation', 'flow extrapolation', '-'),
  ...nets.flatMap((n) => [row(n.chosen.mean.name, `${n.label}, mean decoder`, n.bits, n.parameters), row(n.chosen.sharp.name, `${n.label}, best sharp decoder`, n.bits, n.parameters)]),
  row('regression', 'pixel regression (PatchRegressor)', '-'),
];
// constant flow is the generation's flow row (the next-frame table's flow extrapolation is its step 1)
future[1].generationFallsBelowCopyAt = generation.fallsBelowCopy['constant flow'] === null ? `> ${steps}` : generation.fallsBelowCopy['constant flow'];
future[0].generationFallsBelowCopyAt = '-';

const results = {
  ...resultsHeader('vqvid/future-work', 'npm run bench:future --', root, loadAtStart),
  config: { ...config, k, generation: { steps, starts: generateStarts } },
  data: { frames: raw.frames, width: raw.width, height: raw.height, trainFrames: nTrain, fitFrames: nFit, testFrames: raw.frames - nTrain, rows: codes.rows, cols: codes.cols },
  training: { rcnn: training, regression: regressorTraining, ...Object.fromEntries(variants.map((v) => [v.label, v.train])) },
  variants: {
    motion: { inputs: ['codes', 'motion'] },
    rollout: { rollout: ROLLOUT, rolloutProb: 0.5, on: 'both training phases' },
    scales: { scales: 2, hiddenCoarse: nets.find((n) => n.label === 'RCNN + scales 2').model.config.hiddenCoarse, parameters: twoScaleParameters },
    wide: { hidden: wideHidden, parameters: parametersOf({ ...bodyOptions, hidden: wideHidden }), rcnnParameters: nets[0].parameters },
  },
  future,
  notBuilt: [],
  nextFrame,
  generation,
  stages,
};
writeResults(out, results, markdown(results));
console.log(JSON.stringify({ out, future, stages }));
process.exit(0);

function psnrPerStep(tables) {
  const methods = tables[0].rows.map((x) => x.method);
  const line = (c) => `| ${c.join(' | ')} |`;
  return [line(['step', ...methods]), line(['---', ...methods.map(() => '---')]), ...tables.map((t) => line([t.step, ...methods.map((m) => t.rows.find((x) => x.method === m).psnr.toFixed(2))]))].join('\n') + '\n';
}
function markdown(r) {
  const tr = r.training.regression;
  return `# vqvid: the paper's future work on ${r.config.video}

Command: \`${r.command}\` · commit ${r.commit} · ${r.date}
Machine: ${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}
Data: ${r.data.frames} frames at ${r.data.width}x${r.data.height}; ${r.data.trainFrames} train / ${r.data.testFrames} test; K = ${r.config.k}, 8x8 patches at stride 8 (${r.data.rows}x${r.data.cols} cells).
Same body (${JSON.stringify(r.config.model)}) and budget (${JSON.stringify(r.config.fit)}, then ${r.config.refitSteps} refit steps) for every network.
Regression: ${tr.steps} + ${tr.refitSteps} steps in ${tr.seconds} s, best validation MSE ${tr.bestValMse} (epoch ${tr.bestEpoch}), test MSE ${tr.testMse} (normalised units, per value).
Variants (the RCNN's job with one option added): motion inputs = \`inputs: ['codes', 'motion']\` (per cell [x_t ≠ x_t−1], [x_t−1 ≠ x_t−2] beside the embedding); rollout = \`fit({ rollout: ${r.variants.rollout.rollout}, rolloutProb: ${r.variants.rollout.rolloutProb} })\`, scheduled sampling in ${r.variants.rollout.on}; scales 2 = \`scales: 2\` (a coarse grid of 2x2 blocks, hiddenCoarse ${r.variants.scales.hiddenCoarse}, ${r.variants.scales.parameters} parameters against the RCNN's ${r.variants.wide.rcnnParameters}); hidden ${r.variants.wide.hidden} = the single-scale RCNN widened to the nearest count (${r.variants.wide.parameters} parameters).
${Object.entries(r.training).filter(([n]) => n !== 'regression').map(([n, t]) => `${n}: ${t.steps ?? '-'} + ${t.refitSteps ?? '-'} steps in ${t.seconds ?? '-'} s, best validation ${t.bestValBits ?? '-'} bits/code (epoch ${t.bestEpoch ?? '-'})`).join('; ')}.

## Future work (next frame: ${r.nextFrame.targets} test targets; generation: ${r.generation.starts} starts, ${r.generation.steps} steps)
${table(r.future, ['row', 'parameters', 'bitsPerCode', 'psnr', 'ssim', 'sharpness', 'movingPsnr', 'relMse', 'generationFallsBelowCopyAt'])}
RCNN rows: \`${r.future[2].method}\` (the mean decoder at its fitted alpha) and \`${r.future[3].method}\` (the highest-PSNR row among the sharp decoders centroid, skip and mbr; decoders fitted on ${r.nextFrame.alphaTargets} validation targets: alphas ${JSON.stringify(r.nextFrame.alphas)}, mbr change ratio ${r.nextFrame.changeRatio}); each variant's rows are chosen the same way from its own decoders (${Object.entries(r.nextFrame.variants).map(([n, v]) => `${n}: alphas ${JSON.stringify(v.alphas)}, ratio ${v.changeRatio}`).join('; ')}).
generationFallsBelowCopyAt: the first generation step whose mean PSNR is below copy-last's (> ${r.generation.steps}: never within the steps).
${r.notBuilt.length ? `Not built yet: ${r.notBuilt.join(', ')}.\n` : ''}
## Generation: PSNR per step (dB)
${psnrPerStep(r.generation.tables)}
## Next frame, every RCNN decoder
${table(r.nextFrame.rows, ['method', 'psnr', 'relMse', 'ssim', 'sharpness', 'movingPsnr'])}
Stages (wall seconds): ${Object.entries(r.stages).map(([n, s]) => `${n} ${s.seconds}`).join(', ')}
`;
}
