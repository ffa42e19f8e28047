#!/usr/bin/env node
// The fill stage of bench/run.mjs at one K, for several FillOptions on one trained model, so a change to the fill
// search is measured on the same codebook, model, triples and decoder fitting as the full bench:
//   node bench/fill-variants.mjs --video ../shared/data/vtest.avi --k 10000 --save-model DIR --variants '{"without":{"anchors":false},"anchors":{}}'
//   node bench/fill-variants.mjs --video ../shared/data/vtest.avi --k 10000 --model DIR --variants '{"anchors":{}}'
// The codebook and the RCNN are made as bench/run.mjs makes them (paperSetup: same configuration, seed and step
// budget; --model loads a saved RCNN instead of training, --save-model saves the trained one). Per variant: the
// decoders' alphas and mbr's change ratio fitted on the validation triples (prior as counted on the fit frames),
// then PSNR, SSIM and sharpness on the test triples, and how often the fill posterior's argmax is the true code.
// Writes DIR/results.json (--out). Needs the built packages (npm run build).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sliceCodes, sliceVideo, stackFrames } from '@vqvid/core';
import { motionMask } from '@vqvid/metrics';
import { linearInterpolate } from '@vqvid/baselines';
import { benchConfig, fitDecoderPlan, meanRows, paperSetup, parseBenchArgs, r4, readBenchVideo, renderPlan, resultsHeader, scoreAll, spread, stageTimer, withFitPrior } from './common.mjs';

const { args, root, quick, seed, W, H, out } = parseBenchArgs(
  'node bench/fill-variants.mjs',
  'fill-variants',
  { k: { type: 'string', default: '1024' }, model: { type: 'string' }, 'save-model': { type: 'string' }, variants: { type: 'string', default: '{"anchors":{},"without":{"anchors":false}}' } },
  `[--k K] [--model DIR] [--save-model DIR] [--variants JSON]
  --k K            codebook size (default 1024)
  --model DIR      load this saved RCNN instead of training one
  --save-model DIR save the trained RCNN there
  --variants JSON  {name: FillOptions added to the bench's fill options} (default: anchors on and off)`,
);
// the variants are checked before any work
let variants;
try {
  variants = JSON.parse(args.variants);
  if (!variants || typeof variants !== 'object' || Array.isArray(variants)) throw new Error('not an object');
} catch (e) {
  process.stderr.write(`bench: --variants must be a JSON object {name: FillOptions}, got ${args.variants} (${e.message})\n`);
  process.exit(2);
}
const config = benchConfig({ quick, seed, video: args.video ?? 'synthetic:bouncing', W, H });
const { stage, stages, loadAtStart } = stageTimer();
const raw = await stage('read', () => readBenchVideo(args, { quick, seed, W, H }));
const nTrain = Math.floor(raw.frames * 0.8);
const nFit = Math.floor(nTrain * 0.875);
const frame = (t) => sliceVideo(raw, t);
const k = Number(args.k);
const { codec, coded, model, training } = await paperSetup(raw, { k, config, seed, root, stage, nFit, nTrain, modelDir: args.model, saveDir: args['save-model'] });
const { all: codes } = [...coded.values()][0];
const geometry = codes.geometry;
const n = codes.rows * codes.cols;
const present = (t) => codes.codes.subarray((t - 1) * n, t * n);
const context = (t) => sliceCodes(codes, Math.max(0, t - config.contextFrames), t);
const around = (t) => stackFrames([frame(t - 1), frame(t + 1)]);
const valTargets = spread(nFit + 1, nTrain - 2, config.fillAlphaTargets);
const targets = spread(nTrain + 1, raw.frames - 2, config.fillTargets);
const results = {};
for (const [vname, extra] of Object.entries(variants)) {
  const t0 = performance.now();
  const fillOpts = { ...config.fill, ...extra };
  const posterior = (t) => model.fillDistribution(context(t), sliceCodes(codes, t + 1, t + 2), fillOpts);
  const samples = withFitPrior(model, sliceCodes(codes, 0, nFit), () =>
    valTargets.map((t) => ({ dist: posterior(t), present: present(t), reference: linearInterpolate(frame(t - 1), frame(t + 1)), truth: frame(t), sources: around(t) })),
  );
  const { plan, info } = fitDecoderPlan(codec, geometry, samples, config);
  const methods = {};
  let argmaxRight = 0, cells = 0;
  for (const t of targets) {
    const a = frame(t - 1), b = frame(t + 1), truth = frame(t);
    const mask = motionMask(a, truth, { threshold: config.motionThreshold });
    const lin = linearInterpolate(a, b);
    const dist = posterior(t);
    const trueCodes = codes.codes.subarray(t * n, (t + 1) * n);
    for (let i = 0; i < n; i++) { let best = 0; for (let c = 1; c < k; c++) if (dist.probs[i * k + c] > dist.probs[i * k + best]) best = c; argmaxRight += best === trueCodes[i]; cells++; }
    const guesses = renderPlan(codec, geometry, plan, dist, { reference: lin, present: present(t), sources: around(t) }, config, { linear: lin });
    for (const [m, v] of Object.entries(guesses)) (methods[m] ??= []).push(scoreAll(v, truth, mask));
  }
  results[vname] = {
    fill: fillOpts, seconds: r4((performance.now() - t0) / 1000), alphas: info.alphas, searchAlphas: info.search.alphas,
    changeRatio: info.changeRatio.changeRatio, searchChangeRatio: info.search.changeRatio.changeRatio,
    argmaxAccuracy: r4(argmaxRight / cells), rows: Object.fromEntries(Object.entries(methods).map(([m, l]) => [m, meanRows(l)])),
  };
  process.stderr.write(`bench: variant ${vname}: argmax right in ${(100 * argmaxRight / cells).toFixed(2)}% of cells\n`);
}
const file = join(out, 'results.json');
writeFileSync(file, JSON.stringify({ ...resultsHeader('fill-variants', 'node bench/fill-variants.mjs', root, loadAtStart), k, triples: { validation: valTargets, test: targets }, training, stages, results }, null, 2) + '\n');
process.stderr.write(`bench: wrote ${file}\n`);
